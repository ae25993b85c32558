//! Isolation through the real binary: each abuse runs beside a normal, timestamped flow between
//! real libzmq peers ([`Flow`]), and the test asserts what that flow still gets (every message,
//! within its latency) and that nobody innocent is closed. The abusers are raw TCP peers
//! (exact ZMTP bytes, paced by the test) or libzmq peers. This file has the slow and stalled
//! senders; the subscriptions are in `isolation_subs.rs`.
//!
//! Latency bounds: the architecture's goal is that a slow, stalled or hostile peer adds at most
//! 100 ms to any other flow. The binary under test is optimized (the `checked` profile: debug
//! assertions and overflow checks on) on a small, shared machine; until session 8 it was the
//! debug build, under which a flood of subscribe and cancel gave the flow 100-220 ms (p50 11-16
//! ms) against 6-13 ms optimized. Where a bound rests on "bounded work per turn" rather than on
//! "nothing waits", the test says how it was chosen.

use std::io::Write;
use std::net::TcpStream;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use zedge_core::wire::metadata::SocketType;
use zedge_tests::agent::{Agent, Msg};
use zedge_tests::broker::{cpu_secs, Broker};
use zedge_tests::flow::{pattern, retry_latency, Flow, FlowResult, FlowSpec, ISOLATION_MS};
use zedge_tests::raw;
use zedge_tests::wait::deadline;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// `len` bytes: the topic `slow`, then [`pattern`] (what [`Flow`] checks extra messages by).
fn slow_body(len: usize) -> Vec<u8> {
    let mut b = b"slow".to_vec();
    b.extend(pattern(len - 4));
    b
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
    let r = retry_latency(ISOLATION_MS, || slow_message_run(args, parts));
    r.assert_within("a publisher sending 1 MiB at 200 KB/s", ISOLATION_MS);
}

