//! Isolation through the real binary, subscriptions: long topics, many subscriptions, shares
//! of the table, floods of subscribe and cancel, and subscribers with large tables leaving,
//! each beside a normal, timestamped flow between real libzmq peers ([`Flow`]), as in
//! `isolation.rs` (which has the slow and stalled senders, and says how the latency bounds
//! were chosen).

use std::io::Write;
use std::net::TcpStream;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use zedge_core::conn::MAX_TOPIC;
use zedge_core::wire::command::{CANCEL_NAME, SUBSCRIBE_NAME};
use zedge_core::wire::metadata::SocketType;
use zedge_tests::agent::Agent;
use zedge_tests::broker::{Broker, Ep};
use zedge_tests::flow::{retry_latency, Flow, FlowResult, FlowSpec, ISOLATION_MS};
use zedge_tests::raw;
use zedge_tests::wait::{deadline, until};

/// The bound asserted beside a flood (row 7): the isolation goal. The device takes at most
/// 4,096 units (here: subscriptions) per call, a few milliseconds of the debug build and less
/// optimized, and a tick crosses two connections (its publisher's, its subscriber's), each of which should wait
/// at most a round of the flooder's between its own rounds: a few rounds' worth, well under
/// 100 ms even with someone else's load on the machine. A flood that is served while the
/// others wait shows as seconds.
const FLOOD_MS: f64 = ISOLATION_MS;

const MIB: usize = 1 << 20;

/// A raw publisher, handshake done, on the forwarder's frontend.
fn raw_pub(broker: &Broker) -> TcpStream {
    raw::handshake(broker.frontend_addr(), SocketType::Pub, deadline(10))
}

fn flow(broker: &Broker, device: &str, spec: FlowSpec) -> Flow {
    Flow::start(device, broker.frontend(), broker.backend(), spec)
}

// ---------------------------------------------------------------------------------------------
// A long topic's churn.
// ---------------------------------------------------------------------------------------------

#[test]
fn subscribe_and_cancel_churn_of_a_long_topic_closes_no_publisher() {
    // A publisher on a slow link (here: one that does not read at all for the few seconds
    // this takes; heartbeats off) and a subscriber that subscribes to and cancels one 16 KiB
    // topic 2,500 times (80 MiB). Each of those used to go upstream, 16 KiB each, to the
    // publisher; what waits for it now is one state of the topic, however long it churns.
    let mut broker = Broker::start("forwarder", &["--heartbeat-ivl", "0"]);
    let publisher = raw_pub(&broker);
    let before = broker.rss_kib();
    let mut topic = b"churn".to_vec();
    topic.resize(MAX_TOPIC, b'c');
    let pair = [sub_message(true, &topic), sub_message(false, &topic)].concat();
    let mut churn = raw_sub(&broker);
    for _ in 0..2_500 {
        churn.write_all(&pair).expect("subscribe and cancel");
    }
    thread::sleep(Duration::from_millis(500));
    let after = broker.rss_kib();
    broker.assert_running();
    // It reads now: what its socket's buffers took while it did not (a few MiB on loopback)
    // and the last state, a cancellation; not the 5,000 changes.
    publisher
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("read timeout");
    let mut r = std::io::BufReader::new(publisher);
    let mut got = Vec::new();
    let closed = loop {
        match read_frame(&mut r) {
            Ok((flags, body)) => {
                if flags & 0x04 != 0 && body.ends_with(&topic[5..]) {
                    got.push(body.starts_with(SUBSCRIBE_NAME));
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                break false
            }
            Err(_) => break true,
        }
    };
    eprintln!(
        "broker RSS {before} KiB -> {after} KiB; publisher closed: {closed}; sent {} states",
        got.len()
    );
    assert!(
        !closed,
        "a publisher was closed because a subscriber subscribed and cancelled"
    );
    assert!(
        after.saturating_sub(before) < 16 << 10,
        "a churning subscriber grew the broker from {before} KiB to {after} KiB"
    );
    assert!(
        got.len() < 5_000 / 4 && got.last() == Some(&false),
        "the publisher was sent {} subscriptions and cancellations of the topic, the last {:?}",
        got.len(),
        got.last()
    );
    broker.stop();
}

/// What a libzmq PUB's `send()` may take beside a churn of long topics, generously: it takes
/// in the subscriptions it was sent on its own thread, at most the pace's burst (256 KiB of
/// 16,000-byte topics: 25 ms measured) at once, then the rate (4% of its thread). Unpaced,
/// its `send()` never returned.
const CHURN_MS: f64 = 500.0;

#[test]
fn a_churn_of_long_topics_never_freezes_a_libzmq_publisher() {
    // The attacker's r4_subflood: a subscriber subscribes to and cancels two 16,000-byte
    // topics as fast as the broker takes them. libzmq's PUB takes subscriptions in inside
    // send(), at a cost of their length each, and reads all that has arrived: fed them as fast
    // as its socket took them, the flow's publisher got one message out in 50 s. Beside it, a
    // subscriber to the flow's topic that never reads.
    let r = retry_latency(CHURN_MS, || {
        let broker = Broker::start("forwarder", &["--heartbeat-ivl", "0"]);
        let mut stalled = raw_sub(&broker);
        stalled
            .write_all(&sub_message(true, b"tick"))
            .expect("the stalled subscriber's subscription");
        let mut f = flow(&broker, "forwarder", FlowSpec::ticks(50, 5.0));
        let topics: Vec<Vec<u8>> = (0..2u8)
            .map(|i| {
                let mut t = format!("churn{i}-").into_bytes();
                t.resize(16_000, b'z');
                t
            })
            .collect();
        let churn: Vec<u8> = [true, false]
            .iter()
            .flat_map(|&on| topics.iter().flat_map(move |t| sub_message(on, t)))
            .collect();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flooder = flood(raw_sub(&broker), churn.repeat(16), stop.clone());
        thread::sleep(Duration::from_millis(500));
        f.go();
        let r = f.finish();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (mut s, batches) = flooder.join().expect("the flooder");
        eprintln!("churn of long topics: {batches} batches of 64 changes written");
        assert!(batches >= 10, "the churn was not taken: {batches} batches");
        let (closed, _) = raw::closed_by(&mut s, Instant::now() + Duration::from_millis(100));
        assert!(!closed, "the churning subscriber was closed");
        let (closed, _) = raw::closed_by(&mut stalled, Instant::now() + Duration::from_millis(100));
        assert!(!closed, "the stalled subscriber was closed");
        broker.stop();
        r
    });
    r.assert_within("beside a churn of two 16,000-byte topics", CHURN_MS);
}

// ---------------------------------------------------------------------------------------------
// Not in the table: a publisher at full speed.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_publisher_at_full_speed_stalls_no_other_flow() {
    // Not hostile at all: a publisher with a backlog (small messages nobody subscribes to),
    // written as fast as the broker reads them, for the flow's 3 s. Each read takes at most
    // 64 KiB and each call at most 4,096 messages, yet the flow's own publisher is not read
    // until the flood pauses.
    let batch: Vec<u8> = (0..200_000)
        .flat_map(|i: u32| raw::message_bytes(&[format!("nobody{:04}", i % 10_000).as_bytes()]))
        .collect();
    flood_beside_a_flow(true, batch, ISOLATION_MS, "a publisher at full speed");
}

