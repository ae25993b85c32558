//! What a session is configured with. Every limit a peer can push against is here.

use crate::time::Duration;
use crate::wire::command::SUBSCRIBE_NAME;
use crate::wire::frame::MAX_HEAD_LEN;
use crate::wire::greeting::{Mechanism, GREETING_LEN};
use crate::wire::metadata::SocketType;

/// Longest subscription topic a session hands over (16 KiB). libzmq takes any length; a
/// bound lets a caller's input buffer hold every subscription whole. A SUBSCRIBE or CANCEL
/// (or ZMTP 3.0 subscription message) with a longer topic is skipped as its bytes arrive and
/// reported as [`Event::TopicTooLong`](super::Event::TopicTooLong); the session goes on.
pub const MAX_TOPIC: usize = 16 << 10;

/// Limits on what a peer may send. Checked against frame headers before anything is buffered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Limits {
    /// Largest message (all frames of a multipart message together), in bytes.
    pub max_message_size: u64,
    /// Largest command frame body (READY, PING, ...). SUBSCRIBE and CANCEL, sent to a socket
    /// that takes subscriptions, are bounded by [`MAX_TOPIC`] instead, as are ZMTP 3.0
    /// subscription messages. Commands are handed over whole, so the caller's input buffer
    /// must hold this much (see [`SessionConfig::min_input_capacity`]).
    pub max_command_size: usize,
    /// A data frame is announced together with at least this many of its first body bytes (or
    /// all of them, if fewer): enough for a forwarder to match topics without reassembly.
    pub head_bytes: usize,
    /// Longest subscription topic handed over whole ([`Event::Subscribe`](super::Event)); a
    /// longer one is [`Event::TopicTooLong`](super::Event), its bytes skipped as they come.
    /// [`MAX_TOPIC`] at most (more counts as that): a device's subscription table holds
    /// topics that long. A microcontroller that keeps short topics sets less, and needs an
    /// input buffer that much smaller ([`SessionConfig::min_input_capacity`]).
    pub max_topic: usize,
}

/// The most metadata a READY holds under the default command limit: 4 KiB less the command's
/// name (`\x05READY`). A CURVE or PLAIN INITIATE carries metadata that becomes such a READY
/// for the session, so they take no more than this.
pub const READY_METADATA_MAX: usize = 4096 - 6;

impl Limits {
    /// 64 MiB messages, 4 KiB commands, 256 head bytes, [`MAX_TOPIC`] topics; what
    /// [`Default`] gives.
    pub const DEFAULT: Limits = Limits {
        max_message_size: 64 << 20,
        max_command_size: 4096,
        head_bytes: 256,
        max_topic: MAX_TOPIC,
    };

