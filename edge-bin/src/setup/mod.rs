//! What one device needs to run, however it was asked for: its kind, endpoints and limits.
//!
//! The command line (`zedge streamer ...`) and each `[[device]]` table of the config file
//! record what the operator wrote as a [`Written`]; [`Written::build`] checks it, the same way
//! for both, and makes the [`DeviceSetup`] starting from [`Tuning::default`], the one set of
//! defaults (`zedge --help` and `board/zedge.toml` show them; tests hold both to it). Kinds
//! are spelled by [`kind_name`] and [`kind_from_name`] only, values read by [`Form::read`],
//! options named and ranged by [`Opt`]. The process-wide settings ([`Process`]) are written
//! once; [`Memory::check`] then holds what the devices cost, at worst, to `memory_max`.

mod curve;
mod memory;
mod opt;
mod process;
mod value;
mod written;

use std::fmt;

use zedge_core::conn::{Heartbeat, LegacyMode};
use zedge_core::device::{Cached, DeviceConfig, Entry, Kind, LastValueConfig, Side, UpstreamPace};
use zedge_core::time::Duration;

/// Room in the input buffer beyond `store_forward_max` for a message's frame heads (2 to 9
/// bytes a frame): a multipart message of `store_forward_max` bytes of body in up to a few
/// hundred frames is still received whole.
pub const HEADS_ROOM: usize = 4096;

use crate::endpoint::Endpoint;
pub use curve::{
    load_allow, load_passwords, server_key, CurveOpt, CurveSetup, CurveWritten, Passwords,
    PlainSetup,
};
pub use memory::{DeviceMemory, Memory, Mib, CONNECTION_BYTES, SLOT_BYTES};
pub use opt::{Opt, Origin, SettingError, Via};
pub use process::{Process, WrittenProcess};
pub use value::{parse_count, parse_duration_ms, parse_size, Form, Value};
pub use written::Written;

/// The endpoints of a device on the command line that names none (the config file requires
/// them).
/// Loopback only, as Mosquitto 2 until a listener is configured: a device started on its
/// defaults takes no one from beyond this host (`--frontend tcp://*:5559` opens it).
pub const DEFAULT_FRONTEND: &str = "tcp://127.0.0.1:5559";
pub const DEFAULT_BACKEND: &str = "tcp://127.0.0.1:5560";

/// The limits and timers of one device, in the units operators write them in. Counts of
/// peers are per side: each side has its own, so one side filling up never locks the other
/// out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuning {
    pub max_msg_size: u64,
    pub queue_hwm: usize,
    /// Peers at once on each side; the peer table has twice as many slots
    /// ([`DeviceSetup::peer_slots`]).
    pub max_peers: usize,
    /// Peers at once on each side from one IP address; IPC peers are not capped by address.
    pub max_peers_per_address: usize,
    /// Connections on each side that have not finished their handshake; one more closes the
    /// oldest of them (the gate's rules: `crate::gate`).
    pub max_handshaking: usize,
    /// New connections a second a side with CURVE or PLAIN takes from one IP address, after
    /// a first burst of `max_peers_per_address`; zero: no limit.
    pub handshake_rate_per_address: usize,
    pub max_subscriptions: usize,
    /// At most `max_subscriptions`: a default above it follows it down, a written one is
    /// refused.
    pub max_subscriptions_per_peer: usize,
    /// Bytes a second of subscriptions and cancellations a forwarder sends each publisher
    /// (the rest coalesced); zero: no limit.
    pub upstream_rate: u32,
    /// What it may send a publisher at once after a quiet spell.
    pub upstream_burst: u32,
    /// Large bodies on their way socket to socket through a pipe at once; zero copies them all.
    pub max_splices: usize,
    /// Messages up to this many bytes are received whole before they are forwarded; larger
    /// ones are cut through. Sizes the input buffer ([`DeviceSetup::input_capacity`]).
    pub store_forward_max: usize,
    /// A message being cut through that makes no progress this long aborts its sender; zero
    /// waits forever.
    pub progress_timeout_ms: u64,
    /// Zero turns PINGs off.
    pub heartbeat_ivl_ms: u64,
    /// `None`: three intervals.
    pub heartbeat_timeout_ms: Option<u64>,
    pub handshake_timeout_ms: u64,
    /// A queue's client that reads nothing this long while its replies wait loses them;
    /// zero drops them at once.
    pub client_stall_ms: u64,
    /// A queue's worker with this many requests unanswered gets no more until it answers;
    /// zero: no limit.
    pub worker_inflight: u32,
    /// A body going socket to socket that its destination takes nothing of this long is
    /// taken back and queued instead.
    pub splice_stall_ms: u64,
    /// Bytes the kernel may hold for each connection's sending, unsent and unacknowledged,
    /// its bookkeeping included (SO_SNDBUF); zero: the kernel's own limit (`tcp_wmem`, up to
    /// 4 MiB for TCP). What a peer that stops reading holds of the kernel's memory, outside
    /// `memory_max`: 256 KiB by default, where the kernel's own let 200 stalled peers hold
    /// 788 MB (attacker round 16, K1). One connection sends at most this much per round trip.
    pub kernel_send_max: u32,
    /// Peers older than ZMTP 3.0 are spoken to (ZMTP 2.0; `false`: told apart and refused).
    pub legacy: bool,
    /// A forwarder keeps the latest message of each topic and gives a subscriber that
    /// subscribes those it asks for (`zedge_core::device::Device::with_last_values`).
    pub last_value: bool,
    /// Topics it keeps at most; their table is fixed memory, the messages come from the budget.
    pub last_value_max_topics: usize,
    /// Bytes of kept messages at most, drawn from the budget as they are kept.
    pub last_value_max_bytes: usize,
    /// A kept message is dropped after this long; zero: never for its age.
    pub last_value_ttl_ms: u64,
    /// A message of one frame is kept under its first this many bytes; zero keeps none.
    pub last_value_prefix: usize,
    /// Bytes of segments at most; past it the oldest segment goes, its unsent messages
    /// counted as dropped.
    pub spool_max: u64,
    /// How often what was spooled is made durable (`fdatasync`).
    pub spool_fsync_ms: u64,
    /// Bytes a second the spooled messages are sent at, at most; zero: as fast as the workers
    /// take them.
    pub spool_rate: u64,
}