// ---------------------------------------------------------------------------------------------
// Rows 1 and 2: long subscriptions.
// ---------------------------------------------------------------------------------------------

/// A topic of `len` bytes, distinct per length: `L<len>-` then letters.
fn long_topic(len: usize) -> Vec<u8> {
    let mut t = format!("L{len}-").into_bytes();
    t.extend((0..len).map(|i| b'a' + (i % 26) as u8));
    t.truncate(len);
    t
}

/// A publisher agent of `kind` (`PUB`, or `XPUB`, which also shows the subscriptions it gets)
/// on the frontend, monitored.
fn publisher(broker: &Broker, name: &str, kind: &str) -> Agent {
    let mut p = Agent::connect(name, kind, broker.frontend(), &["monitor"]);
    assert!(
        p.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)),
        "{name} never connected"
    );
    p
}

/// `publisher` publishes `[topic, body]` until `sub` gets it.
fn delivered(publisher: &mut Agent, sub: &mut Agent, topic: &[u8], body: &[u8]) {
    until(deadline(20), "the message is delivered", || {
        publisher.send(&[topic, body]);
        sub.recv(Duration::from_millis(100))
            .is_some_and(|m| m == vec![topic.to_vec(), body.to_vec()])
    });
    // Copies sent while the subscription travelled.
    sub.drain(1000, Duration::from_millis(100));
}

