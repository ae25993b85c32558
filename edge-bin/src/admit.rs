//! How connections reach a device: accepted on its listeners, or made to the endpoints it
//! connects to, with backoff, and started as [`connection`] tasks.
//!
//! Whom the device lets in is the [`Gate`](crate::gate)'s to decide, through
//! [`DeviceHost::admit`]. Refusals, connections closed to make room and accept failures come
//! in bursts (a fleet reconnecting to a full device, a flood of connections that never greet,
//! a process out of descriptors), so their warnings are rate-limited per side and cause
//! ([`RateLimit`]), with counts, and what a burst held back is reported when its interval
//! ends, whether or not anything follows it.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use async_io::Timer;
use futures_lite::future;
use log::{debug, info, warn};
use zedge_core::device::Side;

use crate::connection::{self, FAIR_TURN};
use crate::endpoint::Endpoint;
use crate::gate::{Crowd, Refusal, Source};
use crate::host::DeviceHost;
use crate::net::{self, Listener, Remote};
use crate::report::{Burst, Limiter, WARN_EVERY};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A connection that lasted this long resets the reconnect backoff.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(1);

/// Accept connections on `l` for one side of the device, forever. `warnings` is shared by
/// the device's listeners; each of them reports what is due when it wakes.
pub async fn accept_loop(
    host: Rc<DeviceHost>,
    ex: Rc<LocalExecutor<'static>>,
    side: Side,
    l: Listener,
    ep: Endpoint,
    warnings: Rc<RateLimit>,
) {
    let on = format!("{}{}", host.tag(), side_name(side));
    let mut busy_since = None;
    loop {
        warnings.flush(Instant::now());
        let due = warnings.due();
        let accepted = future::or(async { Some(l.accept().await) }, async {
            match due {
                Some(t) => Timer::at(t).await,
                None => future::pending().await,
            };
            None
        })
        .await;
        let now = Instant::now();
        match accepted {
            None => {}
            Some(Ok((stream, remote))) => {
                let (src, addr) = match remote {
                    Remote::Tcp(a) => (Source::Tcp(a.ip()), a.to_string()),
                    Remote::Ipc => (Source::Ipc, ep.to_string()),
                };
                match host.admit(side, stream, src, addr.clone(), None) {
                    Ok((peer, displaced)) => {
                        debug!("{on} {addr}: accepted");
                        if let Some(d) = displaced {
                            let why = Cause::Displaced(d.because);
                            warnings.hit(side, why, now, || {
                                format!("{on} {}: {why}", from(d.src, &ep))
                            });
                        }
                        ex.spawn(connection::run(host.clone(), peer, format!("{on} {addr}")))
                            .detach();
                    }
                    Err(refusal) => {
                        let why = Cause::Refused(refusal);
                        warnings.hit(side, why, now, || {
                            format!("{on} {addr}: refused on {ep}: {why}")
                        });
                    }
                }
                // A flood of connections must not keep the peers already in from running.
                take_turns(&l, &mut busy_since).await;
            }
            Some(Err(e)) => {
                warnings.hit(side, Cause::AcceptFailed, now, || {
                    format!("{on} {ep}: accept failed: {e}")
                });
                // Out of descriptors or memory: the listener stays readable, so pause. A
                // connection that died in the backlog is no reason to, but counts as a turn.
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
                ) {
                    take_turns(&l, &mut busy_since).await;
                } else {
                    Timer::after(BACKOFF_MIN).await;
                }
            }
        }
    }
}

/// Let the others run after an accept, as a busy connection does: a plain yield lets the
/// other ready tasks run, but the reactor only looks at the sockets once no task is ready, and
/// `accept` takes a waiting connection without asking it, so a flood of connections (each
/// closed at once, say) would keep every other socket waiting. After [`FAIR_TURN`] of
/// accepts the loop waits for the listener through the reactor, which sees to every other
/// socket on the way (or for a timer through it, should nothing more be waiting).
async fn take_turns(l: &Listener, busy_since: &mut Option<Instant>) {
    let now = Instant::now();
    let since = *busy_since.get_or_insert(now);
    if now.duration_since(since) < FAIR_TURN {
        future::yield_now().await;
        return;
    }
    *busy_since = None;
    future::or(l.ready(), async {
        Timer::after(FAIR_TURN).await;
    })
    .await;
}

/// A connection's address for a warning: an IPC peer has only the endpoint.
fn from(src: Source, ep: &Endpoint) -> String {
    match src {
        Source::Tcp(ip) => ip.to_string(),
        Source::Ipc | Source::Connected => ep.to_string(),
    }
}

/// Where a connection zedge made goes: the address it reached for TCP (a name may resolve to
/// several), the endpoint for IPC.
fn remote_of(stream: &net::Stream, ep: &Endpoint) -> String {
    match stream {
        net::Stream::Tcp(s) => s
            .get_ref()
            .peer_addr()
            .map_or_else(|_| ep.to_string(), |a| a.to_string()),
        net::Stream::Unix(_) => ep.to_string(),
    }
}

/// How often a connection out to a spool's receivers looks whether the spool is open.
const SPOOL_WAIT_STEP: Duration = Duration::from_millis(100);

