//! The sensor node's ZeroMQ side, over any byte stream: a PUB that zedge-core's [`Session`]
//! speaks ZMTP for, publishing only what its peer subscribed to (filtering at the source).
//!
//! A serial line has no connections: a peer that comes back (zedge reconnected to QEMU's
//! serial socket, or the node restarted) just starts sending a greeting. So the node waits
//! for what can start one (the signature's first byte, 0xFF) before it makes a session and
//! answers; a session that fails (garbage, a greeting in the middle of traffic) is dropped
//! and the search starts again one byte further on. It never answers bytes that cannot
//! begin a greeting, so garbage on the line costs nothing but the bytes.

use core::fmt::Write as _;

use heapless::{String, Vec};
use zedge_core::conn::{Event, Session, SessionConfig, TRANSMIT_BUFFER};
use zedge_core::time::Instant;
use zedge_core::wire::frame::FrameHead;
use zedge_core::wire::metadata::SocketType;

/// Subscriptions kept, and the longest topic kept (longer ones are refused, counted: the
/// session skips their bytes as they come, never holding them).
pub const SUBS: usize = 8;
pub const TOPIC: usize = 32;
/// Bytes of input the session may need at once: a whole command (READY, PING, SUBSCRIBE),
/// of at most 256 bytes here.
pub const INPUT: usize = config().min_input_capacity();
/// The longest reading.
const READING: usize = 96;

/// What the node has seen, for its log and its readings.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    /// Sessions begun (a greeting's first byte seen), and those that failed.
    pub sessions: u32,
    pub failed: u32,
    /// SUBSCRIBE and CANCEL that reached it; subscriptions it could not keep.
    pub subscribed: u32,
    pub cancelled: u32,
    pub refused: u32,
    /// Input bytes passed over while no session was under way.
    pub skipped: u32,
}

/// The node's ZMTP side; `input` is its receive buffer (at least [`INPUT`] bytes).
pub struct Node<'a> {
    session: Option<Session>,
    /// Its session has taken no input yet.
    fresh: bool,
    input: &'a mut [u8],
    len: usize,
    subs: Vec<Vec<u8, TOPIC>, SUBS>,
    /// SUBSCRIBE that reached it in this session.
    subscribed: u32,
    pub counts: Counts,
}

impl core::fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Node")
            .field("ready", &self.is_ready())
            .field("subs", &self.subs.len())
            .field("counts", &self.counts)
            .finish()
    }
}

/// Bytes of a greeting that say it is one: its signature. (libzmq and zedge send the rest
/// only once they have the other side's.)
const SIGNATURE: usize = 10;

const fn config() -> SessionConfig {
    let mut cfg = SessionConfig::new(SocketType::Pub);
    cfg.as_server = true;
    // What it takes: commands of 256 bytes (a zedge's or libzmq's READY is under 100),
    // topics of TOPIC bytes; it is sent no data, and keeps the first 64 bytes of any.
    cfg.limits.max_command_size = 256;
    cfg.limits.max_topic = TOPIC;
    cfg.limits.head_bytes = 64;
    cfg.limits.max_message_size = 256;
    // A peer that started a greeting and stopped holds the line no longer than this: the
    // next one (zedge connecting again) is heard after it.
    cfg.handshake_timeout = zedge_core::time::Duration::from_secs(2);
    // A serial line says nobody is gone: a peer that sends nothing for 3 s after a PING is
    // (attacker round 21, F1: one that left in the middle of a command held the session,
    // and took the next peer's greeting as the rest of it).
    cfg.heartbeat = zedge_core::conn::Heartbeat::every(zedge_core::time::Duration::from_secs(1));
    cfg
}

