//! One ZMTP connection, either side of it: greeting, handshake, traffic, heartbeats.
//!
//! # Calling order
//!
//! A [`Session`] owns no buffers and no socket. Its caller:
//!
//! 1. creates it when a TCP/IPC connection is up, and writes what [`Session::poll_transmit`]
//!    gives (our greeting first) to the socket;
//! 2. feeds received bytes to [`Session::handle_input`] until it consumes nothing and returns
//!    no event, keeping unconsumed bytes for the next call (the input buffer must hold at least
//!    [`SessionConfig::min_input_capacity`] bytes);
//! 3. after every call, writes what `poll_transmit` gives, at a frame boundary of its own
//!    outgoing stream (commands may not cut a frame in two);
//! 4. calls [`Session::handle_timeout`] once [`Session::poll_timeout`] has passed.
//!
//! A caller that queues what `poll_transmit` gives may hold back further PONGs while the last
//! one is still queued ([`Session::hold_pongs`]): a peer that pings without reading then costs
//! one PONG, not one per PING.
//!
//! Any `Err` is final: write what `poll_transmit` still gives (an ERROR command, where the
//! protocol calls for one), then close the connection.

mod handshake;
mod traffic;
mod transmit;

#[cfg(doc)]
use super::config::MAX_TOPIC;
use super::config::{LegacyMode, SessionConfig};
use super::error::SessionError;
use super::heartbeat::Timers;
use crate::time::Instant;
use crate::wire::command::MAX_PING_CONTEXT;
use crate::wire::frame::FrameHead;
use crate::wire::greeting::{GREETING_LEN, SIGNATURE_LEN};
use crate::wire::metadata::SocketType;

/// An output buffer this large takes every command a session can owe at once (greeting,
/// READY, ERROR, PONG and PING together need less than half of it).
pub const TRANSMIT_BUFFER: usize = 256;

/// What [`Session::handle_input`] made of the input.
#[derive(Debug)]
pub struct Input<'a> {
    /// Bytes of the input used up; drop them before the next call.
    pub consumed: usize,
    /// What the consumed bytes amount to, if the caller must act on it.
    pub event: Option<Event<'a>>,
}

impl Input<'_> {
    const NEED_MORE: Input<'static> = Input {
        consumed: 0,
        event: None,
    };

    /// Nothing was consumed and nothing happened: read more before calling again.
    pub fn needs_more(&self) -> bool {
        self.consumed == 0 && self.event.is_none()
    }
}

/// Something the peer did that the caller must act on. Slices borrow the caller's input.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// The handshake finished; messages may flow both ways.
    Ready(PeerReady<'a>),
    /// A data frame starts.
    Frame(FrameStart<'a>),
    /// More body bytes of the data frame that started last.
    Body {
        /// The next body bytes, in order.
        chunk: &'a [u8],
        /// This chunk ends the frame; [`FrameStart::more`] said whether the message goes on.
        done: bool,
    },
    /// The peer subscribed to a topic (SUBSCRIBE command or 3.0 `0x01` message).
    Subscribe(&'a [u8]),
    /// The peer cancelled a subscription (CANCEL command or 3.0 `0x00` message).
    Cancel(&'a [u8]),
    /// The peer subscribed (or cancelled) with a topic longer than the session's topic limit
    /// ([`Limits::max_topic`](super::Limits), at most [`MAX_TOPIC`]): refused
    /// alone, its bytes skipped as they arrive (never buffered whole), and the session goes on.
    TopicTooLong {
        /// A subscription, not a cancellation.
        subscribe: bool,
        /// The topic's length.
        len: u64,
    },
}

/// Who the peer turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub struct PeerReady<'a> {
    /// The type its READY names, already checked against ours.
    pub socket_type: SocketType,
    /// ZMTP version we speak with this peer: 3.0, 3.1, or 2.0 with an older peer
    /// ([`LegacyMode::Accept`](crate::conn::LegacyMode::Accept)).
    pub major: u8,
    /// ZMTP minor version we speak with this peer: 0 or 1 (0 for 2.0).
    pub minor: u8,
    /// Its Identity property; empty if none.
    pub identity: &'a [u8],
    /// Its READY has [`ZEDGE_PROPERTY`](crate::wire::command::ZEDGE_PROPERTY): a zedge
    /// forwarder's backend, which holds each topic once for a broker and may refuse
    /// subscriptions past its limits.
    pub zedge: bool,
}

/// The start of a data frame: its header and its first body bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct FrameStart<'a> {
    /// More frames of the same message follow this one.
    pub more: bool,
    /// The whole body length.
    pub len: u64,
    /// At least `min(len, head_bytes)` bytes; as many as the input held, up to `len`.
    pub chunk: &'a [u8],
}

impl FrameStart<'_> {
    /// The chunk is the whole body; no `Body` events follow.
    pub fn is_whole(&self) -> bool {
        self.chunk.len() as u64 == self.len
    }
}

