//! The forwarder device (`zedge forwarder`) between real peers: libzmq (pyzmq agents) and
//! zmq.rs, joining in any order, subscriptions travelling upstream, chained brokers, and the
//! classic SUB/PUB form.
//!
//! Subscriptions propagate asynchronously in ZeroMQ, so flows start with "publish until the
//! first message arrives"; counting starts after that. zmq.rs subscribers do no filtering of
//! their own, so what they receive is exactly what the broker routed to them.

mod zmqrs;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use zedge_tests::agent::{Agent, Msg};
use zedge_tests::broker::{Broker, Ep};
use zedge_tests::wait::{deadline, until};

const POLL: Duration = Duration::from_millis(50);
/// How long to wait for a subscription to reach the publisher.
const PROPAGATE: Duration = Duration::from_secs(10);

fn msg(frames: &[&[u8]]) -> Msg {
    frames.iter().map(|f| f.to_vec()).collect()
}

/// The next message the XPUB publisher receives (a subscription), within [`PROPAGATE`].
fn next_subscription(xpub: &mut Agent) -> Vec<u8> {
    let m = xpub
        .recv(PROPAGATE)
        .expect("the publisher got no subscription message");
    assert_eq!(m.len(), 1, "a subscription message has one frame: {m:?}");
    m.into_iter().next().unwrap_or_default()
}

fn show(topic: &[u8]) -> String {
    String::from_utf8_lossy(topic).into_owned()
}

/// Counted messages `[topic, publisher, seq]` received by one subscriber, per (publisher,
/// topic), in arrival order. Warm-up messages (`seq` = "warm") are skipped; every message's
/// topic must start with one of `allowed`.
#[derive(Default, Debug)]
struct Tally {
    seqs: BTreeMap<(String, String), Vec<u32>>,
    total: usize,
}

impl Tally {
    fn add(&mut self, who: &str, m: &Msg, allowed: &[&str]) {
        assert_eq!(m.len(), 3, "{who}: unexpected message {m:?}");
        let topic = show(&m[0]);
        assert!(
            allowed.iter().any(|a| topic.starts_with(a)),
            "{who} subscribed to {allowed:?} but got topic {topic:?}: {m:?}"
        );
        if m[2] == b"warm" {
            return;
        }
        let seq: u32 = String::from_utf8_lossy(&m[2])
            .parse()
            .unwrap_or_else(|_| panic!("{who}: bad sequence in {m:?}"));
        self.seqs.entry((show(&m[1]), topic)).or_default().push(seq);
        self.total += 1;
    }

    /// Every (publisher, topic) in `expect` arrived whole and in order: 0..n.
    fn check(&self, who: &str, expect: &[(&str, &str)], n: u32) {
        let want: BTreeSet<(String, String)> = expect
            .iter()
            .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
            .collect();
        let got: BTreeSet<(String, String)> = self.seqs.keys().cloned().collect();
        assert_eq!(got, want, "{who}: streams received");
        for (key, seqs) in &self.seqs {
            let all: Vec<u32> = (0..n).collect();
            assert_eq!(seqs, &all, "{who}: stream {key:?} not whole and in order");
        }
    }
}

