//! The main thread: start-up, the device threads, signals, systemd and shutdown.
//!
//! Start-up takes every device's memory ([`Storage`], fallibly: the system refusing it is exit
//! status 2), binds every endpoint of every device, and only then starts one
//! [`DeviceThread`](crate::worker::DeviceThread) per device, so a config that cannot run fails
//! at once and `READY=1` ([`notify`]) means every port takes connections. The main thread
//! keeps what belongs to the process: signals (SIGINT and SIGTERM stop, SIGHUP reloads the
//! config file: [`reload`]), systemd's notify socket (STATUS= from each device's published
//! counters, WATCHDOG=1 only while every device thread beats: [`gateway::healthy`]) and the
//! flush at shutdown, which every device does on its own thread and reports on.
//!
//! Threads: one per device, this one, and async-io's reactor thread; a connector to a host
//! name resolves it on a short-lived thread of its own. The unit's `TasksMax=64` leaves room
//! for about 60 devices.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use async_io::Timer;
use async_signal::{Signal as UnixSignal, Signals};
use futures_lite::{future, StreamExt};
use log::{debug, error, info, warn};

use crate::budget::Budget;
use crate::gateway::{self, Gateway};
use crate::host::Clock;
use crate::metrics;
use crate::net::BindError;
use crate::notify::{self, Notifier};
use crate::reload::{self, Source};
use crate::setup::{DeviceSetup, Memory, Process};
use crate::storage::{AllocError, Storage};

const SHUTDOWN_FLUSH: Duration = Duration::from_secs(1);
/// How long past the flush deadline the main thread waits for a device thread to end.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// How often the main thread looks for device threads that died or finished retiring.
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// A failure after the command line and config were accepted.
#[derive(Debug)]
pub enum RunError {
    /// An endpoint of the device named (empty for the command line's) cannot be bound.
    Bind(String, BindError),
    /// The system would not give a device its memory.
    Alloc(AllocError),
    /// A device's thread could not be started.
    Thread(String, io::Error),
    /// A device's thread ended while it should run.
    Died(String),
    Signals(io::Error),
}