/// Connect, serve, and reconnect with jittered exponential backoff, until shutdown.
pub async fn connect_loop(host: Rc<DeviceHost>, side: Side, ep: Endpoint) {
    let via = ep.to_string();
    let label = format!("{}{} >{ep}", host.tag(), side_name(side));
    let mut backoff = BACKOFF_MIN;
    // Attempts that failed in a row, and since when.
    let mut failing: Option<(u32, Instant)> = None;
    // What the spool holds goes to the receivers first: they connect once it is open (5 s
    // at most).
    let mut waited = false;
    while side == Side::Backend && host.receivers_wait() && !host.stopping() {
        if !waited {
            info!("{label}: connecting once the spool is open");
            waited = true;
        }
        Timer::after(SPOOL_WAIT_STEP).await;
    }
    while !host.stopping() {
        let connect = async {
            let stream = net::connect(&ep).await?;
            let addr = remote_of(&stream, &ep);
            Ok::<_, io::Error>((stream, addr))
        };
        let attempt = future::or(async { Some(connect.await) }, async {
            Timer::after(CONNECT_TIMEOUT).await;
            None
        })
        .await;
        let failure = match attempt {
            Some(Ok((stream, addr))) => {
                match host.admit(side, stream, Source::Connected, addr, Some(&via)) {
                    Ok((peer, _)) => {
                        match failing.take() {
                            Some((n, since)) => crate::notice!(
                                "{label}: connected after {n} failed attempts over {:.0?}",
                                since.elapsed()
                            ),
                            None => debug!("{label}: connected"),
                        }
                        let since = Instant::now();
                        connection::run(host.clone(), peer, label.clone()).await;
                        if since.elapsed() >= BACKOFF_RESET_AFTER {
                            backoff = BACKOFF_MIN;
                        }
                        None
                    }
                    Err(full) => Some(full.to_string()),
                }
            }
            Some(Err(e)) => Some(e.to_string()),
            None => Some(format!("no answer within {CONNECT_TIMEOUT:?}")),
        };
        if let Some(why) = failure {
            match &mut failing {
                Some((n, _)) => {
                    *n += 1;
                    debug!("{label}: cannot connect: {why}");
                }
                None => {
                    warn!(
                        "{label}: cannot connect: {why}; retrying with backoff up to \
                         {BACKOFF_MAX:?}, and saying so again once connected"
                    );
                    failing = Some((1, Instant::now()));
                }
            }
        }
        if host.stopping() {
            break;
        }
        Timer::after(jitter(backoff)).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// From 3/4 to 5/4 of `d`, so peers cut off together do not come back together.
fn jitter(d: Duration) -> Duration {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(ms * 3 / 4 + fastrand::u64(0..=ms / 2))
}

pub fn side_name(side: Side) -> &'static str {
    side.name()
}

/// What a warning of the accept loop is about; one [`Limiter`] per side and cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cause {
    Refused(Refusal),
    Displaced(Crowd),
    AcceptFailed,
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Refused(r) => write!(f, "{r}"),
            Cause::Displaced(c) => write!(f, "{c}"),
            Cause::AcceptFailed => f.write_str("accept failed"),
        }
    }
}

impl Cause {
    /// What the count counts.
    fn counted(self) -> &'static str {
        match self {
            Cause::Refused(_) => "refused for this cause",
            Cause::Displaced(_) => "closed for this cause",
            Cause::AcceptFailed => "failures",
        }
    }
}

/// The rate-limited warnings of one device's listeners: each side and cause is logged at
/// most once per [`WARN_EVERY`], and what was held back is reported when the interval ends
/// ([`RateLimit::flush`], which the accept loops call when [`RateLimit::due`]), or at the
/// latest when the process stops.
#[derive(Debug, Default)]
pub struct RateLimit {
    limits: RefCell<Vec<(Side, Cause, Limiter)>>,
}

impl RateLimit {
    /// One event; `what` is the line without its count.
    fn hit(&self, side: Side, cause: Cause, now: Instant, what: impl FnOnce() -> String) {
        let mut limits = self.limits.borrow_mut();
        let i = match limits
            .iter()
            .position(|(s, c, _)| (*s, *c) == (side, cause))
        {
            Some(i) => i,
            None => {
                limits.push((side, cause, Limiter::new(WARN_EVERY)));
                limits.len() - 1
            }
        };
        if let Some(b) = limits[i].2.hit(now, what) {
            log_burst(cause, &b);
        }
    }

    /// The earliest end of an interval with events held back.
    fn due(&self) -> Option<Instant> {
        self.limits
            .borrow()
            .iter()
            .filter_map(|(_, _, l)| l.due())
            .min()
    }

    /// Report what was held back in every interval that has ended by `now`.
    fn flush(&self, now: Instant) {
        for (_, cause, l) in self.limits.borrow_mut().iter_mut() {
            if let Some(b) = l.flush(now) {
                log_burst(*cause, &b);
            }
        }
    }
}

impl Drop for RateLimit {
    /// The listeners are gone (the process is stopping): nothing held back goes unreported.
    fn drop(&mut self) {
        for (_, cause, l) in self.limits.get_mut().iter_mut() {
            if let Some(b) = l.drain() {
                log_burst(*cause, &b);
            }
        }
    }
}

fn log_burst(cause: Cause, b: &Burst) {
    warn!(
        "{} ({} {} since the last report)",
        b.last,
        b.count,
        cause.counted()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_a_quarter() {
        for _ in 0..1000 {
            let j = jitter(Duration::from_millis(400));
            assert!(
                j >= Duration::from_millis(300) && j <= Duration::from_millis(500),
                "{j:?}"
            );
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