#[test]
fn publishers_and_subscribers_join_in_any_order_and_topics_filter() {
    let end = deadline(40);
    let broker = Broker::start("forwarder", &[]);
    let rt = zmqrs::runtime();

    // A subscriber before any publisher: zmq.rs, ZMTP 3.0 subscription messages.
    let mut sub_a = zmqrs::sub(&rt, broker.backend(), &["A"]);
    // A libzmq publisher after it: the broker must pass the held subscription on.
    let mut pub1 = Agent::connect("pub1", "PUB", broker.frontend(), &["opt=SNDHWM=0"]);
    until(end, "pub1 reaches the zmq.rs subscriber", || {
        pub1.send(&[b"A", b"pub1", b"warm"]);
        zmqrs::recv(&rt, &mut sub_a, POLL).is_some_and(|m| m == msg(&[b"A", b"pub1", b"warm"]))
    });

    // A libzmq subscriber after the publisher (ZMTP 3.1 SUBSCRIBE command).
    let mut sub_b = Agent::connect(
        "sub_b",
        "SUB",
        broker.backend(),
        &["sub=42", "opt=RCVHWM=0"],
    );
    until(end, "pub1 reaches the libzmq subscriber", || {
        pub1.send(&[b"B", b"pub1", b"warm"]);
        sub_b.recv(POLL).is_some()
    });

    // A late zmq.rs publisher (3.0: it must be sent the subscriptions as 0x01 messages).
    let mut pub2: zeromq::PubSocket = zmqrs::connect(&rt, broker.frontend());
    let (mut a_seen, mut b_seen) = (false, false);
    until(end, "pub2 reaches both subscribers", || {
        zmqrs::send(&rt, &mut pub2, &[b"A", b"pub2", b"warm"]);
        zmqrs::send(&rt, &mut pub2, &[b"B", b"pub2", b"warm"]);
        while let Some(m) = zmqrs::recv(&rt, &mut sub_a, POLL) {
            assert_eq!(m[0], b"A", "zmq.rs subscriber to A got {m:?}");
            a_seen |= m[1] == b"pub2";
        }
        while let Some(m) = sub_b.recv(Duration::ZERO) {
            assert_eq!(m[0], b"B", "libzmq subscriber to B got {m:?}");
            b_seen |= m[1] == b"pub2";
        }
        a_seen && b_seen
    });

    // Counted: every publisher sends topics A, AB (prefix-matches A), B and C (nobody).
    const N: u32 = 50;
    for topic in [&b"A"[..], b"AB", b"B", b"C"] {
        pub1.burst(N as usize, &[topic, b"pub1"]);
        for i in 0..N {
            zmqrs::send(&rt, &mut pub2, &[topic, b"pub2", i.to_string().as_bytes()]);
        }
    }
    let mut tally_a = Tally::default();
    until(end, "subscriber A has all its messages", || {
        if let Some(m) = zmqrs::recv(&rt, &mut sub_a, POLL) {
            tally_a.add("zmq.rs SUB(A)", &m, &["A"]);
        }
        tally_a.total >= 4 * N as usize
    });
    let mut tally_b = Tally::default();
    until(end, "subscriber B has all its messages", || {
        for m in sub_b.drain(1000, POLL) {
            tally_b.add("libzmq SUB(B)", &m, &["B"]);
        }
        tally_b.total >= 2 * N as usize
    });
    // Nothing more: no duplicates, no other topics.
    while let Some(m) = zmqrs::recv(&rt, &mut sub_a, Duration::from_millis(300)) {
        tally_a.add("zmq.rs SUB(A)", &m, &["A"]);
    }
    for m in sub_b.drain(1000, Duration::from_millis(300)) {
        tally_b.add("libzmq SUB(B)", &m, &["B"]);
    }
    tally_a.check(
        "zmq.rs SUB(A)",
        &[("pub1", "A"), ("pub1", "AB"), ("pub2", "A"), ("pub2", "AB")],
        N,
    );
    tally_b.check("libzmq SUB(B)", &[("pub1", "B"), ("pub2", "B")], N);

    drop(pub2);
    drop(sub_a);
    pub1.close();
    sub_b.close();
    broker.stop();
}

