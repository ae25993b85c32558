//! The 1.0 layer under a NULL session, against the bytes libzmq 4.3 sends to and takes from a
//! 1.0 peer ([`vectors`], `tools/capture_v1.py`), fed whole and a byte at a time, and hostile
//! identity frames and headers.

use std::vec::Vec;

use super::*;
use crate::conn::session::Event;
use crate::conn::{Session, SessionConfig};
use crate::time::Instant;

use super::vectors;

/// What the session made of the peer's bytes.
#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    /// The peer's socket type, version and identity, once ready.
    ready: Option<(SocketType, u8, u8, Vec<u8>)>,
    /// Whole messages, frame by frame.
    messages: Vec<Vec<Vec<u8>>>,
    subscribed: Vec<Vec<u8>>,
}

/// The session's side of a connection whose peer speaks 1.0: what the layer hands on of the
/// peer's bytes (the caller's room kept before them), fed to a session of type `ours`.
struct Side {
    link: Link,
    session: Session,
    buf: Vec<u8>,
    at: usize,
    /// Handed on, not taken by the session yet.
    pending: Vec<u8>,
    seen: Seen,
    frame: Vec<u8>,
    frame_more: bool,
    message: Vec<Vec<u8>>,
}

impl Side {
    fn new(ours: SocketType, peer: SocketType, max_frame: u64) -> Side {
        Side {
            link: Link::new(peer, max_frame, SIGNATURE_LEN),
            session: Session::new(SessionConfig::new(ours), Instant::ZERO),
            buf: std::vec![0u8; PREAMBLE_ROOM],
            at: 0,
            pending: Vec::new(),
            seen: Seen::default(),
            frame: Vec::new(),
            frame_more: false,
            message: Vec::new(),
        }
    }

    /// The peer's `bytes` come: every unit the layer can take is handed to the session.
    fn feed(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        self.buf.extend_from_slice(bytes);
        loop {
            let step = match self.link.open(&mut self.buf[self.at..])? {
                Opened::NeedMore(n) => {
                    assert!(n > self.buf.len() - self.at, "asks for {n}, has more");
                    return Ok(());
                }
                Opened::Step(step) => step,
            };
            assert!(step.deliver.end <= step.consumed && step.sent == 0);
            let at = self.at;
            self.pending
                .extend_from_slice(&self.buf[at + step.deliver.start..at + step.deliver.end]);
            self.at += step.consumed;
            self.take()?;
        }
    }

    /// The session takes what it can of what was handed on.
    fn take(&mut self) -> Result<(), SessionError> {
        let mut used = 0;
        while used < self.pending.len() {
            let input = self
                .session
                .handle_input(&self.pending[used..], Instant::ZERO)?;
            if input.needs_more() {
                break;
            }
            used += input.consumed;
            match input.event {
                Some(Event::Ready(r)) => {
                    let id = r.identity.to_vec();
                    self.seen.ready = Some((r.socket_type, r.major, r.minor, id));
                }
                Some(Event::Frame(f)) => {
                    (self.frame, self.frame_more) = (f.chunk.to_vec(), f.more);
                    if f.is_whole() {
                        self.end_frame();
                    }
                }
                Some(Event::Body { chunk, done }) => {
                    self.frame.extend_from_slice(chunk);
                    if done {
                        self.end_frame();
                    }
                }
                Some(Event::Subscribe(t)) => self.seen.subscribed.push(t.to_vec()),
                Some(e) => panic!("{e:?}"),
                None => {}
            }
        }
        self.pending.drain(..used);
        Ok(())
    }

    fn end_frame(&mut self) {
        self.message.push(core::mem::take(&mut self.frame));
        if !self.frame_more {
            self.seen.messages.push(core::mem::take(&mut self.message));
        }
    }
}

/// Feed `bytes` whole, and again a byte at a time: the session sees the same either way.
fn seen(ours: SocketType, peer: SocketType, bytes: &[u8]) -> Seen {
    let mut whole = Side::new(ours, peer, 1 << 20);
    whole.feed(bytes).unwrap();
    let mut bytewise = Side::new(ours, peer, 1 << 20);
    for b in bytes {
        bytewise.feed(core::slice::from_ref(b)).unwrap();
    }
    assert_eq!(whole.seen, bytewise.seen);
    whole.seen
}

