//! Peers older than ZMTP 3.0 (issue 17, first step): zedge greets in pieces as libzmq 4.3 does
//! (the 10-byte signature; its major version once the peer's signature is here; the rest once
//! the peer's version says 3.x), so that a ZMTP 2.0 peer (JeroMQ 0.3, a real implementation,
//! Debian's `libjeromq-java`) says what it speaks and is refused with that reason, at the
//! default level (aggregated) and at debug with the bytes it sent. Beside every abuse a normal
//! libzmq flow must get every message.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use zedge_core::wire::greeting::{Greeting, Mechanism};
use zedge_tests::broker::Broker;
use zedge_tests::curve::Keys;
use zedge_tests::flow::{Flow, FlowSpec};
use zedge_tests::jeromq::Jeromq;
use zedge_tests::raw;
use zedge_tests::wait::{deadline, until};

/// A ZMTP signature as libzmq and JeroMQ send it (an empty identity's length in its padding).
const SIGNATURE: [u8; 10] = [0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7f];

/// What JeroMQ 0.3's PUSH sends before it is refused: its signature, revision 1, type 8.
const JEROMQ_PUSH: &str = "ff 00 00 00 00 00 00 00 01 7f 01 08";

/// Everything the broker sends on `s` until it goes quiet for `quiet`.
fn read_quiet(s: &mut TcpStream, quiet: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    s.set_read_timeout(Some(quiet)).expect("set read timeout");
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// The raw peers' part, on the broker's frontend: what zedge sends as each of the peer's
/// bytes comes, for a broker whose greeting names `mechanism`.
fn greeting_in_pieces(broker: &Broker, mechanism: Mechanism) {
    let ours = Greeting::ours(mechanism, true).encode();
    let quiet = Duration::from_millis(300);
    // The signature, then silence: our signature and major version, nothing more, and the
    // handshake timeout closes it.
    let mut stops = raw::connect(broker.frontend_addr(), deadline(10));
    stops.write_all(&SIGNATURE).expect("send a signature");
    assert_eq!(
        read_quiet(&mut stops, quiet),
        ours[..11],
        "after a signature"
    );
    let (closed, more) = raw::closed_by(&mut stops, Instant::now() + Duration::from_secs(10));
    assert!(
        closed && more == 0,
        "a peer that stopped after its signature: closed {closed}, {more} more bytes"
    );
    // A ZMTP 2.0 greeting: refused at its revision, without the rest of ours.
    let mut old = raw::connect(broker.frontend_addr(), deadline(10));
    old.write_all(&SIGNATURE).expect("send a signature");
    assert_eq!(read_quiet(&mut old, quiet), ours[..11]);
    old.write_all(&[0x01, 0x08]).expect("send a 2.0 revision");
    let (closed, more) = raw::closed_by(&mut old, Instant::now() + Duration::from_secs(10));
    assert!(
        closed && more == 0,
        "a 2.0 peer: closed {closed}, {more} more bytes"
    );
    // Revision 3: the rest of ours.
    let mut new = raw::connect(broker.frontend_addr(), deadline(10));
    new.write_all(&SIGNATURE).expect("send a signature");
    assert_eq!(read_quiet(&mut new, quiet), ours[..11]);
    new.write_all(&[0x03]).expect("send a 3.x major version");
    assert_eq!(
        read_quiet(&mut new, quiet),
        ours[11..],
        "after a 3.x version"
    );
}

/// A JeroMQ 0.3 PUSH, which reconnects as it is refused, beside a normal flow: every message
/// of the flow arrives; the JeroMQ peer is refused with what it speaks and the bytes it sent.
fn jeromq_refused_beside_a_flow(mut broker: Broker, mechanism: Mechanism) {
    let mut flow = Flow::start(
        "streamer",
        broker.frontend(),
        broker.backend(),
        FlowSpec::ticks(100, 3.0),
    );
    flow.go();
    let mut old = Jeromq::start("PUSH", "connect", broker.frontend(), &[]);
    old.send(&[b"from an old peer"]);
    greeting_in_pieces(&broker, mechanism);
    let stderr = || broker.stderr();
    until(
        deadline(20),
        "the refusal of the JeroMQ peer logged",
        || stderr().contains(JEROMQ_PUSH),
    );
    drop(old);
    flow.finish()
        .assert_whole("a ZMTP 2.0 peer refused again and again");
    let log = broker.stderr();
    let line = log
        .lines()
        .find(|l| l.contains(JEROMQ_PUSH))
        .expect("the debug line");
    assert!(
        line.contains("DEBUG")
            && line.contains(
                "refused: bad greeting: peer speaks ZMTP 2.0 (libzmq 3.x, JeroMQ 0.3, NetMQ 3)"
            ),
        "{line}"
    );
    assert!(
        log.lines().any(|l| l.contains("WARN")
            && l.contains("not ZeroMQ 3.x")
            && l.contains("peer speaks ZMTP 2.0")),
        "the aggregated warning:\n{log}"
    );
    assert!(
        log.contains("refused: peer did not finish the handshake in time; it sent: ff 00 00 00 00 00 00 00 01 7f\n"),
        "the peer that stopped after its signature, with its bytes:\n{log}"
    );
    broker.assert_running();
    broker.stop();
}

#[test]
fn a_zmtp_2_peer_says_what_it_speaks_and_is_refused_with_it() {
    let broker = Broker::start("streamer", &["-vv", "--handshake-timeout", "1s"]);
    jeromq_refused_beside_a_flow(broker, Mechanism::Null);
}

/// A CURVE server greets in pieces too: an old peer (which has no CURVE) is refused at its
/// revision byte with what it speaks, not after a greeting it cannot read and silence.
#[test]
fn a_curve_endpoint_refuses_a_zmtp_2_peer_with_what_it_speaks() {
    let keys = Keys::generate();
    let secret = keys.arg("srv_secret");
    let broker = Broker::start(
        "streamer",
        &[
            "-vv",
            "--handshake-timeout",
            "1s",
            "--curve-secret",
            &secret,
        ],
    );
    // The refusals only: a normal flow beside them is the NULL test's.
    let mut old = Jeromq::start("PUSH", "connect", broker.frontend(), &[]);
    old.send(&[b"from an old peer"]);
    greeting_in_pieces(&broker, Mechanism::Curve);
    until(
        deadline(20),
        "the refusal of the JeroMQ peer logged",
        || broker.stderr().contains(JEROMQ_PUSH),
    );
    drop(old);
    let log = broker.stderr();
    assert!(log.contains("peer speaks ZMTP 2.0"), "{log}");
    broker.stop();
}