#[test]
fn libzmq_xpub_publisher_sees_subscribe_and_cancel() {
    let end = deadline(40);
    let broker = Broker::start("forwarder", &[]);
    // XPUB_VERBOSER: the publisher sees every (un)subscription the broker sends, duplicates
    // included, so a broker that does not count subscribers per topic would show.
    let mut xpub = Agent::connect("xpub", "XPUB", broker.frontend(), &["opt=XPUB_VERBOSER=1"]);

    let mut s1 = Agent::connect("s1", "SUB", broker.backend(), &[]);
    s1.sub(b"weather");
    assert_eq!(next_subscription(&mut xpub), b"\x01weather");
    until(end, "the publisher reaches s1", || {
        xpub.send(&[b"weather", b"sunny"]);
        s1.recv(POLL).is_some()
    });

    // A second subscriber to the same topic: nothing upstream for it; then a new topic.
    let mut s2 = Agent::connect("s2", "SUB", broker.backend(), &[]);
    s2.sub(b"weather");
    s2.sub(b"news");
    assert_eq!(
        next_subscription(&mut xpub),
        b"\x01news",
        "the second subscriber to a topic must not subscribe upstream again"
    );

    // s1 leaves the topic while s2 still holds it: nothing upstream.
    s1.unsub(b"weather");
    s1.sub(b"marker");
    assert_eq!(
        next_subscription(&mut xpub),
        b"\x01marker",
        "weather was cancelled upstream while s2 still subscribes to it"
    );
    // The last holder unsubscribes: the cancel travels upstream.
    s2.unsub(b"weather");
    assert_eq!(next_subscription(&mut xpub), b"\x00weather");
    // A subscriber that leaves cancels all its topics.
    s2.close();
    assert_eq!(next_subscription(&mut xpub), b"\x00news");
    s1.close();
    assert_eq!(next_subscription(&mut xpub), b"\x00marker");
    let extra = xpub.drain(10, Duration::from_millis(300));
    assert!(extra.is_empty(), "unexpected upstream messages: {extra:?}");
    xpub.close();
    broker.stop();
}

#[test]
fn chained_forwarders_carry_subscriptions_hop_by_hop() {
    let end = deadline(40);
    let first = Broker::start("forwarder", &[]);
    let second = Broker::start_with(
        "forwarder",
        &[Ep::Connect(first.backend().to_owned())],
        &[Ep::Tcp],
        &[],
    );
    let mut xpub = Agent::connect("xpub", "XPUB", first.frontend(), &["opt=XPUB_VERBOSER=1"]);
    let mut sub = Agent::connect("sub", "SUB", second.backend(), &[]);
    sub.sub(b"chain");
    // subscriber -> second broker -> first broker -> publisher.
    assert_eq!(next_subscription(&mut xpub), b"\x01chain");
    until(end, "a message crosses both brokers", || {
        xpub.send(&[b"chain", b"warm"]);
        sub.recv(POLL)
            .is_some_and(|m| m == msg(&[b"chain", b"warm"]))
    });
    xpub.burst(100, &[b"chain", b"n"]);
    xpub.burst(100, &[b"other", b"n"]);
    let mut seqs = Vec::new();
    until(end, "100 messages cross both brokers", || {
        for m in sub.drain(200, POLL) {
            assert_eq!(m[0], b"chain", "unsubscribed topic crossed: {m:?}");
            if m[1] == b"n" {
                seqs.push(
                    String::from_utf8_lossy(&m[2])
                        .parse::<u32>()
                        .unwrap_or(u32::MAX),
                );
            }
        }
        seqs.len() >= 100
    });
    assert_eq!(seqs, (0..100).collect::<Vec<u32>>());

    // The upstream broker restarts: the downstream one reconnects and replays the
    // subscription, which reaches the (reconnected) publisher again.
    let (fe, be) = (first.frontend().to_owned(), first.backend().to_owned());
    first.stop();
    let first = Broker::start_with("forwarder", &[Ep::Bind(fe)], &[Ep::Bind(be)], &[]);
    loop {
        // libzmq's XPUB reports the lost upstream's topics as cancelled first.
        match next_subscription(&mut xpub).as_slice() {
            b"\x01chain" => break,
            b"\x00chain" => {}
            other => panic!("unexpected upstream message {other:?}"),
        }
    }
    until(end, "messages cross both brokers again", || {
        xpub.send(&[b"chain", b"again"]);
        sub.drain(100, POLL)
            .iter()
            .any(|m| m == &msg(&[b"chain", b"again"]))
    });

    // And the cancel travels back the same way.
    sub.unsub(b"chain");
    assert_eq!(next_subscription(&mut xpub), b"\x00chain");
    sub.close();
    xpub.close();
    second.stop();
    first.stop();
}

