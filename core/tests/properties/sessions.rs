//! Sessions: any split of a valid stream reads the same, limits are enforced from headers,
//! and garbage is survived, from the start or after the handshake.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use crate::caller::{config, run};
use crate::model::model;
use crate::session_check::assert_closed;
use crate::strategies::{chunks, encode, garbage, limits, peer, units};
use crate::{cases, NOW};
use zedge_core::conn::Limits;
use zedge_core::wire::metadata::SocketType;

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn any_split_of_a_valid_stream_reads_the_same(
        peer in peer(),
        head_bytes in prop_oneof![0usize..300, 0usize..3000],
        units in units(),
        chunks in chunks(),
        spare in prop_oneof![Just(0usize), 0usize..5000],
    ) {
        let limits = Limits { head_bytes, ..Limits::DEFAULT };
        let want = model(&peer, limits, &units);
        // Only a long SUBSCRIBE or CANCEL to a socket that takes none breaks a limit here.
        prop_assume!(want.end.is_ok());
        let mut stream = peer.handshake();
        stream.extend(encode(&units));
        let (got, session) = run(config(peer.ours, limits), &stream, &chunks, spare);
        prop_assert_eq!(got.end, Ok(()));
        prop_assert_eq!(got.seen, want.seen);
        prop_assert_eq!(got.pongs, want.pongs);
        prop_assert_eq!(got.leftover, 0);
        prop_assert!(session.is_ready());
        prop_assert_eq!(session.peer_minor(), Some(peer.minor.min(1)));
    }

    #[test]
    fn limits_are_enforced_from_headers(
        peer in peer(),
        limits in limits(),
        units in units(),
        chunks in chunks(),
        spare in 0usize..2000,
    ) {
        let want = model(&peer, limits, &units);
        let mut stream = peer.handshake();
        stream.extend(encode(&units));
        let (got, mut session) = run(config(peer.ours, limits), &stream, &chunks, spare);
        prop_assert_eq!(got.end, want.end);
        prop_assert_eq!(got.seen, want.seen);
        prop_assert_eq!(got.pongs, want.pongs);
        if want.end.is_err() {
            assert_closed(&mut session, NOW, &peer.handshake());
        } else {
            prop_assert_eq!(got.leftover, 0);
        }
    }

    #[test]
    fn garbage_after_the_handshake_is_survived(
        peer in peer(),
        limits in limits(),
        garbage in garbage(),
        chunks in chunks(),
        spare in 0usize..2000,
    ) {
        let mut stream = peer.handshake();
        stream.extend(garbage);
        let (got, mut session) = run(config(peer.ours, limits), &stream, &chunks, spare);
        if got.end.is_err() {
            assert_closed(&mut session, NOW, &peer.handshake());
        }
    }

    #[test]
    fn garbage_from_the_start_is_survived(
        peer in peer(),
        // Our own type, or any type at all (mostly refused at READY).
        ours in prop::option::of(prop::sample::select(&SocketType::ALL[..])),
        limits in limits(),
        // Pure noise, or a valid stream with a few bytes changed.
        noise in vec(any::<u8>(), 0..3000),
        units in units(),
        flips in vec((any::<Index>(), any::<u8>()), 0..4),
        use_noise in any::<bool>(),
        chunks in chunks(),
        spare in 0usize..2000,
    ) {
        let stream = if use_noise {
            noise
        } else {
            let mut stream = peer.handshake();
            stream.extend(encode(&units));
            for (at, byte) in flips {
                let at = at.index(stream.len());
                stream[at] = byte;
            }
            stream
        };
        let ours = ours.unwrap_or(peer.ours);
        let (got, mut session) = run(config(ours, limits), &stream, &chunks, spare);
        if got.end.is_err() {
            assert_closed(&mut session, NOW, &peer.handshake());
        }
    }
}
