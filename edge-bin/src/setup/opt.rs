//! The options an operator can write, their two spellings, their form and their range.
//!
//! Device options are written per device (`--max-peers`, `max_peers` in a `[[device]]`);
//! process options once for the whole process (`--memory-max`, `memory_max` at the top of the
//! file). Both kinds are checked by the same [`Opt::check`], so a value means the same and is
//! refused in the same words wherever it is written.

use zedge_core::device::{Kind, MAX_TOPIC};

use super::value::{Form, Value};
use std::fmt;
use std::ops::Range;

use super::{kind_name, KINDS};
use zedge_core::device::ConfigError;

const FORWARDER: &[Kind] = &[Kind::Forwarder { classic: false }];
/// The devices that pass large bodies through a pipe: one producer to one consumer.
const SPLICING: &[Kind] = &[Kind::Queue, Kind::Streamer];
const QUEUE: &[Kind] = &[Kind::Queue];
/// The devices that keep a store-and-forward spool: a streamer's workers, a forwarder's
/// uplinks.
const SPOOLING: &[Kind] = &[Kind::Streamer, Kind::Forwarder { classic: false }];

/// The least `spool_max`: two segments of the smallest size (1 MiB).
pub const SPOOL_MAX_FLOOR: u64 = 2 << 20;

/// The most `max_splices` may be: each splice holds two descriptors and a pipe of kernel
/// memory (64 KiB by default) while a body goes through it, so 1,024 already cost 2,048
/// descriptors and 64 MiB the budget cannot see, far past what a gateway gains from them.
pub const MAX_SPLICES_CEILING: u64 = 1024;

/// The most `memory_max` may be, 1 TiB: beyond any gateway, and low enough that every figure
/// derived from it stays far from overflow and that a peer table it admits is indexed in 32
/// bits, as the core indexes it (a test holds the two together).
pub const MEMORY_MAX_CEILING: u64 = 1 << 40;

/// The least `store_forward_max`, 64 KiB: the read buffer every device had before the setting
/// existed (the one `docs/performance.md` measured); smaller, a busy connection reads less than
/// the kernel has ready on each wakeup and more messages take the cut-through path, which
/// routes frame by frame.
pub const STORE_FORWARD_FLOOR: u64 = 64 << 10;

/// The least `kernel_send_max` other than zero, 4 KiB: below a page, every write to a
/// connection would wait for the one before it to be acknowledged.
pub const KERNEL_SEND_FLOOR: u64 = 4 << 10;

/// Where settings were written, and so how messages name options: as flags, or as keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    CommandLine,
    ConfigFile,
}

/// An option, of a device or of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opt {
    Classic,
    MaxMsgSize,
    QueueHwm,
    MaxPeers,
    MaxPeersPerAddress,
    MaxHandshaking,
    HandshakeRatePerAddress,
    MaxSubscriptions,
    MaxSubscriptionsPerPeer,
    UpstreamRate,
    UpstreamBurst,
    MaxSplices,
    StoreForwardMax,
    ProgressTimeout,
    HeartbeatIvl,
    HeartbeatTimeout,
    HandshakeTimeout,
    ClientStall,
    WorkerInflight,
    SpliceStall,
    KernelSendMax,
    Legacy,
    LastValue,
    LastValueMaxTopics,
    LastValueMaxBytes,
    LastValueTtl,
    LastValuePrefix,
    Spool,
    SpoolMax,
    SpoolFsync,
    SpoolRate,
    /// The one process option; declared last, so device options index from zero.
    MemoryMax,
}

impl Opt {
    /// The options of a device, in declaration order.
    pub const DEVICE: [Opt; 31] = [
        Opt::Classic,
        Opt::MaxMsgSize,
        Opt::QueueHwm,
        Opt::MaxPeers,
        Opt::MaxPeersPerAddress,
        Opt::MaxHandshaking,
        Opt::HandshakeRatePerAddress,
        Opt::MaxSubscriptions,
        Opt::MaxSubscriptionsPerPeer,
        Opt::UpstreamRate,
        Opt::UpstreamBurst,
        Opt::MaxSplices,
        Opt::StoreForwardMax,
        Opt::ProgressTimeout,
        Opt::HeartbeatIvl,
        Opt::HeartbeatTimeout,
        Opt::HandshakeTimeout,
        Opt::ClientStall,
        Opt::WorkerInflight,
        Opt::SpliceStall,
        Opt::KernelSendMax,
        Opt::Legacy,
        Opt::LastValue,
        Opt::LastValueMaxTopics,
        Opt::LastValueMaxBytes,
        Opt::LastValueTtl,
        Opt::LastValuePrefix,
        Opt::Spool,
        Opt::SpoolMax,
        Opt::SpoolFsync,
        Opt::SpoolRate,
    ];