#[test]
fn zmqrs_and_libzmq_subscribers_mixed_on_one_forwarder() {
    let end = deadline(40);
    let broker = Broker::start("forwarder", &[]);
    let rt = zmqrs::runtime();
    let mut xpub = Agent::connect("xpub", "XPUB", broker.frontend(), &["opt=XPUB_VERBOSER=1"]);
    // ZMTP 3.0 form (a 0x01 message) and ZMTP 3.1 form (a SUBSCRIBE command).
    let mut rs = zmqrs::sub(&rt, broker.backend(), &["rs"]);
    let mut lz = Agent::connect("lz", "SUB", broker.backend(), &["sub=6c7a"]);
    let got: BTreeSet<Vec<u8>> = (0..2).map(|_| next_subscription(&mut xpub)).collect();
    let want: BTreeSet<Vec<u8>> = [b"\x01rs".to_vec(), b"\x01lz".to_vec()].into();
    assert_eq!(
        got, want,
        "both subscription forms must reach the publisher"
    );

    let (mut rs_seen, mut lz_seen) = (false, false);
    until(end, "both subscribers receive", || {
        xpub.send(&[b"rs", b"warm"]);
        xpub.send(&[b"lz", b"warm"]);
        if let Some(m) = zmqrs::recv(&rt, &mut rs, POLL) {
            assert_eq!(m[0], b"rs", "zmq.rs subscriber got another topic: {m:?}");
            rs_seen = true;
        }
        if let Some(m) = lz.recv(Duration::ZERO) {
            assert_eq!(m[0], b"lz");
            lz_seen = true;
        }
        rs_seen && lz_seen
    });

    // Both subscribe to one topic: one subscription upstream (the second is counted).
    zeromq_subscribe(&rt, &mut rs, "both");
    assert_eq!(next_subscription(&mut xpub), b"\x01both");
    lz.sub(b"both");
    lz.sub(b"end");
    assert_eq!(next_subscription(&mut xpub), b"\x01end");

    xpub.burst(30, &[b"both", b"n"]);
    let mut rs_n = 0;
    until(end, "zmq.rs gets the shared topic", || {
        while let Some(m) = zmqrs::recv(&rt, &mut rs, POLL) {
            assert!(m[0] == b"rs" || m[0] == b"both", "zmq.rs got {m:?}");
            if m[0] == b"both" {
                assert_eq!(m[2], rs_n.to_string().as_bytes(), "zmq.rs: order/loss");
                rs_n += 1;
            }
        }
        rs_n == 30
    });
    let mut lz_n = 0;
    until(end, "libzmq gets the shared topic", || {
        for m in lz.drain(100, POLL) {
            if m[0] == b"both" {
                assert_eq!(m[2], lz_n.to_string().as_bytes(), "libzmq: order/loss");
                lz_n += 1;
            }
        }
        lz_n == 30
    });

    // zmq.rs leaves: only its own topic is cancelled; "both" is still held by libzmq.
    drop(rs);
    assert_eq!(next_subscription(&mut xpub), b"\x00rs");
    lz.close();
    let got: BTreeSet<Vec<u8>> = (0..3).map(|_| next_subscription(&mut xpub)).collect();
    let want: BTreeSet<Vec<u8>> = [
        b"\x00lz".to_vec(),
        b"\x00both".to_vec(),
        b"\x00end".to_vec(),
    ]
    .into();
    assert_eq!(got, want);
    xpub.close();
    broker.stop();
}

fn zeromq_subscribe(rt: &tokio::runtime::Runtime, s: &mut zeromq::SubSocket, topic: &str) {
    zmqrs::block(rt, Duration::from_secs(10), "subscribe", s.subscribe(topic))
        .unwrap_or_else(|e| panic!("zmq.rs cannot subscribe: {e}"));
}

