//! The event loop around the devices: listeners, connectors, connections, timers, signals and
//! systemd.
//!
//! Everything runs on one thread, on a `LocalExecutor` driven by async-io's reactor. Each
//! device sits in a `RefCell` inside its own [`Shared`], borrowed by a task only between
//! awaits; devices share nothing but the thread. A device's storage (peer slots, subscription
//! entries, read buffer) is allocated once, at start, from its limits, and leaked: it lives as
//! long as the process.
//!
//! Start-up binds every endpoint of every device before anything else, so a config that cannot
//! run fails at once and `READY=1` ([`notify`](crate::notify)) means every port takes
//! connections.

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
use zedge_core::device::{Device, Kind, PeerId, PeerTableFull, Side, Slot};
use zedge_core::time::{Duration as CoreDuration, Instant};

use crate::connection::{self, Signal};
use crate::endpoint::{self, BindError, Endpoint, Listener, Mode, Stream};
use crate::notify::{self, Notifier};
use crate::queue::HeapQueue;
use crate::setup::DeviceSetup;
use crate::splice::Pipes;

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

/// A failure after the command line and config were accepted; exit status 1.
#[derive(Debug)]
pub enum RunError {
    /// An endpoint of the device named (empty for the command line's) cannot be bound.
    Bind(String, BindError),
    Signals(std::io::Error),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Bind(name, e) if name.is_empty() => write!(f, "{e}"),
            RunError::Bind(name, e) => write!(f, "device {name:?}: {e}"),
            RunError::Signals(e) => write!(f, "cannot install SIGINT/SIGTERM handlers: {e}"),
        }
    }
}

/// The process clock as the core sees it: milliseconds since start.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: StdInstant,
}

impl Clock {
    pub fn now(&self) -> Instant {
        let ms = self.start.elapsed().as_millis();
        Instant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    fn to_std(self, t: Instant) -> StdInstant {
        self.start + Duration::from_millis(t.as_millis())
    }
}

/// How the device's tasks reach a connection: its signal, and its socket.
pub type ConnHandle = (Rc<Signal>, Rc<Stream>);

/// What every task of one device shares.
pub struct Shared {
    /// For STATUS lines: the device's name, or its kind's.
    pub name: String,
    /// Starts every log line about this device: `"name "`, or nothing for the command line's.
    tag: String,
    pub dev: RefCell<Dev>,
    pub conns: RefCell<HashMap<PeerId, ConnHandle>>,
    /// Pipes for moving large bodies socket to socket.
    pub pipes: Pipes,
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
            if let Some((sig, _)) = conns.get(&id) {
                sig.wake();
            }
        }
        while let Some((id, reason)) = dev.poll_close() {
            if let Some((sig, _)) = conns.get(&id) {
                sig.close(reason.to_string());
            }
        }
    }

    /// A connected peer's socket, for another connection to write to.
    pub fn stream(&self, id: PeerId) -> Option<Rc<Stream>> {
        self.conns.borrow().get(&id).map(|(_, s)| s.clone())
    }

    /// Give a new connection to the device.
    fn admit(
        &self,
        side: Side,
        stream: Stream,
    ) -> Result<(PeerId, Rc<Signal>, Rc<Stream>), PeerTableFull> {
        let mut dev = self.dev.borrow_mut();
        let queue = HeapQueue::new(self.queue_capacity);
        let id = dev.add_peer(side, queue, self.clock.now())?;
        let sig = Rc::new(Signal::default());
        let stream = Rc::new(stream);
        self.conns
            .borrow_mut()
            .insert(id, (sig.clone(), stream.clone()));
        self.dispatch(&mut dev);
        Ok((id, sig, stream))
    }

    fn all_flushed(&self) -> bool {
        let dev = self.dev.borrow();
        self.conns.borrow().keys().all(|&id| {
            let (a, b) = dev.output(id);
            a.is_empty() && b.is_empty()
        })
    }
}

/// One device's endpoints, bound (listeners) or to connect to.
struct Endpoints {
    listeners: Vec<(Side, Listener, Endpoint)>,
    connectors: Vec<(Side, Endpoint)>,
}

