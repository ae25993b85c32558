//! SIGHUP: read the config file again and bring the running devices in line with it.
//!
//! Devices are matched by name. A device that is new is started; one that is gone is stopped,
//! flushing and reporting as at SIGTERM; one whose kind or limits changed is restarted (its
//! peers are disconnected and reconnect: the limits size its tables); one whose endpoints
//! alone changed gets listeners and connectors added and removed on its thread, and the peers
//! of its other endpoints never notice. A listener removed stops accepting; the peers it
//! accepted stay until they leave. A connector removed ends its connection.
//!
//! A file that does not load (any mistake `check-config` would report), devices whose memory
//! the system will not give, and new addresses that cannot be bound refuse the whole reload
//! before anything changes: the running devices go on as they were, and the refusal is logged
//! at warn. Addresses the running devices already hold are bound again only after they have
//! let go of them, so an address may move between devices in one reload.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::future;
use log::{info, warn};
use zedge_core::device::{Kind, Side};

use crate::admit::side_name;
use crate::config;
use crate::endpoint::{Endpoint, Mode};
use crate::gateway::{self, Gateway};
use crate::host::uplink_names;
use crate::net::{self, Listener};
use crate::setup::{load_allow, load_passwords, DeviceSetup};
use crate::storage::Storage;
use crate::worker::{same, Command, DeviceThread, Endpoints};

/// The config file `run --config FILE` was given, for SIGHUP; `None` for the command line's
/// device.
#[derive(Debug)]
pub struct Source {
    pub path: PathBuf,
    /// `-v` repetitions, for the new file's `[log] level`.
    pub verbosity: u8,
    /// The drop-ins read with it at start ([`config::load`](crate::config::load)).
    pub drop_ins: Vec<String>,
}

/// A device stopped by a reload writes what it has queued for up to this long.
const FLUSH: Duration = Duration::from_secs(1);
/// How long a device thread may take to close the listeners it is asked to let go of.
const LET_GO: Duration = Duration::from_secs(2);

/// What a reload changes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// New devices, to start.
    pub added: Vec<DeviceSetup>,
    /// Names of devices gone from the file, to stop.
    pub removed: Vec<String>,
    /// Devices whose kind or limits changed, to stop and start again; with what changed.
    pub restarted: Vec<(DeviceSetup, &'static str)>,
    /// Devices whose endpoints alone changed.
    pub rewired: Vec<Rewire>,
    /// How many devices stay as they are.
    pub unchanged: usize,
}

/// A running device's new endpoints, and those it lets go of.
#[derive(Debug, PartialEq, Eq)]
pub struct Rewire {
    pub setup: DeviceSetup,
    pub add: Vec<(Side, Endpoint)>,
    pub remove: Vec<(Side, Endpoint)>,
}

impl Plan {
    /// From the running devices to the file's.
    pub fn new(old: &[DeviceSetup], new: &[DeviceSetup]) -> Plan {
        let mut plan = Plan::default();
        for d in new {
            let Some(was) = old.iter().find(|o| o.name == d.name) else {
                plan.added.push(d.clone());
                continue;
            };
            if was.kind != d.kind {
                plan.restarted.push((d.clone(), "kind"));
            } else if was.tuning != d.tuning {
                plan.restarted.push((d.clone(), "limits"));
            } else if !same_control(&was.control, &d.control) {
                plan.restarted.push((d.clone(), "control endpoint"));
            } else if was.curve != d.curve || was.plain != d.plain {
                // Its keys (or sides, or allow-list file): connections made under the old
                // ones end. The allow-list's contents alone change without a restart.
                plan.restarted.push((d.clone(), "CURVE settings"));
            } else if was.capture.is_some() != d.capture.is_some() {
                // Its peer table has room for capture readers only with a capture endpoint.
                plan.restarted.push((d.clone(), "capture endpoint"));
            } else if was.spool != d.spool {
                // Its spool's peers and log are made when it starts (attacker round 26, F5:
                // a spool added or moved was taken for nothing changed).
                plan.restarted.push((d.clone(), "spool"));
            } else if d.spool.is_some()
                && matches!(d.kind, Kind::Forwarder { .. })
                && uplink_names(was) != uplink_names(d)
            {
                // A forwarder's spool has a lane per uplink, made when it starts: one added
                // got nothing spooled, one removed was spooled for for good (attacker round
                // 26, F3 and F4).
                plan.restarted
                    .push((d.clone(), "uplink endpoints (a lane each in its spool)"));
            } else {
                let add = missing(d, was);
                let remove = missing(was, d);
                if add.is_empty() && remove.is_empty() {
                    plan.unchanged += 1;
                } else {
                    let setup = d.clone();
                    plan.rewired.push(Rewire { setup, add, remove });
                }
            }
        }
        plan.removed = old
            .iter()
            .filter(|o| !new.iter().any(|d| d.name == o.name))
            .map(|o| o.name.clone())
            .collect();
        plan
    }