#[test]
fn classic_forwarder_subscribes_to_everything_and_filters_itself() {
    let end = deadline(40);
    let broker = Broker::start("forwarder", &["--classic"]);
    let rt = zmqrs::runtime();
    let mut xpub = Agent::connect("xpub", "XPUB", broker.frontend(), &["opt=XPUB_VERBOSER=1"]);
    // Classic: the broker is a SUB to everything on its frontend.
    assert_eq!(next_subscription(&mut xpub), b"\x01");

    let mut rs = zmqrs::sub(&rt, broker.backend(), &["A"]);
    let mut lz = Agent::connect("lz", "SUB", broker.backend(), &["sub=42"]);
    let (mut rs_seen, mut lz_seen) = (false, false);
    until(end, "both subscribers receive", || {
        xpub.send(&[b"A", b"x", b"warm"]);
        xpub.send(&[b"B", b"x", b"warm"]);
        xpub.send(&[b"C", b"x", b"warm"]);
        if let Some(m) = zmqrs::recv(&rt, &mut rs, POLL) {
            assert_eq!(m[0], b"A", "zmq.rs SUB(A) got {m:?}");
            rs_seen = true;
        }
        lz_seen |= lz.recv(Duration::ZERO).is_some();
        rs_seen && lz_seen
    });
    for topic in [&b"A"[..], b"B", b"C"] {
        xpub.burst(30, &[topic, b"x"]);
    }
    let mut rs_tally = Tally::default();
    until(end, "zmq.rs SUB(A) has its 30", || {
        if let Some(m) = zmqrs::recv(&rt, &mut rs, POLL) {
            rs_tally.add("zmq.rs SUB(A)", &m, &["A"]);
        }
        rs_tally.total >= 30
    });
    let mut lz_tally = Tally::default();
    until(end, "libzmq SUB(B) has its 30", || {
        for m in lz.drain(100, POLL) {
            lz_tally.add("libzmq SUB(B)", &m, &["B"]);
        }
        lz_tally.total >= 30
    });
    while let Some(m) = zmqrs::recv(&rt, &mut rs, Duration::from_millis(300)) {
        rs_tally.add("zmq.rs SUB(A)", &m, &["A"]);
    }
    rs_tally.check("zmq.rs SUB(A)", &[("x", "A")], 30);
    lz_tally.check("libzmq SUB(B)", &[("x", "B")], 30);
    // Subscriptions stay in the classic broker: the publisher saw only the first one.
    let extra = xpub.drain(10, Duration::from_millis(300));
    assert!(extra.is_empty(), "classic broker sent upstream: {extra:?}");
    drop(rs);
    lz.close();
    xpub.close();
    broker.stop();
}

/// Arguments: frontend, backend. Two publishers each send one 200 KiB message per round, at
/// the same time; the subscriber takes both before the next round. It keeps up (at most
/// 400 KiB in flight, under the broker's 1 MiB high-water mark), so it must lose nothing.
const TWO_BIG_PUBLISHERS: &str = r#"
import sys, time, zmq
fe, be = sys.argv[1:3]
ctx = zmq.Context()
def pub():
    s = ctx.socket(zmq.PUB)
    s.setsockopt(zmq.SNDHWM, 0)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(fe)
    return s
p1, p2 = pub(), pub()
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.RCVHWM, 0)
sub.setsockopt(zmq.LINGER, 0)
sub.setsockopt(zmq.SUBSCRIBE, b"")
sub.connect(be)
for p in (p1, p2):
    end = time.monotonic() + 10
    while True:
        assert time.monotonic() < end, "subscription never reached a publisher"
        p.send_multipart([b"warm"])
        if sub.poll(50):
            break
while sub.poll(300):
    sub.recv_multipart()
body = b"x" * (200 << 10)
for r in range(30):
    p1.send_multipart([b"p1", b"%d" % r, body])
    p2.send_multipart([b"p2", b"%d" % r, body])
    got = set()
    while len(got) < 2:
        assert sub.poll(10000), "round %d: lost %s" % (r, {b"p1", b"p2"} - got)
        m = sub.recv_multipart()
        if m[0] != b"warm":
            assert m[1:] == [b"%d" % r, body], (m[0], m[1], len(m[2]))
            got.add(m[0])
ctx.destroy(linger=0)
"#;

#[test]
fn a_subscriber_that_keeps_up_loses_nothing_from_two_publishers_of_big_messages() {
    let broker = Broker::start("forwarder", &[]);
    let args = [broker.frontend().to_owned(), broker.backend().to_owned()];
    zedge_tests::PyPeer::spawn(
        "two big publishers",
        TWO_BIG_PUBLISHERS,
        &args,
        Duration::from_secs(40),
    )
    .finish();
    broker.stop();
}
