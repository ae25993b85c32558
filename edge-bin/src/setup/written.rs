//! One device's settings as written, on the command line or in a `[[device]]` table, and the
//! one function that checks them and makes the [`DeviceSetup`].
//!
//! A front end only records what was given and where ([`Origin`]); what it means is decided
//! here, starting from [`Tuning::default`]. So a mistake meets the same check and the same
//! words on either path, and the front end only adds the place: `--max-peers: ...` on the
//! command line, `FILE:LINE: device "x": key "max_peers": ...` in the file.

use std::fmt;
use std::ops::Range;

use zedge_core::device::{ConfigError, Kind};

use super::value::{Form, Value};
use super::{kind_name, DeviceSetup, Tuning, DEFAULT_BACKEND, DEFAULT_FRONTEND, KINDS};

const FORWARDER: &[Kind] = &[Kind::Forwarder { classic: false }];
/// The devices that pass large bodies through a pipe: one producer to one consumer.
const SPLICING: &[Kind] = &[Kind::Queue, Kind::Streamer];
use crate::endpoint::Endpoint;

/// An option of a device, besides its name, kind and endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opt {
    Classic,
    MaxMsgSize,
    QueueHwm,
    MaxPeers,
    MaxSubscriptions,
    MaxSplices,
    HeartbeatIvl,
    HeartbeatTimeout,
    HandshakeTimeout,
}

impl Opt {
    pub const ALL: [Opt; 9] = [
        Opt::Classic,
        Opt::MaxMsgSize,
        Opt::QueueHwm,
        Opt::MaxPeers,
        Opt::MaxSubscriptions,
        Opt::MaxSplices,
        Opt::HeartbeatIvl,
        Opt::HeartbeatTimeout,
        Opt::HandshakeTimeout,
    ];

    /// The config key and the flag.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Opt::Classic => ("classic", "--classic"),
            Opt::MaxMsgSize => ("max_msg_size", "--max-msg-size"),
            Opt::QueueHwm => ("queue_hwm", "--queue-hwm"),
            Opt::MaxPeers => ("max_peers", "--max-peers"),
            Opt::MaxSubscriptions => ("max_subscriptions", "--max-subscriptions"),
            Opt::MaxSplices => ("max_splices", "--max-splices"),
            Opt::HeartbeatIvl => ("heartbeat_ivl", "--heartbeat-ivl"),
            Opt::HeartbeatTimeout => ("heartbeat_timeout", "--heartbeat-timeout"),
            Opt::HandshakeTimeout => ("handshake_timeout", "--handshake-timeout"),
        }
    }

    pub fn key(self) -> &'static str {
        self.names().0
    }

    pub fn flag(self) -> &'static str {
        self.names().1
    }

    /// The option of a long flag's name (`max-peers`).
    pub fn from_flag(name: &str) -> Option<Opt> {
        Opt::ALL
            .into_iter()
            .find(|o| o.flag().strip_prefix("--") == Some(name))
    }

    /// As the place it was written names it.
    fn spelled(self, at: &Origin) -> &'static str {
        match at {
            Origin::Flag => self.flag(),
            Origin::Key(_) => self.key(),
        }
    }

    pub fn form(self) -> Form {
        match self {
            Opt::Classic => Form::Switch,
            Opt::MaxMsgSize | Opt::QueueHwm => Form::Bytes,
            Opt::MaxPeers | Opt::MaxSubscriptions | Opt::MaxSplices => Form::Count,
            Opt::HeartbeatIvl | Opt::HeartbeatTimeout | Opt::HandshakeTimeout => Form::Duration,
        }
    }

    /// The least value that can work, and its unit, where zero cannot (elsewhere zero means
    /// none, or off).
    fn least(self) -> Option<(u64, &'static str)> {
        match self {
            Opt::MaxMsgSize | Opt::QueueHwm => Some((1, "bytes")),
            Opt::MaxPeers => Some((1, "peers")),
            _ => None,
        }
    }

    /// The kinds of device it means something to.
    pub fn kinds(self) -> &'static [Kind] {
        match self {
            Opt::Classic | Opt::MaxSubscriptions => FORWARDER,
            Opt::MaxSplices => SPLICING,
            _ => &KINDS,
        }
    }

    pub fn applies_to(self, kind: Kind) -> bool {
        self.kinds()
            .iter()
            .any(|&k| kind_name(k) == kind_name(kind))
    }

    /// Why it means nothing to the other kinds, after "this device is a queue".
    fn why_not(self) -> &'static str {
        match self {
            Opt::MaxSubscriptions => ", which keeps no subscriptions",
            Opt::MaxSplices => ", which never splices (a message may go to many subscribers)",
            _ => "",
        }
    }
}

/// Where an option was written: the message's place and how it names options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// On the command line, as its flag.
    Flag,
    /// In the config file, as its key, at these bytes of the file.
    Key(Range<usize>),
}

