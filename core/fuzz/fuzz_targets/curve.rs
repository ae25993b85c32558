//! CURVE's commands on fuzzed bytes, at every state of both roles: no panic, and nothing
//! that is not a valid command opens. The first byte picks the state; the rest is the
//! command's body (name first), as the peer would send it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use zedge_core::curve::crypto::{CryptoBox, KeyPair};
use zedge_core::curve::hello::{open_cookie, read_hello, read_welcome, COOKIE_LEN};
use zedge_core::curve::initiate::{read_initiate, read_ready, Welcomed};
use zedge_core::curve::message::{read_message, From, Keys};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let server = KeyPair::from_secret([1; 32]);
    let client_t = KeyPair::from_secret([3; 32]);
    let mut cmd = body.to_vec();
    match pick % 6 {
        0 => {
            let _ = read_hello(body, &server);
        }
        1 => {
            let _ = read_welcome(body, &server.public, &client_t);
        }
        2 => {
            let welcomed = Welcomed {
                cookie_key: [9; 32],
                client_transient: client_t.public,
                hello_nonce: 1,
            };
            if let Ok(done) = read_initiate(&mut cmd, &server, &welcomed) {
                // Only a cookie sealed under the key opens: fuzzed bytes never do.
                panic!("a fuzzed INITIATE opened: {:?}", done.client);
            }
        }
        3 => {
            let session = CryptoBox::new(&server.public, client_t.secret()).unwrap();
            assert!(read_ready(&mut cmd, &session).is_err());
        }
        4 => {
            let session = CryptoBox::new(&server.public, client_t.secret()).unwrap();
            assert!(read_message(&mut cmd, &Keys::new(&session), From::Server, 0).is_err());
        }
        _ => {
            if let Ok(cookie) = <[u8; COOKIE_LEN]>::try_from(body) {
                assert!(open_cookie(&cookie, &[9; 32]).is_err());
            }
        }
    }
});
