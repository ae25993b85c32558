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
    let mut s = Session::new(SessionConfig::new(SocketType::XPub), Instant::ZERO);
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
