//! A large message the streamer passes on whole (store and forward) waits in the sender's
//! socket for its last bytes rather than being read (`edge-bin/src/connection/whole.rs`), so
//! that its body can go by through a pipe. These tests send such messages the ways a sender
//! can: at once, in pieces with pauses longer than the wait's patience, at a trickle, and cut
//! off by the sender leaving. Each runs beside a normal, timestamped flow to the same worker
//! ([`Flow`]), which must get every message within the isolation bound, and the large message
//! must arrive whole (or, cut off, not at all) without costing the worker its connection.

use std::io::Write;
use std::thread;
use std::time::Duration;

use zedge_core::wire::metadata::SocketType;
use zedge_tests::broker::Broker;
use zedge_tests::flow::{pattern, retry_latency, Flow, FlowResult, FlowSpec, ISOLATION_MS};
use zedge_tests::raw;
use zedge_tests::wait::deadline;

const KIB: usize = 1 << 10;

/// `len` bytes: a 4-byte tag, then [`pattern`] (what [`Flow`] checks extra messages by).
fn body(len: usize) -> Vec<u8> {
    let mut b = b"big!".to_vec();
    b.extend(pattern(len - 4));
    b
}

/// One raw PUSH producer sends `count` messages of `len` bytes, each as `pieces` (byte counts
/// from the message's start, the rest last) with `pause` between them, while the flow runs
/// at 200 messages a second. With `leave_after`, it sends only that many bytes of the last
/// message and closes.
fn run(
    len: usize,
    count: usize,
    pieces: &[usize],
    pause: Duration,
    leave_after: Option<usize>,
) -> FlowResult {
    let broker = Broker::start("streamer", &[]);
    let whole = count - usize::from(leave_after.is_some());
    let spec = FlowSpec {
        rate: 200,
        secs: 2.0,
        extra: Vec::new(),
        expect_extra: whole,
        extra_wait: 5.0,
    };
    let mut f = Flow::start("streamer", broker.frontend(), broker.backend(), spec);
    let mut s = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
    f.go();
    let msg = raw::message_bytes(&[&body(len)]);
    for i in 0..count {
        let end = match leave_after {
            Some(n) if i + 1 == count => n,
            _ => msg.len(),
        };
        let mut at = 0;
        for &cut in pieces.iter().chain([&end]) {
            let cut = cut.min(end);
            if cut > at {
                s.write_all(&msg[at..cut]).expect("write a piece");
                at = cut;
                thread::sleep(pause);
            }
        }
    }
    drop(s);
    let r = f.finish();
    broker.stop();
    let extras = r.extras();
    assert_eq!(
        extras.len(),
        whole,
        "large messages that arrived: {}",
        r.line
    );
    for (got, parts, ok, _) in extras {
        assert_eq!(
            (got, parts, ok),
            (len, 1, true),
            "a large message arrived damaged: {}",
            r.line
        );
    }
    r
}

fn beside_a_flow(what: &str, scenario: impl FnMut() -> FlowResult) {
    let r = retry_latency(ISOLATION_MS, scenario);
    r.assert_whole(what);
    r.assert_within(what, ISOLATION_MS);
}

#[test]
fn large_messages_sent_at_once_arrive_whole_beside_a_flow() {
    beside_a_flow("60 KiB messages sent at once", || {
        run(60 * KIB, 20, &[], Duration::from_millis(20), None)
    });
}

#[test]
fn a_large_message_in_pieces_past_the_wait_s_patience_arrives_whole() {
    // Its head and a few bytes; 300 ms later (the wait gives up at 100 ms) half of it; the
    // rest 300 ms after that. Then the same message again, to see the next one is not stuck
    // behind the first's reads.
    beside_a_flow("a 60 KiB message in three pieces 300 ms apart", || {
        run(
            60 * KIB,
            2,
            &[300, 30 * KIB],
            Duration::from_millis(300),
            None,
        )
    });
}

#[test]
fn a_large_message_at_a_trickle_arrives_whole() {
    // 2 KiB every 20 ms: 100 KB/s, the message in about 0.6 s.
    let pieces: Vec<usize> = (1..30).map(|i| i * 2 * KIB).collect();
    beside_a_flow("a 60 KiB message at 100 KB/s", || {
        run(60 * KIB, 1, &pieces, Duration::from_millis(20), None)
    });
}

#[test]
fn a_sender_leaving_mid_message_costs_the_worker_nothing() {
    // Two whole messages, then the head and 40 KiB of a third, a pause, and the sender
    // leaves. The flow's worker gets the two and every tick, and keeps its connection.
    beside_a_flow("a sender leaving 40 KiB into a 60 KiB message", || {
        run(
            60 * KIB,
            3,
            &[300],
            Duration::from_millis(200),
            Some(40 * KIB),
        )
    });
}
