//! Peers older than ZMTP 3.0 (issue 17): zedge greets in pieces as libzmq 4.3 does (the
//! 10-byte signature; its major version once the peer's signature is here; the rest once the
//! peer's version says 3.x), so that a ZMTP 2.0 peer (JeroMQ 0.3, a real implementation,
//! Debian's `libjeromq-java`) says what it speaks. By default zedge speaks 2.0 to it, on every
//! device, beside libzmq (3.1) peers on the same sides; with `--no-legacy`, and on CURVE
//! endpoints always, it is refused with that reason, at the default level (aggregated) and at
//! debug with the bytes it sent. Beside every abuse a normal libzmq flow gets every message.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use zedge_core::wire::greeting::{Greeting, Mechanism};
use zedge_tests::agent::Agent;
use zedge_tests::broker::Broker;
use zedge_tests::curve::Keys;
use zedge_tests::flow::{Flow, FlowSpec};
use zedge_tests::jeromq::{frames, Jeromq};
use zedge_tests::raw;
use zedge_tests::wait::{deadline, until};
use zedge_tests::PyPeer;

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
            && l.contains("which speaks ZMTP 2.0")),
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
fn with_no_legacy_a_zmtp_2_peer_says_what_it_speaks_and_is_refused_with_it() {
    let broker = Broker::start(
        "streamer",
        &["-vv", "--handshake-timeout", "1s", "--no-legacy"],
    );
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

/// Waits until the broker's log says each of `lines` (its connect lines).
fn connected(broker: &Broker, lines: &[&str]) {
    until(deadline(30), "every peer connected", || {
        let log = broker.stderr();
        lines.iter().all(|l| log.matches(l).count() >= 1)
    });
}

/// A streamer with a ZMTP 2.0 and a 3.1 producer, and a 2.0 and a 3.1 worker: every message
/// of each producer reaches one worker, once, each worker getting its share in order.
#[test]
fn a_streamer_carries_old_and_new_producers_to_old_and_new_workers() {
    let broker = Broker::start("streamer", &[]);
    let mut old_worker = Jeromq::start("PULL", "connect", broker.backend(), &["--timeout", "3000"]);
    let mut new_worker = Agent::connect("new worker", "PULL", broker.backend(), &[]);
    let mut old_producer = Jeromq::start("PUSH", "connect", broker.frontend(), &[]);
    let mut new_producer = Agent::connect("new producer", "PUSH", broker.frontend(), &[]);
    connected(
        &broker,
        &[
            "PULL connected (ZMTP 2.0)",
            "PULL connected (ZMTP 3.1)",
            "PUSH connected (ZMTP 2.0)",
            "PUSH connected (ZMTP 3.1)",
        ],
    );
    const N: usize = 40;
    for i in 0..N {
        let n = format!("{i:03}");
        old_producer.send(&[b"old", n.as_bytes()]);
        new_producer.send(&[b"new", n.as_bytes(), &[7u8; 300]]);
    }
    let mut got: Vec<Vec<Vec<u8>>> = new_worker.drain(2 * N, Duration::from_secs(2));
    let from_new = got.len();
    while let Some(m) = old_worker.recv() {
        got.push(m);
    }
    assert!(
        from_new > 0 && got.len() > from_new,
        "both workers served: {from_new} of {}",
        got.len()
    );
    for who in [&b"old"[..], b"new"] {
        let mut seqs: Vec<usize> = got
            .iter()
            .filter(|m| m[0] == who)
            .map(|m| std::str::from_utf8(&m[1]).unwrap().parse().unwrap())
            .collect();
        seqs.sort_unstable();
        assert_eq!(
            seqs,
            (0..N).collect::<Vec<_>>(),
            "every {} message once",
            String::from_utf8_lossy(who)
        );
    }
    assert!(got
        .iter()
        .filter(|m| m[0] == b"new")
        .all(|m| m.len() == 3 && m[2] == [7u8; 300]));
    broker.stop();
}

/// A forwarder with a ZMTP 2.0 and a 3.1 publisher, a 2.0 and a 3.1 subscriber of different
/// topics: each subscriber gets its topic from both publishers, in each one's order, and
/// nothing else: subscriptions went upstream to the 2.0 publisher as 2.0 messages, and came
/// from the 2.0 subscriber as such.
#[test]
fn a_forwarder_carries_old_and_new_publishers_to_old_and_new_subscribers() {
    let broker = Broker::start("forwarder", &[]);
    let mut old_sub = Jeromq::start(
        "SUB",
        "connect",
        broker.backend(),
        &["--subscribe", "61", "--timeout", "500"],
    );
    let mut new_sub = Agent::connect("new subscriber", "SUB", broker.backend(), &[]);
    new_sub.sub(b"b");
    let mut old_pub = Jeromq::start("PUB", "connect", broker.frontend(), &[]);
    let mut new_pub = Agent::connect("new publisher", "PUB", broker.frontend(), &[]);
    connected(
        &broker,
        &[
            "SUB connected (ZMTP 2.0)",
            "SUB connected (ZMTP 3.1)",
            "PUB connected (ZMTP 2.0)",
            "PUB connected (ZMTP 3.1)",
        ],
    );
    // Until both subscriptions have reached both publishers (each hears from each).
    let (mut a_seen, mut b_seen) = ([false; 2], [false; 2]);
    let warm = Instant::now() + Duration::from_secs(20);
    while !(a_seen == [true; 2] && b_seen == [true; 2]) {
        assert!(
            Instant::now() < warm,
            "subscriptions did not reach the publishers: a {a_seen:?} b {b_seen:?}"
        );
        for (i, p) in [b"old", b"new"].iter().enumerate() {
            let a = [&b"a:warm:"[..], &p[..]].concat();
            let b = [&b"b:warm:"[..], &p[..]].concat();
            if i == 0 {
                old_pub.send(&[&a]);
                old_pub.send(&[&b]);
            } else {
                new_pub.send(&[&a]);
                new_pub.send(&[&b]);
            }
        }
        while let Some(m) = old_sub.recv() {
            assert_eq!(&m[0][..2], b"a:", "the 2.0 subscriber got another topic");
            a_seen[usize::from(m[0].ends_with(b"new"))] = true;
        }
        for m in new_sub.drain(100, Duration::from_millis(100)) {
            assert_eq!(&m[0][..2], b"b:", "the 3.1 subscriber got another topic");
            b_seen[usize::from(m[0].ends_with(b"new"))] = true;
        }
    }
    // Drain the warm-up, then the counted messages, topic c for nobody between.
    while old_sub.recv().is_some() {}
    let _ = new_sub.drain(1000, Duration::from_millis(300));
    const N: usize = 30;
    for i in 0..N {
        for t in ["a", "b", "c"] {
            old_pub.send(&[format!("{t}:old:{i:03}").as_bytes()]);
            new_pub.send(&[format!("{t}:new:{i:03}").as_bytes()]);
        }
    }
    let mut a = Vec::new();
    while let Some(m) = old_sub.recv() {
        a.push(String::from_utf8(m[0].clone()).unwrap());
    }
    let b: Vec<String> = new_sub
        .drain(4 * N, Duration::from_secs(2))
        .into_iter()
        .map(|m| String::from_utf8(m[0].clone()).unwrap())
        .collect();
    for (topic, got) in [("a", &a), ("b", &b)] {
        for p in ["old", "new"] {
            let want: Vec<String> = (0..N).map(|i| format!("{topic}:{p}:{i:03}")).collect();
            let seen: Vec<String> = got
                .iter()
                .filter(|m| m.contains(&format!(":{p}:")))
                .cloned()
                .collect();
            assert_eq!(seen, want, "subscriber of {topic} from the {p} publisher");
        }
        assert_eq!(got.len(), 2 * N, "only its topic: {got:?}");
    }
    broker.stop();
}

/// pyzmq: a REP worker that echoes, and a REQ client of `n` requests checking each reply.
const QUEUE_PEERS: &str = r#"
import sys, time, threading, zmq
fe, be, n, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ctx = zmq.Context()
w = ctx.socket(zmq.REP); w.rcvtimeo = 100; w.connect(be)
served = [0]; end = time.time() + secs
def work():
    while time.time() < end:
        try:
            m = w.recv_multipart()
        except zmq.Again:
            continue
        served[0] += 1
        w.send_multipart(m)
t = threading.Thread(target=work); t.start()
c = ctx.socket(zmq.REQ); c.rcvtimeo = 10000; c.connect(fe)
time.sleep(0.5)
for i in range(n):
    q = b"new:%03d" % i
    c.send(q)
    r = c.recv()
    assert r == q, (r, q)
t.join()
print("served", served[0])
"#;

/// A queue with a ZMTP 2.0 and a 3.1 client (REQ), a 2.0 and a 3.1 worker (REP): every
/// request is answered, to the client that asked, whichever worker took it, and both workers
/// take some: the identity frames and the routing envelope cross versions both ways.
#[test]
fn a_queue_carries_old_and_new_clients_to_old_and_new_workers() {
    let broker = Broker::start("queue", &[]);
    let mut old_worker = Jeromq::start(
        "REP",
        "connect",
        broker.backend(),
        &["--echo", "1000", "--timeout", "100"],
    );
    const N: usize = 30;
    let args = [
        broker.frontend().to_owned(),
        broker.backend().to_owned(),
        N.to_string(),
        "8".into(),
    ];
    let new_peers = PyPeer::spawn(
        "new client and worker",
        QUEUE_PEERS,
        &args,
        Duration::from_secs(60),
    );
    let mut old_client = Jeromq::start(
        "REQ",
        "connect",
        broker.frontend(),
        &["--identity", "4331", "--timeout", "10000"],
    );
    connected(
        &broker,
        &[
            "REP connected (ZMTP 2.0)",
            "REP connected (ZMTP 3.1)",
            "REQ connected (ZMTP 2.0, identity \"C1\")",
            "REQ connected (ZMTP 3.1)",
        ],
    );
    for i in 0..N {
        let q = format!("old:{i:03}");
        old_client.send(&[q.as_bytes()]);
        let r = old_client.recv().expect("a reply for the 2.0 client");
        assert_eq!(r, vec![q.into_bytes()], "the 2.0 client's reply");
    }
    let out = new_peers.finish();
    let served_new: usize = out
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    // Its lines: a `msg` per request it echoed, a `timeout` per idle 100 ms.
    let mut served_old = 0;
    while served_old + served_new < 2 * N {
        let Some(line) = old_worker.printed(Duration::from_secs(5)) else {
            break;
        };
        if line.starts_with("msg") {
            assert_eq!(
                frames(&line).len(),
                1,
                "a REP worker sees the request only: {line}"
            );
            served_old += 1;
        }
    }
    assert_eq!(
        served_old + served_new,
        2 * N,
        "every request served once ({out})"
    );
    assert!(
        served_old > 0 && served_new > 0,
        "both workers served: {served_old} and {served_new}"
    );
    broker.stop();
}

/// The control endpoint speaks ZMTP 2.0 as the device does: a JeroMQ 0.3 REQ asks for
/// STATISTICS and gets the eight numbers (it timed out before: the endpoint sent its whole
/// greeting and refused the 2.0 peer), and with `--no-legacy` it is refused there too.
#[test]
fn a_zmtp_2_client_asks_the_control_endpoint() {
    let ctl = format!("tcp://127.0.0.1:{}", zedge_tests::broker::free_port());
    let broker = Broker::start("streamer", &["--control", &ctl]);
    let mut req = Jeromq::start("REQ", "connect", &ctl, &["--timeout", "5000"]);
    req.send(&[b"STATISTICS"]);
    let reply = req.recv().expect("STATISTICS for a 2.0 client");
    assert_eq!(reply.len(), 8, "eight numbers: {reply:?}");
    assert!(reply.iter().all(|n| n.len() == 8), "{reply:?}");
    drop(req);
    drop(broker);
    let ctl = format!("tcp://127.0.0.1:{}", zedge_tests::broker::free_port());
    let broker = Broker::start("streamer", &["--control", &ctl, "--no-legacy"]);
    let mut req = Jeromq::start("REQ", "connect", &ctl, &["--timeout", "1500"]);
    req.send(&[b"STATISTICS"]);
    assert_eq!(req.recv(), None, "a 2.0 client refused with --no-legacy");
    drop(broker);
}
