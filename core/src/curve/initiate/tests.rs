//! The whole handshake between our client and server functions, then MESSAGEs; and what a
//! hostile client can try at INITIATE and after.

use super::*;
use crate::curve::hello::{read_hello, read_welcome, write_hello, write_welcome, WelcomeRandom};
use crate::curve::message::{read_message, write_message, From, Keys, COMMAND, MORE, OVERHEAD};
use std::vec::Vec;

struct Sides {
    server: KeyPair,
    client: KeyPair,
    transient: KeyPair,
    welcome: Welcome,
    welcomed: Welcomed,
}

/// HELLO and WELCOME done, with cookie key `cookie_key`.
fn welcomed(cookie_key: [u8; 32]) -> Sides {
    let server = KeyPair::from_secret([1; 32]);
    let client = KeyPair::from_secret([2; 32]);
    let transient = KeyPair::from_secret([3; 32]);
    let mut hello = [0u8; crate::curve::hello::HELLO_LEN];
    write_hello(&server.public, &transient, 1, &mut hello).unwrap();
    let h = read_hello(&hello, &server).unwrap();
    let random = WelcomeRandom {
        transient_secret: [4; 32],
        cookie_key,
        cookie_nonce: [5; 16],
        welcome_nonce: [6; 16],
    };
    let mut w = [0u8; crate::curve::hello::WELCOME_LEN];
    write_welcome(&h, &server, &random, &mut w).unwrap();
    let welcome = read_welcome(&w, &server.public, &transient).unwrap();
    let welcomed = Welcomed {
        cookie_key,
        client_transient: h.client_transient,
        hello_nonce: h.nonce,
    };
    Sides {
        server,
        client,
        transient,
        welcome,
        welcomed,
    }
}

fn initiate(s: &Sides, server_key: &[u8; 32], nonce: u64, metadata: &[u8]) -> Vec<u8> {
    let keys = ClientKeys {
        server: server_key,
        client: &s.client,
        transient: &s.transient,
        welcome: &s.welcome,
    };
    let mut out = std::vec![0u8; INITIATE_MIN + metadata.len()];
    let n = write_initiate(&keys, nonce, &[7; 16], metadata, &mut out).unwrap();
    assert_eq!(n, out.len());
    out
}

const META: &[u8] = b"\x0bSocket-Type\x00\x00\x00\x06DEALER";

#[test]
fn a_whole_handshake_then_messages_both_ways() {
    let s = welcomed([9; 32]);
    let mut cmd = initiate(&s, &s.server.public, 2, META);
    let done = read_initiate(&mut cmd, &s.server, &s.welcomed).unwrap();
    assert_eq!(done.client, s.client.public, "the vouched long-term key");
    assert_eq!((done.nonce, done.metadata), (2, META));
    let server_session = done.session;

    let mut ready = [0u8; 64];
    let n = write_ready(
        &server_session,
        1,
        b"\x0bSocket-Type\x00\x00\x00\x06ROUTER",
        &mut ready,
    )
    .unwrap();
    let client_session = CryptoBox::new(&s.welcome.server_transient, s.transient.secret()).unwrap();
    let (nonce, meta) = read_ready(&mut ready[..n], &client_session).unwrap();
    assert_eq!(
        (nonce, meta),
        (1, &b"\x0bSocket-Type\x00\x00\x00\x06ROUTER"[..])
    );

    let (client_keys, server_keys) = (Keys::new(&client_session), Keys::new(&server_session));
    let mut m = [0u8; 64];
    let n = write_message(
        &client_keys,
        From::Client,
        3,
        MORE | 0x80,
        &[b"hel", b"", b"lo"],
        &mut m,
    )
    .unwrap();
    assert_eq!(n, OVERHEAD + 5);
    let opened = read_message(&mut m[..n], &server_keys, From::Client, 2).unwrap();
    assert_eq!(
        (opened.nonce, opened.flags, opened.body),
        (3, MORE, &b"hello"[..])
    );
    let n = write_message(
        &server_keys,
        From::Server,
        2,
        COMMAND,
        &[b"\x04PING"],
        &mut m,
    )
    .unwrap();
    let opened = read_message(&mut m[..n], &client_keys, From::Server, 1).unwrap();
    assert_eq!((opened.flags, opened.body), (COMMAND, &b"\x04PING"[..]));
}

