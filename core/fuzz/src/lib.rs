//! The caller the fuzz targets play: a reader with a fixed buffer, fed in chunks, that checks
//! every event against the session's limits and panics on any broken invariant.

use zedge_core::conn::{
    Event, Heartbeat, Limits, Session, SessionConfig, SessionError, MAX_TOPIC,
};
use zedge_core::time::{Duration, Instant};
use zedge_core::wire::command;
use zedge_core::wire::greeting::{Greeting, Mechanism};
use zedge_core::wire::metadata::SocketType;
use zedge_core::wire::Writer;

/// A greeting and a READY from a peer our socket type accepts.
pub fn handshake(ours: SocketType) -> Vec<u8> {
    let theirs = SocketType::ALL
        .into_iter()
        .find(|t| ours.accepts(*t))
        .expect("every type has a peer type");
    let mut bytes = Greeting::ours(Mechanism::Null, false).encode().to_vec();
    let mut buf = [0u8; 128];
    let mut w = Writer::new(&mut buf);
    command::write_ready(&mut w, theirs, b"fuzz").expect("READY fits");
    let n = w.len();
    bytes.extend_from_slice(&buf[..n]);
    bytes
}

/// Feed `stream` to a fresh session in reads of at most `setup.chunk` bytes into a buffer of
/// `min_input_capacity()` bytes, with the clock moving 10 ms per read and timers fired when
/// due. Panics if any invariant breaks; returns how the session ended.
pub fn drive(setup: Setup, stream: &[u8]) -> Result<(), SessionError> {
    let Setup { cfg, chunk } = setup;
    let tick = Duration::from_millis(10);
    let cap = cfg.min_input_capacity();
    let mut now = Instant::ZERO;
    let mut session = Session::new(cfg, now);
    let mut watch = Watch::new(cfg.limits);
    let mut out = [0u8; 512];
    let mut buf = Vec::with_capacity(cap);
    let mut fed = 0;
    let end = loop {
        session.poll_transmit(&mut out);
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
            let n = chunk.max(1).min(room).min(stream.len() - fed);
            buf.extend_from_slice(&stream[fed..fed + n]);
            fed += n;
            now = now + tick;
            continue;
        }
        let consumed = input.consumed;
        assert!(consumed <= buf.len(), "consumed more than it was given");
        if let Some(event) = input.event {
            watch.on_event(event);
        }
        buf.drain(..consumed);
    };
    if end.is_err() {
        assert_closed(&mut session, now);
    }
    end
}

fn assert_closed(session: &mut Session, now: Instant) {
    assert!(session.is_closed() && !session.is_ready());
    assert!(matches!(
        session.handle_input(&[], now),
        Err(SessionError::Closed)
    ));
    let again = handshake(SocketType::Pair);
    assert!(matches!(
        session.handle_input(&again, now),
        Err(SessionError::Closed)
    ));
    assert_eq!(session.handle_timeout(now), Err(SessionError::Closed));
    assert_eq!(session.poll_timeout(), None);
}

/// Tracks frames and messages across events and checks each against the limits.
struct Watch {
    limits: Limits,
    ready: bool,
    /// Body bytes still owed for the current frame, and whether it has MORE.
    frame: Option<(u64, bool)>,
    msg_len: u64,
}

impl Watch {
    fn new(limits: Limits) -> Self {
        Watch {
            limits,
            ready: false,
            frame: None,
            msg_len: 0,
        }
    }

    fn on_event(&mut self, event: Event<'_>) {
        let limits = self.limits;
        if self.frame.is_some() {
            assert!(
                matches!(event, Event::Body { .. }),
                "{event:?} inside a frame's body"
            );
        }
        if !matches!(event, Event::Ready(_)) {
            assert!(self.ready, "{event:?} before READY");
        }
        match event {
            Event::Ready(ready) => {
                assert!(!self.ready, "READY twice");
                assert!(ready.identity.len() <= 255);
                self.ready = true;
            }
            Event::Frame(start) => {
                assert!(
                    start.len <= limits.max_message_size,
                    "frame over the message limit"
                );
                self.msg_len += start.len;
                assert!(
                    self.msg_len <= limits.max_message_size,
                    "message over the limit"
                );
                let chunk = start.chunk.len() as u64;
                assert!(chunk <= start.len, "chunk longer than its frame");
                assert!(
                    chunk >= start.len.min(limits.head_bytes as u64),
                    "too few head bytes"
                );
                self.frame = Some((start.len - chunk, start.more));
                self.end_frame_if_whole();
            }
            Event::Body { chunk, done } => {
                let Some((left, _)) = self.frame.as_mut() else {
                    panic!("Body outside a frame");
                };
                assert!(!chunk.is_empty(), "empty Body");
                assert!(chunk.len() as u64 <= *left, "body longer than announced");
                *left -= chunk.len() as u64;
                assert_eq!(done, *left == 0, "wrong done flag");
                self.end_frame_if_whole();
            }
            Event::Subscribe(topic) | Event::Cancel(topic) => {
                assert!(topic.len() <= MAX_TOPIC, "subscription over the topic limit");
            }
            Event::TopicTooLong { len, .. } => {
                assert!(len > MAX_TOPIC as u64, "a topic within the limit refused");
            }
        }
    }

    fn end_frame_if_whole(&mut self) {
        if let Some((0, more)) = self.frame {
            self.frame = None;
            if !more {
                self.msg_len = 0;
            }
        }
    }
}

/// Read sizes the second nibble of the control byte picks from.
const CHUNKS: [usize; 16] = [
    1,
    2,
    3,
    5,
    7,
    8,
    13,
    31,
    64,
    100,
    255,
    256,
    511,
    1000,
    4096,
    usize::MAX,
];

/// What the three control bytes at the start of a fuzz input pick.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    pub cfg: SessionConfig,
    pub chunk: usize,
}

impl Setup {
    /// Byte 0: socket type (low nibble), read size (high nibble). Byte 1: message limit (low
    /// nibble, x 20) and command limit (high nibble, x 10), small so fuzzed lengths cross them
    /// both ways. Byte 2: head bytes (low 7 bits, x 4) and heartbeats on (bit 7).
    pub fn from_bytes(control: [u8; 3]) -> Self {
        let [kind, limits, extra] = control;
        let ours = SocketType::ALL[usize::from(kind & 0x0f) % SocketType::ALL.len()];
        let heartbeat = if extra & 0x80 != 0 {
            Heartbeat::every(Duration::from_millis(300))
        } else {
            Heartbeat::OFF
        };
        let cfg = SessionConfig {
            limits: Limits {
                max_message_size: u64::from(limits & 0x0f) * 20,
                max_command_size: usize::from(limits >> 4) * 10,
                head_bytes: usize::from(extra & 0x7f) * 4,
            },
            heartbeat,
            ..SessionConfig::new(ours)
        };
        Setup {
            cfg,
            chunk: CHUNKS[usize::from(kind >> 4)],
        }
    }
}
