//! One device on an OS thread of its own: its executor, its [`DeviceHost`], its listeners and
//! connectors, and the [`Command`]s the main thread sends it.
//!
//! A device's event loop shares nothing with another's (a flooded streamer cannot delay a
//! queue's replies, and a gateway with several devices uses its cores), and nothing with the
//! main thread but a [`Pulse`]: the device publishes its counters and a heartbeat there from a
//! timer task, every [`BEAT`], and the main thread reads it for STATUS= and to decide whether
//! to pet systemd's watchdog. Nothing on the message path takes a lock.
//!
//! Listeners are bound by the main thread (so READY=1 means every port takes connections, and
//! a reload can refuse a port that is taken before it changes anything) and handed over.

use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use async_executor::{LocalExecutor, Task};
use async_io::Timer;
use log::info;
use zedge_core::device::{Kind, Side, Stats};

use crate::admit::{self, side_name, RateLimit};
use crate::budget::Budget;
use crate::control::{self, ControlEndpoint, Steering};
use crate::endpoint::Endpoint;
use crate::flush;
use crate::host::{Clock, DeviceHost};
use crate::net::Listener;
use crate::setup::DeviceSetup;
use crate::storage::Storage;

/// How often a device thread publishes its counters and heartbeat.
pub const BEAT: Duration = Duration::from_millis(100);

/// What the main thread asks of a device thread.
#[derive(Debug)]
pub enum Command {
    /// Accept connections on this listener too.
    Listen(Side, Listener, Endpoint),
    /// Connect to this endpoint too (and reconnect, as the others).
    Connect(Side, Endpoint),
    /// Stop accepting on, or connecting to, this endpoint; the sender hears once the listener
    /// is closed. Peers it accepted stay; the connection a connector made ends.
    Close(Side, Endpoint, Sender<()>),
    /// A new CURVE allow-list (a reload read it): clients it no longer holds are closed.
    Allow(crate::secure::AllowList),
    /// A new PLAIN password list (a reload read it), for the connections to come.
    Passwords(crate::setup::Passwords),
    /// Take no more input and close every listener (then the sender, if any, hears), write
    /// what is queued until `deadline`, log what could not be, and end.
    Stop {
        deadline: Instant,
        closed: Option<Sender<()>>,
    },
}

/// One device's endpoints, bound (listeners) or to connect to.
#[derive(Debug, Default)]
pub struct Endpoints {
    pub listeners: Vec<(Side, Listener, Endpoint)>,
    pub connectors: Vec<(Side, Endpoint)>,
    pub control: Option<ControlEndpoint>,
}

/// What a device shows outside its thread, as of its last beat: its counters, and what the
/// metrics report beside them.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub stats: Stats,
    /// Bytes queued for each side's peers (by [`Side::index`]), not yet written.
    pub queued: [u64; 3],
    pub subscriptions: usize,
    pub paused: bool,
    /// A forwarder's last-value cache, if it keeps one.
    pub last_value: Option<zedge_core::device::LastValueView>,
    /// A streamer's spool, if it has one.
    pub spool: Option<crate::host::SpoolView>,
}

/// What a device thread shows the main thread: its counters, when it last ran its timer
/// task, and whether it has ended.
#[derive(Debug)]
pub struct Pulse {
    kind: Kind,
    snapshot: Mutex<Snapshot>,
    /// Milliseconds since `epoch` at the last beat.
    beat: AtomicU64,
    epoch: Instant,
    ended: AtomicBool,
}

impl Pulse {
    pub fn new(kind: Kind) -> Pulse {
        Pulse {
            kind,
            snapshot: Mutex::new(Snapshot::default()),
            beat: AtomicU64::new(0),
            epoch: Instant::now(),
            ended: AtomicBool::new(false),
        }
    }

    fn publish(&self, snapshot: Snapshot) {
        *self.snapshot.lock().unwrap_or_else(PoisonError::into_inner) = snapshot;
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.beat.store(ms, Ordering::Relaxed);
    }