impl Default for Tuning {
    /// The one set of defaults, for the command line and the config file alike; `zedge --help`
    /// and `board/zedge.toml` show them, and tests hold both to these values.
    fn default() -> Self {
        Tuning {
            max_msg_size: 64 << 20,
            queue_hwm: 1 << 20,
            max_peers: 1024,
            max_peers_per_address: 256,
            max_handshaking: 64,
            handshake_rate_per_address: 64,
            max_subscriptions: 4096,
            max_subscriptions_per_peer: 1024,
            upstream_rate: UpstreamPace::DEFAULT.rate,
            upstream_burst: UpstreamPace::DEFAULT.burst,
            max_splices: 32,
            store_forward_max: 1 << 20,
            progress_timeout_ms: 5_000,
            heartbeat_ivl_ms: 10_000,
            heartbeat_timeout_ms: None,
            handshake_timeout_ms: 10_000,
            client_stall_ms: 250,
            worker_inflight: 1000,
            splice_stall_ms: 20,
            kernel_send_max: 256 << 10,
            legacy: true,
            last_value: false,
            last_value_max_topics: 10_000,
            last_value_max_bytes: 16 << 20,
            last_value_ttl_ms: 0,
            last_value_prefix: 0,
            spool_max: 256 << 20,
            spool_fsync_ms: 1000,
            spool_rate: 0,
        }
    }
}

/// `max_msg_size` unless set, on a device with CURVE: it stores messages whole and keeps room
/// for three (one arriving as ciphertext, one arriving whole, one queued), and the 64 MiB of
/// other devices would then take all of the default `memory_max`.
pub const CURVE_MAX_MSG_SIZE: u64 = 16 << 20;

/// Whether a device of `kind` with CURVE on `sides` sends data to CURVE peers: those of its
/// backend (a forwarder's subscribers, a streamer's workers), a queue's either side, and its
/// capture readers (`capture`: it has a capture endpoint, which is CURVE whenever the device
/// has a key).
pub fn sends_sealed(kind: Kind, sides: curve::Sides, capture: bool) -> bool {
    capture
        || match kind {
            Kind::Queue => sides.frontend || sides.backend,
            Kind::Forwarder { .. } | Kind::Streamer => sides.backend,
        }
}

/// Whether a device of `kind` with CURVE on `sides` takes data from CURVE peers: those of its
/// frontend (publishers, producers), and a queue's either side.
pub fn takes_sealed(kind: Kind, sides: curve::Sides) -> bool {
    match kind {
        Kind::Queue => sides.frontend || sides.backend,
        Kind::Forwarder { .. } | Kind::Streamer => sides.frontend,
    }
}

/// One device to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceSetup {
    /// Empty for the device of the command line; its log lines then carry no name.
    pub name: String,
    pub kind: Kind,
    pub tuning: Tuning,
    pub frontends: Vec<Endpoint>,
    pub backends: Vec<Endpoint>,
    /// Where its control endpoint is (`crate::control`), if it has one.
    pub control: Option<Endpoint>,
    /// Where capture readers connect (or which reader it connects to), if anywhere: the
    /// device's third side ([`Side::Capture`](zedge_core::device::Side::Capture)).
    pub capture: Option<Endpoint>,
    /// Its CURVE keys and whom it lets in, if it uses CURVE.
    pub curve: Option<CurveSetup>,
    /// Its PLAIN password file, if its bind endpoints take PLAIN clients.
    pub plain: Option<PlainSetup>,
    /// A streamer's store-and-forward spool: the directory of its segments (`crate::spool`);
    /// none, no spool.
    pub spool: Option<std::path::PathBuf>,
}

