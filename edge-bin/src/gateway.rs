//! The devices a process runs, seen from the main thread: one [`DeviceThread`] each, in the
//! config's order, and those a reload stopped that are still flushing.
//!
//! The notify task reads the [`Roster`] (names and pulses, no thread handles), which the
//! gateway keeps in step with its threads.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use log::{info, warn};
use zedge_core::device::Side;

use crate::admit::side_name;
use crate::budget::Budget;
use crate::control::{ControlEndpoint, Steering};
use crate::endpoint::{Endpoint, Mode};
use crate::host::{self, Clock};
use crate::net::{self, BindError};
use crate::setup::DeviceSetup;
use crate::storage::Storage;
use crate::worker::{DeviceThread, Endpoints, Pulse};

/// A device whose thread has not beaten for this long stops the watchdog's petting: a wedged
/// device must get the process restarted. Far above [`worker::BEAT`](crate::worker::BEAT)
/// and the millisecond of work a turn may take, so only a thread that is stuck trips it.
pub const STALE: Duration = Duration::from_secs(2);

/// Names and pulses of the running devices, in order.
pub type Roster = Rc<RefCell<Vec<(String, Arc<Pulse>)>>>;

#[derive(Debug)]
pub struct Gateway {
    pub threads: Vec<DeviceThread>,
    /// Stopped (by a reload), still flushing.
    pub retiring: Vec<DeviceThread>,
    pub clock: Clock,
    pub roster: Roster,
    /// What the devices share of `memory_max` at run time.
    pub budget: Arc<Budget>,
    /// Device threads whose control endpoint was sent TERMINATE, by id: the main thread stops
    /// them.
    pub terminate: (Sender<u64>, Receiver<u64>),
    /// Where metrics are served since start (a reload does not move them).
    pub metrics: Option<std::net::SocketAddr>,
    /// What the devices whose threads were joined moved (stopped by TERMINATE or a reload):
    /// part of the process's totals at stop.
    gone: Totals,
}

/// Messages moved, all devices together: for the line at stop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub msgs_in: u64,
    pub msgs_out: u64,
    pub dropped: u64,
}

impl Totals {
    fn add(&mut self, s: &zedge_core::device::Stats) {
        // Copies to capture readers are not messages between the sides.
        self.msgs_in += s.frontend().msgs_in + s.backend().msgs_in;
        self.msgs_out += s.frontend().msgs_out + s.backend().msgs_out;
        self.dropped += s.dropped.messages();
    }
}

impl Gateway {
    pub fn new(clock: Clock, budget: Arc<Budget>) -> Gateway {
        Gateway {
            threads: Vec::new(),
            retiring: Vec::new(),
            clock,
            roster: Rc::default(),
            budget,
            terminate: async_channel::unbounded(),
            metrics: None,
            gone: Totals::default(),
        }
    }

    /// After `threads` changed.
    pub fn sync_roster(&self) {
        *self.roster.borrow_mut() = self
            .threads
            .iter()
            .map(|t| (t.name().to_owned(), t.pulse.clone()))
            .collect();
    }

    /// A running device whose thread ended without being asked to.
    pub fn died(&self) -> Option<&str> {
        self.threads
            .iter()
            .find(|t| !t.stopping() && t.pulse.ended())
            .map(DeviceThread::name)
    }

    /// Join the retiring threads that have ended.
    pub fn reap(&mut self) {
        let (ended, flushing) = std::mem::take(&mut self.retiring)
            .into_iter()
            .partition(|t| t.pulse.ended());
        self.retiring = flushing;
        for t in ended {
            self.gone.add(&t.pulse.stats());
            t.join();
        }
    }

    /// What every device of the process moved, running, stopping or gone, as of their last
    /// beats (a thread's last is when it ends).
    pub fn totals(&self) -> Totals {
        let mut all = self.gone;
        for t in self.threads.iter().chain(&self.retiring) {
            all.add(&t.pulse.stats());
        }
        all
    }

    /// Stop every device by `deadline`.
    pub fn stop_all(&mut self, deadline: Instant) {
        for t in &mut self.threads {
            t.stop(deadline, None);
        }
    }

    /// The names of devices whose threads have not ended.
    pub fn running(&self) -> Vec<&str> {
        self.threads
            .iter()
            .chain(&self.retiring)
            .filter(|t| !t.pulse.ended())
            .map(DeviceThread::name)
            .collect()
    }

    /// Join every thread (after [`Gateway::running`] came back empty).
    pub fn join_all(&mut self) {
        let all: Vec<DeviceThread> = self
            .threads
            .drain(..)
            .chain(self.retiring.drain(..))
            .collect();
        for t in all {
            self.gone.add(&t.pulse.stats());
            t.join();
        }
    }
}

/// Whether every running device's thread beats: a wedged or ended one stops the watchdog's
/// petting, with one warning until they all beat again.
pub fn healthy(roster: &Roster, warned: &mut bool) -> bool {
    let r = roster.borrow();
    let Some((name, pulse)) = r.iter().find(|(_, p)| p.ended() || p.silent_for() > STALE) else {
        *warned = false;
        return true;
    };
    if !std::mem::replace(warned, true) {
        if pulse.ended() {
            warn!("device {name}: its thread has ended; not petting the watchdog");
        } else {
            warn!(
                "device {name}: its thread has not run for {:?}; not petting the watchdog",
                pulse.silent_for()
            );
        }
    }
    false
}

