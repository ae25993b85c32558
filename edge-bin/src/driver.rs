//! The event loop around one device: listeners, connectors, connections, the timer, signals.
//!
//! Everything runs on one thread, on a `LocalExecutor` driven by async-io's reactor. The device
//! sits in a `RefCell` inside [`Shared`], borrowed by a task only between awaits. Its storage
//! (peer slots, subscription entries) is allocated once, at start, from the limits given, and
//! leaked: it lives as long as the process. Several devices per process would each get their
//! own `Shared` on the same executor.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant as StdInstant};

use async_executor::{LocalExecutor, Task};
use async_io::Timer;
use async_signal::{Signal as UnixSignal, Signals};
use futures_lite::{future, StreamExt};
use log::{debug, info, warn};
use zedge_core::device::{Device, DeviceConfig, Kind, PeerId, PeerTableFull, Side, Slot, SubEntry};
use zedge_core::time::{Duration as CoreDuration, Instant};

use crate::connection::{self, Signal};
use crate::endpoint::{self, BindError, Endpoint, Listener, Mode};
use crate::queue::HeapQueue;

pub type Dev = Device<'static, HeapQueue>;

/// The timer task looks at the device's deadlines at least this often.
const TIMER_TICK: CoreDuration = CoreDuration::from_millis(100);
const STATS_EVERY: Duration = Duration::from_secs(60);
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A connection that lasted this long resets the reconnect backoff.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(1);
const WARN_EVERY: Duration = Duration::from_secs(10);

/// What to run: one device and its endpoints.
#[derive(Debug)]
pub struct Setup {
    pub cfg: DeviceConfig,
    pub max_peers: usize,
    pub max_subscriptions: usize,
    pub frontends: Vec<Endpoint>,
    pub backends: Vec<Endpoint>,
}

/// A failure after the command line was accepted; exit status 1.
#[derive(Debug)]
pub enum RunError {
    Bind(BindError),
    Signals(std::io::Error),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Bind(e) => write!(f, "{e}"),
            RunError::Signals(e) => write!(f, "cannot install SIGINT/SIGTERM handlers: {e}"),
        }
    }
}

/// The process clock as the core sees it: milliseconds since start.
#[derive(Debug)]
pub struct Clock {
    start: StdInstant,
}

impl Clock {
    pub fn now(&self) -> Instant {
        let ms = self.start.elapsed().as_millis();
        Instant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    fn to_std(&self, t: Instant) -> StdInstant {
        self.start + Duration::from_millis(t.as_millis())
    }
}

/// What every task of one device shares.
pub struct Shared {
    pub dev: RefCell<Dev>,
    pub conns: RefCell<HashMap<PeerId, Rc<Signal>>>,
    /// The read buffer, `input_capacity` bytes, lent to one connection at a time.
    pub scratch: RefCell<Box<[u8]>>,
    pub clock: Clock,
    /// Shutting down: no more input is taken, output still drains.
    pub stopping: Cell<bool>,
    queue_capacity: usize,
    refusals: RateLimit,
}

impl Shared {
    /// Pass the device's wake and close requests to the connections' tasks. Call after every
    /// device call, with the device still borrowed.
    pub fn dispatch(&self, dev: &mut Dev) {
        let conns = self.conns.borrow();
        while let Some(id) = dev.poll_wake() {
            if let Some(sig) = conns.get(&id) {
                sig.wake();
            }
        }
        while let Some((id, reason)) = dev.poll_close() {
            if let Some(sig) = conns.get(&id) {
                sig.close(reason.to_string());
            }
        }
    }

    /// Give a new connection to the device.
    fn admit(&self, side: Side) -> Result<(PeerId, Rc<Signal>), PeerTableFull> {
        let mut dev = self.dev.borrow_mut();
        let queue = HeapQueue::new(self.queue_capacity);
        let id = dev.add_peer(side, queue, self.clock.now())?;
        let sig = Rc::new(Signal::default());
        self.conns.borrow_mut().insert(id, sig.clone());
        self.dispatch(&mut dev);
        Ok((id, sig))
    }

