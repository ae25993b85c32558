//! Sessions against captured libzmq bytes, and subscriptions at and over the topic limit.

use std::string::String;
use std::vec::Vec;
use std::{format, vec};

use super::*;
use crate::conn::{SessionError, MAX_TOPIC};
use crate::wire::frame::MAX_HEAD_LEN;
use crate::wire::{vectors, Writer};

/// An XPUB session that has read a libzmq SUB's greeting and READY.
fn xpub_after_handshake() -> Session {
    after_handshake(SessionConfig::new(SocketType::XPub))
}

/// A session of `cfg` (a socket a SUB may talk to) after a SUB's greeting and READY.
fn after_handshake(cfg: SessionConfig) -> Session {
    let mut s = Session::new(cfg, Instant::ZERO);
    let mut stream = std::vec::Vec::from(vectors::GREETING_31);
    stream.extend_from_slice(vectors::READY_SUB);
    let mut at = 0;
    let mut ready = false;
    while at < stream.len() {
        let input = s.handle_input(&stream[at..], Instant::ZERO).unwrap();
        ready |= matches!(
            input.event,
            Some(Event::Ready(PeerReady {
                socket_type: SocketType::Sub,
                minor: 1,
                ..
            }))
        );
        at += input.consumed;
    }
    assert!(ready);
    s
}

fn event_of(s: &mut Session, bytes: &[u8]) -> std::string::String {
    let input = s.handle_input(bytes, Instant::ZERO).unwrap();
    assert_eq!(input.consumed, bytes.len(), "one whole unit");
    std::format!("{:?}", input.event)
}

#[test]
fn libzmq_subscriptions_in_both_forms() {
    let mut s = xpub_after_handshake();
    assert_eq!(
        event_of(&mut s, vectors::SUBSCRIBE_CMD_31),
        "Some(Subscribe([119, 101, 97, 116, 104, 101, 114]))"
    );
    assert_eq!(
        event_of(&mut s, vectors::CANCEL_CMD_31),
        "Some(Cancel([119, 101, 97, 116, 104, 101, 114]))"
    );
    assert_eq!(
        event_of(&mut s, vectors::SUBSCRIBE_MSG_30),
        "Some(Subscribe([119, 101, 97, 116, 104, 101, 114]))"
    );
    assert_eq!(
        event_of(&mut s, vectors::CANCEL_MSG_30),
        "Some(Cancel([119, 101, 97, 116, 104, 101, 114]))"
    );
    // libzmq's XSUB sends the message form even over 3.1.
    assert_eq!(
        event_of(&mut s, vectors::XSUB_SUB_31),
        "Some(Subscribe([110, 101, 119, 115]))"
    );
    assert_eq!(
        event_of(&mut s, vectors::XSUB_CANCEL_31),
        "Some(Cancel([110, 101, 119, 115]))"
    );
}

#[test]
fn answers_a_libzmq_style_ping_with_the_pong_libzmq_sends() {
    let mut s = xpub_after_handshake();
    let mut out = [0u8; TRANSMIT_BUFFER];
    let n = s.poll_transmit(&mut out);
    assert!(n > 0, "greeting and READY owed");
    assert_eq!(event_of(&mut s, vectors::PING_CTX), "None");
    let n = s.poll_transmit(&mut out);
    assert_eq!(&out[..n], vectors::PONG_CTX);
    // A PING from libzmq with TTL 2 s: the TTL now bounds the peer's silence.
    assert_eq!(event_of(&mut s, vectors::PING_DEALER), "None");
    assert_eq!(s.poll_timeout(), Some(Instant::from_millis(2000)));
}

