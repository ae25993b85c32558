//! Two links, each under a NULL session, talking to each other: the handshake both ways,
//! frames and commands through MESSAGE, and what a hostile peer gets.

use std::vec::Vec;

use super::*;
use crate::conn::{Event, Session, SessionConfig, TRANSMIT_BUFFER};
use crate::time::Instant;
use crate::wire::metadata::SocketType;
use crate::wire::Writer;

const SERVER_SECRET: [u8; 32] = [7; 32];
const CLIENT_SECRET: [u8; 32] = [9; 32];
const MAX: u64 = 1 << 20;

/// One end: a session, its link, and the bytes between them and the wire.
struct End {
    session: Session,
    link: Link,
    /// Ciphertext received, not taken yet.
    inbox: Vec<u8>,
    /// The session's (or the test's) plaintext, not taken yet.
    plain: Vec<u8>,
    /// The session's READY, come early.
    stash: Option<Vec<u8>>,
    /// Ciphertext to send.
    wire: Vec<u8>,
    /// Data frames and subscriptions the session reported: (more, body).
    got: Vec<(bool, Vec<u8>)>,
    ready: bool,
    /// A client key the allow-list refuses.
    deny: [u8; 32],
}

impl End {
    fn new(ty: SocketType, link: Link) -> End {
        let mut wire = Vec::new();
        wire.extend_from_slice(&link.greeting());
        End {
            session: Session::new(SessionConfig::new(ty), Instant::ZERO),
            link,
            inbox: Vec::new(),
            plain: Vec::new(),
            stash: None,
            wire,
            got: Vec::new(),
            ready: false,
            deny: [0xee; 32],
        }
    }

    /// Move the session's output through the link onto the wire.
    fn send(&mut self) -> Result<(), SessionError> {
        let mut buf = [0u8; TRANSMIT_BUFFER];
        let n = self.session.poll_transmit(&mut buf);
        self.plain.extend_from_slice(&buf[..n]);
        if self.link.owes_metadata() {
            if let Some(ready) = self.stash.take() {
                let mut out = [0u8; 1024];
                match self.link.take_outgoing(&ready, &mut out)? {
                    Outgoing::Taken { written, .. } => self.wire.extend_from_slice(&out[..written]),
                    other => panic!("stashed READY: {other:?}"),
                }
            }
        }
        let mut out = std::vec![0u8; 4096];
        while !self.plain.is_empty() {
            match self.link.take_outgoing(&self.plain, &mut out)? {
                Outgoing::NeedMore(_) => break,
                Outgoing::Early => {
                    let (head, hl) = FrameHead::decode(&self.plain).unwrap().unwrap();
                    let end = hl + head.len as usize;
                    self.stash = Some(self.plain.drain(..end).collect());
                }
                Outgoing::Taken { consumed, written } => {
                    self.wire.extend_from_slice(&out[..written]);
                    self.plain.drain(..consumed);
                }
            }
        }
        Ok(())
    }

    /// Take what came from the wire, through the link, into the session.
    fn receive(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        self.inbox.extend_from_slice(bytes);
        loop {
            let mut tx = [0u8; TX_ROOM];
            let step = match self
                .link
                .open(&mut self.inbox, &mut tx, |k| *k != self.deny)?
            {
                Opened::NeedMore(_) => return Ok(()),
                Opened::Step(step) => step,
            };
            self.wire.extend_from_slice(&tx[..step.sent]);
            let mut plain = &self.inbox[step.deliver.clone()];
            while !plain.is_empty() {
                let input = self.session.handle_input(plain, Instant::ZERO)?;
                assert!(input.consumed > 0, "whole units go to the session");
                match input.event {
                    Some(Event::Ready(_)) => self.ready = true,
                    Some(Event::Frame(f)) => self.got.push((f.more, f.chunk.to_vec())),
                    Some(Event::Subscribe(t)) => self.got.push((false, [b"+", t].concat())),
                    _ => {}
                }
                plain = &plain[input.consumed..];
            }
            self.inbox.drain(..step.consumed);
        }
    }
}

