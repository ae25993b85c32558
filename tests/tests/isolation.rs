//! Isolation through the real binary: each abuse runs beside a normal, timestamped flow between
//! real libzmq peers ([`Flow`]), and the test asserts what that flow still gets (every message,
//! within its latency) and that nobody innocent is closed. The abusers are raw TCP peers
//! (exact ZMTP bytes, paced by the test) or libzmq peers.
//!
//! Latency bounds: the architecture's goal is that a slow, stalled or hostile peer adds at most
//! 100 ms to any other flow. The binary under test is the debug build on a small, shared
//! machine, so where a bound rests on "bounded work per turn" rather than on "nothing waits",
//! the test says how it was chosen.

use std::io::Write;
use std::net::TcpStream;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use zedge_core::wire::metadata::SocketType;
use zedge_tests::agent::Agent;
use zedge_tests::broker::Broker;
use zedge_tests::flow::{pattern, Flow, FlowSpec};
use zedge_tests::raw;
use zedge_tests::wait::{deadline, until};

/// The architecture's isolation goal: what an abuse may add to another flow's latency.
const ISOLATION_MS: f64 = 100.0;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// A message's bytes on the wire: a data frame per part, MORE on all but the last.
fn wire(parts: &[&[u8]]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        bytes.extend(raw::data_head(part.len() as u64, i + 1 < parts.len()));
        bytes.extend_from_slice(part);
    }
    bytes
}

/// `len` bytes: the topic `slow`, then [`pattern`] (what [`Flow`] checks extra messages by).
fn slow_body(len: usize) -> Vec<u8> {
    let mut b = b"slow".to_vec();
    b.extend(pattern(len - 4));
    b
}

/// Write `bytes` to `s` on a thread, `chunk` bytes every `every`; the stream is handed back.
fn paced(mut s: TcpStream, bytes: Vec<u8>, chunk: usize, every: Duration) -> JoinHandle<TcpStream> {
    thread::spawn(move || {
        let start = Instant::now();
        for (i, piece) in bytes.chunks(chunk).enumerate() {
            let at = start + every * i as u32;
            thread::sleep(at.saturating_duration_since(Instant::now()));
            s.write_all(piece).expect("write a paced chunk");
        }
        s
    })
}

/// A raw publisher, handshake done, on the forwarder's frontend.
fn raw_pub(broker: &Broker) -> TcpStream {
    raw::handshake(broker.frontend_addr(), SocketType::Pub, deadline(10))
}

/// The flow's subscriber also takes `slow` messages; one is expected within `wait` s after the
/// ticks.
fn with_slow(rate: u32, secs: f64, expect: usize, wait: f64) -> FlowSpec {
    FlowSpec {
        rate,
        secs,
        extra: vec![b"slow".to_vec()],
        expect_extra: expect,
        extra_wait: wait,
    }
}

fn flow(broker: &Broker, device: &str, spec: FlowSpec) -> Flow {
    Flow::start(device, broker.frontend(), broker.backend(), spec)
}

// ---------------------------------------------------------------------------------------------
// Row 3: a message arriving slowly is stored, and holds no destination meanwhile.
// ---------------------------------------------------------------------------------------------

/// A raw publisher sends `parts` as one message at about 200 KB/s while the flow runs at
/// 200 msgs/s for 3 s; the flow's subscriber also takes the slow message's topic, so it is the
/// slow message's destination. The flow gets every tick within the isolation bound, and then
/// the slow message, whole.
fn slow_message_beside_a_flow(args: &[&str], parts: &[&[u8]]) {
    let broker = Broker::start("forwarder", args);
    let mut f = flow(&broker, "forwarder", with_slow(200, 3.0, 1, 10.0));
    let bytes = wire(parts);
    let total: usize = parts.iter().map(|p| p.len()).sum();
    // 4 KiB every 20 ms: 204.8 KB/s, 1 MiB in about 5 s.
    let sender = paced(raw_pub(&broker), bytes, 4 * KIB, Duration::from_millis(20));
    thread::sleep(Duration::from_millis(500));
    f.go();
    let r = f.finish();
    let s = sender.join().expect("the slow sender");
    r.assert_within("a publisher sending 1 MiB at 200 KB/s", ISOLATION_MS);
    let extras = r.extras();
    assert_eq!(
        extras.len(),
        1,
        "the slow message did not arrive once: {}",
        r.line
    );
    let (len, n, ok, _) = extras[0];
    assert_eq!(
        (len, n, ok),
        (total, parts.len(), true),
        "the slow message arrived damaged: {}",
        r.line
    );
    drop(s);
    broker.stop();
}

