//! How a device is set up, and the settings that cannot work.

use core::fmt;

use super::kind::{Kind, Side};
use super::pace::UpstreamPace;
use super::subs::{SubTable, SubscriptionLimits, MAX_TOPIC};
use crate::conn::{Heartbeat, LegacyMode, Limits, SessionConfig};
use crate::time::Duration;
use crate::wire::frame::MAX_HEAD_LEN;

/// Room for commands and routing frames beyond a queue's high-water mark and one message.
const QUEUE_SLACK: usize = 4096;

/// How a device is set up. Every peer's memory is bounded by [`DeviceConfig::queue_capacity`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DeviceConfig {
    /// Which device.
    pub kind: Kind,
    /// Sizes every session enforces. A forwarder matches topics on a message's first
    /// [`MAX_TOPIC`] bytes, so its `head_bytes` must be at least that; queue and streamer
    /// keep the default, which bounds [`DeviceConfig::routing_read_len`].
    pub limits: Limits,
    /// PINGs to ZMTP 3.1 peers and how long they may stay silent.
    pub heartbeat: Heartbeat,
    /// A peer that has not finished its handshake by then is dropped; zero waits forever.
    pub handshake_timeout: Duration,
    /// How its sessions greet, and what they do with ZMTP 1.0/2.0 peers ([`LegacyMode`]).
    pub legacy: LegacyMode,
    /// A peer whose outbound queue holds this many bytes gets no new message (workers are
    /// skipped, subscribers lose it) until it drains below; a forwarder's subscriber still
    /// takes small messages a sixteenth of it past it (`DeviceConfig::small_slack`).
    pub queue_hwm: usize,
    /// Size of the caller's per-connection input buffer, and so the store-and-forward
    /// threshold: a message that fits is received whole before it is routed, so a sender
    /// that is slow or stalls mid-message holds no destination. A larger one is cut through as
    /// it arrives, holding its destinations meanwhile (see `progress_timeout`).
    pub input_capacity: usize,
    /// A message being cut through whose bytes stop moving this long (neither from its sender
    /// nor to its receivers) is aborted and its sender closed; zero waits forever.
    pub progress_timeout: Duration,
    /// The forwarder's subscription table: its size, and each subscriber's share of it.
    pub subscriptions: SubscriptionLimits,
    /// How fast a forwarder sends subscriptions and cancellations to each publisher: what is
    /// above it is coalesced, each topic's latest state sent once.
    pub upstream: UpstreamPace,
    /// A queue's client whose queue has held bytes this long without being emptied is behind:
    /// a reply for it over its high-water mark is dropped (counted) rather than hold its
    /// worker, and if its queue cannot grow for want of memory it is also closed
    /// ([`CloseReason::Unread`](super::CloseReason::Unread)). Until then the worker waits for
    /// it. Zero drops at once, as libzmq's ROUTER does.
    pub client_stall: Duration,
    /// A queue's worker holding this many requests it has not answered gets no more until it
    /// answers one: the others go to other workers, or wait in their clients' connections,
    /// which take turns. So a request waits behind at most this many at a busy worker, not
    /// behind whatever one client's flood put in the socket buffers and the worker's own
    /// queue. One reply answers one request; a worker that drops requests unanswered counts
    /// them until it leaves. Zero: no limit, as with libzmq's proxy.
    pub worker_inflight: u32,
    /// How long body bytes the caller moves past the device
    /// ([`Device::bypass_target`](super::Device::bypass_target)) may wait for their
    /// destination's socket to take any of them before the caller takes them back and the body
    /// is queued instead. The device does not use it; it is the caller's side of the bypass.
    pub splice_stall: Duration,
    /// A forwarder's last-value cache, once given its table
    /// ([`Device::with_last_values`](super::Device::with_last_values)).
    pub last_value: LastValueConfig,
}

/// How a forwarder's last-value cache keys and bounds what it keeps (`last_value.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LastValueConfig {
    /// A message of one frame is kept under its first this many bytes; zero keeps none
    /// (a message of several frames is kept under its first frame).
    pub prefix: usize,
    /// Most bytes of messages kept.
    pub max_bytes: usize,
    /// A message kept this long is dropped; zero keeps it until a newer one of its topic or
    /// room pushes it out.
    pub ttl: Duration,
}

impl DeviceConfig {
    /// The defaults: 64 MiB messages, 1 MiB high-water mark, 64 KiB input, no heartbeats,
    /// 5 s of progress for a message cut through, [`SubscriptionLimits::DEFAULT`] and
    /// [`UpstreamPace::DEFAULT`], 250 ms
    /// for a client not reading its replies, 1,000 unanswered requests per worker, 20 ms for a destination not taking a body that
    /// goes by; a forwarder's sessions announce frames with [`MAX_TOPIC`] head bytes.
    pub const fn new(kind: Kind) -> Self {
        let mut limits = Limits::DEFAULT;
        if let Kind::Forwarder { .. } = kind {
            limits.head_bytes = MAX_TOPIC;
        }
        DeviceConfig {
            kind,
            limits,
            heartbeat: Heartbeat::OFF,
            handshake_timeout: Duration::from_secs(10),
            legacy: LegacyMode::Whole,
            queue_hwm: 1 << 20,
            input_capacity: 64 << 10,
            progress_timeout: Duration::from_secs(5),
            subscriptions: SubscriptionLimits::DEFAULT,
            upstream: UpstreamPace::DEFAULT,
            client_stall: Duration::from_millis(250),
            worker_inflight: 1000,
            splice_stall: Duration::from_millis(20),
            last_value: LastValueConfig {
                prefix: 0,
                max_bytes: 0,
                ttl: Duration::ZERO,
            },
        }
    }