impl RunError {
    /// 2 for memory the system will not give (retrying will not help, as for a bad config),
    /// 1 for the rest.
    pub fn exit_status(&self) -> u8 {
        match self {
            RunError::Alloc(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Bind(name, e) if name.is_empty() => write!(f, "{e}"),
            RunError::Bind(name, e) => write!(f, "device {name:?}: {e}"),
            RunError::Alloc(e) => write!(f, "{e}"),
            RunError::Thread(name, e) => write!(
                f,
                "device {name:?}: cannot start its thread: {e} (the unit's TasksMax= allows \
                 one thread per device and two more)"
            ),
            RunError::Died(name) => write!(f, "device {name:?}: its thread ended unexpectedly"),
            RunError::Signals(e) => write!(f, "cannot install signal handlers: {e}"),
        }
    }
}

/// Start every device, then run until SIGINT or SIGTERM (or a device thread dies). The
/// devices fit `process.memory_max` (checked when they were read); what they leave of it is
/// the budget they share.
pub fn run(
    devices: Vec<DeviceSetup>,
    process: Process,
    source: Option<Source>,
) -> Result<(), RunError> {
    // First, so a signal during start-up is not the default action (SIGHUP would end us).
    let mut signals = Signals::new([UnixSignal::Int, UnixSignal::Term, UnixSignal::Hup])
        .map_err(RunError::Signals)?;
    let memory = Memory::of(&devices, &process);
    let mut storage = Vec::with_capacity(devices.len());
    for d in &devices {
        storage.push(Storage::allocate(d).map_err(RunError::Alloc)?);
    }
    raise_fd_limit(&memory);
    let started = start_line(&devices, &process, source.as_ref());
    let mut bound = Vec::with_capacity(devices.len());
    for d in &devices {
        let eps = gateway::bind(d, &|_| false).map_err(|e| RunError::Bind(d.name.clone(), e))?;
        bound.push(eps);
    }
    let metrics = match process.metrics {
        Some(addr) => Some(
            metrics::bind(addr)
                .map_err(|e| RunError::Bind(String::new(), BindError::on(addr, e)))?,
        ),
        None => None,
    };
    let budget = usize::try_from(memory.budget()).unwrap_or(usize::MAX);
    let mut gw = Gateway::new(Clock::start(), Arc::new(Budget::new(budget)));
    gw.metrics = process.metrics;
    for ((d, s), eps) in devices.into_iter().zip(storage).zip(bound) {
        let name = d.name.clone();
        let t = gateway::spawn(&gw, d, s, eps).map_err(|e| RunError::Thread(name, e))?;
        gw.threads.push(t);
    }
    gw.sync_roster();

    let stopping = Rc::new(Cell::new(false));
    let status = {
        let (roster, stopping) = (gw.roster.clone(), stopping.clone());
        move || {
            let r = roster.borrow();
            let devices = r.iter().map(|(name, p)| (name.as_str(), p.stats()));
            (!stopping.get()).then(|| notify::status_line(devices))
        }
    };
    // Stopping, device threads end one by one: no more petting, and no warning about it.
    let healthy = {
        let (roster, stopping) = (gw.roster.clone(), stopping.clone());
        let mut warned = false;
        move || !stopping.get() && gateway::healthy(&roster, &mut warned)
    };
    crate::notice!("{started}");
    let start = Instant::now();
    let notifier = Notifier::from_env().map(Rc::new);
    let ready = status().unwrap_or_default();
    if let Some(n) = &notifier {
        n.send(&format!("READY=1\nSTATUS={ready}"));
    }

    let ex: Rc<LocalExecutor<'static>> = Rc::new(LocalExecutor::new());
    // Not async-io's `block_on`: that one drives the reactor while it waits, and the main
    // thread, which only waits for signals and timers, would then take the reactor from the
    // device threads, which must wait for it to wake them for their own sockets (measured:
    // the queue's pipelined rate fell from 1.6x to 1.4x libzmq's). The device threads drive
    // the reactor themselves (async-io's own thread when none does).
    future::block_on(ex.run(async {
        let systemd = notifier
            .clone()
            .map(|n| ex.spawn(notify::run(n, ready, status, healthy)));
        let metrics = metrics.map(|l| {
            info!(
                "metrics on http://{}/metrics",
                l.get_ref()
                    .local_addr()
                    .map_or_else(|_| "?".into(), |a| a.to_string())
            );
            ex.spawn(metrics::serve(ex.clone(), l, gw.roster.clone()))
        });
        let outcome = serve(&mut gw, &mut signals, source.as_ref()).await;
        info!("stopping: no new connections, flushing output for up to {SHUTDOWN_FLUSH:?}");
        stopping.set(true);
        if let Some(n) = &notifier {
            n.send("STOPPING=1\nSTATUS=stopping: flushing output");
        }
        shutdown(&mut gw, &mut signals).await;
        if let Some(task) = systemd {
            task.cancel().await;
        }
        if let Some(task) = metrics {
            task.cancel().await;
        }
        let t = gw.totals();
        crate::notice!(
            "zedge stopped after {:.0?}: {} messages in, {} out, {} dropped",
            start.elapsed(),
            t.msgs_in,
            t.msgs_out,
            t.dropped
        );
        outcome
    }))
}

/// Until a stop signal: reload on SIGHUP, and watch the device threads.
async fn serve(
    gw: &mut Gateway,
    signals: &mut Signals,
    source: Option<&Source>,
) -> Result<(), RunError> {
    let terminated = gw.terminate.1.clone();
    loop {
        let check = async {
            Timer::after(CHECK_EVERY).await;
            None
        };
        let terminate = async {
            match terminated.recv().await {
                Ok(id) => Some(Err(id)),
                Err(_) => future::pending().await,
            }
        };
        let next = future::or(async { Some(Ok(signals.next().await)) }, terminate);
        let got = match future::or(next, check).await {
            Some(Err(id)) => {
                if terminate_device(gw, id) {
                    return Ok(());
                }
                continue;
            }
            Some(Ok(signal)) => Some(signal),
            None => None,
        };
        match got {
            Some(Some(Ok(UnixSignal::Hup))) => match source {
                Some(src) => reload::reload(gw, src).await,
                None => warn!(
                    "SIGHUP: nothing to reload: the device was given on the command line \
                     (zedge run --config FILE reloads its file)"
                ),
            },
            Some(Some(Ok(_)) | None) => return Ok(()),
            Some(Some(Err(e))) => warn!("cannot read signals: {e}"),
            None => {
                gw.reap();
                if let Some(name) = gw.died() {
                    error!("device {name}: its thread ended unexpectedly; stopping");
                    return Err(RunError::Died(name.to_owned()));
                }
            }
        }
    }
}

/// The one line said at start, at the default level: the version, where the devices come
/// from, each device with its endpoints, and the metrics address.
fn start_line(devices: &[DeviceSetup], process: &Process, source: Option<&Source>) -> String {
    use std::fmt::Write;
    let from = source.map_or_else(
        || "the command line".to_owned(),
        |s| match s.drop_ins.as_slice() {
            [] => s.path.display().to_string(),
            d => format!("{} with {}", s.path.display(), d.join(", ")),
        },
    );
    let mut line = format!("zedge {} starting from {from}:", env!("CARGO_PKG_VERSION"));
    for (i, d) in devices.iter().enumerate() {
        let eps = |v: &[crate::endpoint::Endpoint]| {
            v.iter()
                .map(|e| e.with_mode())
                .collect::<Vec<_>>()
                .join(",")
        };
        let sep = if i > 0 { ";" } else { "" };
        let kind = crate::setup::kind_name(d.kind);
        let who = match d.name.as_str() {
            "" => kind.to_owned(),
            name => format!("{name} ({kind})"),
        };
        let _ = write!(
            line,
            "{sep} {who} frontend {} backend {}",
            eps(&d.frontends),
            eps(&d.backends)
        );
        if let Some(c) = &d.capture {
            let _ = write!(line, " capture {}", c.with_mode());
        }
        if let Some(c) = &d.control {
            let _ = write!(line, " control {}", c.with_mode());
        }
    }
    if let Some(m) = process.metrics {
        let _ = write!(line, "; metrics http://{m}/metrics");
    }
    line
}

/// A device's control endpoint was sent TERMINATE: its thread stops (flushing as at SIGTERM)
/// and retires (a reload that still lists the device starts it again). True when it was the
/// last device: the process ends, with exit status 0.
fn terminate_device(gw: &mut Gateway, thread: u64) -> bool {
    // A thread a reload has stopped meanwhile is gone from `threads`: nothing to do.
    let Some(at) = gw.threads.iter().position(|t| t.id == thread) else {
        return false;
    };
    let mut t = gw.threads.remove(at);
    t.stop(Instant::now() + SHUTDOWN_FLUSH, None);
    gw.retiring.push(t);
    gw.sync_roster();
    if gw.threads.is_empty() {
        info!("the last device was terminated from its control endpoint: exiting");
        return true;
    }
    false
}

/// Every device stops taking input and flushes on its own thread until the deadline, and
/// reports what it could not deliver. A second SIGINT or SIGTERM exits at once.
async fn shutdown(gw: &mut Gateway, signals: &mut Signals) {
    let deadline = Instant::now() + SHUTDOWN_FLUSH;
    gw.stop_all(deadline);
    loop {
        let running = gw.running();
        if running.is_empty() {
            break;
        }
        if Instant::now() > deadline + SHUTDOWN_GRACE {
            error!("exiting with devices still running: {}", running.join(", "));
            return;
        }
        let tick = async {
            Timer::after(Duration::from_millis(10)).await;
            false
        };
        let again = async {
            loop {
                match signals.next().await {
                    Some(Ok(UnixSignal::Hup)) => info!("SIGHUP while stopping: ignored"),
                    Some(Err(_)) => {}
                    Some(Ok(_)) | None => return true,
                }
            }
        };
        if future::or(again, tick).await {
            info!("second signal: exiting without flushing");
            return;
        }
    }
    gw.join_all();
}

/// Every peer and pipe end is a descriptor: lift the soft limit to the hard one.
fn raise_fd_limit(memory: &Memory) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let max_fds = memory.descriptors();
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, lim) {
            debug!("cannot raise the open-files limit: {e}");
        }
    }
    let have = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    let want = max_fds.saturating_add(64);
    if have < want {
        warn!("open-files limit is {have}; the configured peers and pipes need about {want} (raise LimitNOFILE)");
    }
}