/// While the caller holds PONGs back, PINGs owe one PONG, for the latest of them, written once
/// it lets go.
#[test]
fn held_pongs_answer_the_latest_ping_once() {
    let mut s = xpub_after_handshake();
    let mut out = [0u8; TRANSMIT_BUFFER];
    s.poll_transmit(&mut out);
    assert_eq!(event_of(&mut s, vectors::PING_DEALER), "None");
    s.hold_pongs(true);
    assert_eq!(event_of(&mut s, vectors::PING_CTX), "None");
    assert!(!s.pong_due() && !s.wants_transmit());
    assert_eq!(s.poll_transmit(&mut out), 0);
    s.hold_pongs(false);
    assert!(s.pong_due() && s.wants_transmit());
    let n = s.poll_transmit(&mut out);
    assert_eq!(&out[..n], vectors::PONG_CTX, "one PONG, the latest context");
    assert!(!s.wants_transmit());
}

/// A subscription with a `len`-byte topic of `fill`, in the 3.1 command form or the 3.0
/// message form.
fn subscription(command: bool, len: usize, fill: u8) -> Vec<u8> {
    let mut buf = vec![0u8; len + 32];
    let mut w = Writer::new(&mut buf);
    if command {
        crate::wire::command::write_subscribe(&mut w, &vec![fill; len]).unwrap();
    } else {
        let head = FrameHead::data(len as u64 + 1, false);
        w.put(head.encode().as_slice()).unwrap();
        w.put(&[0x01]).unwrap();
        w.put(&vec![fill; len]).unwrap();
    }
    let n = w.len();
    buf.truncate(n);
    buf
}

/// Feed `stream` through a buffer of `min_input_capacity` bytes, `chunk` bytes per read, as
/// a caller does; the events seen, as text.
fn events_through_min_buffer(s: &mut Session, stream: &[u8], chunk: usize) -> Vec<String> {
    let cap = s.config().min_input_capacity();
    let (mut buf, mut fed, mut seen) = (Vec::new(), 0, Vec::new());
    loop {
        let input = s.handle_input(&buf, Instant::ZERO).unwrap();
        if input.needs_more() {
            if fed == stream.len() {
                return seen;
            }
            let n = chunk.min(cap - buf.len()).min(stream.len() - fed);
            assert!(n > 0, "stalled on a full {cap}-byte buffer");
            buf.extend_from_slice(&stream[fed..fed + n]);
            fed += n;
            continue;
        }
        seen.extend(input.event.map(|e| match e {
            Event::Subscribe(t) => format!("sub {} x{:02x}", t.len(), t[0]),
            other => format!("{other:?}"),
        }));
        let consumed = input.consumed;
        buf.drain(..consumed);
    }
}

#[test]
fn subscriptions_past_the_command_limit_up_to_the_topic_limit_are_taken_whole() {
    for command in [true, false] {
        let mut s = xpub_after_handshake();
        assert!(s.config().min_input_capacity() >= MAX_TOPIC + 10 + MAX_HEAD_LEN);
        let mut stream = subscription(command, 5000, b'a');
        stream.extend(subscription(command, MAX_TOPIC, b'b'));
        stream.extend(subscription(command, 1, b'c'));
        assert_eq!(
            events_through_min_buffer(&mut s, &stream, 1000),
            ["sub 5000 x61", &format!("sub {MAX_TOPIC} x62"), "sub 1 x63"],
            "command form: {command}"
        );
    }
}

#[test]
fn a_topic_over_the_limit_is_skipped_as_it_arrives_and_the_session_goes_on() {
    for command in [true, false] {
        let mut s = xpub_after_handshake();
        let mut stream = subscription(command, 20_000, b'x');
        stream.extend(subscription(command, 3, b'y'));
        let seen = events_through_min_buffer(&mut s, &stream, 700);
        assert_eq!(
            seen,
            ["TopicTooLong { subscribe: true, len: 20000 }", "sub 3 x79"],
            "command form: {command}"
        );
        assert!(s.is_ready());
    }
    // A long CANCEL likewise.
    let mut s = xpub_after_handshake();
    let mut cancel = vec![0u8; MAX_TOPIC + 64];
    let mut w = Writer::new(&mut cancel);
    crate::wire::command::write_cancel(&mut w, &[b'z'; MAX_TOPIC + 1]).unwrap();
    let n = w.len();
    let seen = events_through_min_buffer(&mut s, &cancel[..n], 4096);
    let want = format!(
        "TopicTooLong {{ subscribe: false, len: {} }}",
        MAX_TOPIC + 1
    );
    assert_eq!(seen, [want]);
}

