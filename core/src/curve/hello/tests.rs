use super::*;
use crate::wire::z85::decode_key;

/// libzmq's test server key pair (its tests/testutil_security.cpp, pyzmq's examples).
fn libzmq_server() -> KeyPair {
    let secret = decode_key(b"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6").unwrap();
    let pair = KeyPair::from_secret(secret);
    assert_eq!(
        Ok(pair.public),
        decode_key(b"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")
    );
    pair
}

fn unhex(s: &str) -> std::vec::Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The HELLO a real libzmq 4.3.5 client (pyzmq, `curve_serverkey` = libzmq's test server
/// key) sent to a raw server that greeted it as a CURVE server: the command's body, its frame
/// head (`04 c8`: a command of 200 bytes) taken off.
const LIBZMQ_HELLO: &str = "0548454c4c4f010000000000000000000000000000000000000000000000000000000000000000000000000000000000\
0000000000000000000000000000000000000000000000000000000000000000e4684d2a13217015a13fbade08861403\
de73b0127c49acfae31cb9fdf907bf3900000000000000012dfc877ae0f1347abc46771473a4c0c986df3ba66341d6e2\
4fdeacfd26ad21d4b2ba9e3fc83d5d279043e609a26543fd64150fba4df7f6ce7c5293833671b1c06b538e57ce9e1827\
85c1f71bfbb2413f";

#[test]
fn a_libzmq_client_s_hello_opens_with_the_server_s_key() {
    let cmd = unhex(LIBZMQ_HELLO);
    assert_eq!(cmd.len(), HELLO_LEN);
    let hello = read_hello(&cmd, &libzmq_server()).expect("libzmq's HELLO");
    assert_eq!(hello.nonce, 1);
    assert_eq!(hello.client_transient[..4], [0xe4, 0x68, 0x4d, 0x2a]);
    // Another server key: the box does not open.
    let other = KeyPair::from_secret([4; 32]);
    assert_eq!(read_hello(&cmd, &other), Err(CurveError::Box));
}

#[test]
fn our_hello_and_welcome_go_both_ways_and_the_cookie_comes_back() {
    let server = KeyPair::from_secret([1; 32]);
    let client_t = KeyPair::from_secret([2; 32]);
    let mut hello = [0u8; HELLO_LEN];
    write_hello(&server.public, &client_t, 1, &mut hello).unwrap();
    let h = read_hello(&hello, &server).unwrap();
    assert_eq!((h.client_transient, h.nonce), (client_t.public, 1));

    let random = WelcomeRandom {
        transient_secret: [3; 32],
        cookie_key: [4; 32],
        cookie_nonce: [5; 16],
        welcome_nonce: [6; 16],
    };
    let mut welcome = [0u8; WELCOME_LEN];
    write_welcome(&h, &server, &random, &mut welcome).unwrap();
    let w = read_welcome(&welcome, &server.public, &client_t).unwrap();
    assert_eq!(w.server_transient, KeyPair::from_secret([3; 32]).public);
    let (c, s) = open_cookie(&w.cookie, &random.cookie_key).unwrap();
    assert_eq!((c, s), (client_t.public, [3; 32]));
    // Another connection's cookie key does not open it.
    assert_eq!(open_cookie(&w.cookie, &[9; 32]), Err(CurveError::Box));
    // Nor does another client's transient key open the WELCOME.
    let other = KeyPair::from_secret([8; 32]);
    assert_eq!(
        read_welcome(&welcome, &server.public, &other),
        Err(CurveError::Box)
    );
}

#[test]
fn malformed_hellos_are_refused_before_any_box_is_opened() {
    let server = libzmq_server();
    let good = unhex(LIBZMQ_HELLO);
    assert_eq!(
        read_hello(&good[..199], &server),
        Err(CurveError::Malformed)
    );
    let mut long = good.clone();
    long.push(0);
    assert_eq!(read_hello(&long, &server), Err(CurveError::Malformed));
    let mut name = good.clone();
    name[1] = b'J';
    assert_eq!(read_hello(&name, &server), Err(CurveError::Malformed));
    let mut version = good.clone();
    version[6] = 2;
    assert_eq!(read_hello(&version, &server), Err(CurveError::Version));
    for at in [HELLO_KEY, HELLO_NONCE + 7, HELLO_BOX, HELLO_LEN - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        assert_eq!(read_hello(&bad, &server), Err(CurveError::Box), "byte {at}");
    }
    let mut low = good.clone();
    low[HELLO_KEY..HELLO_NONCE].fill(0);
    assert_eq!(read_hello(&low, &server), Err(CurveError::LowOrderKey));
    // Padding is not part of the box: libzmq does not read it either.
    let mut padded = good;
    padded[20] = 0xaa;
    assert!(read_hello(&padded, &server).is_ok());
}

#[test]
fn welcomes_of_the_wrong_length_or_name_are_refused() {
    let t = KeyPair::from_secret([2; 32]);
    let s = [0x42u8; 32];
    assert_eq!(read_welcome(&[0; 167], &s, &t), Err(CurveError::Malformed));
    let mut w = [0u8; WELCOME_LEN];
    w[..8].copy_from_slice(b"\x07WELCOMX");
    assert_eq!(read_welcome(&w, &s, &t), Err(CurveError::Malformed));
    w[..8].copy_from_slice(b"\x07WELCOME");
    assert_eq!(read_welcome(&w, &s, &t), Err(CurveError::Box));
}
