//! The fuzz target's checks (`core/fuzz/fuzz_targets/curve.rs`) as property tests, so that
//! CI runs them: any bytes to any CURVE reader, no panic and nothing forged opens; any one
//! byte of a valid command changed, it no longer opens.

use proptest::prelude::*;
use std::vec::Vec;

use super::crypto::{CryptoBox, KeyPair};
use super::hello::{open_cookie, read_hello, read_welcome, write_hello, HELLO_LEN};
use super::initiate::{read_initiate, read_ready, Welcomed};
use super::message::{begin_message, read_message, write_message, From, Keys, OVERHEAD};

fn welcomed(client_transient: [u8; 32]) -> Welcomed {
    Welcomed {
        cookie_key: [9; 32],
        client_transient,
        hello_nonce: 1,
    }
}

proptest! {
    // Each case costs a few X25519 operations (slow in a debug build): 64 cases, not 256.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_bytes_to_any_reader_neither_panic_nor_open(
        body in proptest::collection::vec(any::<u8>(), 0..400),
        prefix in 0usize..4,
    ) {
        // Start some inputs with a command's name, so that they get past the first check.
        let names: [&[u8]; 4] = [b"\x05HELLO", b"\x08INITIATE", b"\x05READY", b"\x07MESSAGE"];
        let mut cmd: Vec<u8> = names[prefix].to_vec();
        cmd.extend_from_slice(&body);
        let server = KeyPair::from_secret([1; 32]);
        let client_t = KeyPair::from_secret([3; 32]);
        let _ = read_hello(&cmd, &server);
        let _ = read_welcome(&cmd, &server.public, &client_t);
        let mut c = cmd.clone();
        prop_assert!(read_initiate(&mut c, &server, &welcomed(client_t.public)).is_err());
        let session = CryptoBox::new(&server.public, client_t.secret()).unwrap();
        let mut c = cmd.clone();
        prop_assert!(read_ready(&mut c, &session).is_err());
        let mut c = cmd.clone();
        prop_assert!(read_message(&mut c, &Keys::new(&session), From::Server, 0).is_err());
        if let Ok(cookie) = <[u8; 96]>::try_from(&body[..body.len().min(96)]) {
            prop_assert!(open_cookie(&cookie, &[9; 32]).is_err());
        }
    }

    #[test]
    fn any_one_byte_of_a_hello_or_message_changed_it_no_longer_opens(
        at in 0usize..HELLO_LEN,
        flip in 1u8..=255,
        msg_at in 0usize..40,
    ) {
        let server = KeyPair::from_secret([1; 32]);
        let client_t = KeyPair::from_secret([3; 32]);
        let mut hello = [0u8; HELLO_LEN];
        write_hello(&server.public, &client_t, 1, &mut hello).unwrap();
        hello[at] ^= flip;
        // The padding (bytes 8 to 79) is in no box: libzmq does not read it either.
        prop_assert_eq!(read_hello(&hello, &server).is_ok(), (8..80).contains(&at));

        let session = Keys::new(&CryptoBox::new(&server.public, client_t.secret()).unwrap());
        let theirs = Keys::new(&CryptoBox::new(&client_t.public, server.secret()).unwrap());
        let mut m = [0u8; 64];
        let n = write_message(&session, From::Client, 2, 0, &[b"twenty-three bytes long"], &mut m)
            .unwrap();
        let at = msg_at % n;
        m[at] ^= flip;
        prop_assert!(read_message(&mut m[..n], &theirs, From::Client, 1).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The link fuzz target's checks (`core/fuzz/fuzz_targets/link.rs`): a link of either
    /// role fed any bytes, a CURVE greeting first or not, hands back ranges within its input
    /// and never completes a handshake.
    #[test]
    fn any_bytes_to_a_link_stay_in_bounds(
        server in any::<bool>(),
        greet in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        use super::link::{Link, Opened, CLIENT_RANDOM, SERVER_RANDOM, TX_ROOM};
        use crate::wire::greeting::{Greeting, Mechanism};
        let keys = KeyPair::from_secret([1; 32]);
        let mut link = if server {
            Link::server(keys, [2; SERVER_RANDOM], 1 << 16)
        } else {
            Link::client(keys, [7; 32], [3; CLIENT_RANDOM], 1 << 16)
        };
        let mut buf = Vec::new();
        if greet {
            buf.extend_from_slice(&Greeting::ours(Mechanism::Curve, !server).encode());
        }
        buf.extend_from_slice(&body);
        let mut at = 0;
        while at < buf.len() {
            let mut tx = [0u8; TX_ROOM];
            match link.open(&mut buf[at..], &mut tx, |_| true) {
                Ok(Opened::NeedMore(n)) => {
                    prop_assert!(n > buf.len() - at);
                    break;
                }
                Ok(Opened::Step(step)) => {
                    prop_assert!(step.consumed > 0 && step.consumed <= buf.len() - at);
                    prop_assert!(step.deliver.end <= step.consumed && step.sent <= TX_ROOM);
                    at += step.consumed;
                }
                Err(_) => break,
            }
        }
        prop_assert!(!link.can_seal());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A MESSAGE sealed as it goes ([`begin_message`], then [`Sealing::seal_next`] piece by
    /// piece) is the one [`write_message`] seals whole, byte for byte, wherever the frame's
    /// body is cut and however the output is handed out.
    #[test]
    fn a_message_sealed_in_pieces_is_the_one_sealed_whole(
        len in 0usize..5000,
        cuts in proptest::collection::vec(0usize..5000, 0..6),
        steps in proptest::collection::vec(1usize..700, 1..8),
        flags in any::<u8>(),
    ) {
        let a = KeyPair::from_secret([5; 32]);
        let b = KeyPair::from_secret([7; 32]);
        let session = Keys::new(&CryptoBox::new(&b.public, a.secret()).unwrap());
        let body: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (len + 1)).collect();
        at.sort_unstable();
        let mut parts: Vec<&[u8]> = Vec::new();
        let mut from = 0;
        for &c in at.iter().chain(core::iter::once(&len)) {
            parts.push(&body[from..c]);
            from = c;
        }
        let mut whole = std::vec![0u8; OVERHEAD + len];
        let n = write_message(&session, From::Server, 9, flags, &parts, &mut whole).unwrap();
        prop_assert_eq!(n, whole.len());

        let mut start = [0u8; OVERHEAD];
        let mut sealing = begin_message(&session, From::Server, 9, flags, &parts, &mut start);
        let mut out = start.to_vec();
        let (mut done, mut step) = (0, steps.iter().cycle());
        while sealing.left() > 0 {
            let mut piece = std::vec![0u8; *step.next().unwrap()];
            let k = sealing.seal_next(&body[done..], &mut piece);
            out.extend_from_slice(&piece[..k]);
            done += k;
        }
        prop_assert_eq!(out, whole);
    }
}