/// A microcontroller's PUB keeps short topics (issue 16): a smaller topic limit takes a
/// smaller input buffer, and a longer topic is refused alone, in either form.
#[test]
fn a_session_with_a_short_topic_limit_needs_a_small_buffer_and_skips_longer_topics() {
    let mut cfg = SessionConfig::new(SocketType::Pub);
    cfg.limits.max_topic = 32;
    cfg.limits.max_command_size = 256;
    cfg.limits.head_bytes = 64;
    assert_eq!(cfg.min_input_capacity(), 256 + MAX_HEAD_LEN);
    for command in [true, false] {
        let mut s = after_handshake(cfg);
        let mut stream = subscription(command, 32, b'a');
        stream.extend(subscription(command, 33, b'b'));
        stream.extend(subscription(command, 5000, b'c'));
        stream.extend(subscription(command, 1, b'd'));
        assert_eq!(
            events_through_min_buffer(&mut s, &stream, 100),
            [
                "sub 32 x61",
                "TopicTooLong { subscribe: true, len: 33 }",
                "TopicTooLong { subscribe: true, len: 5000 }",
                "sub 1 x64"
            ],
            "command form: {command}"
        );
        assert!(s.is_ready());
    }
    // More than a device's limit counts as that.
    cfg.limits.max_topic = usize::MAX;
    assert_eq!(cfg.limits.topic_limit(), MAX_TOPIC);
}

#[test]
fn other_commands_keep_the_command_limit() {
    let mut s = xpub_after_handshake();
    let mut buf = vec![0u8; 5000];
    let mut w = Writer::new(&mut buf);
    w.put(FrameHead::command(4200).encode().as_slice()).unwrap();
    w.put(b"\x05HELLO").unwrap();
    let n = w.len();
    assert_eq!(
        s.handle_input(&buf[..n], Instant::ZERO).unwrap_err(),
        SessionError::CommandTooLarge {
            len: 4200,
            limit: 4096
        }
    );
    // A socket that takes no subscriptions gives SUBSCRIBE no more room than other commands.
    let pull = SessionConfig::new(SocketType::Pull);
    assert!(pull.min_input_capacity() < MAX_TOPIC);
}

/// A session that greets in pieces ([`LegacyMode::Refuse`]).
fn split(socket_type: SocketType) -> Session {
    let cfg = SessionConfig {
        legacy: crate::conn::LegacyMode::Refuse,
        ..SessionConfig::new(socket_type)
    };
    Session::new(cfg, Instant::ZERO)
}

fn sent(s: &mut Session) -> Vec<u8> {
    let mut out = [0u8; TRANSMIT_BUFFER];
    let n = s.poll_transmit(&mut out);
    out[..n].to_vec()
}

/// Greeting in pieces, as libzmq 4.3 sends it (notes/zmtp-legacy, captured): the 10-byte
/// signature at once; the major version once the peer's signature is here; the rest once its
/// version is. Fed byte by byte, nothing more goes out between; then the handshake goes on.
#[test]
fn a_split_greeting_goes_out_as_the_peers_bytes_call_for_it() {
    let mut s = split(SocketType::XPub);
    let ours = crate::wire::greeting::Greeting::ours(crate::wire::greeting::Mechanism::Null, false)
        .encode();
    assert_eq!(sent(&mut s), &ours[..10]);
    let peer = vectors::GREETING_31;
    for n in 1..GREETING_LEN {
        let input = s.handle_input(&peer[..n], Instant::ZERO).unwrap();
        assert_eq!(input.consumed, 0, "prefix {n}");
        let want: &[u8] = match n {
            10 => &ours[10..11],
            11 => &ours[11..],
            _ => &[],
        };
        assert_eq!(sent(&mut s), want, "after {n} bytes of the peer's");
    }
    let input = s.handle_input(peer, Instant::ZERO).unwrap();
    assert_eq!(input.consumed, GREETING_LEN);
    assert!(sent(&mut s)
        .ends_with(b"\x05READY\x0bSocket-Type\x00\x00\x00\x04XPUB\x07X-Zedge\x00\x00\x00\x011"));
    assert_eq!(
        event_of(&mut s, vectors::READY_SUB).get(..10),
        Some("Some(Ready")
    );
    assert!(s.is_ready());
}