fn server() -> Link {
    Link::server(KeyPair::from_secret(SERVER_SECRET), [3; SERVER_RANDOM], MAX)
}

fn client_of(server: [u8; 32]) -> Link {
    Link::client(
        KeyPair::from_secret(CLIENT_SECRET),
        server,
        [5; CLIENT_RANDOM],
        MAX,
    )
}

fn server_public() -> [u8; 32] {
    KeyPair::from_secret(SERVER_SECRET).public
}

/// Run both ends until neither has anything to send.
fn run(a: &mut End, b: &mut End) -> Result<(), SessionError> {
    for _ in 0..20 {
        a.send()?;
        b.send()?;
        if a.wire.is_empty() && b.wire.is_empty() {
            return Ok(());
        }
        let ab = core::mem::take(&mut a.wire);
        let ba = core::mem::take(&mut b.wire);
        b.receive(&ab)?;
        a.receive(&ba)?;
    }
    panic!("no quiet after 20 rounds");
}

fn frame(more: bool, body: &[u8]) -> Vec<u8> {
    let head = FrameHead {
        more,
        command: false,
        len: body.len() as u64,
    }
    .encode();
    [head.as_slice(), body].concat()
}

fn pair() -> (End, End) {
    let mut c = End::new(SocketType::Dealer, client_of(server_public()));
    let mut s = End::new(SocketType::Router, server());
    run(&mut c, &mut s).unwrap();
    assert!(c.ready && s.ready, "both sessions saw READY");
    (c, s)
}

#[test]
fn handshake_and_frames_both_ways() {
    let (mut c, mut s) = pair();
    assert_eq!(
        s.link.client_key(),
        Some(&KeyPair::from_secret(CLIENT_SECRET).public)
    );
    c.plain.extend(frame(true, b"head"));
    c.plain.extend(frame(false, &[0x55; 3000]));
    s.plain.extend(frame(false, b"reply"));
    run(&mut c, &mut s).unwrap();
    assert_eq!(
        s.got,
        [(true, b"head".to_vec()), (false, std::vec![0x55; 3000])]
    );
    assert_eq!(c.got, [(false, b"reply".to_vec())]);
}

#[test]
fn commands_travel_sealed() {
    let mut c = End::new(SocketType::Sub, client_of(server_public()));
    let mut s = End::new(SocketType::XPub, server());
    run(&mut c, &mut s).unwrap();
    let mut sub = Vec::new();
    let mut w = [0u8; 64];
    let mut writer = Writer::new(&mut w);
    crate::wire::command::write_subscribe(&mut writer, b"topic").unwrap();
    let n = writer.len();
    sub.extend_from_slice(&w[..n]);
    c.plain.extend_from_slice(&sub);
    c.send().unwrap();
    assert!(
        !c.wire.windows(5).any(|w| w == b"topic"),
        "the subscription is not in the clear"
    );
    run(&mut c, &mut s).unwrap();
    assert_eq!(s.got, [(false, b"+topic".to_vec())]);
}

#[test]
fn wrong_server_key_fails_at_hello() {
    let mut c = End::new(SocketType::Dealer, client_of([1; 32]));
    let mut s = End::new(SocketType::Router, server());
    let e = run(&mut c, &mut s).unwrap_err();
    assert_eq!(e, SessionError::Curve(CurveError::Box));
}

#[test]
fn denied_client_is_refused_after_initiate() {
    let mut c = End::new(SocketType::Dealer, client_of(server_public()));
    let mut s = End::new(SocketType::Router, server());
    s.deny = KeyPair::from_secret(CLIENT_SECRET).public;
    assert_eq!(
        run(&mut c, &mut s).unwrap_err(),
        SessionError::Curve(CurveError::Denied)
    );
    let mut tx = [0u8; 64];
    let n = Link::write_error(b"400", &mut tx);
    assert_eq!(&tx[..n], b"\x04\x0a\x05ERROR\x03400");
    assert_eq!(
        c.receive(&tx[..n]).unwrap_err(),
        SessionError::PeerError(Reason::new(b"400"))
    );
}