    /// The counters at the last beat.
    pub fn stats(&self) -> Stats {
        self.snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stats
    }

    /// The device's kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// All it showed at the last beat.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How long since the last beat.
    pub fn silent_for(&self) -> Duration {
        let last = Duration::from_millis(self.beat.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }

    /// The thread has ended (stopped, or died).
    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// A pulse that last beat `ago`, for tests.
    #[cfg(test)]
    pub fn beaten(ago: Duration) -> Pulse {
        let p = Pulse::new(Kind::Streamer);
        let ms = u64::try_from(ago.as_millis()).unwrap_or(u64::MAX);
        p.beat.store(ms, Ordering::Relaxed);
        Pulse {
            epoch: p.epoch - ago * 2,
            ..p
        }
    }

    /// Mark it ended, for tests.
    #[cfg(test)]
    pub fn end(&self) {
        self.ended.store(true, Ordering::Release);
    }
}

/// Marks the pulse ended when the thread's function returns or unwinds.
struct Ending(Arc<Pulse>);

impl Drop for Ending {
    fn drop(&mut self) {
        self.0.ended.store(true, Ordering::Release);
    }
}

/// A running device thread, seen from the main thread.
#[derive(Debug)]
pub struct DeviceThread {
    /// Unique in the process: a device restarted by a reload is another thread.
    pub id: u64,
    pub setup: DeviceSetup,
    tx: Sender<Command>,
    pub pulse: Arc<Pulse>,
    handle: Option<JoinHandle<()>>,
    stopping: bool,
}

impl DeviceThread {
    /// Start `setup` on a thread named after it (its first 15 bytes show in `top -H` and
    /// `/proc/PID/task/*/comm`), over `storage`, with `eps` already bound, its buffers
    /// drawing from `budget`.
    pub fn spawn(
        setup: DeviceSetup,
        storage: Storage,
        eps: Endpoints,
        clock: Clock,
        budget: Arc<Budget>,
        mut steering: Steering,
    ) -> io::Result<DeviceThread> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        steering.thread = id;
        let (tx, rx) = async_channel::unbounded();
        let pulse = Arc::new(Pulse::new(setup.kind));
        let d = setup.clone();
        let p = pulse.clone();
        let handle = thread::Builder::new()
            .name(setup.display_name().to_owned())
            .spawn(move || {
                let _ending = Ending(p.clone());
                let host = Rc::new(DeviceHost::start(&d, storage, clock, budget));
                let ex = Rc::new(LocalExecutor::new());
                async_io::block_on(ex.run(serve(host, ex.clone(), eps, rx, p, steering)));
            })?;
        Ok(DeviceThread {
            id,
            setup,
            tx,
            pulse,
            handle: Some(handle),
            stopping: false,
        })
    }

    pub fn name(&self) -> &str {
        self.setup.display_name()
    }

    /// Hand a command over; a thread that has ended takes none, and that is noticed by its
    /// pulse.
    pub fn send(&self, c: Command) {
        let _ = self.tx.try_send(c);
    }

    /// Ask the thread to stop by `deadline` (once; later calls do nothing).
    pub fn stop(&mut self, deadline: Instant, closed: Option<Sender<()>>) {
        if !self.stopping {
            self.stopping = true;
            self.send(Command::Stop { deadline, closed });
        }
    }

    pub fn stopping(&self) -> bool {
        self.stopping
    }