/// A peer that sends its whole greeting at once (zmq.rs, zedge's own sessions) is answered
/// with the whole of ours, as before.
#[test]
fn a_split_greeting_answers_a_whole_one_whole() {
    let mut s = split(SocketType::Pull);
    let _ = sent(&mut s);
    let input = s.handle_input(vectors::GREETING_31, Instant::ZERO).unwrap();
    assert_eq!(input.consumed, GREETING_LEN);
    let out = sent(&mut s);
    let ours = crate::wire::greeting::Greeting::ours(crate::wire::greeting::Mechanism::Null, false)
        .encode();
    assert_eq!(&out[..GREETING_LEN - 10], &ours[10..]);
    assert!(
        out[GREETING_LEN - 10..].starts_with(&[0x04]),
        "READY follows"
    );
}

/// An old peer says what it speaks, and is refused with it: a ZMTP 2.0 peer (JeroMQ 0.3's
/// bytes) at its revision byte, having had our signature and major version; a ZMTP 1.0 peer
/// at its identity frame's flags; HTTP at its second byte, as not ZeroMQ.
#[test]
fn old_peers_are_refused_with_what_they_speak() {
    use crate::wire::greeting::{Detected, GreetingError};
    let jeromq = [0xff, 0, 0, 0, 0, 0, 0, 0, 0x03, 0x7f, 0x01, 0x08];
    let mut s = split(SocketType::Pull);
    assert_eq!(sent(&mut s).len(), 10);
    assert_eq!(
        s.handle_input(&jeromq[..10], Instant::ZERO)
            .unwrap()
            .consumed,
        0
    );
    assert_eq!(sent(&mut s), [0x03]);
    let e = s.handle_input(&jeromq[..11], Instant::ZERO).unwrap_err();
    assert_eq!(
        e,
        SessionError::Greeting(GreetingError::Legacy(Detected::V2))
    );
    assert!(
        format!("{e}").contains("ZMTP 2.0 (libzmq 3.x, JeroMQ 0.3"),
        "{e}"
    );
    assert!(s.is_closed());
    assert_eq!(sent(&mut s), b"", "nothing more for it");

    let versioned = [0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7f, 0x00, 0x08];
    let e = split(SocketType::Pull).handle_input(&versioned, Instant::ZERO);
    assert_eq!(
        e.unwrap_err(),
        SessionError::Greeting(GreetingError::Legacy(Detected::V1Versioned))
    );

    // libzmq 2.x: its identity frame (empty: length 1, flags 0) is its first bytes.
    let mut s = split(SocketType::Pull);
    assert!(s.handle_input(&[0x01], Instant::ZERO).unwrap().consumed == 0);
    let e = s.handle_input(&[0x01, 0x00], Instant::ZERO).unwrap_err();
    assert_eq!(
        e,
        SessionError::Greeting(GreetingError::Legacy(Detected::V1))
    );
    assert!(format!("{e}").contains("ZMTP 1.0"), "{e}");
    // A long identity: ff, its length in 8 bytes, then flags with bit 0 clear.
    let long = [0xff, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
    let e = split(SocketType::Pull).handle_input(&long, Instant::ZERO);
    assert_eq!(
        e.unwrap_err(),
        SessionError::Greeting(GreetingError::Legacy(Detected::V1))
    );

    for junk in [
        &b"GET / HTTP/1.1\r\n"[..],
        &[0x16, 0x03, 0x01, 0x02],
        &[0x00, 0x00],
    ] {
        let e = split(SocketType::Pull).handle_input(junk, Instant::ZERO);
        assert_eq!(
            e.unwrap_err(),
            SessionError::Greeting(GreetingError::BadSignature),
            "{junk:02x?}"
        );
    }
}

/// A peer that stops after its signature, or after its version, is timed out as any
/// greeting that stops.
#[test]
fn a_split_greeting_that_stops_is_timed_out() {
    for n in [0, 10, 11, 12, 40] {
        let mut s = split(SocketType::Push);
        let _ = s
            .handle_input(&vectors::GREETING_31[..n], Instant::ZERO)
            .unwrap();
        let at = s.poll_timeout().expect("a deadline");
        assert!(at <= Instant::ZERO + crate::time::Duration::from_secs(10));
        assert_eq!(
            s.handle_timeout(at),
            Err(SessionError::HandshakeTimeout),
            "stopped after {n}"
        );
    }
}

/// A ZMTP 2.0 peer spoken to in 2.0 ([`LegacyMode::Accept`]): its 12 bytes all at once (as
/// JeroMQ 0.3 sends them) are answered with our major version (its revision for it), our
/// socket type and an empty identity frame, nothing else (no READY, no PING ever); its
/// identity frame makes it ready as ZMTP 2.0; its messages and ours go in 3.0's framing; a
/// command frame from it is refused.
#[test]
fn a_zmtp_2_peer_is_spoken_to_in_2_0() {
    let cfg = SessionConfig {
        legacy: crate::conn::LegacyMode::Accept,
        heartbeat: crate::conn::Heartbeat::every(crate::time::Duration::from_millis(100)),
        ..SessionConfig::new(SocketType::Pull)
    };
    let mut s = Session::new(cfg, Instant::ZERO);
    assert_eq!(sent(&mut s).len(), 10);
    let jeromq = [0xff, 0, 0, 0, 0, 0, 0, 0, 0x03, 0x7f, 0x01, 0x08];
    let input = s.handle_input(&jeromq, Instant::ZERO).unwrap();
    assert_eq!(input.consumed, 12);
    assert_eq!(
        sent(&mut s),
        [0x03, SocketType::Pull.zmtp2_code(), 0x00, 0x00]
    );
    assert!(!s.is_ready(), "its identity frame is still to come");
    let identity = [0x00, 0x02, b'C', b'1'];
    let input = s.handle_input(&identity, Instant::ZERO).unwrap();
    assert_eq!(input.consumed, 4);
    match input.event {
        Some(Event::Ready(r)) => assert_eq!(
            (r.socket_type, r.major, r.minor, r.identity),
            (SocketType::Push, 2, 0, &b"C1"[..])
        ),
        other => panic!("{other:?}"),
    }
    assert!(s.is_ready() && s.is_zmtp2());
    let later = Instant::ZERO + crate::time::Duration::from_secs(5);
    let _ = s.handle_timeout(later);
    assert_eq!(sent(&mut s), b"", "no PING to a 2.0 peer");
    assert_eq!(s.poll_timeout(), None, "no heartbeat timer either");
    let input = s
        .handle_input(&[0x00, 0x03, b'j', b'o', b'b'], later)
        .unwrap();
    assert!(matches!(input.event, Some(Event::Frame(f)) if f.chunk == b"job"));
    let e = s.handle_input(&[0x04, 0x05, 0x04, b'P', b'I', b'N', b'G'], later);
    assert_eq!(e.unwrap_err(), SessionError::UnexpectedCommand);
}

/// A 2.0 peer whose type cannot talk to ours, or unknown, or whose identity is longer than
/// 255 bytes, is refused; and one that stops before its identity frame is timed out (libzmq
/// waits for ever).
#[test]
fn a_zmtp_2_peer_is_checked_as_a_3_x_one() {
    let accept = || {
        let cfg = SessionConfig {
            legacy: crate::conn::LegacyMode::Accept,
            ..SessionConfig::new(SocketType::Pull)
        };
        Session::new(cfg, Instant::ZERO)
    };
    let greeting = |ty: u8| [0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7f, 0x01, ty];
    let pub_greeting = greeting(SocketType::Pub.zmtp2_code());
    let e = accept()
        .handle_input(&pub_greeting, Instant::ZERO)
        .map(|i| i.consumed);
    assert!(
        matches!(e, Err(SessionError::IncompatibleSocketType { .. })),
        "{e:?}"
    );
    let unknown = greeting(0x63);
    let e = accept()
        .handle_input(&unknown, Instant::ZERO)
        .map(|i| i.consumed);
    assert_eq!(e.unwrap_err(), SessionError::UnknownSocketType);
    let mut s = accept();
    s.handle_input(&greeting(8), Instant::ZERO).unwrap();
    let mut long = std::vec![0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x00];
    long.extend([b'x'; 256]);
    assert_eq!(
        s.handle_input(&long, Instant::ZERO).unwrap_err(),
        SessionError::IdentityTooLong
    );
    let mut s = accept();
    s.handle_input(&greeting(8), Instant::ZERO).unwrap();
    let at = s.poll_timeout().expect("the handshake deadline runs on");
    assert_eq!(s.handle_timeout(at), Err(SessionError::HandshakeTimeout));
}

/// A peer that hangs up once it has our READY, before sending its own, refused our socket
/// type as libzmq does (with the greeting in pieces libzmq reads our READY with the rest of
/// our greeting, before it sends its own READY): its hang-up says so. Before our READY went,
/// or from a ZMTP 2.0 peer (no READY), a hang-up says nothing.
#[test]
fn a_hang_up_on_our_ready_tells_of_a_socket_type_refused() {
    let mut s = split(SocketType::Pub);
    let _ = sent(&mut s);
    assert_eq!(s.hang_up_reason(), None, "in its greeting");
    s.handle_input(vectors::GREETING_31, Instant::ZERO).unwrap();
    assert_eq!(s.hang_up_reason(), None, "our READY not written yet");
    assert!(sent(&mut s).ends_with(b"PUB"));
    assert_eq!(s.hang_up_reason(), Some(SessionError::ClosedOnReady));
    s.handle_input(vectors::READY_SUB, Instant::ZERO).unwrap();
    assert_eq!(s.hang_up_reason(), None, "its handshake is done");
}

use crate::conn::v1::vectors as legacy_vectors;

/// What the session sends a ZMTP 2.0 peer, byte for byte what libzmq 4.3 sends it
/// (`tools/capture_v1.py`): our signature; our major version once the peer's signature is
/// here; our socket type and an empty identity frame once its revision and type are.
#[test]
fn a_2_0_peer_gets_what_libzmq_sends_it() {
    let cfg = SessionConfig {
        legacy: crate::conn::LegacyMode::Accept,
        ..SessionConfig::new(SocketType::Push)
    };
    let mut s = Session::new(cfg, Instant::ZERO);
    let mut out = sent(&mut s);
    let peer = [0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7f];
    assert_eq!(s.handle_input(&peer, Instant::ZERO).unwrap().consumed, 0);
    out.extend(sent(&mut s));
    assert_eq!(out, legacy_vectors::PUSH_TO_V2[..11]);
    let greeting = [&peer[..], &[0x01, 0x07]].concat();
    let input = s.handle_input(&greeting, Instant::ZERO).unwrap();
    assert_eq!(input.consumed, 12);
    out.extend(sent(&mut s));
    assert_eq!(out, legacy_vectors::PUSH_TO_V2[..14]);
    let input = s.handle_input(&[0x00, 0x00], Instant::ZERO).unwrap();
    assert!(matches!(input.event, Some(Event::Ready(r)) if r.major == 2));
}
