//! The process's memory budget through the binary: the buffers that grow with traffic draw
//! from `--memory-max`, and when it is spent a forwarder drops for the subscribers that do not
//! read (counted as `memory`, in the report at stop), while a normal flow beside them loses
//! nothing; a streamer makes its producer wait, and every message arrives once its worker
//! reads. The figures in comments are `zedge check-config`'s for the same settings.

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use zedge_core::wire::metadata::SocketType;
use zedge_tests::broker::Broker;
use zedge_tests::flow::{Flow, FlowSpec};
use zedge_tests::normal::dropped_at_stop;
use zedge_tests::raw;
use zedge_tests::wait::deadline;

const KIB: usize = 1 << 10;

/// A ZMTP frame's flags: a command (PING, say), not a message's part.
const COMMAND: u8 = 0x04;

/// A raw SUB on the backend, subscribed to `topic`, that never reads.
fn deaf_subscriber(broker: &Broker, topic: &[u8]) -> TcpStream {
    let mut s = raw::handshake(broker.backend_addr(), SocketType::Sub, deadline(10));
    s.write_all(&raw::subscribe(topic)).expect("subscribe");
    s
}

/// Message `seq` of the bulk traffic: its topic, its number, then bytes that depend on both.
fn bulk(seq: u32, len: usize) -> Vec<u8> {
    let mut m = b"bulk".to_vec();
    m.extend(seq.to_be_bytes());
    m.extend((0..len - 8).map(|i| (i as u32).wrapping_mul(31).wrapping_add(seq) as u8));
    m
}

/// Four subscribers that never read take 64 KiB messages (25 MiB each) past what their sockets
/// hold, under a 16M budget and a high-water mark the budget runs out long before: the
/// forwarder drops for them, counted as `memory`, never as `hwm`. Beside them, a libzmq flow
/// through the same forwarder gets every message in time, the bulk publisher is never made to
/// wait, and the broker stays within `--memory-max`.
#[test]
fn subscribers_that_never_read_lose_messages_for_memory_and_a_normal_flow_loses_none() {
    // 64 peer slots and 64 subscriptions: 2.7 MiB fixed, 2.0 MiB kept, 11.3 MiB shared.
    let mut broker = Broker::start(
        "forwarder",
        &[
            "--memory-max",
            "16M",
            "--max-peers",
            "32",
            "--max-subscriptions",
            "64",
            "--queue-hwm",
            "64M",
        ],
    );
    let before = broker.rss_kib();
    let deaf: Vec<TcpStream> = (0..4).map(|_| deaf_subscriber(&broker, b"bulk")).collect();
    let mut f = Flow::start(
        "forwarder",
        broker.frontend(),
        broker.backend(),
        FlowSpec::ticks(200, 3.0),
    );
    let mut publisher = raw::handshake(broker.frontend_addr(), SocketType::Pub, deadline(10));
    f.go();
    let sender = thread::spawn(move || {
        for seq in 0..400 {
            raw::send_message(&mut publisher, &[&bulk(seq, 64 * KIB)]);
        }
        publisher
    });
    let r = f.finish();
    let publisher = sender.join().expect("the bulk publisher");
    let after = broker.rss_kib();
    r.assert_within("four subscribers that never read under a 16M budget", 100.0);
    assert!(
        after.saturating_sub(before) <= 16 << 10,
        "with --memory-max 16M the broker grew from {before} KiB to {after} KiB"
    );
    broker.terminate();
    let stderr = broker.stderr();
    let (all, hwm, memory) = dropped_at_stop(&stderr);
    assert!(
        memory > 0 && hwm == 0 && all == memory,
        "expected drops for memory alone: {all} dropped, {hwm} at the high-water mark, \
         {memory} for memory:\n{stderr}"
    );
    assert!(stderr.contains("memory_max is spent"), "{stderr}");
    drop((deaf, publisher));
}

