//! The session invariant checker: a caller that feeds a peer's stream to a [`Session`] as the
//! session's docs say (a fixed buffer that keeps what was not consumed, `poll_transmit` after
//! every call, timers fired when due) and panics on any broken invariant: a stall with a full
//! buffer, an event out of order or over the limits, body bytes that do not add up, bytes we
//! wrote that are not a greeting and whole valid commands, or a closed session that answers.
//!
//! One file for two crates: the property tests (`core/tests/properties/`) compare what it
//! saw with a model, and the `session` fuzz target (`core/fuzz/src/lib.rs` includes this file
//! by path) feeds it fuzzed streams. So it uses only `std` and zedge-core's public API.

use std::mem;

use zedge_core::conn::{Event, Limits, Session, SessionConfig, SessionError, TRANSMIT_BUFFER};
use zedge_core::time::{Duration, Instant};
use zedge_core::wire::command::Command;
use zedge_core::wire::frame::FrameHead;
use zedge_core::wire::greeting::{Greeting, GREETING_LEN};
use zedge_core::wire::metadata::SocketType;

/// What the caller saw, in the order it completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    Ready {
        theirs: SocketType,
        minor: u8,
        identity: Vec<u8>,
    },
    Message(Vec<Vec<u8>>),
    Subscribe(Vec<u8>),
    Cancel(Vec<u8>),
    /// A subscription (true) or cancellation of a topic of this length, over the topic limit
    /// ([`Limits::topic_limit`]).
    TooLong(bool, u64),
}

/// What a socket that takes subscriptions reports for one with `topic`, under `limits`.
pub fn subscription(limits: &Limits, subscribe: bool, topic: &[u8]) -> Seen {
    match (topic.len() > limits.topic_limit(), subscribe) {
        (true, _) => Seen::TooLong(subscribe, topic.len() as u64),
        (false, true) => Seen::Subscribe(topic.to_vec()),
        (false, false) => Seen::Cancel(topic.to_vec()),
    }
}

/// How a run ended, and what it saw on the way.
#[derive(Debug)]
pub struct Outcome {
    pub seen: Vec<Seen>,
    /// Contexts of the PONGs the session wrote.
    pub pongs: Vec<Vec<u8>>,
    pub end: Result<(), SessionError>,
    /// Input bytes left unconsumed when the stream ran out.
    pub leftover: usize,
}

/// How the caller reads the peer's stream.
#[derive(Clone, Copy, Debug)]
pub struct Reads<'a> {
    /// Read sizes, taken in turn and cut to the room left in the buffer.
    pub sizes: &'a [usize],
    /// Buffer bytes beyond `min_input_capacity()`.
    pub spare: usize,
    /// How far the clock moves with each read.
    pub tick: Duration,
}

/// Feed `stream` to a new session, from its first byte, until the stream runs out or the
/// session fails. Returns what was seen, the session, and the clock at the end.
pub fn run(cfg: SessionConfig, stream: &[u8], reads: Reads<'_>) -> (Outcome, Session, Instant) {
    let cap = cfg.min_input_capacity() + reads.spare;
    let mut now = Instant::ZERO;
    let mut session = Session::new(cfg, now);
    let mut watch = Watch::new(cfg.limits);
    let mut tx = Vec::new();
    let mut out = [0u8; TRANSMIT_BUFFER];
    let mut buf = Vec::with_capacity(cap);
    let (mut fed, mut count) = (0, 0);
    let end = loop {
        let n = session.poll_transmit(&mut out);
        tx.extend_from_slice(&out[..n]);
        if session.poll_timeout().is_some_and(|t| t <= now) {
            if let Err(e) = session.handle_timeout(now) {
                break Err(e);
            }
        }
        let input = match session.handle_input(&buf, now) {
            Ok(input) => input,
            Err(e) => break Err(e),
        };
        if input.needs_more() {
            if fed == stream.len() {
                break Ok(());
            }
            let room = cap - buf.len();
            assert!(room > 0, "session stalled on a full {cap}-byte buffer");
            let n = reads.sizes[count % reads.sizes.len()]
                .max(1)
                .min(room)
                .min(stream.len() - fed);
            buf.extend_from_slice(&stream[fed..fed + n]);
            fed += n;
            count += 1;
            now = now + reads.tick;
            continue;
        }
        let consumed = input.consumed;
        assert!(consumed <= buf.len(), "consumed more than it was given");
        if let Some(event) = input.event {
            watch.on_event(event);
        }
        buf.drain(..consumed);
    };
    let n = session.poll_transmit(&mut out);
    tx.extend_from_slice(&out[..n]);
    let outcome = Outcome {
        seen: watch.seen,
        pongs: pongs_in(&tx),
        end,
        leftover: buf.len(),
    };
    (outcome, session, now)
}