impl DeviceSetup {
    /// The endpoints it binds beyond this host (not loopback, not IPC) where anyone who
    /// reaches the host is let in: no CURVE or PLAIN on their side, or the control endpoint
    /// (which has neither, and can pause and stop the device). Named by side, for a warning.
    pub fn open_to_anyone(&self) -> Vec<(&'static str, &Endpoint)> {
        let secured = |side: Side| {
            self.plain.is_some() || self.curve.as_ref().is_some_and(|c| c.on(side, false))
        };
        let sides = [
            ("frontend", Side::Frontend, &self.frontends[..]),
            ("backend", Side::Backend, &self.backends[..]),
            ("capture", Side::Capture, self.capture.as_slice()),
        ];
        let mut open: Vec<(&'static str, &Endpoint)> = sides
            .into_iter()
            .filter(|&(_, side, _)| !secured(side))
            .flat_map(|(name, _, eps)| eps.iter().map(move |e| (name, e)))
            .collect();
        open.extend(self.control.iter().map(|e| ("control", e)));
        open.retain(|(_, e)| e.mode == crate::endpoint::Mode::Bind && !curve::is_local(e));
        open
    }

    /// Every endpoint, each with the name of its side (`frontend`, `backend`, `control`,
    /// `capture`), in that order.
    pub fn endpoints(&self) -> impl Iterator<Item = (&'static str, &Endpoint)> {
        let sides = [
            ("frontend", self.frontends.as_slice()),
            ("backend", self.backends.as_slice()),
            ("control", self.control.as_slice()),
            ("capture", self.capture.as_slice()),
        ];
        sides
            .into_iter()
            .flat_map(|(side, eps)| eps.iter().map(move |e| (side, e)))
    }

    pub fn device_config(&self) -> DeviceConfig {
        let t = &self.tuning;
        let mut cfg = DeviceConfig::new(self.kind);
        cfg.limits.max_message_size = t.max_msg_size;
        cfg.queue_hwm = t.queue_hwm;
        cfg.subscriptions.max = t.max_subscriptions;
        cfg.subscriptions.max_per_peer = t.max_subscriptions_per_peer;
        cfg.upstream = UpstreamPace {
            rate: t.upstream_rate,
            burst: t.upstream_burst,
        };
        cfg.handshake_timeout = Duration::from_millis(t.handshake_timeout_ms);
        // The greeting in pieces, as libzmq sends it, so that an old peer says what it speaks,
        // and a ZMTP 2.0 peer is spoken to in 2.0 (or refused with that reason).
        cfg.legacy = if t.legacy {
            LegacyMode::Accept
        } else {
            LegacyMode::Refuse
        };
        cfg.input_capacity = self.input_capacity();
        cfg.progress_timeout = Duration::from_millis(t.progress_timeout_ms);
        cfg.client_stall = Duration::from_millis(t.client_stall_ms);
        cfg.worker_inflight = t.worker_inflight;
        cfg.splice_stall = Duration::from_millis(t.splice_stall_ms);
        cfg.last_value = LastValueConfig {
            prefix: t.last_value_prefix,
            max_bytes: t.last_value_max_bytes,
            ttl: Duration::from_millis(t.last_value_ttl_ms),
        };
        if t.heartbeat_ivl_ms > 0 {
            let mut hb = Heartbeat::every(Duration::from_millis(t.heartbeat_ivl_ms));
            if let Some(ms) = t.heartbeat_timeout_ms {
                hb.timeout = Duration::from_millis(ms);
                hb.ttl = Duration::from_millis(ms);
            }
            cfg.heartbeat = hb;
        }
        cfg
    }

    /// Topics of its last-value table: `last_value_max_topics` on a forwarder with the cache
    /// on, else none.
    pub fn last_value_topics(&self) -> usize {
        let on = self.tuning.last_value && matches!(self.kind, Kind::Forwarder { .. });
        if on {
            self.tuning.last_value_max_topics
        } else {
            0
        }
    }

    /// Bytes of its last-value table (a topic entry and a place in the topics' order each);
    /// the messages kept come from the budget.
    pub fn last_value_table_bytes(&self) -> u64 {
        let each = std::mem::size_of::<Entry<Cached<crate::queue::HeapQueue>>>()
            + std::mem::size_of::<u32>();
        (self.last_value_topics() as u64).saturating_mul(each as u64)
    }

    /// Slots of the peer table: [`Tuning::max_peers`] for each side, the capture readers'
    /// ([`MAX_CAPTURE_READERS`](zedge_core::device::MAX_CAPTURE_READERS)) if it has a capture
    /// endpoint, and a spool's two.
    pub fn peer_slots(&self) -> usize {
        let readers = if self.capture.is_some() {
            zedge_core::device::MAX_CAPTURE_READERS
        } else {
            0
        };
        // A spool is two peers of its own: its sink and its source.
        let spool = if self.has_spool() { 2 } else { 0 };
        self.tuning
            .max_peers
            .saturating_mul(2)
            .saturating_add(readers)
            .saturating_add(spool)
    }

    /// Whether it keeps a store-and-forward spool: a streamer or a forwarder given a
    /// directory for one.
    pub fn has_spool(&self) -> bool {
        self.spool.is_some() && matches!(self.kind, Kind::Streamer | Kind::Forwarder { .. })
    }

    /// Bytes of subscription storage: none but in a forwarder. The one caller of
    /// [`DeviceConfig::subscription_bytes`].
    pub fn subscription_bytes(&self) -> usize {
        self.device_config().subscription_bytes()
    }

    /// The setting that sizes its input buffer: `store_forward_max`, or `max_msg_size` when
    /// the device sends to CURVE peers (and so stores every message whole).
    pub fn input_sized_by(&self) -> Opt {
        match &self.curve {
            Some(c) if sends_sealed(self.kind, c.sides, self.capture.is_some()) => Opt::MaxMsgSize,
            _ => Opt::StoreForwardMax,
        }
    }

    /// Bytes of the input buffer: a whole message of [`Tuning::store_forward_max`] bytes and
    /// the heads of the frames that carry it (up to [`HEADS_ROOM`] of them).
    pub fn input_capacity(&self) -> usize {
        self.tuning.store_forward_max.saturating_add(HEADS_ROOM)
    }

    /// What the device keeps of `memory_max` for itself ([`crate::budget::Account`]): room for
    /// one message to arrive whole however many others wait for memory (the lane), for one to
    /// be queued to a peer that keeps up, and, if it takes data from CURVE peers, for one
    /// frame's ciphertext to arrive whole (with a read's worth after it).
    pub fn kept(&self) -> Kept {
        let whole = self.input_capacity();
        let cipher = match &self.curve {
            Some(c) if takes_sealed(self.kind, c.sides) => {
                whole.saturating_add(crate::input::READ_MAX)
            }
            _ => 0,
        };
        Kept {
            lane: whole,
            queue: whole,
            cipher,
        }
    }

    /// Pipes the device may hold at once: none in a forwarder, which never lets a body by.
    pub fn splices(&self) -> usize {
        match self.kind {
            Kind::Forwarder { .. } => 0,
            Kind::Queue | Kind::Streamer => self.tuning.max_splices,
        }
    }

    /// The name in STATUS lines: the configured one, or the kind's.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            kind_name(self.kind)
        } else {
            &self.name
        }
    }
}

