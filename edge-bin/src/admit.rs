//! How connections reach a device: accepted on its listeners, or made to the endpoints it
//! connects to, with backoff, and started as [`connection`] tasks.
//!
//! Refusals and accept failures come in bursts (a fleet reconnecting to a full device, a
//! process out of descriptors), so their warnings are rate-limited, with counts.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use async_io::Timer;
use futures_lite::future;
use log::{debug, info, warn};
use zedge_core::device::Side;

use crate::connection;
use crate::endpoint::Endpoint;
use crate::host::DeviceHost;
use crate::net::{self, Listener};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A connection that lasted this long resets the reconnect backoff.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(1);
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Accept connections on `l` for one side of the device, forever. `refusals` is shared by
/// the device's listeners.
pub async fn accept_loop(
    host: Rc<DeviceHost>,
    ex: Rc<LocalExecutor<'static>>,
    side: Side,
    l: Listener,
    ep: Endpoint,
    refusals: Rc<RateLimit>,
) {
    let errors = RateLimit::default();
    loop {
        match l.accept().await {
            Ok((stream, peer)) => {
                let label = format!("{}{} {peer}", host.tag(), side_name(side));
                match host.admit(side, stream) {
                    Ok(peer) => {
                        debug!("{label}: connected");
                        ex.spawn(connection::run(host.clone(), peer, label))
                            .detach();
                    }
                    Err(full) => {
                        if let Some(n) = refusals.tick() {
                            warn!("{label}: refused on {ep}: {full} ({n} refused since the last report)");
                        }
                    }
                }
            }
            Err(e) => {
                // Out of descriptors or memory: the listener stays readable, so pause.
                if let Some(n) = errors.tick() {
                    warn!(
                        "{}{} {ep}: accept failed: {e} ({n} failures since the last report)",
                        host.tag(),
                        side_name(side)
                    );
                }
                Timer::after(BACKOFF_MIN).await;
            }
        }
    }
}

/// Connect, serve, and reconnect with jittered exponential backoff, until shutdown.
pub async fn connect_loop(host: Rc<DeviceHost>, side: Side, ep: Endpoint) {
    let label = format!("{}{} >{ep}", host.tag(), side_name(side));
    let mut backoff = BACKOFF_MIN;
    let mut failing = false;
    while !host.stopping() {
        let attempt = future::or(async { Some(net::connect(&ep).await) }, async {
            Timer::after(CONNECT_TIMEOUT).await;
            None
        })
        .await;
        let failure = match attempt {
            Some(Ok(stream)) => match host.admit(side, stream) {
                Ok(peer) => {
                    debug!("{label}: connected");
                    failing = false;
                    let since = Instant::now();
                    connection::run(host.clone(), peer, label.clone()).await;
                    if since.elapsed() >= BACKOFF_RESET_AFTER {
                        backoff = BACKOFF_MIN;
                    }
                    None
                }
                Err(full) => Some(full.to_string()),
            },
            Some(Err(e)) => Some(e.to_string()),
            None => Some(format!("no answer within {CONNECT_TIMEOUT:?}")),
        };
        if let Some(why) = failure {
            if failing {
                debug!("{label}: cannot connect: {why}");
            } else {
                info!(
                    "{label}: cannot connect: {why}; retrying with backoff up to {BACKOFF_MAX:?}"
                );
                failing = true;
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
    match side {
        Side::Frontend => "frontend",
        Side::Backend => "backend",
    }
}

/// Lets a repeated warning through once per [`WARN_EVERY`], counting what it held back.
#[derive(Debug, Default)]
pub struct RateLimit {
    last: Cell<Option<Instant>>,
    count: Cell<u64>,
}

impl RateLimit {
    fn tick(&self) -> Option<u64> {
        self.count.set(self.count.get() + 1);
        let now = Instant::now();
        if self.last.get().is_some_and(|t| now - t < WARN_EVERY) {
            return None;
        }
        self.last.set(Some(now));
        Some(self.count.replace(0))
    }
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

    #[test]
    fn rate_limit_reports_what_it_held_back() {
        let r = RateLimit::default();
        assert_eq!(r.tick(), Some(1));
        assert_eq!(r.tick(), None);
        assert_eq!(r.tick(), None);
        r.last.set(Some(Instant::now() - WARN_EVERY));
        assert_eq!(r.tick(), Some(3));
    }
}