/// Once a session has failed, every call says so and nothing is scheduled; `again` is input
/// it would have taken before (a handshake).
pub fn assert_closed(session: &mut Session, now: Instant, again: &[u8]) {
    assert!(session.is_closed() && !session.is_ready());
    for input in [&[][..], again] {
        assert!(matches!(
            session.handle_input(input, now),
            Err(SessionError::Closed)
        ));
    }
    for at in [now, now + Duration::from_secs(1 << 20)] {
        assert_eq!(session.handle_timeout(at), Err(SessionError::Closed));
    }
    assert_eq!(session.poll_timeout(), None);
    assert_eq!(session.peer_minor(), None);
}

/// Reassembles messages from events and checks each event against the limits.
#[derive(Debug)]
struct Watch {
    limits: Limits,
    ready: bool,
    seen: Vec<Seen>,
    frames: Vec<Vec<u8>>,
    /// The frame whose body is arriving: MORE flag, announced length, body so far.
    frame: Option<(bool, u64, Vec<u8>)>,
    msg_len: u64,
}

impl Watch {
    fn new(limits: Limits) -> Self {
        Watch {
            limits,
            ready: false,
            seen: Vec::new(),
            frames: Vec::new(),
            frame: None,
            msg_len: 0,
        }
    }

    fn on_event(&mut self, event: Event<'_>) {
        let limits = self.limits;
        if self.frame.is_some() {
            assert!(
                matches!(event, Event::Body { .. }),
                "{event:?} in the middle of a frame's body"
            );
        }
        if !matches!(event, Event::Ready(_)) {
            assert!(self.ready, "{event:?} before READY");
        }
        match event {
            Event::Ready(ready) => {
                assert!(!self.ready && self.seen.is_empty(), "READY twice or late");
                assert!(ready.identity.len() <= 255);
                self.ready = true;
                self.seen.push(Seen::Ready {
                    theirs: ready.socket_type,
                    minor: ready.minor,
                    identity: ready.identity.to_vec(),
                });
            }
            Event::Frame(start) => {
                assert!(
                    start.len <= limits.max_message_size,
                    "frame of {} bytes over the limit of {}",
                    start.len,
                    limits.max_message_size
                );
                self.msg_len += start.len;
                assert!(
                    self.msg_len <= limits.max_message_size,
                    "message of {} bytes over the limit of {}",
                    self.msg_len,
                    limits.max_message_size
                );
                let chunk = start.chunk.len() as u64;
                assert!(chunk <= start.len, "chunk longer than its frame");
                assert!(
                    chunk >= start.len.min(limits.head_bytes as u64),
                    "frame announced with {chunk} of {} bytes, head_bytes is {}",
                    start.len,
                    limits.head_bytes
                );
                assert_eq!(start.is_whole(), chunk == start.len);
                self.frame = Some((start.more, start.len, start.chunk.to_vec()));
                self.end_frame_if_whole();
            }
            Event::Body { chunk, done } => {
                let Some((_, len, body)) = self.frame.as_mut() else {
                    panic!("Body event outside a frame");
                };
                assert!(!chunk.is_empty(), "empty Body event");
                body.extend_from_slice(chunk);
                assert!(body.len() as u64 <= *len, "body longer than announced");
                assert_eq!(done, body.len() as u64 == *len, "wrong done flag");
                self.end_frame_if_whole();
            }
            Event::Subscribe(topic) | Event::Cancel(topic)
                if topic.len() > limits.topic_limit() =>
            {
                panic!(
                    "{}-byte subscription over the topic limit of {}",
                    topic.len(),
                    limits.topic_limit()
                );
            }
            Event::Subscribe(topic) => self.seen.push(Seen::Subscribe(topic.to_vec())),
            Event::Cancel(topic) => self.seen.push(Seen::Cancel(topic.to_vec())),
            Event::TopicTooLong { subscribe, len } => {
                assert!(
                    len > limits.topic_limit() as u64,
                    "{len}-byte topic reported too long"
                );
                self.seen.push(Seen::TooLong(subscribe, len));
            }
        }
    }

    fn end_frame_if_whole(&mut self) {
        let Some((more, _, body)) = self
            .frame
            .take_if(|(_, len, body)| body.len() as u64 == *len)
        else {
            return;
        };
        self.frames.push(body);
        if !more {
            self.seen.push(Seen::Message(mem::take(&mut self.frames)));
            self.msg_len = 0;
        }
    }
}

/// Contexts of the PONGs in what we wrote, which must be a greeting and whole valid commands.
fn pongs_in(tx: &[u8]) -> Vec<Vec<u8>> {
    let Some(greeting) = tx.get(..GREETING_LEN) else {
        panic!("no greeting sent");
    };
    assert!(matches!(Greeting::decode(greeting), Ok(Some(_))));
    let mut pongs = Vec::new();
    let mut rest = &tx[GREETING_LEN..];
    while !rest.is_empty() {
        let (head, used) = FrameHead::decode(rest)
            .expect("we send valid frames")
            .expect("we send whole frames");
        let end = used + head.len as usize;
        assert!(head.command, "only commands before any message");
        let cmd = Command::parse(&rest[used..end]).expect("we send valid commands");
        if let Command::Pong { context } = cmd {
            pongs.push(context.to_vec());
        }
        rest = &rest[end..];
    }
    pongs
}