#[test]
fn a_slow_1mib_message_stored_under_a_2m_threshold_holds_no_subscriber() {
    let body = slow_body(MIB);
    slow_message_beside_a_flow(&["--store-forward-max", "2M"], &[&body]);
}

#[test]
fn a_slow_message_just_under_the_default_threshold_holds_no_subscriber() {
    let body = slow_body(MIB - 64);
    slow_message_beside_a_flow(&[], &[&body]);
}

#[test]
fn a_slow_single_frame_of_exactly_the_threshold_is_stored() {
    // 1 MiB of body in one frame: exactly --store-forward-max (default 1M).
    let body = slow_body(MIB);
    slow_message_beside_a_flow(&[], &[&body]);
}

#[test]
fn a_slow_multipart_message_of_exactly_the_threshold_arrives() {
    // [b"slow", 1 MiB - 4]: a message of 1 MiB (what --max-msg-size and ZeroMQ count), two
    // frame heads (2 + 9 bytes) on the wire: 1 MiB + 11 bytes, 2 more than the input buffer.
    // It is cut through once the buffer is full, 2 bytes before its end: sent steadily, that
    // holds its subscriber for one chunk's time.
    let body = slow_body(MIB);
    slow_message_beside_a_flow(&[], &[&body[..4], &body[4..]]);
}

#[test]
fn a_slow_multipart_message_under_the_threshold_with_its_heads_is_stored() {
    // The same, 8 bytes shorter: with its heads it fits the buffer.
    let body = slow_body(MIB - 8);
    slow_message_beside_a_flow(&[], &[&body[..4], &body[4..]]);
}

/// A raw publisher sends all but the last `short` bytes of `parts` at once, stalls 6 s (past
/// the 5 s progress timeout), then leaves, while the flow (200 msgs/s for 4 s) runs; the
/// flow's subscriber takes `slow` too.
fn stalled_before_its_end(parts: &[&[u8]], short: usize) -> zedge_tests::flow::FlowResult {
    let broker = Broker::start("forwarder", &[]);
    let mut f = flow(&broker, "forwarder", with_slow(200, 4.0, 0, 0.0));
    let bytes = wire(parts);
    let mut s = raw_pub(&broker);
    s.write_all(&bytes[..bytes.len() - short])
        .expect("all but the end of the message");
    thread::sleep(Duration::from_millis(200));
    f.go();
    let leaves = thread::spawn(move || {
        thread::sleep(Duration::from_secs(6));
        drop(s);
    });
    let r = f.finish();
    leaves.join().expect("the stalled publisher");
    assert!(
        r.extras().is_empty(),
        "a message its sender never finished was delivered: {}",
        r.line
    );
    broker.stop();
    r
}

#[test]
fn a_publisher_stalling_before_the_end_of_a_stored_message_holds_nobody() {
    // A one-frame message of 1 MiB, 2 bytes short: it fits the buffer, nothing is held.
    let body = slow_body(MIB);
    let r = stalled_before_its_end(&[&body], 2);
    r.assert_within("a 1 MiB message stalled 2 bytes before its end", ISOLATION_MS);
}

#[test]
#[ignore = "bug: a multipart message of exactly --store-forward-max is cut through once the buffer is full (its frame heads count), so a sender stalling 2 bytes before its end holds the subscriber 5 s and then resets it"]
fn a_publisher_stalling_before_the_end_of_a_threshold_sized_multipart_message_holds_nobody() {
    // [b"slow", 1 MiB - 4]: 1 MiB of message, 1 MiB + 11 bytes on the wire; all but its
    // last 2 bytes fill the 1 MiB + 9 buffer exactly.
    let body = slow_body(MIB);
    let r = stalled_before_its_end(&[&body[..4], &body[4..]], 2);
    r.assert_within(
        "a 2-part message of 1 MiB stalled 2 bytes before its end",
        ISOLATION_MS,
    );
}