impl<'a> Node<'a> {
    pub fn new(input: &'a mut [u8]) -> Node<'a> {
        Node {
            session: None,
            fresh: false,
            input,
            len: 0,
            subs: Vec::new(),
            subscribed: 0,
            counts: Counts::default(),
        }
    }

    /// Its session's handshake is done: readings go out.
    pub fn is_ready(&self) -> bool {
        self.session.as_ref().is_some_and(Session::is_ready)
    }

    /// Room for more input now.
    pub fn room(&mut self) -> &mut [u8] {
        &mut self.input[self.len..]
    }

    /// `n` bytes were put in [`Node::room`]: handle them; what is to be sent goes to `out`.
    pub fn received(&mut self, n: usize, now: Instant, out: &mut impl FnMut(&[u8])) {
        self.len += n;
        self.new_peer_mid_session(n);
        loop {
            if self.session.is_none() && !self.find_greeting(now) {
                return;
            }
            let more = self.step(now);
            self.transmit(out);
            if !more {
                return;
            }
        }
    }

    /// A full signature in the `n` bytes just received, while a session is past its
    /// handshake, is a new peer: the one before left, perhaps in the middle of a command
    /// whose rest the session would take the new greeting for (attacker round 21, F1). The
    /// session ends, and the input before the signature goes with it.
    fn new_peer_mid_session(&mut self, n: usize) {
        if !self.is_ready() {
            return;
        }
        let from = (self.len - n).saturating_sub(SIGNATURE - 1);
        let bytes = &self.input[..self.len];
        let at = (from..self.len.saturating_sub(SIGNATURE - 1))
            .find(|&i| bytes[i] == 0xFF && bytes[i + SIGNATURE - 1] == 0x7F);
        if let Some(at) = at {
            self.counts.failed += 1;
            self.session = None;
            self.consume(at);
        }
    }

    /// Drop input up to the next ZMTP greeting's start (its signature: `FF`, eight bytes,
    /// `7F`; then a major version of 3 or more, if it is here yet); a session begins there.
    /// Bytes that may still be one wait for the rest.
    fn find_greeting(&mut self, now: Instant) -> bool {
        let bytes = &self.input[..self.len];
        let starts = |i: usize| {
            let b = &bytes[i..];
            b[0] == 0xFF && b.get(9).is_none_or(|&v| v == 0x7F) && b.get(10).is_none_or(|&v| v >= 3)
        };
        let at = (0..bytes.len()).find(|&i| starts(i));
        let drop = at.unwrap_or(self.len);
        self.consume(drop);
        self.counts.skipped += drop as u32;
        if at.is_none() || self.len < SIGNATURE {
            return false;
        }
        self.session = Some(Session::new(config(), now));
        self.fresh = true;
        self.subs.clear();
        self.subscribed = 0;
        self.counts.sessions += 1;
        true
    }

    fn consume(&mut self, n: usize) {
        self.input.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// One event of input: whether to go on.
    fn step(&mut self, now: Instant) -> bool {
        let Some(s) = self.session.as_mut() else {
            return false;
        };
        let input = match s.handle_input(&self.input[..self.len], now) {
            Ok(i) => i,
            Err(_) => {
                // Not a peer we can talk to, or not any more. What it refused was not taken:
                // it may be a new peer's greeting (zedge connected again), and the search
                // starts there; past it if it was this session's first byte.
                self.counts.failed += 1;
                self.session = None;
                if self.fresh {
                    self.consume(1.min(self.len));
                }
                return true;
            }
        };
        let (consumed, done) = (input.consumed, input.needs_more());
        self.fresh &= consumed == 0;
        match input.event {
            Some(Event::Subscribe(topic)) => {
                self.counts.subscribed += 1;
                self.subscribed += 1;
                let kept = Vec::from_slice(topic)
                    .ok()
                    .filter(|_| !self.subs.iter().any(|t| t == topic));
                let refused = match kept {
                    Some(t) => self.subs.push(t).is_err(),
                    None => topic.len() > TOPIC,
                };
                if refused {
                    self.counts.refused += 1;
                }
            }
            Some(Event::Cancel(topic)) => {
                self.counts.cancelled += 1;
                self.subs.retain(|t| t != topic);
            }
            Some(Event::TopicTooLong { .. }) => self.counts.refused += 1,
            // A PUB is sent no data; its handshake's end needs nothing of us.
            Some(Event::Ready(_) | Event::Frame(_) | Event::Body { .. }) | None => {}
        }
        self.consume(consumed);
        !done
    }

    /// What the session owes (greeting, READY, PONG, ERROR) to `out`.
    fn transmit(&mut self, out: &mut impl FnMut(&[u8])) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let mut buf = [0u8; TRANSMIT_BUFFER];
        loop {
            let n = s.poll_transmit(&mut buf);
            if n == 0 {
                return;
            }
            out(&buf[..n]);
        }
    }

    /// Timers: a handshake that never finishes ends its session, and so does a peer that
    /// answers no PING (one that left mid-command would otherwise hold it for good).
    pub fn tick(&mut self, now: Instant, out: &mut impl FnMut(&[u8])) {
        let due = self
            .session
            .as_ref()
            .and_then(Session::poll_timeout)
            .is_some_and(|t| now >= t);
        if due {
            let failed = self.session.as_mut().map(|s| s.handle_timeout(now));
            self.transmit(out);
            if let Some(Err(_)) = failed {
                self.counts.failed += 1;
                self.session = None;
                // What came meanwhile may be the next peer's greeting, and it may send
                // nothing more until it is answered (attacker round 21, F2).
                self.received(0, now, out);
            }
        }
    }

    /// Publish a reading of sensor `id` if the peer subscribed to it; whether it went.
    pub fn publish(
        &mut self,
        id: u32,
        counter: u32,
        value: u32,
        stack: usize,
        out: &mut impl FnMut(&[u8]),
    ) -> bool {
        if !self.is_ready() {
            return false;
        }
        let mut msg: String<READING> = String::new();
        let subscribed = self.subscribed;
        if write!(
            msg,
            "sensor/{id} {counter} {value} subs={subscribed} stack={stack}"
        )
        .is_err()
        {
            return false;
        }
        let wanted = self.subs.iter().any(|t| msg.as_bytes().starts_with(t));
        if !wanted {
            return false;
        }
        // Whole frames only: what the session owes goes between them.
        self.transmit(out);
        out(FrameHead::data(msg.len() as u64, false).encode().as_slice());
        out(msg.as_bytes());
        true
    }
}