#[test]
fn long_subscriptions_reach_every_publisher_and_close_none() {
    // Row 1: topics of 254..4086 bytes used to close every publisher ("outbound queue
    // overflow") on each reconnect.
    let lens = [254, 255, 256, 300, 4086];
    let topics: Vec<Vec<u8>> = lens.iter().map(|&l| long_topic(l)).collect();
    let broker = Broker::start("forwarder", &[]);
    // Two publishers learn the subscriptions as they are made, two more by replay. A libzmq
    // XSUB cannot publish to the broker's XSUB frontend; XPUB is the publisher that shows what
    // it is sent.
    let mut early = [
        publisher(&broker, "early PUB", "PUB"),
        publisher(&broker, "early XPUB", "XPUB"),
    ];
    let mut sub = Agent::connect("subscriber", "SUB", broker.backend(), &["monitor"]);
    assert!(sub.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    for t in &topics {
        sub.sub(t);
    }
    let mut late = [
        publisher(&broker, "late PUB", "PUB"),
        publisher(&broker, "late XPUB", "XPUB"),
    ];
    for xpub in [&mut early[1], &mut late[1]] {
        let mut seen: Vec<Vec<u8>> = Vec::new();
        until(
            deadline(20),
            "every long subscription reaches the XPUB publisher",
            || {
                if let Some(m) = xpub.recv(Duration::from_millis(200)) {
                    assert_eq!(m.len(), 1, "a subscription is one frame");
                    seen.push(m[0].clone());
                }
                topics.iter().all(|t| {
                    let mut want = vec![1u8];
                    want.extend_from_slice(t);
                    seen.contains(&want)
                })
            },
        );
    }
    for p in early.iter_mut().chain(late.iter_mut()) {
        for t in &topics {
            delivered(p, &mut sub, t, b"long");
        }
    }
    let mut f = flow(&broker, "forwarder", FlowSpec::ticks(20, 1.0));
    f.go();
    let r = f.finish();
    r.assert_whole("after long subscriptions");
    assert_eq!(r.got(), 20);
    for (i, p) in early.iter_mut().chain(late.iter_mut()).enumerate() {
        p.assert_never_disconnected(&format!("publisher #{i}"));
    }
    sub.assert_never_disconnected("the subscriber of long topics");
    broker.stop();
}

#[test]
fn a_5000_byte_topic_is_taken_and_a_1mib_topic_refused_closing_nobody() {
    // Row 2.
    let broker = Broker::start("forwarder", &[]);
    let mut xpub = publisher(&broker, "XPUB publisher", "XPUB");
    let mut a = Agent::connect(
        "5000-byte subscriber",
        "SUB",
        broker.backend(),
        &["monitor"],
    );
    let mut b = Agent::connect("1 MiB subscriber", "SUB", broker.backend(), &["monitor"]);
    assert!(a.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    assert!(b.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    let t5000 = long_topic(5000);
    let t1m = long_topic(MIB);
    a.sub(&t5000);
    b.sub(&t1m);
    // The 1 MiB subscriber's session goes on: a short subscription after it works.
    b.sub(b"short");
    let mut seen = Vec::new();
    until(
        deadline(20),
        "the short subscription after the refused one arrives",
        || {
            if let Some(m) = xpub.recv(Duration::from_millis(200)) {
                seen.push(m[0].clone());
            }
            seen.iter().any(|s| s == b"\x01short")
        },
    );
    // Everything the publisher got by now: the 5000-byte topic (sent before, by another
    // subscriber, so maybe not yet) and never the 1 MiB one.
    until(deadline(20), "the 5000-byte subscription arrives", || {
        let mut want = vec![1u8];
        want.extend_from_slice(&t5000);
        if seen.contains(&want) {
            return true;
        }
        if let Some(m) = xpub.recv(Duration::from_millis(200)) {
            seen.push(m[0].clone());
        }
        false
    });
    assert!(
        seen.iter().all(|s| s.len() < 6000),
        "a 1 MiB subscription reached the publisher"
    );
    delivered(&mut xpub, &mut a, &t5000, b"5000");
    delivered(&mut xpub, &mut b, b"short", b"after 1 MiB");
    let r = retry_latency(ISOLATION_MS, || {
        let mut f = flow(&broker, "forwarder", FlowSpec::ticks(200, 2.0));
        f.go();
        f.finish()
    });
    r.assert_within("beside a 1 MiB subscription", ISOLATION_MS);
    a.assert_never_disconnected("the 5000-byte subscriber");
    b.assert_never_disconnected("the 1 MiB subscriber");
    xpub.assert_never_disconnected("the publisher");
    broker.stop();
}

// ---------------------------------------------------------------------------------------------
// Rows 6, 7 and 8: many subscriptions.
// ---------------------------------------------------------------------------------------------

/// A SUBSCRIBE (or CANCEL) command, ZMTP 3.1.
fn command(subscribe: bool, topic: &[u8]) -> Vec<u8> {
    let name = if subscribe {
        SUBSCRIBE_NAME
    } else {
        CANCEL_NAME
    };
    let mut b = raw::command_head((name.len() + topic.len()) as u64);
    b.extend_from_slice(name);
    b.extend_from_slice(topic);
    b
}

/// A subscription message (`0x01` / `0x00` and the topic), what an XSUB sends.
fn sub_message(subscribe: bool, topic: &[u8]) -> Vec<u8> {
    let mut body = vec![u8::from(subscribe)];
    body.extend_from_slice(topic);
    raw::message_bytes(&[&body])
}

/// `n` distinct topics `<prefix><i>`, as subscription messages.
fn distinct_subscriptions(prefix: &str, n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| sub_message(true, format!("{prefix}{i:06}").as_bytes()))
        .collect()
}

/// `n` distinct topics `<prefix><i>`, as SUBSCRIBE commands (ZMTP 3.1).
fn distinct_commands(prefix: &str, n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| command(true, format!("{prefix}{i:06}").as_bytes()))
        .collect()
}

/// A raw SUB subscriber, handshake done, on the forwarder's backend; it subscribes with
/// ZMTP 3.0 messages (`0x01` and the topic), which zedge takes from any subscriber. Not an
/// XSUB: that is a downstream broker, held to no per-subscriber share.
fn raw_sub(broker: &Broker) -> TcpStream {
    raw::handshake(broker.backend_addr(), SocketType::Sub, deadline(10))
}

/// What a raw publisher was sent: distinct topics subscribed (starting with `prefix`), and
/// every SUBSCRIBE and CANCEL.
#[derive(Debug, Default)]
struct Sent {
    topics: std::collections::BTreeSet<Vec<u8>>,
    subscribes: usize,
    cancels: usize,
    /// What it holds (a cancellation of a topic not held changes nothing).
    held: std::collections::BTreeSet<Vec<u8>>,
    /// Subscriptions to a topic it held already.
    twice: usize,
    closed: bool,
}

/// A raw publisher that reads what it is sent until `stop` is set, counting subscriptions to
/// topics starting with `prefix`, and what it holds.
fn counting_pub(
    broker: &Broker,
    prefix: &'static [u8],
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> JoinHandle<Sent> {
    let s = raw_pub(broker);
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    thread::spawn(move || {
        let mut sent = Sent::default();
        let mut r = std::io::BufReader::new(s);
        loop {
            match read_frame(&mut r) {
                Ok((flags, body)) if flags & 0x04 != 0 => {
                    if let Some(t) = body.strip_prefix(SUBSCRIBE_NAME) {
                        sent.subscribes += 1;
                        if t.starts_with(prefix) {
                            sent.topics.insert(t.to_vec());
                        }
                        sent.twice += usize::from(!sent.held.insert(t.to_vec()));
                    } else if let Some(t) = body.strip_prefix(CANCEL_NAME) {
                        sent.cancels += 1;
                        sent.held.remove(t);
                    }
                }
                Ok(_) => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return sent;
                    }
                }
                Err(_) => {
                    sent.closed = true;
                    return sent;
                }
            }
        }
    })
}