fn long_body() -> Vec<u8> {
    (0..=255u8).chain(core::iter::repeat_n(0, 44)).collect()
}

fn msgs(m: &[&[&[u8]]]) -> Vec<Vec<Vec<u8>>> {
    m.iter()
        .map(|m| m.iter().map(|f| f.to_vec()).collect())
        .collect()
}

#[test]
fn the_frames_libzmq_takes_from_a_1_0_peer_reach_the_session_as_3_0_ones() {
    let s = seen(SocketType::Pull, SocketType::Push, vectors::FRAMES_TO_PULL);
    assert_eq!(s.ready, Some((SocketType::Push, 3, 0, Vec::new())));
    let long = long_body();
    let x = [b'x'; 253];
    let y = [b'y'; 254];
    assert_eq!(
        s.messages,
        msgs(&[&[b"hello"], &[b"a", &long], &[&x], &[&y]])
    );
}

#[test]
fn a_1_0_peer_s_identity_is_its_ready_s() {
    // libzmq's ROUTER routes by it.
    let s = seen(SocketType::Router, SocketType::Dealer, vectors::TO_ROUTER);
    assert_eq!(s.ready, Some((SocketType::Dealer, 3, 0, b"R7".to_vec())));
    assert_eq!(s.messages, msgs(&[&[b"", b"ask"]]));
}

#[test]
fn what_libzmq_sends_a_1_0_peer_is_what_the_layer_takes() {
    // libzmq's own bytes to a 1.0 peer: its signature is the header of an identity frame
    // (of length 1 or, with routing id C1, 3), and the frames after it 1.0 ones.
    let s = seen(SocketType::Pull, SocketType::Push, vectors::PUSH_SENDS);
    let (long, x, y) = (long_body(), [b'x'; 253], [b'y'; 254]);
    assert_eq!(
        s.messages,
        msgs(&[&[b"hello"], &[b"a", &long], &[&x], &[&y]])
    );
    let s = seen(
        SocketType::Router,
        SocketType::Dealer,
        vectors::DEALER_C1_SENDS,
    );
    assert_eq!(s.ready, Some((SocketType::Dealer, 3, 0, b"C1".to_vec())));
    assert_eq!(s.messages, msgs(&[&[b"", b"req"]]));
}

#[test]
fn a_1_0_subscriber_is_taken_to_subscribe_to_everything() {
    // It filters for itself and sends no subscription: libzmq's XPUB reads one for it.
    let s = seen(SocketType::XPub, SocketType::Sub, &[0x01, 0x00]);
    assert_eq!(s.ready, Some((SocketType::Sub, 3, 0, Vec::new())));
    assert_eq!(s.subscribed, [Vec::<u8>::new()]);
}

/// What the layer sends for the session's `plain` output, fed whole and in pieces.
fn sent(plain: &[u8]) -> Vec<u8> {
    let mut whole = Vec::new();
    for piece in [plain.len(), 1] {
        let mut link = Link::new(SocketType::Pull, 1 << 20, 4);
        let (mut out, mut at, mut given) = (Vec::new(), 4, 4);
        while at < plain.len() {
            given = (given + piece).min(plain.len()).max(at);
            let mut room = std::vec![0u8; link.out_room(given - at)];
            match link.take_outgoing(&plain[at..given], &mut room).unwrap() {
                Outgoing::Taken { consumed, written } => {
                    out.extend_from_slice(&room[..written]);
                    at += consumed;
                }
                Outgoing::NeedMore(n) => assert!(n > given - at && given < plain.len()),
                Outgoing::Early => panic!("early"),
            }
        }
        if piece == 1 {
            assert_eq!(out, whole, "in pieces");
        }
        whole = out;
    }
    whole
}