/// Bind every endpoint of every device, then run until SIGINT or SIGTERM.
pub fn run(devices: Vec<DeviceSetup>) -> Result<(), RunError> {
    let fds = devices
        .iter()
        .map(|d| d.tuning.max_peers + 2 * splices(d))
        .sum();
    raise_fd_limit(fds);
    let mut bound = Vec::with_capacity(devices.len());
    for d in &devices {
        bound.push(bind_all(d).map_err(|e| RunError::Bind(d.name.clone(), e))?);
    }
    let mut signals =
        Signals::new([UnixSignal::Int, UnixSignal::Term]).map_err(RunError::Signals)?;
    let clock = Clock {
        start: StdInstant::now(),
    };
    let shared: Vec<Rc<Shared>> = devices.iter().map(|d| start_device(d, clock)).collect();
    let notifier = Notifier::from_env().map(Rc::new);
    if let Some(n) = &notifier {
        n.send(&format!("READY=1\nSTATUS={}", notify::status_line(&shared)));
    }

    let ex = Rc::new(LocalExecutor::new());
    async_io::block_on(ex.run(async {
        let mut accepts: Vec<Task<()>> = Vec::new();
        let mut timers: Vec<Task<()>> = Vec::new();
        for (sh, eps) in shared.iter().zip(bound) {
            for (side, l, ep) in eps.listeners {
                accepts.push(ex.spawn(accept_loop(sh.clone(), ex.clone(), side, l, ep)));
            }
            for (side, ep) in eps.connectors {
                ex.spawn(connect_loop(sh.clone(), side, ep)).detach();
            }
            timers.push(ex.spawn(timer_loop(sh.clone())));
        }
        let systemd = notifier
            .clone()
            .map(|n| ex.spawn(notify::run(n, shared.clone())));

        signals.next().await;
        info!("stopping: no new connections, flushing output for up to {SHUTDOWN_FLUSH:?}");
        if let Some(n) = &notifier {
            n.send("STOPPING=1\nSTATUS=stopping: flushing output");
        }
        for sh in &shared {
            sh.stopping.set(true);
        }
        for task in accepts {
            task.cancel().await; // drops the listener, which removes an IPC socket file
        }
        let flushed = || shared.iter().all(|sh| sh.all_flushed());
        let deadline = StdInstant::now() + SHUTDOWN_FLUSH;
        while !flushed() && StdInstant::now() < deadline {
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
        if !flushed() {
            warn!("exiting with output still queued for some peers");
        }
        for task in timers {
            task.cancel().await;
        }
        if let Some(task) = systemd {
            task.cancel().await;
        }
    }));
    Ok(())
}

fn bind_all(d: &DeviceSetup) -> Result<Endpoints, BindError> {
    let mut eps = Endpoints {
        listeners: Vec::new(),
        connectors: Vec::new(),
    };
    let tag = tag(&d.name);
    for (side, list) in [(Side::Frontend, &d.frontends), (Side::Backend, &d.backends)] {
        for ep in list {
            match ep.mode {
                Mode::Bind => {
                    let l = endpoint::bind(ep)?;
                    info!("{tag}{} listening on {ep}", side_name(side));
                    eps.listeners.push((side, l, ep.clone()));
                }
                Mode::Connect => eps.connectors.push((side, ep.clone())),
            }
        }
    }
    Ok(eps)
}

fn tag(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!("{name} ")
    }
}

/// How many bodies the device may pass through pipes at once: none in a forwarder, which
/// never lets a body by (see `Device::bypass`).
fn splices(d: &DeviceSetup) -> usize {
    match d.kind {
        Kind::Forwarder { .. } => 0,
        Kind::Queue | Kind::Streamer => d.tuning.max_splices,
    }
}

/// Allocate a device's storage and wrap it for its tasks.
fn start_device(d: &DeviceSetup, clock: Clock) -> Rc<Shared> {
    let cfg = d.device_config();
    let peers: &'static mut [Slot<HeapQueue>] = Box::leak(
        std::iter::repeat_with(Slot::default)
            .take(d.tuning.max_peers)
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    // Zeroed memory: pages no subscription has used stay untouched and cost no RSS.
    let subs: &'static mut [u8] = Box::leak(vec![0u8; cfg.subscription_bytes()].into_boxed_slice());
    Rc::new(Shared {
        name: d.display_name().to_owned(),
        tag: tag(&d.name),
        dev: RefCell::new(Device::new(
            cfg,
            peers,
            subs,
            [fastrand::u64(..), fastrand::u64(..)],
        )),
        conns: RefCell::new(HashMap::new()),
        pipes: Pipes::new(splices(d)),
        scratch: RefCell::new(vec![0; cfg.input_capacity].into_boxed_slice()),
        clock,
        stopping: Cell::new(false),
        queue_capacity: cfg.queue_capacity(),
        refusals: RateLimit::default(),
    })
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
                let label = format!("{}{} {peer}", sh.tag, side_name(side));
                match sh.admit(side, stream) {
                    Ok((id, sig, stream)) => {
                        debug!("{label}: connected");
                        ex.spawn(connection::run(sh.clone(), id, sig, stream, label))
                            .detach();
                    }
                    Err(full) => {
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
                        "{}{} {ep}: accept failed: {e} ({n} failures since the last report)",
                        sh.tag,
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
    let label = format!("{}{} >{ep}", sh.tag, side_name(side));
    let mut backoff = BACKOFF_MIN;
    let mut failing = false;
    while !sh.stopping.get() {
        let attempt = future::or(async { Some(endpoint::connect(&ep).await) }, async {
            Timer::after(CONNECT_TIMEOUT).await;
            None
        })
        .await;
        let failure = match attempt {
            Some(Ok(stream)) => match sh.admit(side, stream) {
                Ok((id, sig, stream)) => {
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
                info!("{}stats: {:?}", sh.tag, dev.stats());
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

/// Every peer and pipe end is a descriptor: lift the soft limit to the hard one.
fn raise_fd_limit(max_fds: usize) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, lim) {
            debug!("cannot raise the open-files limit: {e}");
        }
    }
    let have = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    let want = max_fds as u64 + 64;
    if have < want {
        warn!("open-files limit is {have}; the configured peers and pipes need about {want} (raise LimitNOFILE)");
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