    /// The unanswered requests a queue's worker may hold ([`DeviceConfig::worker_inflight`]),
    /// zero read as no limit; every other kind never counts any.
    pub(super) const fn inflight_limit(&self) -> u32 {
        match (self.kind, self.worker_inflight) {
            (Kind::Queue, 0) | (Kind::Streamer | Kind::Forwarder { .. }, _) => u32::MAX,
            (Kind::Queue, n) => n,
        }
    }

    /// Bytes of zeroed subscription storage [`Device::new`](super::Device::new) needs: none
    /// but in a forwarder, the only device that keeps subscriptions. About 100 bytes per
    /// subscription of `subscriptions.max`, 32 per 28 of `subscriptions.topic_bytes`, and
    /// 66 KiB (see [`SubTable`]); from a zeroed allocation, only pages used cost memory.
    pub fn subscription_bytes(&self) -> usize {
        match self.kind {
            Kind::Forwarder { .. } => SubTable::storage_bytes(&self.subscriptions),
            Kind::Queue | Kind::Streamer => 0,
        }
    }

    /// The hard capacity every peer's queue must have: the high-water mark, one message that
    /// started below it, and slack for commands.
    pub fn queue_capacity(&self) -> usize {
        let max_msg = usize::try_from(self.limits.max_message_size).unwrap_or(usize::MAX);
        self.queue_hwm
            .saturating_add(self.small_slack())
            .saturating_add(max_msg)
            .saturating_add(QUEUE_SLACK)
    }

    /// How far past the high-water mark a forwarder's subscriber still takes a small message
    /// (one of at most this many bytes): a sixteenth of the mark. A large message that took a
    /// subscriber over its mark (one message may start below it and end far above) then does
    /// not cost it the small ones that come while it drains, as with libzmq, whose mark
    /// counts messages; a subscriber that is behind loses them a little later.
    pub(super) const fn small_slack(&self) -> usize {
        self.queue_hwm / 16
    }

    /// The mark a forwarder's subscriber must be below to take a message needing `need`
    /// bytes of its queue ([`DeviceConfig::small_slack`]).
    pub(super) const fn mark_for(&self, need: usize) -> usize {
        let small = self.small_slack();
        if need <= small {
            self.queue_hwm.saturating_add(small)
        } else {
            self.queue_hwm
        }
    }

    /// How much a read should take when the next frame is to be routed without its body
    /// (after a body went by, [`Device::bypass_target`](super::Device::bypass_target)): a
    /// frame head and the body bytes routing looks at.
    pub const fn routing_read_len(&self) -> usize {
        MAX_HEAD_LEN + self.limits.head_bytes
    }

    /// The session of a peer on `side`: we are the server of every connection.
    pub const fn session_config(&self, side: Side) -> SessionConfig {
        let mut cfg = SessionConfig::new(self.kind.socket_type(side));
        cfg.limits = self.limits;
        cfg.heartbeat = self.heartbeat;
        cfg.handshake_timeout = self.handshake_timeout;
        cfg.legacy = self.legacy;
        cfg.as_server = true;
        cfg.refused_peer = self.kind.refused_peer(side);
        cfg.refused_zedge = self.kind.refused_zedge(side);
        cfg.announces_zedge = true;
        cfg
    }

    /// Whether the settings can work together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let forwarder = matches!(self.kind, Kind::Forwarder { .. });
        if forwarder && self.limits.head_bytes < MAX_TOPIC {
            return Err(ConfigError::HeadBytesTooSmall {
                have: self.limits.head_bytes,
                need: MAX_TOPIC,
            });
        }
        let need = [Side::Frontend, Side::Backend]
            .map(|side| self.session_config(side).min_input_capacity())
            .into_iter()
            .fold(0, usize::max);
        if self.input_capacity < need {
            return Err(ConfigError::InputTooSmall {
                have: self.input_capacity,
                need,
            });
        }
        if self.queue_hwm == 0 {
            return Err(ConfigError::ZeroHwm);
        }
        Ok(())
    }
}

/// A configuration that cannot work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError {
    /// Topic matching needs `need` body bytes of a message's first frame.
    HeadBytesTooSmall {
        /// Configured.
        have: usize,
        /// Needed.
        need: usize,
    },
    /// The input buffer cannot hold a whole command or subscription.
    InputTooSmall {
        /// Configured.
        have: usize,
        /// Needed.
        need: usize,
    },
    /// A high-water mark of zero would never let a message through.
    ZeroHwm,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::HeadBytesTooSmall { have, need } => {
                write!(f, "head_bytes is {have}; topic matching needs at least {need}")
            }
            ConfigError::InputTooSmall { have, need } => write!(
                f,
                "input buffer of {have} bytes cannot hold a whole command or subscription; it needs {need} (lower max command size or raise the buffer)"
            ),
            ConfigError::ZeroHwm => f.write_str("queue high-water mark must be above zero"),
        }
    }
}