#[derive(Clone, Copy, Debug)]
enum State {
    Greeting {
        deadline: Option<Instant>,
    },
    Handshake {
        deadline: Option<Instant>,
        minor: u8,
    },
    Active {
        minor: u8,
    },
    Closed,
}

/// Where we are in the peer's stream of data frames.
#[derive(Clone, Copy, Debug, Default)]
struct Rx {
    body_left: u64,
    /// Bytes of a subscription with a topic over the topic limit still to
    /// skip.
    skip_left: u64,
    /// Bytes of the current multipart message so far, for the size limit.
    msg_len: u64,
    in_message: bool,
}

#[derive(Clone, Copy, Debug)]
struct PingContext {
    buf: [u8; MAX_PING_CONTEXT],
    len: u8,
}

/// Commands owed to the peer.
#[derive(Clone, Copy, Debug)]
struct Owed {
    /// Our greeting's bytes owed so far (all 64 at once, or in pieces: [`LegacyMode`]), and
    /// those written.
    greeting_due: u8,
    greeting_sent: u8,
    ready: bool,
    ping: bool,
    pong: Option<PingContext>,
    error: Option<&'static str>,
    /// A ZMTP 2.0 peer is owed the rest of our greeting (our socket type) and our identity
    /// frame (empty).
    v2_tail: bool,
}

/// One ZMTP connection; see the module docs for the calling order.
#[derive(Clone, Debug)]
pub struct Session {
    cfg: SessionConfig,
    state: State,
    rx: Rx,
    owed: Owed,
    /// `Some` while the caller holds PONGs back ([`Session::hold_pongs`]), with the latest
    /// PING's context since, if any: apart from `owed`, so checking what is owed costs nothing
    /// more.
    pongs_held: Option<Option<PingContext>>,
    timers: Timers,
    /// The handshake finished once (the session may have ended since).
    handshaken: bool,
    /// A ZMTP 2.0 peer, with the socket type its greeting gave: its handshake is its identity
    /// frame, its traffic has no commands.
    v2: Option<SocketType>,
    /// The peer's greeting was taken.
    greeted: bool,
}

impl Session {
    /// A session for a connection that came up at `now`: the handshake timeout counts from
    /// here, and our greeting is owed at once.
    pub fn new(cfg: SessionConfig, now: Instant) -> Self {
        let deadline = (!cfg.handshake_timeout.is_zero()).then(|| now + cfg.handshake_timeout);
        Session {
            cfg,
            state: State::Greeting { deadline },
            rx: Rx::default(),
            owed: Owed {
                greeting_due: match cfg.legacy {
                    LegacyMode::Whole => GREETING_LEN as u8,
                    LegacyMode::Refuse | LegacyMode::Accept => SIGNATURE_LEN as u8,
                },
                greeting_sent: 0,
                ready: false,
                ping: false,
                pong: None,
                error: None,
                v2_tail: false,
            },
            pongs_held: None,
            timers: Timers::new(now),
            handshaken: false,
            v2: None,
            greeted: false,
        }
    }

    /// A session with no connection under it: the device's own end of a pipe inside the
    /// caller (the store-and-forward spool's), active at once. No greeting or READY is sent
    /// or expected, and no heartbeat or handshake timer runs; it takes and gives data frames
    /// as a ZMTP 3.0 peer's.
    pub fn local(mut cfg: SessionConfig, now: Instant) -> Self {
        cfg.heartbeat = super::Heartbeat::OFF;
        cfg.handshake_timeout = crate::time::Duration::ZERO;
        let mut s = Session::new(cfg, now);
        s.state = State::Active { minor: 0 };
        s.owed.greeting_due = 0;
        s.handshaken = true;
        s.greeted = true;
        s
    }

    /// The config the session was created with.
    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    /// The handshake finished and the session has not ended.
    pub fn is_ready(&self) -> bool {
        matches!(self.state, State::Active { .. })
    }