/// One frame from a buffered reader (a read timeout between frames is passed on; within one it
/// is waited out).
fn read_frame(r: &mut impl std::io::BufRead) -> std::io::Result<(u8, Vec<u8>)> {
    let mut flags = [0u8; 1];
    r.read_exact(&mut flags)?;
    let mut patient = |buf: &mut [u8]| -> std::io::Result<()> {
        let mut at = 0;
        while at < buf.len() {
            match r.read(&mut buf[at..]) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => at += n,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    };
    let len = if flags[0] & 0x02 != 0 {
        let mut l = [0u8; 8];
        patient(&mut l)?;
        u64::from_be_bytes(l) as usize
    } else {
        let mut l = [0u8; 1];
        patient(&mut l)?;
        usize::from(l[0])
    };
    let mut body = vec![0u8; len];
    patient(&mut body)?;
    Ok((flags[0], body))
}

#[test]
fn a_subscriber_with_100k_subscriptions_gets_its_share_and_locks_nobody_out() {
    // Row 6: later subscribers used to get 0 of 1000 forever.
    hundred_thousand_subscriptions(SocketType::Sub, 1024);
}

/// As [`a_subscriber_with_100k_subscriptions_gets_its_share_and_locks_nobody_out`], from a
/// peer that says it is an XSUB (a downstream broker, held to no per-subscriber share): it gets
/// what the shrinking share leaves it, four fifths of the default table (3,276), and locks
/// nobody out either.
#[test]
fn an_xsub_with_100k_subscriptions_gets_four_fifths_of_the_table_and_locks_nobody_out() {
    hundred_thousand_subscriptions(SocketType::XSub, 3276);
}

/// A `ty` peer subscribes to 100,000 distinct topics beside a flow: the flow stays within the
/// isolation bound, `share` of its topics reach a publisher, it is not closed, and a later
/// subscriber gets every message of its topic.
fn hundred_thousand_subscriptions(ty: SocketType, share: usize) {
    let broker = Broker::start("forwarder", &[]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let counter = counting_pub(&broker, b"h", stop.clone());
    let mut hostile = raw::handshake(broker.backend_addr(), ty, deadline(10));
    hostile
        .write_all(&distinct_subscriptions("h", 100_000))
        .expect("100,000 subscriptions");
    let mut f = flow(&broker, "forwarder", FlowSpec::ticks(200, 2.0));
    f.go();
    let r = f.finish();
    r.assert_within("after 100,000 subscriptions from one peer", ISOLATION_MS);
    let mut later = Agent::connect(
        "later subscriber",
        "SUB",
        broker.backend(),
        &["sub=6c61746572"],
    );
    let mut p = publisher(&broker, "later publisher", "PUB");
    delivered(&mut p, &mut later, b"later", b"0");
    for i in 0..1000u32 {
        p.send(&[b"later", i.to_string().as_bytes()]);
    }
    let got = later.drain(1000, Duration::from_millis(500));
    assert_eq!(
        got.len(),
        1000,
        "a later subscriber got {} of 1000",
        got.len()
    );
    thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = counter.join().expect("the counting publisher");
    assert!(!sent.closed, "the counting publisher was closed");
    assert_eq!(
        sent.topics.len(),
        share,
        "the flooding subscriber's topics that reached a publisher (its share is {share})"
    );
    let (closed, _) = raw::closed_by(&mut hostile, Instant::now() + Duration::from_millis(100));
    assert!(!closed, "a subscriber refused past its share was closed");
    broker.stop();
}

/// A raw peer (`s`, handshake done) writes `batch` over and over until `stop` is set (or the
/// broker closes it); it hands back the stream and the batches written.
fn flood(
    mut s: TcpStream,
    batch: Vec<u8>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> JoinHandle<(TcpStream, usize)> {
    thread::spawn(move || {
        let mut n = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            if s.write_all(&batch).is_err() {
                break;
            }
            n += 1;
        }
        (s, n)
    })
}

/// A raw peer (a publisher if `from_publisher`, else an XSUB subscriber) writes `batch` over
/// and over, as fast as the broker takes it, for the flow's 3 s.
fn flood_beside_a_flow(from_publisher: bool, batch: Vec<u8>, bound_ms: f64, what: &str) {
    let r = retry_latency(bound_ms, || {
        let broker = Broker::start("forwarder", &[]);
        let mut f = flow(&broker, "forwarder", FlowSpec::ticks(200, 3.0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = if from_publisher {
            raw_pub(&broker)
        } else {
            raw_sub(&broker)
        };
        let flooder = flood(s, batch.clone(), stop.clone());
        thread::sleep(Duration::from_millis(300));
        f.go();
        let r = f.finish();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (mut s, batches) = flooder.join().expect("the flooder");
        eprintln!("{what}: {batches} batches written");
        let (closed, _) = raw::closed_by(&mut s, Instant::now() + Duration::from_millis(100));
        drop(s);
        assert!(batches >= 1, "not one batch of the flood was taken");
        assert!(
            !closed,
            "the flooding peer was closed (nothing it sent is an error)"
        );
        broker.stop();
        r
    });
    r.assert_within(what, bound_ms);
}

#[test]
fn a_flood_of_distinct_subscriptions_keeps_the_flow_within_its_bound() {
    // Row 7: 200,000 distinct SUBSCRIBE commands a batch, as fast as they go, for the flow's
    // 3 s (past its share of 1,024, each is refused).
    flood_beside_a_flow(
        false,
        distinct_commands("f", 200_000),
        FLOOD_MS,
        "a flood of distinct subscriptions",
    );
}

#[test]
fn a_flood_of_subscribe_and_cancel_keeps_the_flow_within_its_bound() {
    // Row 7, the other way to flood: subscribe and cancel one topic, 100,000 times a batch:
    // each of them travels upstream, to the flow's publisher too.
    let pair: Vec<u8> = [sub_message(true, b"churn"), sub_message(false, b"churn")].concat();
    flood_beside_a_flow(
        false,
        pair.repeat(100_000),
        FLOOD_MS,
        "a flood of subscribe and cancel",
    );
}

/// Publish `[topic]` from `probe` until the raw subscriber `s` receives it: every subscription
/// `s` sent before the one to `topic` is in the broker's table by then.
fn await_subscribed(probe: &mut Agent, s: &mut TcpStream, topic: &[u8]) {
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let mut r = std::io::BufReader::new(s.try_clone().expect("clone the raw subscriber"));
    until(
        deadline(60),
        "the raw subscriber's last subscription is in",
        || {
            probe.send(&[topic]);
            matches!(read_frame(&mut r), Ok((0, body)) if body == topic)
        },
    );
}

/// A forwarder whose table holds 200,000, a probe publisher, and raw subscribers holding
/// `counts` distinct topics each (all in the table when this returns). Subscriptions go
/// upstream unpaced (`--upstream-rate 0`): these measure the table's work beside a flow, and
/// the counting publishers must learn 150,000 topics within it, which at the default pace
/// (256 KiB/s, 19 bytes a topic) takes 11 s.
fn big_table(counts: &[usize]) -> (Broker, Agent, Vec<TcpStream>) {
    let broker = Broker::start(
        "forwarder",
        &[
            "--max-subscriptions",
            "200000",
            "--max-subscriptions-per-peer",
            "200000",
            "--upstream-rate",
            "0",
        ],
    );
    let mut probe = publisher(&broker, "probe publisher", "PUB");
    let mut subs = Vec::new();
    for (i, &n) in counts.iter().enumerate() {
        let prefix = format!("{}", char::from(b'A' + i as u8));
        let mut s = raw_sub(&broker);
        s.write_all(&distinct_subscriptions(&prefix, n))
            .expect("the subscriptions");
        subs.push(s);
    }
    for (i, (&n, s)) in counts.iter().zip(subs.iter_mut()).enumerate() {
        let last = format!("{}{:06}", char::from(b'A' + i as u8), n - 1);
        await_subscribed(&mut probe, s, last.as_bytes());
    }
    (broker, probe, subs)
}

/// The flow while a raw subscriber holding 100,000 topics leaves, 1 s in.
fn leaving_beside_a_flow() -> FlowResult {
    let (mut broker, mut probe, mut subs) = big_table(&[100_000]);
    // A publisher that counts: it learns the 100,000 topics, then is sent their cancellations.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let counter = counting_pub(&broker, b"A", stop.clone());
    let mut f = flow(&broker, "forwarder", FlowSpec::ticks(200, 3.0));
    f.go();
    thread::sleep(Duration::from_secs(1));
    subs.clear();
    let r = f.finish();
    thread::sleep(Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = counter.join().expect("the counting publisher");
    assert!(!sent.closed, "the counting publisher was closed");
    assert_eq!(sent.topics.len(), 100_000, "the topics it learnt");
    assert_eq!(sent.twice, 0, "subscriptions to topics it held");
    let left = sent.held.iter().filter(|t| t.starts_with(b"A")).count();
    assert_eq!(left, 0, "topics of the subscriber that left it still holds");
    probe.assert_never_disconnected("the probe publisher");
    broker.assert_running();
    broker.stop();
    r
}

/// The flow while a new publisher connects, 1 s in, and learns 150,000 topics of two raw
/// subscribers (the table holds 200,000: room is left for the flow's).
fn replay_beside_a_flow() -> FlowResult {
    let (broker, mut probe, subs) = big_table(&[100_000, 50_000]);
    let mut f = flow(&broker, "forwarder", FlowSpec::ticks(200, 3.0));
    f.go();
    thread::sleep(Duration::from_secs(1));
    let mut late = publisher(&broker, "late publisher", "PUB");
    // A raw one beside it, which counts: it ends holding every topic, each once.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let counter = counting_pub(&broker, b"", stop.clone());
    let r = f.finish();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = counter.join().expect("the counting publisher");
    assert!(!sent.closed, "the counting publisher was closed");
    let replayed = sent
        .held
        .iter()
        .filter(|t| t.starts_with(b"A") || t.starts_with(b"B"))
        .count();
    assert_eq!(replayed, 150_000, "the topics the late publisher learnt");
    assert_eq!(sent.twice, 0, "subscriptions to topics it held");
    late.assert_never_disconnected("the late publisher");
    probe.assert_never_disconnected("the probe publisher");
    drop(subs);
    broker.stop();
    r
}

/// What rows 8's regression tests assert: no freeze. The old code froze every flow 11.2 s; one
/// turn of work proportional to the table later stalled it 0.25-0.5 s (leaving) and
/// 80-145 ms (replay) in the debug build. Both are done a bounded part per turn now, and held
/// to [`ISOLATION_MS`] by the tests after these (17 and 28 ms measured). A second here is a
/// freeze come back, not noise.
const NO_FREEZE_MS: f64 = 1000.0;

#[test]
fn a_subscriber_with_100k_entries_leaving_freezes_nothing() {
    // Row 8: used to freeze all traffic 11.2 s. A raw subscriber holds 100,000 topics; it
    // leaves 1 s into the flow: 100,000 entries out, a CANCEL each to both publishers.
    let r = retry_latency(NO_FREEZE_MS, leaving_beside_a_flow);
    r.assert_within("a 100,000-entry subscriber leaving", NO_FREEZE_MS);
}

#[test]
fn a_subscriber_with_100k_entries_leaving_stays_within_the_isolation_bound() {
    let r = retry_latency(ISOLATION_MS, leaving_beside_a_flow);
    r.assert_within("a 100,000-entry subscriber leaving", ISOLATION_MS);
}

#[test]
fn a_replay_of_150k_topics_to_a_new_publisher_freezes_nothing() {
    // Row 8, the other half: the topics replayed to a publisher that connects.
    let r = retry_latency(NO_FREEZE_MS, replay_beside_a_flow);
    r.assert_within("a 150,000-topic replay to a new publisher", NO_FREEZE_MS);
}

/// A replay is sent a batch per drain of the publisher's queue, each a bounded part of a turn:
/// 17-37 ms measured beside it (two publishers learning the 150,000 topics). Done in one turn
/// it stalled the flow 71-145 ms, which the isolation bound let through on a quiet machine;
/// this does not.
const REPLAY_MS: f64 = 60.0;

#[test]
fn a_replay_of_150k_topics_stays_within_the_isolation_bound() {
    let r = retry_latency(REPLAY_MS, replay_beside_a_flow);
    r.assert_within("a 150,000-topic replay to a new publisher", REPLAY_MS);
}

// ---------------------------------------------------------------------------------------------
// Shares, long topics and cancels at the edges.
// ---------------------------------------------------------------------------------------------

/// Raw subscribers, each sending `subs`; then a libzmq subscriber to `topic` must get a
/// libzmq publisher's message on it.
fn later_subscriber_after(subs: &[Vec<u8>], topic: &[u8]) {
    let broker = Broker::start("forwarder", &[]);
    let mut probe = publisher(&broker, "probe publisher", "XPUB");
    let mut hostile: Vec<TcpStream> = Vec::new();
    for batch in subs {
        let mut s = raw_sub(&broker);
        s.write_all(batch).expect("the subscriptions");
        hostile.push(s);
    }
    settled(&mut probe);
    later_gets(&broker, &broker, topic, b"later");
    drop(hostile);
    broker.stop();
}

/// Let the broker take every subscription sent: `probe` (a publisher) sees them until they
/// stop coming. How many it saw.
fn settled(probe: &mut Agent) -> usize {
    let mut seen = 0;
    while probe.recv(Duration::from_millis(500)).is_some() {
        seen += 1;
    }
    seen
}

/// A libzmq subscriber to `topic` on `sub_at`'s backend gets `body` from a libzmq publisher on
/// `pub_at`'s frontend (the same broker, or the ends of a chain).
fn later_gets(pub_at: &Broker, sub_at: &Broker, topic: &[u8], body: &[u8]) {
    let hex = zedge_tests::agent::hex(topic);
    let mut later = Agent::connect(
        "later subscriber",
        "SUB",
        sub_at.backend(),
        &[&format!("sub={hex}")],
    );
    let mut p = publisher(pub_at, "later publisher", "PUB");
    delivered(&mut p, &mut later, topic, body);
}

#[test]
fn four_subscribers_at_their_share_lock_out_no_later_subscriber() {
    // 4 x 1,024 distinct topics (the default share) fill the default 4,096-entry table.
    let subs: Vec<Vec<u8>> = (0..4)
        .map(|i| distinct_subscriptions(&format!("x{i}-"), 1024))
        .collect();
    later_subscriber_after(&subs, b"later");
}

#[test]
fn sixty_four_long_topics_lock_out_no_later_subscriber() {
    let subs: Vec<Vec<u8>> = (0..4)
        .map(|i| {
            (0..16)
                .flat_map(|j| {
                    let mut t = format!("x{i}-{j:02}-").into_bytes();
                    t.resize(MAX_TOPIC, b'x');
                    sub_message(true, &t)
                })
                .collect()
        })
        .collect();
    // They leave 9 pieces of 28 bytes: a topic of 300 bytes needs 11.
    let mut topic = b"later".to_vec();
    topic.resize(300, b'-');
    later_subscriber_after(&subs, &topic);
}

/// What a raw subscriber is sent: its data messages, each one frame's body, until `idle`.
fn received(s: &mut TcpStream, idle: Duration) -> Vec<Vec<u8>> {
    s.set_read_timeout(Some(idle)).expect("read timeout");
    let mut r = std::io::BufReader::new(s.try_clone().expect("clone"));
    let mut got = Vec::new();
    while let Ok((flags, body)) = read_frame(&mut r) {
        if flags & 0x04 == 0 {
            got.push(body);
        }
    }
    got
}

#[test]
fn long_subscriptions_as_zmtp_3_0_messages_at_and_over_the_limit() {
    // A ZMTP 3.0 subscriber sends `0x01` messages: a topic of exactly 16 KiB (taken), one of
    // 16 KiB + 1 and one of 1 MiB (refused, skipped as they arrive), cancels of a topic it
    // never had and of an over-long one (nothing happens), then a short one (taken).
    let broker = Broker::start("forwarder", &["--heartbeat-ivl", "0"]);
    let mut probe = publisher(&broker, "XPUB publisher", "XPUB");
    let mut s = raw::handshake_as(broker.backend_addr(), SocketType::XSub, 0, deadline(10));
    let at_limit = {
        let mut t = b"edge".to_vec();
        t.resize(MAX_TOPIC, b'e');
        t
    };
    let mut over = b"over".to_vec();
    over.resize(MAX_TOPIC + 1, b'o');
    let mut huge = b"huge".to_vec();
    huge.resize(MIB, b'h');
    let mut bytes = Vec::new();
    for (subscribe, topic) in [
        (true, &at_limit[..]),
        (true, &over[..]),
        (true, &huge[..]),
        (false, b"never".as_slice()),
        (false, &over[..]),
        (false, &huge[..]),
        (true, b"short".as_slice()),
    ] {
        bytes.extend(sub_message(subscribe, topic));
    }
    s.write_all(&bytes).expect("the subscriptions");
    let mut seen = Vec::new();
    until(
        deadline(20),
        "the short subscription reaches the publisher",
        || {
            if let Some(m) = probe.recv(Duration::from_millis(200)) {
                seen.push(m[0].clone());
            }
            seen.iter().any(|t| t == b"\x01short")
        },
    );
    let mut want_edge = vec![1u8];
    want_edge.extend_from_slice(&at_limit);
    assert!(
        seen == vec![want_edge, b"\x01short".to_vec()],
        "the publisher got other subscriptions than the 16 KiB and the short one: {:?}",
        seen.iter()
            .map(|t| (
                t.len(),
                String::from_utf8_lossy(&t[..t.len().min(16)]).into_owned()
            ))
            .collect::<Vec<_>>()
    );
    probe.send(&[&at_limit, b"at the limit"]);
    probe.send(&[&over, b"over the limit"]);
    probe.send(&[b"short", b"after"]);
    let got = received(&mut s, Duration::from_millis(1000));
    let want = vec![
        at_limit.clone(),
        b"at the limit".to_vec(),
        b"short".to_vec(),
        b"after".to_vec(),
    ];
    assert!(
        got == want,
        "the ZMTP 3.0 subscriber got other messages than those it subscribed to: {:?}",
        got.iter()
            .map(|f| (
                f.len(),
                String::from_utf8_lossy(&f[..f.len().min(16)]).into_owned()
            ))
            .collect::<Vec<_>>()
    );
    let (closed, _) = raw::closed_by(&mut s, Instant::now() + Duration::from_millis(100));
    assert!(!closed, "a subscriber with over-long topics was closed");
    probe.assert_never_disconnected("the publisher");
    broker.stop();
}

#[test]
fn a_subscriber_at_its_share_may_cancel_and_subscribe_again() {
    // 1,024 topics (the share), a 1,025th refused; one cancelled, the refused one again:
    // taken now. Cancels of topics never held change nothing upstream.
    let broker = Broker::start("forwarder", &[]);
    let mut probe = publisher(&broker, "XPUB publisher", "XPUB");
    let mut s = raw_sub(&broker);
    let mut bytes = distinct_subscriptions("s", 1025);
    bytes.extend(sub_message(false, b"never held"));
    bytes.extend(sub_message(false, b"s000000"));
    bytes.extend(sub_message(false, b"s001024")); // refused, so not held either
    bytes.extend(sub_message(true, b"s001024"));
    s.write_all(&bytes).expect("the subscriptions");
    let mut seen = Vec::new();
    until(
        deadline(20),
        "the resubscription reaches the publisher",
        || {
            if let Some(m) = probe.recv(Duration::from_millis(300)) {
                seen.push(m[0].clone());
            }
            seen.last().is_some_and(|t| t == b"\x01s001024")
        },
    );
    let mut want: Vec<Vec<u8>> = (0..1024)
        .map(|i| format!("\x01s{i:06}").into_bytes())
        .collect();
    want.push(b"\x00s000000".to_vec());
    want.push(b"\x01s001024".to_vec());
    assert_eq!(seen.len(), want.len(), "subscriptions upstream");
    assert_eq!(seen, want, "subscriptions upstream, in order");
    probe.send(&[b"s001024", b"now"]);
    probe.send(&[b"s000000", b"cancelled"]);
    probe.send(&[b"s000001", b"held"]);
    let got = received(&mut s, Duration::from_millis(1000));
    assert_eq!(
        got,
        vec![
            b"s001024".to_vec(),
            b"now".to_vec(),
            b"s000001".to_vec(),
            b"held".to_vec()
        ]
    );
    broker.stop();
}

/// The refusals of `cause` a broker's log reports, summed over its lines.
fn refusals_reported(stderr: &str, cause: &str) -> u64 {
    stderr
        .lines()
        .filter(|l| l.contains(cause))
        .filter_map(|l| {
            let n = l
                .rsplit_once(" (")?
                .1
                .split_once(" refused for this cause")?
                .0;
            n.parse::<u64>().ok()
        })
        .sum()
}

#[test]
fn refused_subscriptions_are_warned_with_their_cause_rate_limited() {
    // A subscriber past its share of 2 (8 refused), then one topic over 16 KiB: each cause is
    // warned at once, naming the subscriber; 5 more past the share within the 10 s interval
    // are held and reported when it ends.
    let broker = Broker::start("forwarder", &["--max-subscriptions-per-peer", "2"]);
    let mut s = raw_sub(&broker);
    s.write_all(&distinct_subscriptions("r", 10))
        .expect("10 subscriptions");
    let mut long = b"long".to_vec();
    long.resize(MAX_TOPIC + 1, b'l');
    s.write_all(&sub_message(true, &long))
        .expect("a subscription too long");
    let share = "subscription refused: the subscriber holds its share of the subscription table";
    let too_long = "subscription refused: topic longer than the 16 KiB limit";
    until(deadline(10), "both causes are warned about", || {
        let e = broker.stderr();
        refusals_reported(&e, share) == 8 && refusals_reported(&e, too_long) == 1
    });
    let started = Instant::now();
    thread::sleep(Duration::from_millis(200));
    s.write_all(&distinct_subscriptions("q", 5))
        .expect("5 more subscriptions");
    until(deadline(15), "the refusals held back are reported", || {
        thread::sleep(Duration::from_millis(100));
        refusals_reported(&broker.stderr(), share) == 13
    });
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "held back for the interval"
    );
    let stderr = broker.stderr();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("subscription refused"))
        .collect();
    assert_eq!(
        lines.len(),
        3,
        "one line per cause, then one for what was held: {lines:?}"
    );
    for line in &lines {
        assert!(
            line.contains(" WARN  forwarder backend 127.0.0.1: subscription refused: "),
            "{line}"
        );
    }
    assert_eq!(refusals_reported(&stderr, too_long), 1);
    let (closed, _) = raw::closed_by(&mut s, Instant::now() + Duration::from_millis(100));
    assert!(!closed, "a subscriber refused past its share was closed");
    broker.stop();
}

// ---------------------------------------------------------------------------------------------
// Chained forwarders.
// ---------------------------------------------------------------------------------------------

/// Two forwarders at their defaults, the downstream one connected to the upstream one's
/// backend (one XSUB peer there, subscribing for all of its subscribers). At the downstream
/// forwarder a hostile subscriber holds its whole share (1,024 distinct topics), a stalled
/// one subscribes to everything and never reads, and a slow one subscribes to everything and
/// reads a little every 10 ms; a normal flow, its publisher upstream and its subscriber
/// downstream, subscribed after them, gets every message within the isolation bound; after
/// the hostile leaves, a later subscriber's topic still crosses both. Held to one
/// subscriber's share upstream, the downstream forwarder's topics past the hostile's 1,024
/// were refused there for good: the flow got nothing, and the later subscriber nothing
/// (attacker round 6, `chain_persist.py`).
#[test]
fn a_subscriber_at_its_share_downstream_cuts_no_later_topic_off_upstream() {
    let r = retry_latency(ISOLATION_MS, share_downstream_beside_a_flow);
    r.assert_within(
        "a flow across two forwarders beside a share's worth of topics",
        ISOLATION_MS,
    );
}

/// The scenario of `a_subscriber_at_its_share_downstream_...`: the normal flow's result.
fn share_downstream_beside_a_flow() -> FlowResult {
    let (upstream, downstream, mut probe) = chain();
    let mut hostile = raw_sub(&downstream);
    hostile
        .write_all(&distinct_subscriptions("h-", 1024))
        .expect("the hostile's subscriptions");
    let stalled = stalled_subscriber(&downstream, b"");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slow = slow_reader(raw_sub(&downstream), b"", stop.clone());
    let seen = settled(&mut probe);
    assert!(seen >= 1024, "only {seen} subscriptions crossed");
    let mut f = Flow::start(
        "forwarder",
        upstream.frontend(),
        downstream.backend(),
        FlowSpec::ticks(200, 3.0),
    );
    f.go();
    let r = f.finish();
    drop(hostile);
    thread::sleep(Duration::from_millis(300));
    later_gets(&upstream, &downstream, b"later", b"after the hostile left");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let slow_read = slow.join().expect("the slow subscriber");
    assert!(slow_read > 0, "the slow subscriber read nothing");
    drop(stalled);
    downstream.stop();
    upstream.stop();
    r
}

/// Two forwarders at their defaults, the downstream one connected to the upstream one's
/// backend, and an XPUB on the upstream one's frontend that sees what crosses.
fn chain() -> (Broker, Broker, Agent) {
    let upstream = Broker::start("forwarder", &[]);
    let downstream = Broker::start_with(
        "forwarder",
        &[Ep::Connect(upstream.backend().to_owned())],
        &[Ep::Tcp],
        &[],
    );
    let probe = publisher(&upstream, "probe publisher", "XPUB");
    (upstream, downstream, probe)
}

/// A raw subscriber to `topic` that never reads.
fn stalled_subscriber(broker: &Broker, topic: &[u8]) -> TcpStream {
    let mut s = raw_sub(broker);
    s.set_nonblocking(false)
        .and_then(|()| s.write_all(&sub_message(true, topic)))
        .expect("the stalled subscriber's subscription");
    s
}

/// A raw subscriber to `topic` that reads 1 KiB every 10 ms until `stop`; the bytes it read.
fn slow_reader(
    mut s: TcpStream,
    topic: &'static [u8],
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> JoinHandle<usize> {
    use std::io::Read;
    thread::spawn(move || {
        let ready = s.set_nonblocking(false).and_then(|()| {
            s.set_read_timeout(Some(Duration::from_millis(100)))?;
            s.write_all(&sub_message(true, topic))
        });
        ready.expect("the slow subscriber's subscription");
        let (mut buf, mut read) = ([0u8; 1024], 0);
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            read += s.read(&mut buf).unwrap_or(0);
            thread::sleep(Duration::from_millis(10));
        }
        read
    })
}

/// Two forwarders at their defaults, chained; at the downstream one four subscribers hold a
/// share each (4 x 1,024 distinct topics), more than the upstream one takes from one broker
/// (4/5 of its table), and a libzmq subscriber of `later` comes after them: its topic is
/// refused upstream (ZMTP tells nobody), and it gets nothing while they stay. Once they leave,
/// their cancellations free room upstream, and the downstream forwarder offers the topics
/// that came after theirs again: the subscriber gets its messages, within seconds, without
/// subscribing again. Before, the topic stayed lost until it reconnected (attacker round 7,
/// `NCONN=4 r7_chain_fill.py 1024 8 8`: 0 messages during and after). Beside it, a stalled
/// subscriber of everything, a slow one, and a flow whose subscriber came before the four,
/// held to the isolation bound while they subscribe and leave.
#[test]
fn a_topic_refused_upstream_crosses_once_the_subscribers_that_filled_it_leave() {
    let r = retry_latency(ISOLATION_MS, refused_upstream_then_left);
    r.assert_within(
        "a flow across two forwarders while four shares come and go",
        ISOLATION_MS,
    );
}

/// The scenario of `a_topic_refused_upstream_crosses_...`: the normal flow's result.
fn refused_upstream_then_left() -> FlowResult {
    let (upstream, downstream, mut probe) = chain();
    // Not subscribed to everything: that would take `later` across too.
    let stalled = stalled_subscriber(&downstream, b"t");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slow = slow_reader(raw_sub(&downstream), b"t", stop.clone());
    let mut f = Flow::start(
        "forwarder",
        upstream.frontend(),
        downstream.backend(),
        FlowSpec::ticks(200, 6.0),
    );
    f.go();
    let hostile: Vec<TcpStream> = (0..4)
        .map(|i| {
            let mut s = raw_sub(&downstream);
            s.write_all(&distinct_subscriptions(&format!("h{i}-"), 1024))
                .expect("the subscriptions");
            s
        })
        .collect();
    let seen = settled(&mut probe);
    eprintln!("{seen} subscriptions crossed");
    assert!(seen >= 3000, "only {seen} subscriptions crossed");
    let hex = zedge_tests::agent::hex(b"later");
    let mut later = Agent::connect(
        "later subscriber",
        "SUB",
        downstream.backend(),
        &[&format!("sub={hex}")],
    );
    let mut p = publisher(&upstream, "later publisher", "PUB");
    // Refused upstream: nothing comes while the four stay.
    thread::sleep(Duration::from_millis(500));
    let during = (0..10)
        .filter(|_| {
            p.send(&[b"later", b"during"]);
            later.recv(Duration::from_millis(100)).is_some()
        })
        .count();
    drop(hostile);
    let left = Instant::now();
    delivered(&mut p, &mut later, b"later", b"after the four left");
    let took = left.elapsed();
    let r = f.finish();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(slow.join().expect("the slow subscriber") > 0);
    eprintln!(
        "during: {during} of 10; after they left: in {took:?}; flow {}",
        r.line
    );
    assert_eq!(
        during, 0,
        "the topic crossed while the table upstream was full: no refusal to test"
    );
    drop(stalled);
    downstream.stop();
    upstream.stop();
    r
}

/// Six peers that say they are XSUBs, each subscribing 4,096 distinct topics, under
/// `--max-subscriptions-per-peer 64`: each holds four subscribers' shares (256), a later
/// subscriber gets its topic, and a normal flow beside them and a slow subscriber to
/// everything gets every message within the isolation bound. With no share at all for an
/// XSUB, six filled the table (each taking 4/5 of what the last left) and locked every later
/// subscriber out, whatever the setting said (attacker round 7, `r7_xsubfill.py`).
#[test]
fn six_peers_that_say_they_are_xsubs_are_held_to_four_shares() {
    let r = retry_latency(ISOLATION_MS, six_xsubs_beside_a_flow);
    r.assert_within("a flow beside six XSUBs at four shares each", ISOLATION_MS);
}

/// The scenario of `six_peers_that_say_they_are_xsubs_...`: the normal flow's result.
fn six_xsubs_beside_a_flow() -> FlowResult {
    let broker = Broker::start("forwarder", &["--max-subscriptions-per-peer", "64"]);
    let mut probe = publisher(&broker, "probe publisher", "XPUB");
    let hostile: Vec<TcpStream> = (0..6)
        .map(|i| {
            let mut s = raw::handshake(broker.backend_addr(), SocketType::XSub, deadline(10));
            s.write_all(&distinct_subscriptions(&format!("x{i}-"), 4096))
                .expect("the subscriptions");
            s
        })
        .collect();
    let seen = settled(&mut probe);
    assert_eq!(seen, 6 * 4 * 64, "subscriptions that reached the publisher");
    later_gets(&broker, &broker, b"later", b"after six XSUBs");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slow = slow_reader(raw_sub(&broker), b"", stop.clone());
    let mut f = flow(&broker, "forwarder", FlowSpec::ticks(200, 3.0));
    f.go();
    let r = f.finish();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(slow.join().expect("the slow subscriber") > 0);
    drop(hostile);
    broker.stop();
    r
}