    /// Devices to start: the new ones and those restarted.
    fn starting(&self) -> impl Iterator<Item = &DeviceSetup> {
        self.added
            .iter()
            .chain(self.restarted.iter().map(|(d, _)| d))
    }

    fn changes_nothing(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.restarted.is_empty()
            && self.rewired.is_empty()
    }
}

fn same_control(a: &Option<Endpoint>, b: &Option<Endpoint>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same(a, b),
        (a, b) => a.is_none() && b.is_none(),
    }
}

/// The endpoints of `a` that `b` does not have, with their sides.
fn missing(a: &DeviceSetup, b: &DeviceSetup) -> Vec<(Side, Endpoint)> {
    gateway::sides(a)
        .filter(|(side, ep)| !gateway::sides(b).any(|(s, e)| s == *side && same(e, ep)))
        .map(|(side, ep)| (side, ep.clone()))
        .collect()
}

/// Reload `src`'s file into `gw`, or refuse it and keep what runs.
pub async fn reload(gw: &mut Gateway, src: &Source) {
    let file = src.path.display().to_string();
    info!("SIGHUP: reloading {file}");
    let cfg = match config::load(&src.path) {
        Ok(cfg) => cfg,
        Err(e) => return refuse(&e.to_string()),
    };
    if cfg.process.metrics != gw.metrics {
        let now = gw.metrics.map_or("nowhere".into(), |a| format!("on {a}"));
        warn!("reload: [metrics] changes when zedge restarts; metrics stay {now} until then");
    }
    // A device stopped from its control endpoint (TERMINATE) may still hold its ports for the
    // second of its flush: one the file still lists starts again, on them.
    let give_up = Instant::now() + LET_GO;
    gw.reap();
    while !gw.retiring.is_empty() && Instant::now() < give_up {
        Timer::after(Duration::from_millis(20)).await;
        gw.reap();
    }
    let old: Vec<DeviceSetup> = gw.threads.iter().map(|t| t.setup.clone()).collect();
    let plan = Plan::new(&old, &cfg.devices);
    if let Err(why) = apply(gw, &old, plan, &cfg.devices).await {
        return refuse(&why);
    }
    reload_allow_lists(gw);
    // What the new devices leave of the new memory_max; devices still flushing give back
    // what they hold as they end.
    gw.budget
        .resize(usize::try_from(cfg.memory.budget()).unwrap_or(usize::MAX));
    let env = std::env::var("ZEDGE_LOG").ok();
    if let Ok(level) = crate::log::level(src.verbosity, env.as_deref(), cfg.log_level) {
        log::set_max_level(level);
    }
}

/// Read every running device's CURVE allow-list again: each device closes the clients its new
/// list no longer holds. One that cannot be read is kept as it was.
fn reload_allow_lists(gw: &Gateway) {
    for t in &gw.threads {
        if let Some(p) = &t.setup.plain {
            match load_passwords(&p.passwords) {
                Ok(users) => t.send(Command::Passwords(users)),
                Err(why) => warn!(
                    "reload: device {:?}: passwords kept as they were: {why}",
                    t.setup.name
                ),
            }
        }
        let Some(path) = t.setup.curve.as_ref().and_then(|c| c.allow.as_ref()) else {
            continue;
        };
        match load_allow(path) {
            Ok(keys) => {
                info!(
                    "reload: device {:?}: {} CURVE clients allowed by {}",
                    t.setup.name,
                    keys.len(),
                    path.display()
                );
                t.send(Command::Allow(keys));
            }
            Err(why) => warn!(
                "reload: device {:?}: allow-list kept as it was: {why}",
                t.setup.name
            ),
        }
    }
}

fn refuse(why: &str) {
    warn!("reload refused, the running devices are kept as they were: {why}");
}