/// Bind every endpoint of `d` that binds; with `held`, only those not held, which are left to
/// bind after the device that holds them lets go.
pub fn bind(d: &DeviceSetup, held: &dyn Fn(&Endpoint) -> bool) -> Result<Endpoints, BindError> {
    let mut eps = Endpoints::default();
    for (side, ep) in sides(d) {
        match ep.mode {
            Mode::Bind if held(ep) => {}
            Mode::Bind => {
                let l = net::bind(ep)?;
                info!(
                    "{}{} listening on {ep}",
                    host::tag(d.display_name()),
                    side_name(side)
                );
                eps.listeners.push((side, l, ep.clone()));
            }
            Mode::Connect => eps.connectors.push((side, ep.clone())),
        }
    }
    match &d.control {
        Some(ep) if ep.mode == Mode::Bind && held(ep) => {}
        Some(ep) => eps.control = Some(control_endpoint(d, ep)?),
        None => {}
    }
    warn_if_open(d);
    Ok(eps)
}

/// One warning for a device that binds beyond this host without security: anyone who
/// reaches the host may publish, subscribe, send or take work (or, on a control endpoint,
/// pause and stop it).
fn warn_if_open(d: &DeviceSetup) {
    let open = d.open_to_anyone();
    if open.is_empty() {
        return;
    }
    let list: Vec<String> = open
        .iter()
        .map(|(side, ep)| format!("{side} {ep}"))
        .collect();
    let fix = if open.iter().all(|(side, _)| *side == "control") {
        "bind the control endpoint to 127.0.0.1 or IPC"
    } else {
        "give the device a key pair (curve_secret, or --curve-secret: docs/security.md), or \
         bind 127.0.0.1"
    };
    warn!(
        "{}listens beyond this host without CURVE or PLAIN ({}): anyone who reaches it can \
         connect; {fix}",
        host::tag(d.display_name()),
        list.join(", ")
    );
}

/// The device's control endpoint, bound if it binds.
pub fn control_endpoint(d: &DeviceSetup, ep: &Endpoint) -> Result<ControlEndpoint, BindError> {
    if ep.mode == Mode::Connect {
        return Ok(ControlEndpoint::Connect(ep.clone()));
    }
    let l = net::bind(ep)?;
    info!("{}control listening on {ep}", host::tag(d.display_name()));
    Ok(ControlEndpoint::Listen(l, ep.clone()))
}

/// Every endpoint a device binds or connects to: its sides' and its control endpoint.
pub fn all_endpoints(d: &DeviceSetup) -> impl Iterator<Item = &Endpoint> {
    sides(d).map(|(_, e)| e).chain(d.control.iter())
}

/// Every endpoint of a device with its side, frontends first, its capture endpoint last.
pub fn sides(d: &DeviceSetup) -> impl Iterator<Item = (Side, &Endpoint)> {
    let front = d.frontends.iter().map(|e| (Side::Frontend, e));
    let back = d.backends.iter().map(|e| (Side::Backend, e));
    let capture = d.capture.iter().map(|e| (Side::Capture, e));
    front.chain(back).chain(capture)
}

/// Start a device whose memory is taken and whose endpoints are bound.
pub fn spawn(
    gw: &Gateway,
    d: DeviceSetup,
    storage: Storage,
    eps: Endpoints,
) -> std::io::Result<DeviceThread> {
    let steering = Steering {
        terminate: gw.terminate.0.clone(),
        thread: 0,
    };
    DeviceThread::spawn(d, storage, eps, gw.clock, gw.budget.clone(), steering)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roster(pulses: &[(&str, Pulse)]) -> Roster {
        let members = pulses.iter().map(|(n, _)| n.to_string());
        let r: Vec<(String, Arc<Pulse>)> = members
            .zip(
                pulses
                    .iter()
                    .map(|(_, p)| Arc::new(Pulse::beaten(p.silent_for()))),
            )
            .collect();
        Rc::new(RefCell::new(r))
    }

    #[test]
    fn the_watchdog_is_petted_only_while_every_device_beats() {
        let mut warned = false;
        let fresh = || Pulse::beaten(Duration::from_millis(100));
        let r = roster(&[("a", fresh()), ("b", fresh())]);
        assert!(healthy(&r, &mut warned));
        assert!(!warned);

        // b wedged: silent past STALE.
        let r = roster(&[("a", fresh()), ("b", Pulse::beaten(STALE * 2))]);
        assert!(r.borrow()[1].1.silent_for() > STALE);
        assert!(!healthy(&r, &mut warned));
        assert!(warned);
        assert!(!healthy(&r, &mut warned));

        // a ended.
        let r = roster(&[("a", fresh()), ("b", fresh())]);
        assert!(healthy(&r, &mut warned));
        assert!(!warned, "beating again clears the warning");
        r.borrow()[0].1.end();
        assert!(!healthy(&r, &mut warned));
    }
}