/// What a device keeps for itself at run time, in bytes ([`DeviceSetup::kept`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kept {
    /// One input buffer at a time may hold this much more than a connection's own.
    pub lane: usize,
    /// An empty queue may take this much for one message.
    pub queue: usize,
    /// One CURVE connection at a time may hold this much ciphertext (a device that takes
    /// data from CURVE peers; none elsewhere).
    pub cipher: usize,
}

impl Kept {
    pub fn total(&self) -> u64 {
        (self.lane as u64)
            .saturating_add(self.queue as u64)
            .saturating_add(self.cipher as u64)
    }
}

/// Every kind, in the order messages list them; `classic` is an option of the forwarder's.
pub const KINDS: [Kind; 3] = [
    Kind::Forwarder { classic: false },
    Kind::Queue,
    Kind::Streamer,
];

/// The one spelling of each kind, for the command line, the config file, the summary and logs.
pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Forwarder { .. } => "forwarder",
        Kind::Queue => "queue",
        Kind::Streamer => "streamer",
    }
}

pub fn kind_from_name(name: &str) -> Option<Kind> {
    KINDS.into_iter().find(|&k| kind_name(k) == name)
}

/// `forwarder, queue, streamer`: what a kind may be, for messages.
pub fn kind_names() -> String {
    KINDS.map(kind_name).join(", ")
}

/// `64 MiB`, `1 KiB`, `300 B`: sizes as the summary prints them.
#[derive(Debug)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
            if n >= 1 << shift && n % (1 << shift) == 0 {
                return write!(f, "{} {unit}", n >> shift);
            }
        }
        write!(f, "{n} B")
    }
}

#[cfg(test)]
mod both_paths;
#[cfg(test)]
mod costs;
#[cfg(test)]
mod ranges;
#[cfg(test)]
mod tests;