#[test]
fn null_peer_is_refused() {
    let mut s = End::new(SocketType::Router, server());
    let null = Greeting::ours(Mechanism::Null, false).encode();
    assert_eq!(
        s.receive(&null).unwrap_err(),
        SessionError::MechanismMismatch {
            ours: Mechanism::Curve,
            theirs: Mechanism::Null
        }
    );
}

/// The last MESSAGE the client sent, once the session is up.
fn sealed_message(c: &mut End, s: &mut End) -> Vec<u8> {
    c.plain.extend(frame(false, b"secret"));
    c.send().unwrap();
    let m = core::mem::take(&mut c.wire);
    s.receive(&m).unwrap();
    m
}

#[test]
fn replayed_message_is_refused() {
    let (mut c, mut s) = pair();
    let m = sealed_message(&mut c, &mut s);
    assert_eq!(
        s.receive(&m).unwrap_err(),
        SessionError::Curve(CurveError::Replay)
    );
}

#[test]
fn tampered_message_is_refused() {
    let (mut c, mut s) = pair();
    c.plain.extend(frame(false, b"secret"));
    c.send().unwrap();
    let mut m = core::mem::take(&mut c.wire);
    let last = m.len() - 1;
    m[last] ^= 1;
    assert_eq!(
        s.receive(&m).unwrap_err(),
        SessionError::Curve(CurveError::Box)
    );
    assert!(
        s.got.is_empty(),
        "nothing of a forged frame reaches the session"
    );
}

#[test]
fn oversized_frame_is_refused_from_its_header() {
    let (mut c, mut s) = pair();
    let _ = &mut c;
    let mut head = [0u8; 9];
    head[0] = 0x02;
    head[1..].copy_from_slice(&(MAX + 1).to_be_bytes());
    assert!(matches!(
        s.receive(&head).unwrap_err(),
        SessionError::MessageTooLarge { .. }
    ));
}

#[test]
fn data_before_the_handshake_is_refused() {
    let mut s = End::new(SocketType::Router, server());
    let mut bytes = Greeting::ours(Mechanism::Curve, false).encode().to_vec();
    bytes.extend(frame(false, b"hello?"));
    assert_eq!(
        s.receive(&bytes).unwrap_err(),
        SessionError::Curve(CurveError::Malformed)
    );
}

#[test]
fn cut_input_at_every_byte_gives_the_same_frames() {
    let mut c = End::new(SocketType::Dealer, client_of(server_public()));
    let mut s = End::new(SocketType::Router, server());
    // Handshake and a message, delivered to the server one byte at a time.
    let mut sent = false;
    for _ in 0..10 {
        if c.ready && !sent {
            c.plain.extend(frame(false, b"one byte at a time"));
            sent = true;
        }
        c.send().unwrap();
        let ab = core::mem::take(&mut c.wire);
        for b in ab.chunks(1) {
            s.receive(b).unwrap();
        }
        s.send().unwrap();
        let ba = core::mem::take(&mut s.wire);
        c.receive(&ba).unwrap();
    }
    assert_eq!(s.got, [(false, b"one byte at a time".to_vec())]);
}

#[test]
fn a_large_handshake_command_is_refused_from_its_header() {
    let mut s = End::new(SocketType::Router, server());
    let mut bytes = Greeting::ours(Mechanism::Curve, false).encode().to_vec();
    // A command frame announcing 1 MiB where HELLO goes: refused before it is buffered.
    bytes.push(0x06);
    bytes.extend_from_slice(&(1u64 << 20).to_be_bytes());
    assert!(matches!(
        s.receive(&bytes).unwrap_err(),
        SessionError::CommandTooLarge { .. }
    ));
}