#[test]
fn messages_replayed_reordered_forged_or_short_are_refused() {
    let s = welcomed([9; 32]);
    let mut cmd = initiate(&s, &s.server.public, 2, META);
    let server = Keys::new(
        &read_initiate(&mut cmd, &s.server, &s.welcomed)
            .unwrap()
            .session,
    );
    let client =
        Keys::new(&CryptoBox::new(&s.welcome.server_transient, s.transient.secret()).unwrap());
    let mut m = [0u8; 64];
    let n = write_message(&client, From::Client, 5, 0, &[b"x"], &mut m).unwrap();
    let sent = m;
    // Replayed (or reordered behind a later one): not greater than the last taken.
    for last in [5, 6] {
        let mut again = sent;
        assert_eq!(
            read_message(&mut again[..n], &server, From::Client, last),
            Err(CurveError::Replay)
        );
    }
    // The server's own prefix: a MESSAGE reflected back does not open.
    let mut reflected = sent;
    assert_eq!(
        read_message(&mut reflected[..n], &server, From::Server, 4),
        Err(CurveError::Box)
    );
    let mut forged = sent;
    forged[n - 1] ^= 1;
    assert_eq!(
        read_message(&mut forged[..n], &server, From::Client, 4),
        Err(CurveError::Box)
    );
    let mut short = sent;
    assert_eq!(
        read_message(&mut short[..OVERHEAD - 1], &server, From::Client, 4),
        Err(CurveError::Malformed)
    );
}

#[test]
fn another_connection_s_cookie_a_replayed_nonce_and_a_bad_vouch_are_refused() {
    let s = welcomed([9; 32]);
    // The same INITIATE at a connection whose cookie key is another.
    let mut cmd = initiate(&s, &s.server.public, 2, META);
    let elsewhere = Welcomed {
        cookie_key: [10; 32],
        ..s.welcomed
    };
    assert_eq!(
        read_initiate(&mut cmd, &s.server, &elsewhere).err(),
        Some(CurveError::Box)
    );
    // A cookie made for another HELLO's transient key.
    let mut cmd = initiate(&s, &s.server.public, 2, META);
    let other_hello = Welcomed {
        client_transient: KeyPair::from_secret([11; 32]).public,
        ..s.welcomed
    };
    assert_eq!(
        read_initiate(&mut cmd, &s.server, &other_hello).err(),
        Some(CurveError::Box)
    );
    // A nonce not past HELLO's.
    let mut cmd = initiate(&s, &s.server.public, 1, META);
    assert_eq!(
        read_initiate(&mut cmd, &s.server, &s.welcomed).err(),
        Some(CurveError::Replay)
    );
    // A vouch for another server.
    let mut cmd = initiate(&s, &KeyPair::from_secret([12; 32]).public, 2, META);
    assert_eq!(
        read_initiate(&mut cmd, &s.server, &s.welcomed).err(),
        Some(CurveError::Box)
    );
    // A byte changed anywhere in the box.
    let good = initiate(&s, &s.server.public, 2, META);
    for at in [BOX_AT, BOX_AT + 20, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 1;
        assert_eq!(
            read_initiate(&mut bad, &s.server, &s.welcomed).err(),
            Some(CurveError::Box),
            "byte {at}"
        );
    }
    // Too short, or another name.
    let mut short = good.clone();
    assert_eq!(
        read_initiate(&mut short[..INITIATE_MIN - 1], &s.server, &s.welcomed).err(),
        Some(CurveError::Malformed)
    );
    let mut named = good;
    named[1] = b'X';
    assert_eq!(
        read_initiate(&mut named, &s.server, &s.welcomed).err(),
        Some(CurveError::Malformed)
    );
}