/// A worker that does not read yet, under an 8M budget and a high-water mark the budget runs
/// out long before: the streamer stops taking the producer's 64 KiB messages (25 MiB in all)
/// once its memory is spent, the broker stays within `--memory-max`, and once the worker reads
/// it gets every message, once, in order; nothing is dropped.
#[test]
fn a_streamer_out_of_memory_makes_its_producer_wait_and_loses_nothing() {
    // 64 peer slots: 1.5 MiB fixed, 2.0 MiB kept, 4.6 MiB shared.
    let mut broker = Broker::start(
        "streamer",
        &[
            "--memory-max",
            "8M",
            "--max-peers",
            "32",
            "--queue-hwm",
            "64M",
        ],
    );
    let before = broker.rss_kib();
    let mut worker = raw::handshake(broker.backend_addr(), SocketType::Pull, deadline(10));
    let mut producer = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
    const N: u32 = 400;
    let sender = thread::spawn(move || {
        for seq in 0..N {
            raw::send_message(&mut producer, &[&bulk(seq, 64 * KIB)]);
        }
        producer
    });
    thread::sleep(Duration::from_secs(2));
    let during = broker.rss_kib();
    assert!(
        !sender.is_finished(),
        "the producer wrote all 25 MiB while the worker read nothing: nothing pushed back"
    );
    assert!(
        during.saturating_sub(before) <= 8 << 10,
        "with --memory-max 8M the broker grew from {before} KiB to {during} KiB"
    );
    worker
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut seq = 0;
    while seq < N {
        let (flags, body) = raw::read_frame(&mut worker).expect("the next message");
        if flags & COMMAND != 0 {
            continue;
        }
        assert!(
            body == bulk(seq, 64 * KIB),
            "message {seq} damaged or out of order"
        );
        seq += 1;
    }
    let producer = sender.join().expect("the producer");
    broker.terminate();
    let stderr = broker.stderr();
    assert_eq!(dropped_at_stop(&stderr), (0, 0, 0), "{stderr}");
    assert!(stderr.contains("memory_max is spent"), "{stderr}");
    drop((worker, producer));
}

/// Senders stalled near the end of 1 MiB messages, the budget spent and the lane held.
fn stall_senders(broker: &Broker, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
            let mut bytes = raw::data_head(1 << 20, false);
            bytes.extend(vec![7; (1 << 20) - 1]);
            s.write_all(&bytes).expect("all but the last byte");
            s
        })
        .collect()
}

/// The longest progress timeout there is, with the lane held and others waiting: the lane's
/// holder is never due, and nothing overflows.
#[test]
fn a_lane_held_under_the_longest_progress_timeout_crashes_nothing() {
    let mut broker = Broker::start(
        "streamer",
        &[
            "--memory-max",
            "8M",
            "--max-peers",
            "32",
            "--progress-timeout",
            "18446744073709551615",
        ],
    );
    let stalled = stall_senders(&broker, 7);
    thread::sleep(Duration::from_millis(500));
    broker.assert_running();
    drop(stalled);
    broker.stop();
}

/// Senders stalled near the end of 1 MiB messages take all of an 8M streamer's budget and its
/// lane; a sender with a whole 1 MiB message waits for memory. The lane's holder, making no
/// progress for the progress timeout while others wait, is closed as stalled, and the whole
/// message gets the lane in its turn and reaches the worker.
#[test]
fn a_stalled_sender_holding_the_lane_is_closed_and_a_whole_message_gets_through() {
    // 64 peer slots: 4.6 MiB shared, the lane 1 MiB: five of these senders' buffers.
    let broker = Broker::start(
        "streamer",
        &[
            "--memory-max",
            "8M",
            "--max-peers",
            "32",
            "--progress-timeout",
            "1s",
        ],
    );
    let mut worker = raw::handshake(broker.backend_addr(), SocketType::Pull, deadline(10));
    let stalled = stall_senders(&broker, 6);
    thread::sleep(Duration::from_millis(500));
    let mut whole = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
    let message = bulk(1, 1 << 20);
    raw::send_message(&mut whole, &[&message]);
    worker
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("read timeout");
    let body = loop {
        let (flags, body) = raw::read_frame(&mut worker).expect("the whole message");
        if flags & COMMAND == 0 {
            break body;
        }
    };
    assert!(body == message, "the whole message arrived damaged");
    let stderr = broker.stderr();
    assert!(
        stderr.contains("closing: a message it was sending made no progress"),
        "{stderr}"
    );
    drop((stalled, whole));
    broker.stop();
}