    /// The options of the whole process.
    pub const PROCESS: [Opt; 1] = [Opt::MemoryMax];

    /// The config key and the flag.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Opt::Classic => ("classic", "--classic"),
            Opt::MaxMsgSize => ("max_msg_size", "--max-msg-size"),
            Opt::QueueHwm => ("queue_hwm", "--queue-hwm"),
            Opt::MaxPeers => ("max_peers", "--max-peers"),
            Opt::MaxPeersPerAddress => ("max_peers_per_address", "--max-peers-per-address"),
            Opt::MaxHandshaking => ("max_handshaking", "--max-handshaking"),
            Opt::HandshakeRatePerAddress => {
                ("handshake_rate_per_address", "--handshake-rate-per-address")
            }
            Opt::MaxSubscriptions => ("max_subscriptions", "--max-subscriptions"),
            Opt::MaxSubscriptionsPerPeer => {
                ("max_subscriptions_per_peer", "--max-subscriptions-per-peer")
            }
            Opt::UpstreamRate => ("upstream_rate", "--upstream-rate"),
            Opt::UpstreamBurst => ("upstream_burst", "--upstream-burst"),
            Opt::MaxSplices => ("max_splices", "--max-splices"),
            Opt::StoreForwardMax => ("store_forward_max", "--store-forward-max"),
            Opt::ProgressTimeout => ("progress_timeout", "--progress-timeout"),
            Opt::HeartbeatIvl => ("heartbeat_ivl", "--heartbeat-ivl"),
            Opt::HeartbeatTimeout => ("heartbeat_timeout", "--heartbeat-timeout"),
            Opt::HandshakeTimeout => ("handshake_timeout", "--handshake-timeout"),
            Opt::ClientStall => ("client_stall", "--client-stall"),
            Opt::WorkerInflight => ("worker_inflight", "--worker-inflight"),
            Opt::SpliceStall => ("splice_stall", "--splice-stall"),
            Opt::KernelSendMax => ("kernel_send_max", "--kernel-send-max"),
            Opt::Legacy => ("legacy", "--no-legacy"),
            Opt::LastValue => ("last_value", "--last-value"),
            Opt::LastValueMaxTopics => ("last_value_max_topics", "--last-value-max-topics"),
            Opt::LastValueMaxBytes => ("last_value_max_bytes", "--last-value-max-bytes"),
            Opt::LastValueTtl => ("last_value_ttl", "--last-value-ttl"),
            Opt::LastValuePrefix => ("last_value_prefix", "--last-value-prefix"),
            Opt::Spool => ("spool", "--spool"),
            Opt::SpoolMax => ("spool_max", "--spool-max"),
            Opt::SpoolFsync => ("spool_fsync", "--spool-fsync"),
            Opt::SpoolRate => ("spool_rate", "--spool-rate"),
            Opt::MemoryMax => ("memory_max", "--memory-max"),
        }
    }

    pub fn key(self) -> &'static str {
        self.names().0
    }

    pub fn flag(self) -> &'static str {
        self.names().1
    }

    /// The option of a long flag's name (`max-peers`), of a device or of the process.
    pub fn from_flag(name: &str) -> Option<Opt> {
        Opt::DEVICE
            .into_iter()
            .chain(Opt::PROCESS)
            .find(|o| o.flag().strip_prefix("--") == Some(name))
    }

    /// The value a switch's flag gives: `--classic` turns classic on, `--no-legacy` turns
    /// legacy off.
    pub fn flag_sets(self) -> bool {
        self != Opt::Legacy
    }

    pub fn is_process(self) -> bool {
        Opt::PROCESS.contains(&self)
    }

    /// As the place it was written names it.
    pub fn spelled(self, at: &Origin) -> &'static str {
        match at {
            Origin::Flag => self.named(Via::CommandLine),
            Origin::Key(_) => self.named(Via::ConfigFile),
        }
    }

    /// As the settings written `via` name it.
    pub fn named(self, via: Via) -> &'static str {
        match via {
            Via::CommandLine => self.flag(),
            Via::ConfigFile => self.key(),
        }
    }

    pub fn form(self) -> Form {
        match self {
            Opt::Classic | Opt::Legacy | Opt::LastValue => Form::Switch,
            Opt::Spool => Form::Path,
            Opt::MaxMsgSize
            | Opt::SpoolMax
            | Opt::SpoolRate
            | Opt::LastValueMaxBytes
            | Opt::QueueHwm
            | Opt::UpstreamRate
            | Opt::UpstreamBurst
            | Opt::StoreForwardMax
            | Opt::KernelSendMax
            | Opt::MemoryMax => Form::Bytes,
            Opt::MaxPeers
            | Opt::MaxPeersPerAddress
            | Opt::MaxHandshaking
            | Opt::HandshakeRatePerAddress
            | Opt::MaxSubscriptions
            | Opt::MaxSubscriptionsPerPeer
            | Opt::MaxSplices
            | Opt::LastValueMaxTopics
            | Opt::LastValuePrefix
            | Opt::WorkerInflight => Form::Count,
            Opt::ProgressTimeout
            | Opt::HeartbeatIvl
            | Opt::HeartbeatTimeout
            | Opt::HandshakeTimeout
            | Opt::ClientStall
            | Opt::LastValueTtl
            | Opt::SpoolFsync
            | Opt::SpliceStall => Form::Duration,
        }
    }

    /// The least value `n` may be, and its unit, where zero cannot work (elsewhere zero means
    /// none, or off; a `kernel_send_max` of zero, the kernel's own limit).
    fn least(self, n: u64) -> Option<(u64, &'static str)> {
        match self {
            Opt::KernelSendMax if n != 0 => {
                Some((KERNEL_SEND_FLOOR, "bytes, or 0 for the kernel's own limit"))
            }
            Opt::MaxMsgSize | Opt::QueueHwm => Some((1, "bytes")),
            Opt::StoreForwardMax => Some((STORE_FORWARD_FLOOR, "bytes")),
            Opt::MaxPeers | Opt::MaxPeersPerAddress => Some((1, "peers")),
            Opt::MaxHandshaking => Some((1, "connections")),
            Opt::LastValueMaxTopics => Some((1, "topics")),
            Opt::LastValueMaxBytes => Some((1, "bytes")),
            // Two segments of the smallest size: one sent from while the other is written.
            Opt::SpoolMax => Some((SPOOL_MAX_FLOOR, "bytes")),
            Opt::SpoolFsync => Some((10, "milliseconds")),
            _ => None,
        }
    }

    /// The hard ceiling, where one makes sense. Counts that cost memory (peers,
    /// subscriptions, the store-and-forward size) are bounded by `memory_max` instead, with
    /// what they cost in the message; counts only compared against (per address, handshaking,
    /// per peer) need none: above the total they never bind.
    fn most(self) -> Option<(u64, &'static str)> {
        match self {
            Opt::MaxSplices => Some((MAX_SPLICES_CEILING, "splices")),
            Opt::MemoryMax => Some((MEMORY_MAX_CEILING, "bytes")),
            Opt::WorkerInflight => Some((u64::from(u32::MAX), "requests")),
            Opt::UpstreamRate => Some((u64::from(u32::MAX), "bytes a second")),
            Opt::UpstreamBurst | Opt::KernelSendMax => Some((u64::from(u32::MAX), "bytes")),
            // The core indexes the cache's topics in 32 bits.
            Opt::LastValueMaxTopics => Some((u64::from(u32::MAX - 1), "topics")),
            // Subscriptions match a message's first MAX_TOPIC bytes.
            Opt::LastValuePrefix => Some((MAX_TOPIC as u64, "bytes")),
            Opt::SpoolFsync => Some((3_600_000, "milliseconds: an hour")),
            _ => None,
        }
    }

    /// The value as a number, if it is written in the option's form, means something to the
    /// device's `kind` (`None` for a process option) and is in its range, checked in that
    /// order.
    pub fn check(
        self,
        value: &Value,
        at: &Origin,
        kind: Option<Kind>,
    ) -> Result<u64, SettingError> {
        let fail = |problem| SettingError::Option {
            opt: self,
            at: at.clone(),
            problem,
        };
        let n = self
            .form()
            .read(value)
            .ok_or_else(|| fail(Problem::Invalid(value.clone())))?;
        if let Some(kind) = kind.filter(|&k| !self.applies_to(k)) {
            return Err(fail(Problem::NotFor(kind)));
        }
        if let Some((least, unit)) = self.least(n).filter(|&(least, _)| n < least) {
            return Err(fail(Problem::TooSmall { least, unit }));
        }
        if let Some((most, unit)) = self.most().filter(|&(most, _)| n > most) {
            return Err(fail(Problem::TooLarge { most, unit }));
        }
        Ok(n)
    }

    /// The kinds of device it means something to (every kind, for a process option).
    pub fn kinds(self) -> &'static [Kind] {
        match self {
            Opt::Classic
            | Opt::MaxSubscriptions
            | Opt::MaxSubscriptionsPerPeer
            | Opt::UpstreamRate
            | Opt::UpstreamBurst
            | Opt::LastValue
            | Opt::LastValueMaxTopics
            | Opt::LastValueMaxBytes
            | Opt::LastValueTtl
            | Opt::LastValuePrefix => FORWARDER,
            Opt::MaxSplices | Opt::SpliceStall => SPLICING,
            Opt::ClientStall | Opt::WorkerInflight => QUEUE,
            Opt::Spool | Opt::SpoolMax | Opt::SpoolFsync | Opt::SpoolRate => SPOOLING,
            _ => &KINDS,
        }
    }

    pub fn applies_to(self, kind: Kind) -> bool {
        self.kinds()
            .iter()
            .any(|&k| kind_name(k) == kind_name(kind))
    }

    /// Why it means nothing to the other kinds, after "this device is a queue".
    pub fn why_not(self) -> &'static str {
        match self {
            Opt::MaxSubscriptions | Opt::MaxSubscriptionsPerPeer => {
                ", which keeps no subscriptions"
            }
            Opt::UpstreamRate | Opt::UpstreamBurst => ", which sends no subscriptions upstream",
            Opt::MaxSplices | Opt::SpliceStall => {
                ", which never splices (a message may go to many subscribers)"
            }
            Opt::ClientStall => ", which has no clients waiting for replies",
            Opt::WorkerInflight => ", whose workers answer nothing",
            Opt::LastValue
            | Opt::LastValueMaxTopics
            | Opt::LastValueMaxBytes
            | Opt::LastValueTtl
            | Opt::LastValuePrefix => ", which has no topics to keep last values of",
            Opt::Spool | Opt::SpoolMax | Opt::SpoolFsync | Opt::SpoolRate => {
                ", whose requests wait for their replies"
            }
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

/// Why a device, or the process, as written cannot run. [`fmt::Display`] gives the message
/// without its place.
#[derive(Clone, Debug, PartialEq)]
pub enum SettingError {
    /// One option is wrong, or wrong with another.
    Option {
        opt: Opt,
        at: Origin,
        problem: Problem,
    },
    /// The options together make a device the core cannot run.
    Device(ConfigError),
    /// A CURVE setting ([`super::curve`]): its key, where it was written, and why (naming it
    /// as it was written).
    Curve {
        key: &'static str,
        at: Origin,
        why: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    /// The option means nothing to this kind of device.
    NotFor(Kind),
    /// Not written in the option's form.
    Invalid(Value),
    /// Below the least value that can work.
    TooSmall { least: u64, unit: &'static str },
    /// Above the hard ceiling.
    TooLarge { most: u64, unit: &'static str },
    /// More than the option that bounds it allows.
    AboveTotal { total: Opt, value: u64 },
    /// A heartbeat timeout, with heartbeats off.
    NoHeartbeat,
    /// `store_forward_max` below `max_msg_size` on a device that sends to CURVE peers.
    BelowCurve { max_msg_size: u64 },
    /// A forwarder's spool, and no backend endpoint that connects (an uplink).
    NoUplink,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (opt, at, problem) = match self {
            SettingError::Option { opt, at, problem } => (*opt, at, problem),
            SettingError::Device(e) => return write!(f, "{e}"),
            SettingError::Curve { why, .. } => return f.write_str(why),
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
            Problem::TooLarge { most, unit } => write!(f, "must be at most {most} ({unit})"),
            Problem::AboveTotal { total, value } => write!(
                f,
                "must be at most {} ({value}); lower it or raise {}",
                total.spelled(at),
                total.spelled(at)
            ),
            Problem::NoUplink => f.write_str(
                "a forwarder's spool stands in for the uplinks its backend connects to (an \
                 endpoint written with >), and this backend connects to none; add one, or \
                 remove it",
            ),
            Problem::NoHeartbeat => write!(
                f,
                "only applies with heartbeats on; set {} too",
                Opt::HeartbeatIvl.spelled(at)
            ),
            Problem::BelowCurve { max_msg_size } => write!(
                f,
                "must be at least {} ({max_msg_size}) on a device that sends to CURVE peers: a \
                 CURVE frame is sealed whole, so its messages are stored whole; raise it, \
                 lower {}, or leave it out",
                Opt::MaxMsgSize.spelled(at),
                Opt::MaxMsgSize.spelled(at)
            ),
        }
    }
}
