//! The event loop around the devices: start-up, the tasks of every device, signals, systemd
//! and shutdown.
//!
//! Everything runs on one thread, on a `LocalExecutor` driven by async-io's reactor. Each
//! device is a [`DeviceHost`]; devices share nothing but the thread.
//!
//! Start-up binds every endpoint of every device before anything else, so a config that cannot
//! run fails at once and `READY=1` ([`notify`]) means every port takes
//! connections.

use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_executor::{LocalExecutor, Task};
use async_io::Timer;
use async_signal::{Signal as UnixSignal, Signals};
use futures_lite::{future, StreamExt};
use log::{debug, info, warn};
use zedge_core::device::Side;

use crate::admit::{self, RateLimit};
use crate::endpoint::{Endpoint, Mode};
use crate::host::{self, Clock, DeviceHost};
use crate::net::{self, BindError, Listener};
use crate::notify::{self, Notifier};
use crate::setup::DeviceSetup;

const SHUTDOWN_FLUSH: Duration = Duration::from_secs(1);

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

/// One device's endpoints, bound (listeners) or to connect to.
struct Endpoints {
    listeners: Vec<(Side, Listener, Endpoint)>,
    connectors: Vec<(Side, Endpoint)>,
}

/// Bind every endpoint of every device, then run until SIGINT or SIGTERM.
pub fn run(devices: Vec<DeviceSetup>) -> Result<(), RunError> {
    let fds = devices
        .iter()
        .map(|d| d.tuning.max_peers + 2 * host::max_pipes(d))
        .sum();
    raise_fd_limit(fds);
    let mut bound = Vec::with_capacity(devices.len());
    for d in &devices {
        bound.push(bind_all(d).map_err(|e| RunError::Bind(d.name.clone(), e))?);
    }
    let mut signals =
        Signals::new([UnixSignal::Int, UnixSignal::Term]).map_err(RunError::Signals)?;
    let clock = Clock::start();
    let hosts: Vec<Rc<DeviceHost>> = devices
        .iter()
        .map(|d| Rc::new(DeviceHost::start(d, clock)))
        .collect();
    let status = {
        let hosts = hosts.clone();
        move || {
            let stopping = hosts.iter().any(|h| h.stopping());
            (!stopping).then(|| notify::status_line(hosts.iter().map(|h| (h.name(), h.stats()))))
        }
    };
    let notifier = Notifier::from_env().map(Rc::new);
    if let Some(n) = &notifier {
        let line = status().unwrap_or_default();
        n.send(&format!("READY=1\nSTATUS={line}"));
    }

    let ex = Rc::new(LocalExecutor::new());
    async_io::block_on(ex.run(async {
        let mut accepts: Vec<Task<()>> = Vec::new();
        let mut timers: Vec<Task<()>> = Vec::new();
        for (h, eps) in hosts.iter().zip(bound) {
            let refusals = Rc::new(RateLimit::default());
            for (side, l, ep) in eps.listeners {
                let accept =
                    admit::accept_loop(h.clone(), ex.clone(), side, l, ep, refusals.clone());
                accepts.push(ex.spawn(accept));
            }
            for (side, ep) in eps.connectors {
                ex.spawn(admit::connect_loop(h.clone(), side, ep)).detach();
            }
            timers.push(ex.spawn(h.clone().run_timers()));
        }
        let systemd = notifier.clone().map(|n| ex.spawn(notify::run(n, status)));

        signals.next().await;
        info!("stopping: no new connections, flushing output for up to {SHUTDOWN_FLUSH:?}");
        if let Some(n) = &notifier {
            n.send("STOPPING=1\nSTATUS=stopping: flushing output");
        }
        for h in &hosts {
            h.stop();
        }
        for task in accepts {
            task.cancel().await; // drops the listener, which removes an IPC socket file
        }
        let flushed = || hosts.iter().all(|h| h.all_flushed());
        let deadline = Instant::now() + SHUTDOWN_FLUSH;
        while !flushed() && Instant::now() < deadline {
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
    let tag = host::tag(&d.name);
    for (side, list) in [(Side::Frontend, &d.frontends), (Side::Backend, &d.backends)] {
        for ep in list {
            match ep.mode {
                Mode::Bind => {
                    let l = net::bind(ep)?;
                    info!("{tag}{} listening on {ep}", admit::side_name(side));
                    eps.listeners.push((side, l, ep.clone()));
                }
                Mode::Connect => eps.connectors.push((side, ep.clone())),
            }
        }
    }
    Ok(eps)
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