    /// The handshake finished, whether or not the session has ended since.
    pub fn handshaken(&self) -> bool {
        self.handshaken
    }

    /// The session ended with an error; further input is refused with [`SessionError::Closed`].
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// The peer's greeting was not taken (it may have been refused).
    pub fn in_greeting(&self) -> bool {
        !self.greeted
    }

    /// What the peer's hanging up now says, if it tells of a refusal: one that closes the
    /// connection once it has our READY and before sending its own refused our socket type,
    /// as libzmq does (with the greeting in pieces, libzmq reads our READY with the rest of
    /// our greeting, before it sends its own).
    pub fn hang_up_reason(&self) -> Option<SessionError> {
        let ours_sent = matches!(self.state, State::Handshake { .. }) && !self.owed.ready;
        (ours_sent && self.v2.is_none()).then_some(SessionError::ClosedOnReady)
    }

    /// The peer speaks ZMTP 2.0 (its greeting said so, and the session speaks it:
    /// [`LegacyMode::Accept`]).
    pub fn is_zmtp2(&self) -> bool {
        self.v2.is_some()
    }

    /// ZMTP minor version spoken with the peer, once its greeting arrived.
    pub fn peer_minor(&self) -> Option<u8> {
        match self.state {
            State::Handshake { minor, .. } | State::Active { minor } => Some(minor),
            State::Greeting { .. } | State::Closed => None,
        }
    }

    /// End the session from outside: the layer under it failed. It counts as ended with an
    /// error ([`Session::is_closed`]).
    pub(crate) fn fail(&mut self) {
        self.state = State::Closed;
    }

    /// Body bytes of the current data frame still to come; 0 between frames.
    pub fn body_left(&self) -> u64 {
        match self.state {
            State::Active { .. } => self.rx.body_left,
            _ => 0,
        }
    }

    /// `n` body bytes of the current data frame went by without passing through
    /// [`Session::handle_input`] (the caller moved them to where they go): count them as
    /// received. `n` is capped at [`Session::body_left`]. Returns whether the frame is now
    /// complete.
    pub fn skip_body(&mut self, n: u64, now: Instant) -> bool {
        if !matches!(self.state, State::Active { .. }) || self.rx.body_left == 0 {
            return false;
        }
        let n = n.min(self.rx.body_left);
        self.rx.body_left -= n;
        if n > 0 {
            self.timers.on_rx(now);
        }
        self.rx.body_left == 0
    }

    /// The peer's input waits, unread, because the caller holds it back (a paused device):
    /// its silence is not taken for a dead peer (counted as traffic for the heartbeat and
    /// TTL timers).
    pub fn input_held(&mut self, now: Instant) {
        if matches!(self.state, State::Active { .. }) {
            self.timers.on_rx(now);
        }
    }

    /// Take in bytes from the peer; see the module docs.
    pub fn handle_input<'a>(
        &mut self,
        input: &'a [u8],
        now: Instant,
    ) -> Result<Input<'a>, SessionError> {
        let result = match self.state {
            State::Closed => return Err(SessionError::Closed),
            State::Greeting { .. } => self.on_greeting(input),
            State::Handshake { minor, .. } => self.on_handshake(input, minor, now),
            State::Active { .. } => self.on_traffic(input),
        };
        self.after_input(result, now)
    }

    /// [`Session::handle_input`] for a caller that has decoded the frame head at the start of
    /// `input` already (`head`, `head_len` bytes): between frames of an active session the
    /// head is not decoded again.
    pub(crate) fn handle_frame<'a>(
        &mut self,
        input: &'a [u8],
        head: FrameHead,
        head_len: usize,
        now: Instant,
    ) -> Result<Input<'a>, SessionError> {
        if !matches!(self.state, State::Active { .. })
            || self.rx.body_left > 0
            || self.rx.skip_left > 0
        {
            return self.handle_input(input, now);
        }
        let result = self.on_frame_head(input, head, head_len);
        self.after_input(result, now)
    }

    fn after_input<'a>(
        &mut self,
        result: Result<Input<'a>, SessionError>,
        now: Instant,
    ) -> Result<Input<'a>, SessionError> {
        match &result {
            Ok(input) if input.consumed > 0 => self.timers.on_rx(now),
            Ok(_) => {}
            Err(_) => self.state = State::Closed,
        }
        result
    }
}

#[cfg(test)]
mod tests;
