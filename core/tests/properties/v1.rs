//! The ZMTP 1.0 layer (`conn::v1`): any split of a 1.0 stream of messages reaches a session
//! as those messages; any bytes after an identity frame make no panic, and after an error
//! every call fails; what goes out of a session in 3.x comes back through a 1.0 layer whole.

use proptest::collection::vec;
use proptest::prelude::*;

use crate::cases;
use zedge_core::conn::layer::{Opened, Outgoing};
use zedge_core::conn::v1::{Link, V1Head, MAX_V1_HEAD_LEN, PREAMBLE_ROOM};
use zedge_core::conn::{Event, Session, SessionConfig, SessionError};
use zedge_core::time::Instant;
use zedge_core::wire::frame::FrameHead;
use zedge_core::wire::greeting::{Greeting, Mechanism, SIGNATURE_LEN};
use zedge_core::wire::metadata::SocketType;

const MAX: u64 = 4096;

fn v1_frame(body: &[u8], more: bool) -> Vec<u8> {
    let mut head = [0u8; MAX_V1_HEAD_LEN];
    let n = V1Head::encode(body.len() as u64, more, &mut head).expect("a header");
    [&head[..n], body].concat()
}

/// Feed `stream` to a layer in pieces of the given sizes (cycled), the delivered bytes to a
/// PULL session: the messages it saw, or the first error.
fn through(stream: &[u8], pieces: &[usize]) -> Result<Vec<Vec<Vec<u8>>>, SessionError> {
    let mut link = Link::new(SocketType::Push, MAX, SIGNATURE_LEN);
    let mut session = Session::new(SessionConfig::new(SocketType::Pull), Instant::ZERO);
    let mut buf = vec![0u8; PREAMBLE_ROOM];
    let (mut at, mut given, mut pending) = (0, 0, Vec::new());
    let (mut msgs, mut msg, mut frame, mut more) = (Vec::new(), Vec::new(), Vec::new(), false);
    let mut i = 0;
    while given < stream.len() {
        let n = pieces[i % pieces.len()].max(1).min(stream.len() - given);
        i += 1;
        buf.extend_from_slice(&stream[given..given + n]);
        given += n;
        loop {
            let step = match link.open(&mut buf[at..]) {
                Ok(Opened::NeedMore(_)) => break,
                Ok(Opened::Step(step)) => step,
                Err(e) => {
                    // Failed, it stays failed.
                    assert_eq!(link.open(&mut buf[at..]), Err(SessionError::Closed));
                    return Err(e);
                }
            };
            assert!(step.deliver.end <= step.consumed && step.consumed <= buf.len() - at);
            pending.extend_from_slice(&buf[at + step.deliver.start..at + step.deliver.end]);
            at += step.consumed;
            let mut used = 0;
            while used < pending.len() {
                let input = session.handle_input(&pending[used..], Instant::ZERO)?;
                if input.needs_more() {
                    break;
                }
                used += input.consumed;
                let done = match input.event {
                    Some(Event::Frame(f)) => {
                        (frame, more) = (f.chunk.to_vec(), f.more);
                        f.is_whole()
                    }
                    Some(Event::Body { chunk, done }) => {
                        frame.extend_from_slice(chunk);
                        done
                    }
                    _ => false,
                };
                if done {
                    msg.push(std::mem::take(&mut frame));
                    if !more {
                        msgs.push(std::mem::take(&mut msg));
                    }
                }
            }
            pending.drain(..used);
        }
    }
    Ok(msgs)
}

fn messages() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
    let part = prop_oneof![
        vec(any::<u8>(), 0..4),
        vec(any::<u8>(), 250..260),
        vec(any::<u8>(), 0..600)
    ];
    vec(vec(part, 1..4), 0..6)
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn every_split_of_a_1_0_stream_reaches_the_session_as_its_messages(
        identity in vec(any::<u8>(), 0..=255),
        msgs in messages(),
        pieces in vec(1usize..700, 1..8),
    ) {
        let mut stream = v1_frame(&identity, false);
        for m in &msgs {
            for (i, f) in m.iter().enumerate() {
                stream.extend(v1_frame(f, i + 1 < m.len()));
            }
        }
        prop_assert_eq!(through(&stream, &pieces), Ok(msgs));
    }

    #[test]
    fn any_bytes_after_an_identity_make_no_panic(
        bytes in vec(any::<u8>(), 0..2000),
        pieces in vec(1usize..300, 1..8),
    ) {
        let stream = [v1_frame(b"", false), bytes].concat();
        let whole = through(&stream, &[stream.len()]);
        prop_assert_eq!(through(&stream, &pieces), whole);
    }

    #[test]
    fn a_session_s_frames_go_out_as_1_0_ones(
        msgs in messages(),
        pieces in vec(1usize..700, 1..8),
    ) {
        // What a session sends: its greeting (whose signature is our identity frame's header
        // to a 1.0 peer), then frames, and a command after each message.
        let mut plain = Greeting::ours(Mechanism::Null, true).encode().to_vec();
        for m in &msgs {
            for (i, f) in m.iter().enumerate() {
                plain.extend_from_slice(FrameHead::data(f.len() as u64, i + 1 < m.len()).encode().as_slice());
                plain.extend_from_slice(f);
            }
            plain.extend_from_slice(&[0x04, 0x05, 0x04, b'P', b'I', b'N', b'G']);
        }
        let mut link = Link::new(SocketType::Pull, MAX, 0);
        let (mut out, mut at, mut given, mut i) = (Vec::new(), 0, 0, 0);
        while at < plain.len() {
            given = (given + pieces[i % pieces.len()]).min(plain.len()).max(at);
            i += 1;
            let mut room = vec![0u8; link.out_room(given - at)];
            match link.take_outgoing(&plain[at..given], &mut room) {
                Ok(Outgoing::Taken { consumed, written }) => {
                    out.extend_from_slice(&room[..written]);
                    at += consumed;
                }
                Ok(Outgoing::NeedMore(n)) => prop_assert!(n > given - at),
                other => prop_assert!(false, "{:?}", other),
            }
        }
        prop_assert_eq!(&out[..SIGNATURE_LEN], &plain[..SIGNATURE_LEN]);
        let back = through(&out, &[1000]);
        prop_assert_eq!(back, Ok(msgs));
    }
}
