//! A CURVE link, either role, fed fuzzed bytes from the peer in fuzzed pieces, and fuzzed
//! session output to send: no panic, every range it hands back within the input, and no
//! data delivered before a handshake (which fuzzed bytes cannot complete).

#![no_main]

use libfuzzer_sys::fuzz_target;
use zedge_core::curve::crypto::KeyPair;
use zedge_core::curve::link::{Link, Opened, Outgoing, CLIENT_RANDOM, SERVER_RANDOM, TX_ROOM};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let keys = KeyPair::from_secret([1; 32]);
    let mut link = if pick & 1 == 0 {
        Link::server(keys, [2; SERVER_RANDOM], 1 << 16)
    } else {
        Link::client(keys, [7; 32], [3; CLIENT_RANDOM], 1 << 16)
    };
    // The second half is what the session sends.
    let (input, plain) = rest.split_at(rest.len() / 2);
    let mut buf = input.to_vec();
    let mut at = 0;
    while at < buf.len() {
        let mut tx = [0u8; TX_ROOM];
        match link.open(&mut buf[at..], &mut tx, |_| true) {
            Ok(Opened::NeedMore(n)) => {
                assert!(n > buf.len() - at);
                break;
            }
            Ok(Opened::Step(step)) => {
                assert!(step.consumed > 0 && step.consumed <= buf.len() - at);
                assert!(step.deliver.end <= step.consumed && step.sent <= TX_ROOM);
                at += step.consumed;
            }
            Err(_) => break,
        }
    }
    assert!(!link.can_seal(), "fuzzed bytes completed a handshake");
    let mut out = vec![0u8; plain.len() + 4096];
    let mut from = 0;
    while from < plain.len() {
        match link.take_outgoing(&plain[from..], &mut out) {
            Ok(Outgoing::Taken { consumed, .. }) if consumed > 0 => from += consumed,
            _ => break,
        }
    }
});