    /// Wait for the thread to end (it has, or has been asked to).
    pub fn join(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// An endpoint's task: an accept loop, or a connect loop.
struct Served {
    side: Side,
    ep: Endpoint,
    task: Task<()>,
    listens: bool,
}

/// The device thread's event loop: its endpoints' tasks and its timers run beside this, which
/// takes the main thread's commands until one says stop, then stops the device, flushes it
/// until the deadline and reports.
async fn serve(
    host: Rc<DeviceHost>,
    ex: Rc<LocalExecutor<'static>>,
    eps: Endpoints,
    rx: Receiver<Command>,
    pulse: Arc<Pulse>,
    steering: Steering,
) {
    let refusals = Rc::new(RateLimit::default());
    let listen = |side, l, ep: Endpoint| {
        let accept = admit::accept_loop(
            host.clone(),
            ex.clone(),
            side,
            l,
            ep.clone(),
            refusals.clone(),
        );
        Served {
            side,
            ep,
            task: ex.spawn(accept),
            listens: true,
        }
    };
    let connect = |side, ep: Endpoint| Served {
        side,
        ep: ep.clone(),
        task: ex.spawn(admit::connect_loop(host.clone(), side, ep)),
        listens: false,
    };
    let mut served: Vec<Served> = Vec::new();
    for (side, l, ep) in eps.listeners {
        served.push(listen(side, l, ep));
    }
    for (side, ep) in eps.connectors {
        served.push(connect(side, ep));
    }
    let control = eps
        .control
        .map(|c| ex.spawn(control::serve(host.clone(), ex.clone(), c, steering)));
    let timers = ex.spawn(host.clone().run_timers());
    let spool = ex.spawn(host.clone().run_spool());
    let beats = ex.spawn(beat(host.clone(), pulse.clone()));
    let (deadline, closed) = loop {
        match rx.recv().await {
            Ok(Command::Listen(side, l, ep)) => {
                info!("{}{} listening on {ep}", host.tag(), side_name(side));
                served.push(listen(side, l, ep));
            }
            Ok(Command::Connect(side, ep)) => served.push(connect(side, ep)),
            Ok(Command::Close(side, ep, done)) => {
                let at = served
                    .iter()
                    .position(|s| s.side == side && same(&s.ep, &ep));
                if let Some(s) = at.map(|i| served.swap_remove(i)) {
                    s.task.cancel().await;
                    let to = if s.listens { "" } else { ">" };
                    info!("{}{} {to}{ep}: closed", host.tag(), side_name(side));
                }
                let _ = done.try_send(());
            }
            Ok(Command::Allow(keys)) => host.set_allow_list(keys),
            Ok(Command::Passwords(users)) => host.set_passwords(users),
            Ok(Command::Stop { deadline, closed }) => break (deadline, closed),
            // The main thread is gone: the process is exiting.
            Err(_) => break (Instant::now(), None),
        }
    };
    host.stop();
    host.spool_stopping();
    if let Some(c) = control {
        c.cancel().await;
    }
    let mut connectors = Vec::new();
    for s in served {
        if s.listens {
            s.task.cancel().await; // drops the listener, which removes an IPC socket file
        } else {
            connectors.push(s.task); // its connection flushes like the others
        }
    }
    if let Some(tx) = closed {
        let _ = tx.try_send(());
    }
    while !host.all_flushed() && Instant::now() < deadline {
        Timer::after(Duration::from_millis(10)).await;
    }
    flush::report(&host);
    drop(connectors);
    spool.cancel().await;
    host.flush_spool();
    timers.cancel().await;
    beats.cancel().await;
    // The counters as they end, for the process's totals at stop.
    pulse.publish(snapshot(&host));
}

/// The same endpoint: the same address, bound or connected to.
pub fn same(a: &Endpoint, b: &Endpoint) -> bool {
    a.mode == b.mode && a.addr == b.addr
}

/// Publish the counters and a heartbeat every [`BEAT`], for as long as the thread runs.
async fn beat(host: Rc<DeviceHost>, pulse: Arc<Pulse>) {
    loop {
        pulse.publish(snapshot(&host));
        Timer::after(BEAT).await;
    }
}

/// What the device shows now.
fn snapshot(host: &DeviceHost) -> Snapshot {
    host.peek(|d| Snapshot {
        stats: *d.stats(),
        queued: d.queued(),
        subscriptions: d.subscriptions().0,
        paused: d.paused(),
        last_value: d.last_values(),
        spool: host.spool_view(),
    })
}