// ---------------------------------------------------------------------------------------------
// Messages over the threshold, cut through.
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "bug: a publisher whose message reaches a subscriber held by another publisher's cut-through message is blocked whole, so subscribers unrelated to the slow message stall with it"]
fn a_slow_cut_through_message_stalls_no_unrelated_subscriber() {
    // A legitimate large message (1 MiB + 1 KiB, over the default 1M threshold) on a slow link
    // (200 KB/s: about 5 s) to a subscriber of everything. The flow's subscriber takes only
    // `tick`: nothing of the slow message is for it, so nothing should hold it.
    let broker = Broker::start("forwarder", &[]);
    let mut all = Agent::connect("subscriber of everything", "SUB", broker.backend(), &["sub=-", "monitor"]);
    assert!(all.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    let mut f = flow(&broker, "forwarder", FlowSpec::ticks(200, 3.0));
    let body = slow_body(MIB + KIB);
    let sender = paced(raw_pub(&broker), wire(&[&body]), 4 * KIB, Duration::from_millis(20));
    thread::sleep(Duration::from_millis(500));
    f.go();
    let r = f.finish();
    drop(sender.join().expect("the slow sender"));
    r.assert_within(
        "a 1 MiB + 1 KiB message at 200 KB/s to another subscriber",
        ISOLATION_MS,
    );
    broker.stop();
}

/// A raw publisher sends the head and 32 KiB of a `frame`-byte frame on topic `slow`, then one
/// byte a second for `trickle` seconds, then leaves; the flow (500 msgs/s for `secs`) takes
/// `slow` too, so it is that message's destination.
fn trickle_beside_a_flow(frame: usize, trickle: u32, secs: f64) -> zedge_tests::flow::FlowResult {
    let broker = Broker::start("forwarder", &[]);
    let mut f = flow(&broker, "forwarder", with_slow(500, secs, 0, 0.0));
    let body = slow_body(frame);
    let mut s = raw_pub(&broker);
    let mut bytes = raw::data_head(frame as u64, false);
    bytes.extend_from_slice(&body[..32 * KIB]);
    s.write_all(&bytes).expect("the first 32 KiB");
    f.go();
    let trickler = thread::spawn(move || {
        for i in 0..trickle as usize {
            thread::sleep(Duration::from_secs(1));
            if s.write_all(&body[32 * KIB + i..][..1]).is_err() {
                break;
            }
        }
        drop(s);
    });
    let r = f.finish();
    trickler.join().expect("the trickling publisher");
    assert!(
        r.extras().is_empty(),
        "a message its sender never finished was delivered: {}",
        r.line
    );
    broker.stop();
    r
}

#[test]
fn a_publisher_trickling_a_stored_message_and_leaving_costs_nothing() {
    // Row 4: 32 KiB of a 1 MiB frame (it fits the 1M buffer: stored), then 1 byte/s, then
    // gone. The subscriber used to be reset and lose half of another flow.
    let r = trickle_beside_a_flow(MIB, 3, 4.0);
    r.assert_within("32 KiB of 1 MiB, then 1 byte/s, then gone", ISOLATION_MS);
}

#[test]
#[ignore = "bug: any byte counts as progress, so a cut-through message trickled at 1 byte/s holds its subscribers past --progress-timeout for as long as its sender likes"]
fn a_publisher_trickling_a_cut_through_message_is_cut_off_at_the_progress_timeout() {
    // Over the threshold (1 MiB + 1): cut through once its first 16 KiB are here, holding the
    // subscribers it goes to. The documented bound for such a message is the progress timeout
    // (5 s): one that crawls at 1 byte/s (12 days for the rest of it) is not arriving, and its
    // sender should be closed by then. It trickles for up to 10 s here.
    let broker = Broker::start("forwarder", &[]);
    let mut sub = Agent::connect("subscriber", "SUB", broker.backend(), &["sub=-", "monitor"]);
    assert!(sub.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    thread::sleep(Duration::from_millis(300));
    let frame = MIB + 1;
    let body = slow_body(frame);
    let mut s = raw_pub(&broker);
    let mut bytes = raw::data_head(frame as u64, false);
    bytes.extend_from_slice(&body[..32 * KIB]);
    s.write_all(&bytes).expect("the first 32 KiB");
    let started = Instant::now();
    let mut closed_after = None;
    for i in 0..10 {
        thread::sleep(Duration::from_secs(1));
        let (closed, _) = raw::closed_by(&mut s, Instant::now() + Duration::from_millis(10));
        if closed || s.write_all(&body[32 * KIB + i..][..1]).is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
    }
    broker.stop();
    let limit = Duration::from_millis(6_500);
    assert!(
        closed_after.is_some_and(|t| t <= limit),
        "a sender trickling a cut-through message at 1 byte/s was still holding its subscriber \
         after {:?} (closed after {closed_after:?}); the progress timeout is 5 s",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Row 5: the streamer, one worker, a producer stalled mid-message.
// ---------------------------------------------------------------------------------------------

/// A raw PUSH producer sends the head of a `frame`-byte frame and `sent` bytes of it, then
/// stalls for the flow's 3 s (200 msgs/s from a libzmq PUSH to the one libzmq PULL worker),
/// then leaves. The worker gets the flow at once and is never reset.
fn producer_stalls_beside_a_flow(frame: usize, sent: usize) {
    let broker = Broker::start("streamer", &[]);
    let mut f = flow(&broker, "streamer", FlowSpec::ticks(200, 3.0));
    let mut s = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
    let mut bytes = raw::data_head(frame as u64, false);
    bytes.extend(pattern(sent));
    s.write_all(&bytes).expect("part of a message");
    thread::sleep(Duration::from_millis(200));
    f.go();
    let r = f.finish();
    drop(s);
    r.assert_within(
        &format!("a producer stalled after {sent} bytes of a {frame}-byte message"),
        ISOLATION_MS,
    );
    broker.stop();
}

#[test]
fn streamer_producer_stalled_mid_message_holds_no_worker() {
    // Row 5: 32 KiB of a 1 MiB frame. Used to hold the one worker 12 s and then reset it.
    producer_stalls_beside_a_flow(MIB, 32 * KIB);
}

#[test]
fn streamer_producer_stalled_just_before_the_end_of_a_threshold_message_holds_no_worker() {
    // All of a 1 MiB frame (exactly the default threshold) but its last byte.
    producer_stalls_beside_a_flow(MIB, MIB - 1);
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
    until(deadline(20), "a message on the long topic is delivered", || {
        publisher.send(&[topic, body]);
        sub.recv(Duration::from_millis(100))
            .is_some_and(|m| m == vec![topic.to_vec(), body.to_vec()])
    });
    // Copies sent while the subscription travelled.
    sub.drain(1000, Duration::from_millis(100));
}

/// Nothing in an agent's monitor events says it was disconnected.
fn never_disconnected(agent: &mut Agent, who: &str) {
    let events = agent.events(Duration::from_millis(50));
    assert!(
        !events.iter().any(|e| e == "DISCONNECTED" || e == "CLOSED"),
        "{who} was disconnected: {events:?}"
    );
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
    let mut early = [publisher(&broker, "early PUB", "PUB"), publisher(&broker, "early XPUB", "XPUB")];
    let mut sub = Agent::connect("subscriber", "SUB", broker.backend(), &["monitor"]);
    assert!(sub.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    for t in &topics {
        sub.sub(t);
    }
    let mut late = [publisher(&broker, "late PUB", "PUB"), publisher(&broker, "late XPUB", "XPUB")];
    for xpub in [&mut early[1], &mut late[1]] {
        let mut seen: Vec<Vec<u8>> = Vec::new();
        until(deadline(20), "every long subscription reaches the XPUB publisher", || {
            if let Some(m) = xpub.recv(Duration::from_millis(200)) {
                assert_eq!(m.len(), 1, "a subscription is one frame");
                seen.push(m[0].clone());
            }
            topics.iter().all(|t| {
                let mut want = vec![1u8];
                want.extend_from_slice(t);
                seen.contains(&want)
            })
        });
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
        never_disconnected(p, &format!("publisher #{i}"));
    }
    never_disconnected(&mut sub, "the subscriber of long topics");
    broker.stop();
}

#[test]
fn a_5000_byte_topic_is_taken_and_a_1mib_topic_refused_closing_nobody() {
    // Row 2.
    let broker = Broker::start("forwarder", &[]);
    let mut xpub = publisher(&broker, "XPUB publisher", "XPUB");
    let mut a = Agent::connect("5000-byte subscriber", "SUB", broker.backend(), &["monitor"]);
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
    until(deadline(20), "the short subscription after the refused one arrives", || {
        if let Some(m) = xpub.recv(Duration::from_millis(200)) {
            seen.push(m[0].clone());
        }
        seen.iter().any(|s| s == b"\x01short")
    });
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
    let mut f = flow(&broker, "forwarder", FlowSpec::ticks(200, 2.0));
    f.go();
    f.finish().assert_within("beside a 1 MiB subscription", ISOLATION_MS);
    never_disconnected(&mut a, "the 5000-byte subscriber");
    never_disconnected(&mut b, "the 1 MiB subscriber");
    never_disconnected(&mut xpub, "the publisher");
    broker.stop();
}