/// One device as the operator wrote it: nothing checked, nothing defaulted.
#[derive(Debug)]
pub struct Written {
    pub name: String,
    /// A forwarder's `classic` comes from [`Opt::Classic`].
    pub kind: Kind,
    /// Empty: the default endpoint (only the command line leaves a side out; the config file
    /// requires both).
    pub frontends: Vec<Endpoint>,
    pub backends: Vec<Endpoint>,
    options: [Option<(Value, Origin)>; Opt::ALL.len()],
}

impl Written {
    pub fn new(name: String, kind: Kind) -> Written {
        Written {
            name,
            kind,
            frontends: Vec::new(),
            backends: Vec::new(),
            options: Default::default(),
        }
    }

    /// Record `opt`; given again, the last one counts. (Indexed by `opt as usize`: [`Opt::ALL`]
    /// is in declaration order.)
    pub fn set(&mut self, opt: Opt, value: Value, at: Origin) {
        self.options[opt as usize] = Some((value, at));
    }

    /// Check every option (its form, then whether it applies to the kind, then its range),
    /// then the options together, and make the device: [`Tuning::default`] for what was left
    /// out.
    pub fn build(self) -> Result<DeviceSetup, SettingError> {
        let mut t = Tuning::default();
        let mut classic = false;
        for (opt, given) in Opt::ALL.into_iter().zip(&self.options) {
            let Some((value, at)) = given else { continue };
            let fail = |problem| SettingError::Option {
                opt,
                at: at.clone(),
                problem,
            };
            let n = opt
                .form()
                .read(value)
                .ok_or_else(|| fail(Problem::Invalid(value.clone())))?;
            if !opt.applies_to(self.kind) {
                return Err(fail(Problem::NotFor(self.kind)));
            }
            if let Some((least, unit)) = opt.least().filter(|&(least, _)| n < least) {
                return Err(fail(Problem::TooSmall { least, unit }));
            }
            match opt {
                Opt::Classic => classic = n != 0,
                Opt::MaxMsgSize => t.max_msg_size = n,
                Opt::QueueHwm => t.queue_hwm = to_usize(n),
                Opt::MaxPeers => t.max_peers = to_usize(n),
                Opt::MaxSubscriptions => t.max_subscriptions = to_usize(n),
                Opt::MaxSplices => t.max_splices = to_usize(n),
                Opt::HeartbeatIvl => t.heartbeat_ivl_ms = n,
                Opt::HeartbeatTimeout => t.heartbeat_timeout_ms = Some(n),
                Opt::HandshakeTimeout => t.handshake_timeout_ms = n,
            }
        }
        if let Some((_, at)) = &self.options[Opt::HeartbeatTimeout as usize] {
            if t.heartbeat_ivl_ms == 0 {
                return Err(SettingError::Option {
                    opt: Opt::HeartbeatTimeout,
                    at: at.clone(),
                    problem: Problem::NoHeartbeat,
                });
            }
        }
        let kind = match self.kind {
            Kind::Forwarder { .. } => Kind::Forwarder { classic },
            kind => kind,
        };
        let setup = DeviceSetup {
            name: self.name,
            kind,
            tuning: t,
            frontends: or_default(self.frontends, DEFAULT_FRONTEND),
            backends: or_default(self.backends, DEFAULT_BACKEND),
        };
        setup
            .device_config()
            .validate()
            .map_err(SettingError::Device)?;
        Ok(setup)
    }
}

fn or_default(eps: Vec<Endpoint>, default: &str) -> Vec<Endpoint> {
    if eps.is_empty() {
        vec![Endpoint::parse(default).unwrap_or_else(|e| unreachable!("default {default}: {e}"))]
    } else {
        eps
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Why a device as written cannot run. [`fmt::Display`] gives the message without its place.
#[derive(Clone, Debug, PartialEq)]
pub enum SettingError {
    /// One option is wrong.
    Option {
        opt: Opt,
        at: Origin,
        problem: Problem,
    },
    /// The options together make a device the core cannot run.
    Device(ConfigError),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    /// The option means nothing to this kind of device.
    NotFor(Kind),
    /// Not written in the option's form.
    Invalid(Value),
    /// Below the least value that can work.
    TooSmall { least: u64, unit: &'static str },
    /// A heartbeat timeout, with heartbeats off.
    NoHeartbeat,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (opt, at, problem) = match self {
            SettingError::Option { opt, at, problem } => (*opt, at, problem),
            SettingError::Device(e) => return write!(f, "{e}"),
        };
        match problem {
            Problem::NotFor(kind) => {
                let kinds: Vec<String> = opt
                    .kinds()
                    .iter()
                    .map(|&k| format!("{}s", kind_name(k)))
                    .collect();
                write!(
                    f,
                    "applies to {} only, and this device is a {}{}; remove it",
                    kinds.join(" and "),
                    kind_name(*kind),
                    opt.why_not()
                )
            }
            Problem::Invalid(v) => write!(f, "expected {}, not {v}", opt.form().expects()),
            Problem::TooSmall { least, unit } => write!(f, "must be at least {least} ({unit})"),
            Problem::NoHeartbeat => write!(
                f,
                "only applies with heartbeats on; set {} too",
                Opt::HeartbeatIvl.spelled(at)
            ),
        }
    }
}