fn slow_message_run(args: &[&str], parts: &[&[u8]]) -> FlowResult {
    let broker = Broker::start("forwarder", args);
    let mut f = flow(&broker, "forwarder", with_slow(200, 3.0, 1, 10.0));
    let bytes = raw::message_bytes(parts);
    let total: usize = parts.iter().map(|p| p.len()).sum();
    // 4 KiB every 20 ms: 204.8 KB/s, 1 MiB in about 5 s.
    let sender = raw::paced(raw_pub(&broker), bytes, 4 * KIB, Duration::from_millis(20));
    thread::sleep(Duration::from_millis(500));
    f.go();
    let r = f.finish();
    let s = sender.join().expect("the slow sender");
    r.assert_whole("a publisher sending 1 MiB at 200 KB/s");
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
    r
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
fn stalled_before_its_end(parts: &[&[u8]], short: usize) -> FlowResult {
    let broker = Broker::start("forwarder", &[]);
    let mut f = flow(&broker, "forwarder", with_slow(200, 4.0, 0, 0.0));
    let bytes = raw::message_bytes(parts);
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
    let r = retry_latency(ISOLATION_MS, || stalled_before_its_end(&[&body], 2));
    r.assert_within(
        "a 1 MiB message stalled 2 bytes before its end",
        ISOLATION_MS,
    );
}

#[test]
fn a_publisher_stalling_before_the_end_of_a_threshold_sized_multipart_message_holds_nobody() {
    // [b"slow", 1 MiB - 4]: 1 MiB of message, 1 MiB + 11 bytes on the wire; all but its
    // last 2 bytes fill the 1 MiB + 9 buffer exactly.
    let body = slow_body(MIB);
    let r = retry_latency(ISOLATION_MS, || {
        stalled_before_its_end(&[&body[..4], &body[4..]], 2)
    });
    r.assert_within(
        "a 2-part message of 1 MiB stalled 2 bytes before its end",
        ISOLATION_MS,
    );
}

// ---------------------------------------------------------------------------------------------
// Messages over the threshold, cut through.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_slow_cut_through_message_stalls_no_unrelated_subscriber() {
    // A legitimate large message (1 MiB + 1 KiB, over the default 1M threshold) on a slow link
    // (200 KB/s: about 5 s) to a subscriber of everything. The flow's subscriber takes only
    // `tick`: nothing of the slow message is for it, so nothing should hold it.
    let broker = Broker::start("forwarder", &[]);
    let mut all = Agent::connect(
        "subscriber of everything",
        "SUB",
        broker.backend(),
        &["sub=-", "monitor"],
    );
    assert!(all.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    let mut f = flow(&broker, "forwarder", FlowSpec::ticks(200, 3.0));
    let body = slow_body(MIB + KIB);
    let sender = raw::paced(
        raw_pub(&broker),
        raw::message_bytes(&[&body]),
        4 * KIB,
        Duration::from_millis(20),
    );
    thread::sleep(Duration::from_millis(500));
    f.go();
    let r = f.finish();
    drop(sender.join().expect("the slow sender"));
    r.assert_within(
        "a 1 MiB + 1 KiB message at 200 KB/s to another subscriber",
        ISOLATION_MS,
    );
    // The subscriber of everything got the large message whole, and every tick (which came
    // after it, held back for it meanwhile).
    let got = all.drain(r.sent() as usize + 100, Duration::from_secs(2));
    let is_large = |m: &Msg| m.len() == 1 && m[0] == body;
    assert_eq!(
        got.iter().filter(|m| is_large(m)).count(),
        1,
        "the large message, whole"
    );
    let ticks: Vec<&[u8]> = got
        .iter()
        .filter(|m| m.len() == 3 && m[0] == b"tick" && m[1] != b"warm")
        .map(|m| &m[1][..])
        .collect();
    let want: Vec<Vec<u8>> = (0..r.sent()).map(|i| i.to_string().into_bytes()).collect();
    assert!(
        ticks == want,
        "every tick, in order: got {} of {}",
        ticks.len(),
        want.len()
    );
    broker.stop();
}

/// A raw publisher sends the head and 32 KiB of a `frame`-byte frame on topic `slow`, then one
/// byte a second for `trickle` seconds, then leaves; the flow (500 msgs/s for `secs`) takes
/// `slow` too, so it is that message's destination.
fn trickle_beside_a_flow(frame: usize, trickle: u32, secs: f64) -> FlowResult {
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
    let r = retry_latency(ISOLATION_MS, || trickle_beside_a_flow(MIB, 3, 4.0));
    r.assert_within("32 KiB of 1 MiB, then 1 byte/s, then gone", ISOLATION_MS);
}

#[test]
fn a_publisher_trickling_a_cut_through_message_is_cut_off_at_the_progress_timeout() {
    // Over the threshold (1 MiB + 8 KiB: more than the buffer's 1 MiB and 4 KiB of room for
    // frame heads): cut through once the buffer is full, holding the
    // subscribers it goes to. The documented bound for such a message is the progress timeout
    // (5 s): one that crawls at 1 byte/s (12 days for the rest of it) is not arriving, and its
    // sender should be closed by then. It trickles for up to 10 s here.
    let broker = Broker::start("forwarder", &[]);
    let mut sub = Agent::connect("subscriber", "SUB", broker.backend(), &["sub=-", "monitor"]);
    assert!(sub.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    thread::sleep(Duration::from_millis(300));
    let frame = MIB + 8 * KIB;
    let body = slow_body(frame);
    let mut s = raw_pub(&broker);
    let mut bytes = raw::data_head(frame as u64, false);
    bytes.extend_from_slice(&body[..MIB + 6 * KIB]);
    s.write_all(&bytes).expect("all but the last 2 KiB");
    let started = Instant::now();
    let mut closed_after = None;
    for i in 0..10 {
        thread::sleep(Duration::from_secs(1));
        let (closed, _) = raw::closed_by(&mut s, Instant::now() + Duration::from_millis(10));
        if closed || s.write_all(&body[MIB + 6 * KIB + i..][..1]).is_err() {
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

#[test]
fn a_message_of_many_small_frames_arriving_slowly_costs_little_cpu() {
    // 50,000 empty MORE frames (2 bytes each) and an end: a 100 KB message of no size at all
    // as --max-msg-size counts, well under the threshold, so it is stored. Sent 100 bytes
    // every 2 ms (50 KB/s, about 2 s), beside the flow.
    let broker = Broker::start("forwarder", &[]);
    let mut f = flow(&broker, "forwarder", FlowSpec::ticks(200, 3.0));
    let mut bytes = raw::message_bytes(&[b"slow"]);
    bytes[0] |= 0x01; // MORE
    for _ in 0..50_000 {
        bytes.extend(raw::data_head(0, true));
    }
    bytes.extend(raw::data_head(0, false));
    let before = cpu_secs(broker.pid());
    let sender = raw::paced(raw_pub(&broker), bytes, 100, Duration::from_millis(2));
    f.go();
    let r = f.finish();
    drop(sender.join().expect("the sender"));
    let used = cpu_secs(broker.pid()) - before;
    eprintln!("broker CPU while 100 KB of empty frames arrived over 2 s: {used:.2} s");
    r.assert_within(
        "a message of 50,000 empty frames arriving slowly",
        ISOLATION_MS,
    );
    assert!(
        used < 0.5,
        "the broker used {used:.2} s of CPU taking a 100 KB message that arrived over 2 s"
    );
    broker.stop();
}

#[test]
fn many_slow_senders_at_once_hold_nobody() {
    let r = retry_latency(ISOLATION_MS, many_slow_senders_run);
    r.assert_within("20 senders at 64 KiB/s each", ISOLATION_MS);
}

fn many_slow_senders_run() -> FlowResult {
    // 20 raw publishers, each sending a 256 KiB message at 64 KiB/s (about 4 s), started
    // 100 ms apart, to a subscriber of `slow`; the flow runs beside them. Every slow message
    // is stored until whole, then delivered whole.
    let broker = Broker::start("forwarder", &[]);
    let mut slow_sub = Agent::connect(
        "slow subscriber",
        "SUB",
        broker.backend(),
        &["sub=736c6f77", "monitor"],
    );
    assert!(slow_sub.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    let mut f = flow(&broker, "forwarder", FlowSpec::ticks(200, 4.0));
    let body = slow_body(256 * KIB);
    let senders: Vec<JoinHandle<TcpStream>> = (0..20)
        .map(|i| {
            let s = raw_pub(&broker);
            let bytes = raw::message_bytes(&[&body]);
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(100 * i));
                raw::paced(s, bytes, 4 * KIB, Duration::from_millis(62))
                    .join()
                    .expect("a slow sender")
            })
        })
        .collect();
    f.go();
    let r = f.finish();
    let streams: Vec<TcpStream> = senders
        .into_iter()
        .map(|h| h.join().expect("a slow sender"))
        .collect();
    r.assert_whole("20 senders at 64 KiB/s each");
    let got = slow_sub.drain(20, Duration::from_secs(3));
    assert_eq!(got.len(), 20, "the slow messages delivered");
    assert!(
        got.iter().all(|m| m.len() == 1 && m[0] == body),
        "a slow message arrived damaged"
    );
    slow_sub.assert_never_disconnected("the slow messages' subscriber");
    drop(streams);
    broker.stop();
    r
}

#[test]
fn many_senders_stalled_near_the_end_of_stored_messages_stay_within_memory_max() {
    // 24 raw producers each send all but the last byte of a 1 MiB message (under the 1M
    // threshold, so each is held whole, waiting) and stall, beside the flow. 32 peers a side
    // (at 7 KiB each, counted at start) leave most of the 8M for the budget.
    let mut broker = Broker::start("streamer", &["--memory-max", "8M", "--max-peers", "32"]);
    let before = broker.rss_kib();
    let stalled: Vec<TcpStream> = (0..24)
        .map(|_| {
            let mut s = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
            let mut bytes = raw::data_head(MIB as u64, false);
            bytes.extend(pattern(MIB - 1));
            s.write_all(&bytes).expect("all but the last byte");
            s
        })
        .collect();
    let mut f = flow(&broker, "streamer", FlowSpec::ticks(200, 2.0));
    f.go();
    let r = f.finish();
    let after = broker.rss_kib();
    broker.assert_running();
    r.assert_within(
        "24 senders stalled near the end of 1 MiB messages",
        ISOLATION_MS,
    );
    drop(stalled);
    // The budget and the lane (about 5.6 MiB here: check-config's figures) and the allocator's
    // slack, within memory_max: the read buffer and tables are taken before `before`, most of
    // them untouched. (Measured: 6.0-8.0 MiB on a busy 2-core machine in twelve runs, on
    // dbd4dd2 as on f83cbf9; a bound of 7 MiB failed one run in three there.)
    assert!(
        after.saturating_sub(before) <= 8 << 10,
        "with --memory-max 8M, 24 stalled senders grew the broker from {before} KiB to {after} KiB"
    );
    assert!(
        broker.stderr().contains("memory_max is spent"),
        "the budget was never reached:\n{}",
        broker.stderr()
    );
    broker.stop();
}

// ---------------------------------------------------------------------------------------------
// Row 5: the streamer, one worker, a producer stalled mid-message.
// ---------------------------------------------------------------------------------------------

/// A raw PUSH producer sends the head of a `frame`-byte frame and `sent` bytes of it, then
/// stalls for the flow's 3 s (200 msgs/s from a libzmq PUSH to the one libzmq PULL worker),
/// then leaves. The worker gets the flow at once and is never reset.
fn producer_stalls_beside_a_flow(frame: usize, sent: usize) {
    let r = retry_latency(ISOLATION_MS, || producer_stalls_run(frame, sent));
    r.assert_within(
        &format!("a producer stalled after {sent} bytes of a {frame}-byte message"),
        ISOLATION_MS,
    );
}

fn producer_stalls_run(frame: usize, sent: usize) -> FlowResult {
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
    broker.stop();
    r
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