    fn all_flushed(&self) -> bool {
        let dev = self.dev.borrow();
        self.conns.borrow().keys().all(|&id| {
            let (a, b) = dev.output(id);
            a.is_empty() && b.is_empty()
        })
    }
}

/// Bind everything, then run until SIGINT or SIGTERM.
pub fn run(setup: Setup) -> Result<(), RunError> {
    raise_fd_limit(setup.max_peers);
    let mut listeners = Vec::new();
    let mut connectors = Vec::new();
    let sides = [
        (Side::Frontend, &setup.frontends),
        (Side::Backend, &setup.backends),
    ];
    for (side, eps) in sides {
        for ep in eps.iter() {
            match ep.mode {
                Mode::Bind => {
                    let l = endpoint::bind(ep).map_err(RunError::Bind)?;
                    info!("{} listening on {ep}", side_name(side));
                    listeners.push((side, l, ep.clone()));
                }
                Mode::Connect => connectors.push((side, ep.clone())),
            }
        }
    }
    let mut signals =
        Signals::new([UnixSignal::Int, UnixSignal::Term]).map_err(RunError::Signals)?;

    let peers: &'static mut [Slot<HeapQueue>] = Box::leak(
        std::iter::repeat_with(Slot::default)
            .take(setup.max_peers)
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    // Only a forwarder keeps subscriptions; the others would pay for an unused table.
    let n_subs = match setup.cfg.kind {
        Kind::Forwarder { .. } => setup.max_subscriptions,
        Kind::Queue | Kind::Streamer => 0,
    };
    let subs: &'static mut [SubEntry] =
        Box::leak(vec![SubEntry::default(); n_subs].into_boxed_slice());
    let sh = Rc::new(Shared {
        dev: RefCell::new(Device::new(setup.cfg, peers, subs)),
        conns: RefCell::new(HashMap::new()),
        scratch: RefCell::new(vec![0; setup.cfg.input_capacity].into_boxed_slice()),
        clock: Clock {
            start: StdInstant::now(),
        },
        stopping: Cell::new(false),
        queue_capacity: setup.cfg.queue_capacity(),
        refusals: RateLimit::default(),
    });

    let ex = Rc::new(LocalExecutor::new());
    async_io::block_on(ex.run(async {
        let accepts: Vec<Task<()>> = listeners
            .into_iter()
            .map(|(side, l, ep)| ex.spawn(accept_loop(sh.clone(), ex.clone(), side, l, ep)))
            .collect();
        for (side, ep) in connectors {
            ex.spawn(connect_loop(sh.clone(), side, ep)).detach();
        }
        let timer = ex.spawn(timer_loop(sh.clone()));

        signals.next().await;
        info!("stopping: no new connections, flushing output for up to {SHUTDOWN_FLUSH:?}");
        sh.stopping.set(true);
        for task in accepts {
            task.cancel().await; // drops the listener, which removes an IPC socket file
        }
        let deadline = StdInstant::now() + SHUTDOWN_FLUSH;
        while !sh.all_flushed() && StdInstant::now() < deadline {
            let tick = async {
                Timer::after(Duration::from_millis(10)).await;
                false
            };
            let again = async { signals.next().await.is_some() };
            if future::or(again, tick).await {
                info!("second signal: exiting without flushing");
                break;
            }
        }
        if !sh.all_flushed() {
            warn!("exiting with output still queued for some peers");
        }
        timer.cancel().await;
    }));
    Ok(())
}

async fn accept_loop(
    sh: Rc<Shared>,
    ex: Rc<LocalExecutor<'static>>,
    side: Side,
    l: Listener,
    ep: Endpoint,
) {
    let errors = RateLimit::default();
    loop {
        match l.accept().await {
            Ok((stream, peer)) => {
                let label = format!("{} {peer}", side_name(side));
                match sh.admit(side) {
                    Ok((id, sig)) => {
                        debug!("{label}: connected");
                        ex.spawn(connection::run(sh.clone(), id, sig, stream, label))
                            .detach();
                    }
                    Err(full) => {
                        drop(stream);
                        if let Some(n) = sh.refusals.tick() {
                            warn!("{label}: refused on {ep}: {full} ({n} refused since the last report)");
                        }
                    }
                }
            }
            Err(e) => {
                // Out of descriptors or memory: the listener stays readable, so pause.
                if let Some(n) = errors.tick() {
                    warn!(
                        "{} {ep}: accept failed: {e} ({n} failures since the last report)",
                        side_name(side)
                    );
                }
                Timer::after(BACKOFF_MIN).await;
            }
        }
    }
}

/// Connect, serve, and reconnect with jittered exponential backoff, until shutdown.
async fn connect_loop(sh: Rc<Shared>, side: Side, ep: Endpoint) {
    let label = format!("{} >{ep}", side_name(side));
    let mut backoff = BACKOFF_MIN;
    let mut failing = false;
    while !sh.stopping.get() {
        let attempt = future::or(async { Some(endpoint::connect(&ep).await) }, async {
            Timer::after(CONNECT_TIMEOUT).await;
            None
        })
        .await;
        let failure = match attempt {
            Some(Ok(stream)) => match sh.admit(side) {
                Ok((id, sig)) => {
                    debug!("{label}: connected");
                    failing = false;
                    let since = StdInstant::now();
                    connection::run(sh.clone(), id, sig, stream, label.clone()).await;
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
        if sh.stopping.get() {
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

/// Fires the device's timers (handshake limits, heartbeats) and logs stats.
async fn timer_loop(sh: Rc<Shared>) {
    let mut last_stats = StdInstant::now();
    loop {
        let now = sh.clock.now();
        let next = sh.dev.borrow().poll_timeout();
        let at = next.map_or(now + TIMER_TICK, |t| t.min(now + TIMER_TICK));
        Timer::at(sh.clock.to_std(at)).await;
        {
            let mut dev = sh.dev.borrow_mut();
            dev.handle_timeout(sh.clock.now());
            sh.dispatch(&mut dev);
            if log::log_enabled!(log::Level::Info) && last_stats.elapsed() >= STATS_EVERY {
                last_stats = StdInstant::now();
                info!("stats: {:?}", dev.stats());
            }
        }
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Frontend => "frontend",
        Side::Backend => "backend",
    }
}

/// Every peer is a descriptor: lift the soft limit to the hard one.
fn raise_fd_limit(max_peers: usize) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, lim) {
            debug!("cannot raise the open-files limit: {e}");
        }
    }
    let have = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    let want = max_peers as u64 + 64;
    if have < want {
        warn!(
            "open-files limit is {have}; {max_peers} peers need about {want} (raise LimitNOFILE)"
        );
    }
}

/// Lets a repeated warning through once per [`WARN_EVERY`], counting what it held back.
#[derive(Debug, Default)]
struct RateLimit {
    last: Cell<Option<StdInstant>>,
    count: Cell<u64>,
}

impl RateLimit {
    fn tick(&self) -> Option<u64> {
        self.count.set(self.count.get() + 1);
        let now = StdInstant::now();
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
        r.last.set(Some(StdInstant::now() - WARN_EVERY));
        assert_eq!(r.tick(), Some(3));
    }
}