    /// [`Limits::max_topic`], at most [`MAX_TOPIC`].
    pub const fn topic_limit(&self) -> usize {
        if self.max_topic < MAX_TOPIC {
            self.max_topic
        } else {
            MAX_TOPIC
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// ZMTP 3.1 heartbeats (RFC 37), with libzmq's meaning for each knob, except that a zero
/// timeout turns dead-peer detection off (libzmq falls back to the interval).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Heartbeat {
    /// Send a PING this often to peers that greeted with 3.1 or later; zero turns PINGs off.
    pub interval: Duration,
    /// After a PING, a peer that sends nothing for this long is declared dead.
    pub timeout: Duration,
    /// The TTL we ask peers to apply to us (carried in our PINGs); zero for none.
    pub ttl: Duration,
}

impl Heartbeat {
    /// The TTL to put in our PINGs, in tenths of a second.
    pub(crate) fn ttl_ds(&self) -> u16 {
        u16::try_from(self.ttl.as_millis() / 100).unwrap_or(u16::MAX)
    }

    /// No PINGs, no dead-peer detection, no TTL asked of peers: libzmq's default.
    pub const OFF: Heartbeat = Heartbeat {
        interval: Duration::ZERO,
        timeout: Duration::ZERO,
        ttl: Duration::ZERO,
    };

    /// PINGs every `interval`, a peer silent for `3 * interval` after one is dead, TTL the same.
    pub const fn every(interval: Duration) -> Heartbeat {
        let three = Duration::from_millis(interval.as_millis().saturating_mul(3));
        Heartbeat {
            interval,
            timeout: three,
            ttl: three,
        }
    }
}

/// How the session greets, and what it does with a peer older than ZMTP 3.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LegacyMode {
    /// The whole 64-byte greeting at once; a ZMTP 1.0/2.0 peer is refused as soon as its
    /// bytes show it. An old peer that waits for ours before saying its version (JeroMQ 0.3)
    /// sees a greeting it cannot read and goes without a word.
    Whole,
    /// The greeting in pieces, as libzmq 4.3 sends it (RFC 23 "Version Negotiation"): the
    /// 10-byte signature, the major version once the peer's signature is here, the rest once
    /// its version is; so an old peer says what it speaks, and is refused with that reason
    /// ([`GreetingError::Legacy`](crate::wire::greeting::GreetingError::Legacy)).
    Refuse,
    /// The greeting in pieces, and a ZMTP 2.0 peer spoken to in 2.0 (RFC 15), as libzmq 4.3
    /// downgrades: the rest of its greeting is its socket type, then an identity frame each
    /// way; no mechanism, no commands, no heartbeats, subscriptions as `0x01`/`0x00`
    /// messages. A ZMTP 1.0 peer is still refused.
    Accept,
}

/// Everything one session needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SessionConfig {
    /// The socket type we play on this connection.
    pub socket_type: SocketType,
    /// The only mechanism accepted; NULL for now.
    pub mechanism: Mechanism,
    /// The as-server bit of our greeting (meaningless for NULL, decisive for PLAIN/CURVE).
    pub as_server: bool,
    /// What the peer may send.
    pub limits: Limits,
    /// PING/PONG timing; used only with peers that greeted with ZMTP 3.1 or later.
    pub heartbeat: Heartbeat,
    /// A peer that has not finished greeting and READY within this time is dropped; zero for never.
    pub handshake_timeout: Duration,
    /// How it greets, and what it does with a ZMTP 1.0/2.0 peer.
    pub legacy: LegacyMode,
    /// A peer type refused although `socket_type` accepts it (a device's policy, e.g. a ROUTER
    /// on a queue's frontend); refused as an incompatible type is.
    pub refused_peer: Option<SocketType>,
    /// A peer type refused from a zedge (whose READY has
    /// [`ZEDGE_PROPERTY`](crate::wire::command::ZEDGE_PROPERTY)) alone: a DEALER on a queue's
    /// backend is a worker, unless it is another zedge queue's backend.
    pub refused_zedge: Option<SocketType>,
    /// Our READY names us a zedge ([`ZEDGE_PROPERTY`](crate::wire::command::ZEDGE_PROPERTY)),
    /// as a device's sockets do; an XPUB's always does.
    pub announces_zedge: bool,
}

impl SessionConfig {
    /// NULL mechanism, as-server off, default limits, heartbeats off, 10 s for the handshake,
    /// the whole greeting at once.
    pub const fn new(socket_type: SocketType) -> Self {
        SessionConfig {
            socket_type,
            mechanism: Mechanism::Null,
            as_server: false,
            limits: Limits::DEFAULT,
            heartbeat: Heartbeat::OFF,
            handshake_timeout: Duration::from_secs(10),
            legacy: LegacyMode::Whole,
            refused_peer: None,
            refused_zedge: None,
            announces_zedge: false,
        }
    }

    /// Whether a peer of type `theirs` may talk to us.
    pub fn accepts(&self, theirs: SocketType) -> bool {
        self.socket_type.accepts(theirs) && self.refused_peer != Some(theirs)
    }

    /// Smallest input buffer with which a session always makes progress: the greeting, a
    /// whole command, a whole subscription (if the socket type takes them: a
    /// [`Limits::max_topic`] topic after its command name), or a frame header with its head
    /// bytes must fit.
    pub const fn min_input_capacity(&self) -> usize {
        let mut n = GREETING_LEN;
        if self.limits.max_command_size > n {
            n = self.limits.max_command_size;
        }
        let subscription = self.limits.topic_limit() + SUBSCRIBE_NAME.len();
        if self.socket_type.takes_subscriptions() && subscription > n {
            n = subscription;
        }
        if self.limits.head_bytes > n {
            n = self.limits.head_bytes;
        }
        n.saturating_add(MAX_HEAD_LEN)
    }
}