#[test]
fn the_session_s_output_goes_as_libzmq_s_does_to_a_1_0_peer() {
    // A PUSH session's greeting and READY, then its messages: what libzmq's PUSH sends, its
    // signature first (the first four bytes of which went before the layer came).
    let mut plain = Greeting::ours(Mechanism::Null, false).encode().to_vec();
    let mut ready = [0u8; 64];
    let mut w = Writer::new(&mut ready);
    write_ready(&mut w, SocketType::Push, b"").unwrap();
    let n = w.len();
    plain.extend_from_slice(&ready[..n]);
    let (long, x, y) = (long_body(), [b'x'; 253], [b'y'; 254]);
    for m in msgs(&[&[b"hello"], &[b"a", &long], &[&x], &[&y]]) {
        for (i, f) in m.iter().enumerate() {
            let head = FrameHead::data(f.len() as u64, i + 1 < m.len()).encode();
            plain.extend_from_slice(head.as_slice());
            plain.extend_from_slice(f);
        }
    }
    // A command after READY (none goes to a 3.0 peer, but one would be dropped).
    plain.extend_from_slice(&[0x04, 0x05, 0x04, b'P', b'I', b'N', b'G']);
    assert_eq!(sent(&plain), vectors::PUSH_SENDS[4..]);
}

#[test]
fn hostile_identity_frames_are_refused_before_their_bodies() {
    let refused = |bytes: &[u8]| {
        let mut side = Side::new(SocketType::Pull, SocketType::Push, 1 << 20);
        let e = side.feed(bytes).unwrap_err();
        assert_eq!(side.feed(b"\x02\x00a"), Err(SessionError::Closed), "ended");
        e
    };
    // The longest 1.0 length announced: nothing of it is waited for.
    let mut maximal = std::vec![0xff; 9];
    maximal.push(0x00);
    assert_eq!(refused(&maximal), SessionError::IdentityTooLong);
    let just_over = [&[0xff][..], &257u64.to_be_bytes(), &[0x00]].concat();
    assert_eq!(refused(&just_over), SessionError::IdentityTooLong);
    assert_eq!(
        refused(&[0x00, 0x00]),
        SessionError::Greeting(GreetingError::BadSignature),
        "a length of 0"
    );
    // The longest identity taken.
    let mut side = Side::new(SocketType::Router, SocketType::Dealer, 1 << 20);
    let id = [0x61; MAX_IDENTITY];
    side.feed(&[&[0xff][..], &256u64.to_be_bytes(), &[0x00], &id].concat())
        .unwrap();
    assert_eq!(side.seen.ready.map(|r| r.3), Some(id.to_vec()));
}

#[test]
fn a_frame_over_the_limit_is_refused_from_its_header() {
    let mut side = Side::new(SocketType::Pull, SocketType::Push, 1000);
    side.feed(&[0x01, 0x00]).unwrap();
    let at_limit = [&[0xff][..], &1001u64.to_be_bytes(), &[0x00], &[7; 1000]].concat();
    side.feed(&at_limit).unwrap();
    assert_eq!(side.seen.messages, [[[7; 1000].to_vec()]]);
    let over = [&[0xff][..], &1002u64.to_be_bytes(), &[0x00]].concat();
    assert_eq!(
        side.feed(&over),
        Err(SessionError::MessageTooLarge {
            len: 1001,
            limit: 1000
        })
    );
    let mut side = Side::new(SocketType::Pull, SocketType::Push, 1 << 20);
    side.feed(&[0x01, 0x00]).unwrap();
    assert_eq!(
        side.feed(&[0x00, 0x00]),
        Err(SessionError::Frame(FrameError::NoFlags))
    );
}

#[test]
fn headers_round_trip_at_every_length_edge() {
    for body in [0u64, 1, 253, 254, 255, 256, 65_535, 1 << 32, u64::MAX - 1] {
        for more in [false, true] {
            let mut out = [0u8; MAX_V1_HEAD_LEN];
            let n = V1Head::encode(body, more, &mut out).unwrap();
            assert_eq!(n, if body < 254 { 2 } else { 10 });
            let head = V1Head::decode(&out[..n]).unwrap().unwrap();
            assert_eq!((head.body, head.more, head.len), (body, more, n));
            assert_eq!(V1Head::decode(&out[..n - 1]), Ok(None));
        }
    }
    assert_eq!(V1Head::encode(u64::MAX, false, &mut [0; 10]), None);
    assert_eq!(V1Head::encode(300, false, &mut [0; 9]), None);
}