/// Make the running devices those of `new`; `Err` (nothing changed) if the memory or the new
/// addresses cannot be had.
async fn apply(
    gw: &mut Gateway,
    old: &[DeviceSetup],
    plan: Plan,
    new: &[DeviceSetup],
) -> Result<(), String> {
    if plan.changes_nothing() {
        info!("reload: nothing changed");
        return Ok(());
    }
    // Everything that can fail, first. An address a running device binds, or one whose port
    // such a bind holds (`tcp://*:5559` for a running `tcp://127.0.0.1:5559`), is bound once
    // the running device has let go of it: bound now, it was refused as in use, and opening a
    // loopback frontend to the network (board/README section 5) was a reload refused.
    let held = |ep: &Endpoint| {
        old.iter()
            .flat_map(gateway::all_endpoints)
            .any(|e| e.clashes(ep))
    };
    let mut starting = Vec::new();
    for d in plan.starting() {
        let storage = Storage::allocate(d).map_err(|e| e.to_string())?;
        let eps = gateway::bind(d, &held).map_err(|e| format!("device {:?}: {e}", d.name))?;
        starting.push((d.clone(), storage, eps));
    }
    let mut listens: Vec<(String, Side, Endpoint, Option<Listener>)> = Vec::new();
    for r in &plan.rewired {
        for (side, ep) in &r.add {
            let l = match ep.mode {
                Mode::Bind if !held(ep) => {
                    Some(net::bind(ep).map_err(|e| format!("device {:?}: {e}", r.setup.name))?)
                }
                _ => None,
            };
            listens.push((r.setup.name.clone(), *side, ep.clone(), l));
        }
    }

    // Let go of what goes away, and wait until it is let go of.
    let deadline = Instant::now() + FLUSH;
    let (tx, rx) = async_channel::unbounded();
    let mut waits = 0;
    let mut running: HashMap<String, DeviceThread> = gw
        .threads
        .drain(..)
        .map(|t| (t.setup.name.clone(), t))
        .collect();
    let stopped = plan
        .removed
        .iter()
        .chain(plan.restarted.iter().map(|(d, _)| &d.name));
    for name in stopped {
        if let Some(mut t) = running.remove(name) {
            t.stop(deadline, Some(tx.clone()));
            waits += 1;
            gw.retiring.push(t);
        }
    }
    for r in &plan.rewired {
        if let Some(t) = running.get_mut(&r.setup.name) {
            for (side, ep) in &r.remove {
                t.send(Command::Close(*side, ep.clone(), tx.clone()));
                waits += 1;
            }
            t.setup = r.setup.clone();
        }
    }
    let give_up = Instant::now() + LET_GO;
    for _ in 0..waits {
        let late = async {
            Timer::at(give_up).await;
            None
        };
        if future::or(async { rx.recv().await.ok() }, late)
            .await
            .is_none()
        {
            warn!("reload: a device did not let go of its endpoints within {LET_GO:?}");
            break;
        }
    }

    // Start and add what is new, binding now what was held.
    for name in &plan.removed {
        info!("reload: device {name:?} removed: stopping it");
    }
    let reasons: HashMap<&str, &str> = plan
        .restarted
        .iter()
        .map(|(d, why)| (d.name.as_str(), *why))
        .collect();
    for (d, storage, mut eps) in starting {
        let name = d.name.clone();
        if let Some(why) = reasons.get(name.as_str()) {
            warn!(
                "reload: device {name:?} restarted because its {why} changed: its peers are \
                 disconnected and reconnect"
            );
        } else {
            info!("reload: device {name:?} added");
        }
        bind_held(&d, &held, &mut eps);
        match gateway::spawn(gw, d, storage, eps) {
            Ok(t) => {
                running.insert(name, t);
            }
            Err(e) => warn!("reload: device {name:?}: cannot start its thread: {e}"),
        }
    }
    for (name, side, ep, l) in listens {
        let Some(t) = running.get(&name) else {
            continue;
        };
        info!("reload: device {name:?}: adds {ep}");
        match (ep.mode, l) {
            (Mode::Connect, _) => t.send(Command::Connect(side, ep)),
            (Mode::Bind, Some(l)) => t.send(Command::Listen(side, l, ep)),
            (Mode::Bind, None) => match net::bind(&ep) {
                Ok(l) => t.send(Command::Listen(side, l, ep)),
                Err(e) => warn!("reload: device {name:?}: {e}; it runs without that endpoint"),
            },
        }
    }
    for r in &plan.rewired {
        for (_, ep) in &r.remove {
            info!("reload: device {:?}: removes {ep}", r.setup.name);
        }
    }
    // In the file's order, for STATUS=.
    gw.threads = new.iter().filter_map(|d| running.remove(&d.name)).collect();
    gw.sync_roster();
    info!(
        "reload: {} added, {} removed, {} restarted, {} with changed endpoints, {} unchanged",
        plan.added.len(),
        plan.removed.len(),
        plan.restarted.len(),
        plan.rewired.len(),
        plan.unchanged
    );
    Ok(())
}

/// Bind the endpoints of `d` that a running device held when the reload began (and has let
/// go of since). One that fails is left out, with a warning.
fn bind_held(d: &DeviceSetup, held: &dyn Fn(&Endpoint) -> bool, eps: &mut Endpoints) {
    for (side, ep) in gateway::sides(d) {
        if ep.mode != Mode::Bind || !held(ep) {
            continue;
        }
        match net::bind(ep) {
            Ok(l) => {
                info!("{} {} listening on {ep}", d.name, side_name(side));
                eps.listeners.push((side, l, ep.clone()));
            }
            Err(e) => warn!(
                "reload: device {:?}: {e}; it runs without that endpoint",
                d.name
            ),
        }
    }
    if let Some(ep) = d
        .control
        .as_ref()
        .filter(|ep| ep.mode == Mode::Bind && held(ep))
    {
        match gateway::control_endpoint(d, ep) {
            Ok(c) => eps.control = Some(c),
            Err(e) => warn!(
                "reload: device {:?}: {e}; it runs without its control endpoint",
                d.name
            ),
        }
    }
}

#[cfg(test)]
mod tests;
