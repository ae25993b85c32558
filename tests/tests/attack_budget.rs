//! The attacker against the run-time memory budget and the one shared copy of large bodies: what
//! slow, stalled or hostile peers (or a bad radio link) can still cost the normal flow beside them,
//! or the process, now that queues and input buffers draw from `memory_max` and a forwarder stores
//! a large body once for all its subscribers.
//!
//! Every test here failed before its fix and is kept as a regression test: each asserts what the
//! normal flow must still get (every message, in order, within its bound) or that the budget comes
//! back whole.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use zedge_core::wire::metadata::SocketType;
use zedge_tests::broker::{under_budget, Broker};
use zedge_tests::normal::{
    dropped_at_stop, field, flood_requests, no_panic, tagged, untag, worker_and_client,
};
use zedge_tests::raw;
use zedge_tests::wait::deadline;

const KIB: usize = 1 << 10;

/// A raw SUB on the backend, subscribed to `topic`, that reads nothing until told to.
fn deaf_subscriber(broker: &Broker, topic: &[u8]) -> TcpStream {
    deaf_subscriber_at(broker.backend_addr(), topic)
}

/// [`deaf_subscriber`] on the backend at `backend`.
fn deaf_subscriber_at(backend: SocketAddr, topic: &[u8]) -> TcpStream {
    let mut s = raw::handshake(backend, SocketType::Sub, deadline(10));
    s.write_all(&raw::subscribe(topic)).expect("subscribe");
    s
}

// ---------------------------------------------------------------------------------------------
// Streamer and queue: a sender holding the lane while its destination waits for memory.
// ---------------------------------------------------------------------------------------------

/// Two PUSH producers, each sending `n` messages of `len` bytes, numbered; each returns how
/// many it wrote before the broker closed it (all of them, if it did not), and its connection.
fn producers(broker: &Broker, n: u32, len: usize) -> Vec<thread::JoinHandle<(u32, TcpStream)>> {
    (0..2u8)
        .map(|from| {
            let mut s = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
            s.set_write_timeout(Some(Duration::from_secs(30)))
                .expect("write timeout");
            thread::spawn(move || {
                for seq in 0..n {
                    let m = tagged(b"work", from, seq, len);
                    if zedge_tests::write_message(&mut s, &[&m]).is_err() {
                        return (seq, s);
                    }
                }
                (n, s)
            })
        })
        .collect()
}

/// A streamer's worker that stops reading for a few seconds (a bad radio link) while two
/// producers send 64 KiB messages: the budget fills with its queue, one producer's whole
/// message takes the lane and waits for room in the worker's queue, and the other producer
/// waits for memory. Nothing is lost in a streamer: once the worker reads again it must get
/// every message of both producers, in order, and no producer may be closed.
///
/// Before the fix, the producer holding the lane is closed as a stalled sender after the progress
/// timeout (`closing: a message it was sending made no progress`), though all of its message
/// had arrived and it was waiting for the worker, not stalling: its message and the ones
/// behind it are lost.
#[test]
fn a_producer_waiting_in_the_lane_for_a_stalled_worker_is_not_closed() {
    // 64 peer slots: 4.6 MiB shared, the lane and the kept queue room 1 MiB each.
    let mut broker = under_budget("streamer", "8M", &["--progress-timeout", "1s"]);
    let mut worker = raw::handshake(broker.backend_addr(), SocketType::Pull, deadline(10));
    const N: u32 = 100;
    let senders = producers(&broker, N, 64 * KIB);
    // The worker's link is down for 3 s: three progress timeouts.
    thread::sleep(Duration::from_secs(3));
    let mut next = [0u32; 2];
    while next != [N, N] {
        // Whatever is coming has come once nothing came for 2 s.
        let Ok((_, body)) =
            raw::next_data_frame(&mut worker, Instant::now() + Duration::from_secs(2))
        else {
            break;
        };
        let (from, seq) = untag(b"work", &body).expect("a damaged message");
        assert_eq!(
            seq, next[from as usize],
            "producer {from}'s messages out of order"
        );
        next[from as usize] += 1;
    }
    let (wrote, connections): (Vec<u32>, Vec<TcpStream>) = senders
        .into_iter()
        .map(|s| s.join().expect("a producer"))
        .unzip();
    let stderr = broker.stderr();
    no_panic(&stderr);
    broker.assert_running();
    assert!(
        next == [N, N] && !stderr.contains("made no progress"),
        "after a 3 s stall of the worker it got {next:?} of {N} messages from each producer \
         (they wrote {wrote:?}):\n{stderr}"
    );
    drop(connections);
    broker.stop();
}

// ---------------------------------------------------------------------------------------------
// Forwarder: the budget spent by subscribers that never read, and the shared copy.
// ---------------------------------------------------------------------------------------------

/// A raw publisher that sends `n` messages of 64 KiB on `bulk` to subscribers that never read,
/// in a thread: the budget's spending.
fn spend_budget(broker: &Broker, n: u32) -> thread::JoinHandle<TcpStream> {
    let mut publisher = raw::handshake(broker.frontend_addr(), SocketType::Pub, deadline(10));
    thread::spawn(move || {
        for seq in 0..n {
            raw::send_message(&mut publisher, &[&tagged(b"bulk", 0, seq, 64 * KIB)]);
        }
        publisher
    })
}

/// Wait until the broker says its memory is spent.
fn wait_spent(broker: &Broker) {
    zedge_tests::wait::until(deadline(20), "memory_max is spent", || {
        thread::sleep(Duration::from_millis(20));
        broker.stderr().contains("memory_max is spent")
    });
}

/// A raw SUB on `topic` that reads everything as it comes, in a thread, until `n` messages
/// came or nothing came for 3 s; returns how many of them were `want`.
fn reader(broker: &Broker, topic: &[u8], want: Vec<u8>, n: usize) -> thread::JoinHandle<usize> {
    let mut s = deaf_subscriber(broker, topic);
    thread::spawn(move || {
        let (mut got, mut whole) = (0, 0);
        while got < n {
            let Ok((_, body)) =
                raw::next_data_frame(&mut s, Instant::now() + Duration::from_secs(3))
            else {
                break;
            };
            got += 1;
            whole += usize::from(body == want);
        }
        whole
    })
}

/// Four subscribers that never read spend a 16M forwarder's budget (as in `budget.rs`), then
/// 640 KiB messages go to two subscribers that keep up (a libzmq flow and a raw reader). The
/// budget's rule is that the subscribers that do not read are the ones that lose messages,
/// while one that keeps up goes on in the buffer it has: both readers must get all of them.
///
/// Before the fix, the reader later in the fan-out gets none of the 20 (the other all of them),
/// counted as `memory`. A body fanned out to both is to be shared; the budget cannot store the
/// piece, so it is copied instead "to the subscribers with room" (`room.rs`
/// `copies_instead`). A reader that keeps up has no buffer of its own to copy into (bodies of
/// 4 KiB or more fanned out to it are shared, never copied, and a queue that grew into the
/// device's kept room frees its buffer as soon as it drains), so each copy needs the kept
/// room, and that is one stored message's worth (1 MiB) for the whole device, given only to
/// an empty queue: the first reader takes it, the second loses the message.
#[test]
fn two_readers_of_large_messages_lose_none_while_deaf_subscribers_hold_the_budget() {
    // Whole but over its bound once (a moment of the machine's other load, seen at 164 ms in
    // 2 runs of 6 under the `checked` build): run once more, as `retry_latency` does. A loss
    // is never run again.
    let first = two_readers_beside_deaf_subscribers();
    let (r, whole, other, stderr) = if first.0.is_whole() && first.0.max_ms() > 100.0 {
        eprintln!(
            "over 100 ms once ({:.1} ms); running it again",
            first.0.max_ms()
        );
        two_readers_beside_deaf_subscribers()
    } else {
        first
    };
    r.assert_within("two readers beside deaf subscribers", 100.0);
    assert!(
        whole == N_BIG && other == N_BIG,
        "of {N_BIG} messages of 640 KiB the libzmq subscriber got {whole}, the raw reader {other}; \
         dropped at stop (all, hwm, memory): {:?}",
        dropped_at_stop(&stderr)
    );
}

/// Messages of 640 KiB in [`two_readers_beside_deaf_subscribers`].
const N_BIG: usize = 20;

/// The scenario of `two_readers_of_large_messages_...`: the normal flow's result, how many
/// of the large messages the libzmq subscriber and the raw reader got whole, the broker's log.
fn two_readers_beside_deaf_subscribers() -> (zedge_tests::flow::FlowResult, usize, usize, String) {
    use zedge_tests::flow::{pattern, Flow, FlowSpec};
    // 64 peer slots and 64 subscriptions: 2.7 MiB fixed, 2.0 MiB kept, 11.3 MiB shared.
    let mut broker = under_budget("forwarder", "16M", &["--max-subscriptions", "64"]);
    let deaf: Vec<TcpStream> = (0..4).map(|_| deaf_subscriber(&broker, b"bulk")).collect();
    const BIG: usize = 640 * KIB;
    let spec = FlowSpec {
        rate: 100,
        secs: 3.0,
        extra: vec![b"big.".to_vec()],
        expect_extra: N_BIG,
        extra_wait: 3.0,
    };
    let mut flow = Flow::start("forwarder", broker.frontend(), broker.backend(), spec);
    let mut body = b"big.".to_vec();
    body.extend(pattern(BIG - 4));
    let other = reader(&broker, b"big.", body.clone(), N_BIG);
    let mut big = raw::handshake(broker.frontend_addr(), SocketType::Pub, deadline(10));
    let bulk = spend_budget(&broker, 400);
    wait_spent(&broker);
    let bulk = bulk.join().expect("the bulk publisher");
    flow.go();
    for _ in 0..N_BIG {
        raw::send_message(&mut big, &[&body]);
        thread::sleep(Duration::from_millis(120));
    }
    let r = flow.finish();
    let other = other.join().expect("the raw reader");
    let whole = r.extras().iter().filter(|e| e.0 == BIG && e.2).count();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    drop((deaf, bulk, big));
    (r, whole, other, stderr)
}

/// Subscribers that never read, many of them, each holding a reference to every 4 KiB body a
/// publisher sends: the body is charged to the budget once, as it should be, but each queue's
/// entry for it (40 bytes, in a list that grows by doubling) is charged nowhere. With 300 such
/// subscribers the entries cost three times the bodies, and the broker must still stay within
/// `--memory-max`.
///
/// Before the fix, the budget is never spent (no `memory_max is spent`, nothing dropped for memory)
/// while the broker grows far past `--memory-max`.
#[test]
fn many_deaf_subscribers_of_shared_bodies_stay_within_memory_max() {
    const SUBSCRIBERS: usize = 300;
    const MESSAGES: u32 = 4000;
    let memory_max_kib = 32 << 10;
    let mut broker = Broker::start(
        "forwarder",
        &[
            "--memory-max",
            "32M",
            "--max-peers",
            "320",
            "--max-peers-per-address",
            "320",
            "--queue-hwm",
            "64M",
            "--heartbeat-ivl",
            "0",
        ],
    );
    let deaf: Vec<TcpStream> = (0..SUBSCRIBERS)
        .map(|_| deaf_subscriber(&broker, b"bulk"))
        .collect();
    let mut publisher = raw::handshake(broker.frontend_addr(), SocketType::Pub, deadline(10));
    // Every subscription is in before the first message (the broker sends them upstream).
    thread::sleep(Duration::from_millis(500));
    let before = broker.rss_kib();
    for seq in 0..MESSAGES {
        // One frame of 4 KiB: one piece, shared by every subscriber.
        raw::send_message(&mut publisher, &[&tagged(b"bulk", 0, seq, 4 * KIB)]);
    }
    // Until the broker has taken them all (its RSS stops moving).
    let mut after = broker.rss_kib();
    loop {
        thread::sleep(Duration::from_millis(500));
        let now = broker.rss_kib();
        if now == after {
            break;
        }
        after = now;
    }
    broker.assert_running();
    let stderr = broker.stderr();
    no_panic(&stderr);
    eprintln!("broker RSS {before} KiB -> {after} KiB with {SUBSCRIBERS} deaf subscribers");
    assert!(
        after.saturating_sub(before) <= memory_max_kib,
        "with --memory-max 32M, {MESSAGES} bodies of 4 KiB to {SUBSCRIBERS} subscribers that \
         never read grew the broker from {before} KiB to {after} KiB; memory spent warned: {}",
        stderr.contains("memory_max is spent")
    );
    drop((deaf, publisher));
    broker.stop();
}

// ---------------------------------------------------------------------------------------------
// Queue: a client that reads its replies, but slowly.
// ---------------------------------------------------------------------------------------------

/// A queue whose memory is spent by one client: it sends 200 requests of 64 KiB to the one
/// worker and reads its replies, but slowly (64 KiB every 150 ms, a bad radio link). A normal
/// libzmq client of the same worker must still get its 10 replies, each within 250 ms: the
/// slow client may hold the worker `client_stall` (250 ms) in all until it catches up.
///
/// Before its fixes the normal client's first request got no answer within 3 s (with a 15 s
/// timeout, after 10.4 s): a reply waited as long as the slow client's socket had taken
/// anything in the last 250 ms. That rule went (`queue.rs` `route_reply`), and the test still
/// failed 2 runs in 3 under this 8M budget: a reply cut through to the slow client waited for
/// room with no deadline (see the test below).
#[test]
fn a_queue_client_reading_slowly_holds_no_worker_from_other_clients() {
    let mut broker = under_budget("queue", "8M", &[]);
    let slow = raw::handshake(broker.frontend_addr(), SocketType::Dealer, deadline(10));
    let mut link = slow.try_clone().expect("clone the slow client");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = flood_requests(slow, 200, Duration::from_secs(30));
    let reading = done.clone();
    let trickle = thread::spawn(move || {
        let mut buf = vec![0u8; 64 * KIB];
        link.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        let mut read = 0usize;
        while !reading.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok(n) = link.read(&mut buf) {
                if n == 0 {
                    break;
                }
                read += n;
            }
            thread::sleep(Duration::from_millis(150));
        }
        read
    });
    let out = worker_and_client(&broker, 10, 1.5);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let read = trickle.join().expect("the slow reader");
    eprintln!("{} (the slow client read {read} bytes)", out.trim());
    broker.assert_running();
    no_panic(&broker.stderr());
    drop(broker);
    drop(writer.join());
    let (answered, max_ms) = (field(&out, "answered"), field(&out, "max_ms"));
    assert!(
        answered == 10.0 && max_ms <= 250.0,
        "beside a client reading its replies slowly, a normal client of the same worker got \
         {answered} of 10 replies, the slowest in {max_ms:.1} ms"
    );
}

// ---------------------------------------------------------------------------------------------
// The budget comes back whole after peers that held it leave.
// ---------------------------------------------------------------------------------------------

/// One round of churn on a forwarder while shared pieces are held: subscribers that never
/// read, two that read a little and leave, a publisher of 64 KiB stored messages, and one
/// that stops half-way through a 4 MiB message cut through to them; subscribers leave while
/// they hold pieces, the stalled publisher leaves (its message taken back or its subscribers
/// reset), then everyone else.
fn churn_round(broker: &Broker, round: u32) {
    let mut deaf: Vec<TcpStream> = (0..8).map(|_| deaf_subscriber(broker, b"bulk")).collect();
    let mut sippers: Vec<TcpStream> = (0..2).map(|_| deaf_subscriber(broker, b"bulk")).collect();
    let mut stored = raw::handshake(broker.frontend_addr(), SocketType::Pub, deadline(10));
    let mut cut = raw::handshake(broker.frontend_addr(), SocketType::Pub, deadline(10));
    thread::sleep(Duration::from_millis(200));
    for seq in 0..100 {
        raw::send_message(&mut stored, &[&tagged(b"bulk", 1, seq, 64 * KIB)]);
    }
    let mut head = raw::data_head(4 << 20, false);
    head.extend(tagged(b"bulk", 2, round, 2 << 20));
    cut.write_all(&head).expect("half of the large message");
    thread::sleep(Duration::from_millis(300));
    for s in &mut sippers {
        let mut buf = vec![0u8; 100 * KIB];
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("read timeout");
        let _ = s.read(&mut buf);
    }
    drop(sippers);
    deaf.truncate(4);
    thread::sleep(Duration::from_millis(100));
    drop(cut);
    thread::sleep(Duration::from_millis(100));
    drop((deaf, stored));
}

/// How many of 300 messages of 64 KiB a forwarder holds (its queue and the kernel's buffers)
/// for one subscriber that does not read until they are all sent: the budget it finds free,
/// give or take the kernel's share. The subscriber then reads them all and leaves.
fn capacity(broker: &Broker, round: u8) -> u32 {
    capacity_at(broker.frontend_addr(), broker.backend_addr(), round, 300)
}

/// [`capacity`] of the forwarder at `frontend` and `backend`, out of `n` messages.
fn capacity_at(frontend: SocketAddr, backend: SocketAddr, round: u8, n: u32) -> u32 {
    let mut sub = deaf_subscriber_at(backend, b"cap.");
    let mut publisher = raw::handshake(frontend, SocketType::Pub, deadline(10));
    thread::sleep(Duration::from_millis(200));
    for seq in 0..n {
        raw::send_message(&mut publisher, &[&tagged(b"cap.", round, seq, 64 * KIB)]);
    }
    thread::sleep(Duration::from_millis(500));
    let mut got = 0;
    while let Ok((_, body)) =
        raw::next_data_frame(&mut sub, Instant::now() + Duration::from_secs(1))
    {
        assert!(untag(b"cap.", &body).is_some(), "a damaged message");
        got += 1;
    }
    got
}

/// The budget a subscriber finds free is measured ([`capacity`]), then three rounds of
/// [`churn_round`] run on a 16M forwarder (11.3 MiB shared), each holding about 4 MiB of
/// shared pieces in queues as its peers leave; with them all gone the same subscriber must
/// find the same budget free (within half a MiB), and nothing panicked.
#[test]
fn the_budget_comes_back_whole_after_churn_while_pieces_are_held() {
    let mut broker = under_budget("forwarder", "16M", &["--max-subscriptions", "64"]);
    let before = capacity(&broker, 0);
    for round in 0..3 {
        churn_round(&broker, round);
    }
    thread::sleep(Duration::from_millis(500));
    let after = capacity(&broker, 1);
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    eprintln!("a subscriber that does not read holds {before} messages of 64 KiB before the churn, {after} after");
    assert!(
        after + 8 >= before,
        "a subscriber that does not read held {before} messages of 64 KiB before the churn, \
         {after} after: the budget did not come back whole:\n{stderr}"
    );
}

/// With the budget spent by subscribers that never read, a publisher sends 200 KiB messages back to
/// back on a topic nobody takes (each must still arrive whole before it is dropped), while another
/// publisher sends a 200 KiB message every 140 ms to a libzmq subscriber that keeps up, beside its
/// tick flow. The budget's rule is that the subscribers that do not read lose messages, while one
/// that keeps up goes on: it must get all 20.
///
/// Before the fix, it loses some (1 to 8 of 20 in the runs seen, counted as `memory`): its queue
/// grows for each large message and is freed after it (the room it grows into is the device's kept
/// room, `queue/mod.rs` `release_if_drained`), and when the message comes while a tick is queued,
/// the kept room is refused (it serves only an empty queue) and the budget has nothing: the
/// streaming publisher's reads take what little the deaf subscribers left. Without that publisher
/// the same subscriber gets all 20.
#[test]
fn a_subscriber_that_keeps_up_loses_no_large_message_beside_a_streaming_publisher() {
    use zedge_tests::flow::{pattern, Flow, FlowSpec};
    let mut broker = under_budget("forwarder", "16M", &["--max-subscriptions", "64"]);
    let deaf: Vec<TcpStream> = (0..4).map(|_| deaf_subscriber(&broker, b"bulk")).collect();
    const N: usize = 20;
    const BIG: usize = 200 * KIB;
    let spec = FlowSpec {
        rate: 200,
        secs: 3.0,
        extra: vec![b"cam.".to_vec()],
        expect_extra: N,
        extra_wait: 2.0,
    };
    let mut flow = Flow::start("forwarder", broker.frontend(), broker.backend(), spec);
    let mut camera = raw::handshake(broker.frontend_addr(), SocketType::Pub, deadline(10));
    let bulk = spend_budget(&broker, 400);
    wait_spent(&broker);
    let bulk = bulk.join().expect("the bulk publisher");
    let mut hog = raw::handshake(broker.frontend_addr(), SocketType::Pub, deadline(10));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hogging = stop.clone();
    let hogger = thread::spawn(move || {
        let m = tagged(b"hog.", 9, 0, BIG);
        while !hogging.load(std::sync::atomic::Ordering::Relaxed) {
            raw::send_message(&mut hog, &[&m]);
        }
        hog
    });
    thread::sleep(Duration::from_millis(300));
    flow.go();
    let mut body = b"cam.".to_vec();
    body.extend(pattern(BIG - 4));
    for _ in 0..N {
        raw::send_message(&mut camera, &[&body]);
        thread::sleep(Duration::from_millis(140));
    }
    let r = flow.finish();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let hog = hogger.join().expect("the hog");
    let whole = r.extras().iter().filter(|e| e.0 == BIG && e.2).count();
    broker.assert_running();
    no_panic(&broker.stderr());
    r.assert_whole("a publisher streaming large messages beside");
    assert_eq!(
        whole, N,
        "while another publisher streamed 200 KiB messages, a subscriber that keeps up got \
         {whole} of {N} 200 KiB messages of its own publisher: {}",
        r.line
    );
    drop((deaf, bulk, camera, hog));
    broker.stop();
}

/// With the budget spent by subscribers that never read, a 4 MiB message (over
/// `store_forward_max`, so cut through as it arrives) goes to a libzmq subscriber that keeps
/// up, beside its tick flow: it must arrive whole, and the subscriber must not be reset.
///
/// Before the fix, each piece of the message needs room in the subscriber's queue as it comes: the
/// budget has none, and the device's kept room serves only an empty queue. The first piece
/// that comes while the subscriber has not yet written the last makes it let the message go
/// (`room_for_more`, `shed`): taken back (the message is lost) or, once part of it was
/// written, the subscriber is reset (`memory_max could not take the rest of a message being
/// written to it`) and its ticks queued behind are lost too (38 of 400 in one run).
#[test]
fn a_large_message_cut_through_reaches_a_subscriber_that_keeps_up_while_the_budget_is_spent() {
    use zedge_tests::flow::{pattern, Flow, FlowSpec};
    let mut broker = under_budget("forwarder", "16M", &["--max-subscriptions", "64"]);
    let deaf: Vec<TcpStream> = (0..4).map(|_| deaf_subscriber(&broker, b"bulk")).collect();
    const BIG: usize = 4 << 20;
    let spec = FlowSpec {
        rate: 200,
        secs: 2.0,
        extra: vec![b"big.".to_vec()],
        expect_extra: 1,
        extra_wait: 3.0,
    };
    let mut flow = Flow::start("forwarder", broker.frontend(), broker.backend(), spec);
    let mut big = raw::handshake(broker.frontend_addr(), SocketType::Pub, deadline(10));
    let bulk = spend_budget(&broker, 400);
    wait_spent(&broker);
    let bulk = bulk.join().expect("the bulk publisher");
    flow.go();
    let mut body = b"big.".to_vec();
    body.extend(pattern(BIG - 4));
    raw::send_message(&mut big, &[&body]);
    let r = flow.finish();
    broker.assert_running();
    no_panic(&broker.stderr());
    r.assert_whole("a 4 MiB message cut through beside deaf subscribers");
    let extras = r.extras();
    assert!(
        extras.len() == 1 && extras[0].0 == BIG && extras[0].2,
        "the 4 MiB message did not arrive whole: {}\n{}",
        r.line,
        broker.stderr()
    );
    drop((deaf, bulk, big));
    broker.stop();
}

/// A queue whose memory is spent by a client that sends 300 requests of 64 KiB and never
/// reads a reply (`attack.rs` has the same client under the default 256M, where it passes):
/// its replies are to be dropped once it has taken nothing for `CLIENT_STALL`, and a normal
/// libzmq client of the same worker must get its 20 replies, each within 300 ms (the stall
/// once, and slack).
///
/// It got none of them within 3 s (nor within 20 s with a longer timeout), and the innocent
/// worker was closed as a stalled sender every progress timeout. The budget spent, the
/// worker's input reads 4 KiB at a time, so each 64 KiB reply is cut through; the bad client's
/// queue could take the start of one and not the rest, and a reply already on its way waited
/// for room with no deadline: `client_stall` bounded only the wait before a reply started.
/// Now it bounds the wait for the rest too (`room.rs` `room_for_more`, `queue.rs`
/// `reply_may_wait`): past it the client lets the reply go, taken back or reset.
#[test]
fn a_queue_client_that_never_reads_while_memory_is_spent_costs_other_clients_one_stall() {
    let mut broker = under_budget("queue", "8M", &[]);
    let bad = raw::handshake(broker.frontend_addr(), SocketType::Dealer, deadline(10));
    let writer = flood_requests(bad, 300, Duration::from_secs(20));
    let out = worker_and_client(&broker, 20, 1.5);
    broker.assert_running();
    let stderr = broker.stderr();
    no_panic(&stderr);
    let (answered, max_ms) = (field(&out, "answered"), field(&out, "max_ms"));
    assert!(
        answered == 20.0 && max_ms <= 300.0,
        "beside a client that never reads while memory is spent, a normal client of the same \
         worker got {answered} of 20 replies, the slowest in {max_ms:.1} ms:\n{stderr}"
    );
    drop(broker);
    drop(writer.join());
}

/// A streamer under an 8M budget with three workers, one that stops reading (its link is
/// down), one that reads a message every 20 ms and one that keeps up, one producer of 300
/// messages of 64 KiB, and a hostile producer that sends half of a 64 KiB message and stops:
/// the stalled worker's queue takes the budget, the rest goes to the others, and once the
/// stalled one reads again every message has arrived exactly once, in order per worker, and
/// nothing was dropped or closed.
#[test]
fn a_streamer_with_a_stalled_worker_and_its_budget_spent_loses_nothing() {
    let mut broker = under_budget("streamer", "8M", &[]);
    let mut stalled = raw::handshake(broker.backend_addr(), SocketType::Pull, deadline(10));
    let live = raw::handshake(broker.backend_addr(), SocketType::Pull, deadline(10));
    let slow = raw::handshake(broker.backend_addr(), SocketType::Pull, deadline(10));
    const N: u32 = 300;
    let read = |mut s: TcpStream, every: Duration| {
        thread::spawn(move || {
            let mut got = Vec::new();
            while let Ok((_, body)) =
                raw::next_data_frame(&mut s, Instant::now() + Duration::from_secs(3))
            {
                got.push(untag(b"work", &body).expect("a damaged message").1);
                thread::sleep(every);
            }
            got
        })
    };
    let reader = read(live, Duration::ZERO);
    let slow_reader = read(slow, Duration::from_millis(20));
    let mut hostile = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
    let half = raw::message_bytes(&[&tagged(b"work", 9, 0, 64 * KIB)]);
    hostile
        .write_all(&half[..half.len() / 2])
        .expect("the hostile producer's half message");
    let mut producer = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
    producer
        .set_write_timeout(Some(Duration::from_secs(20)))
        .expect("write timeout");
    let started = Instant::now();
    for seq in 0..N {
        let m = tagged(b"work", 0, seq, 64 * KIB);
        zedge_tests::write_message(&mut producer, &[&m]).expect("the producer was held");
    }
    let sent_in = started.elapsed();
    let live_got = reader.join().expect("the live worker");
    let slow_got = slow_reader.join().expect("the slow worker");
    let mut stalled_got = Vec::new();
    while let Ok((_, body)) =
        raw::next_data_frame(&mut stalled, Instant::now() + Duration::from_secs(1))
    {
        stalled_got.push(untag(b"work", &body).expect("a damaged message").1);
    }
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    eprintln!(
        "sent in {sent_in:?}; the live worker got {}, the slow one {}, the stalled one {}",
        live_got.len(),
        slow_got.len(),
        stalled_got.len()
    );
    for (name, got) in [
        ("live", &live_got),
        ("slow", &slow_got),
        ("stalled", &stalled_got),
    ] {
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "the {name} worker's messages are out of order or repeated"
        );
    }
    let mut all: Vec<u32> = live_got
        .iter()
        .chain(&slow_got)
        .chain(&stalled_got)
        .copied()
        .collect();
    all.sort_unstable();
    assert!(
        all == (0..N).collect::<Vec<_>>(),
        "{} of {N} messages arrived ({} at the live worker):\n{stderr}",
        all.len(),
        live_got.len()
    );
    assert_eq!(dropped_at_stop(&stderr), (0, 0, 0), "{stderr}");
    assert!(!stderr.contains("closing"), "a peer was closed:\n{stderr}");
    drop((producer, hostile));
}

/// Two forwarders share a 16M budget. The budget one of them leaves free is measured
/// ([`capacity_at`]); then subscribers of the other that never read spend the budget, and a
/// reload restarts that device (its queue_hwm changed) while its queues hold it. What the
/// stopped device's queues held must come back: the first device must find the same budget
/// free as before (within half a MiB), and nothing panicked.
#[test]
fn a_reload_that_restarts_a_device_holding_the_budget_gives_it_back() {
    use zedge_tests::broker::free_port;
    use zedge_tests::systemd::ConfigRun;
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let ep = |i: usize| format!("tcp://127.0.0.1:{}", ports[i]);
    let addr = |i: usize| SocketAddr::from(([127, 0, 0, 1], ports[i]));
    let config = |hwm: &str| {
        let device = |name: &str, front: String, back: String, hwm: &str| {
            format!(
                "[[device]]\nname = \"{name}\"\nkind = \"forwarder\"\nfrontend = \"{front}\"\n\
                 backend = \"{back}\"\nmax_peers = 32\nmax_subscriptions = 64\n\
                 queue_hwm = \"{hwm}\"\nheartbeat_ivl = 0\n"
            )
        };
        format!(
            "memory_max = \"16M\"\n{}{}",
            device("spent", ep(0), ep(1), hwm),
            device("check", ep(2), ep(3), "64M")
        )
    };
    let mut run = ConfigRun::start(&config("64M"), &[]);
    run.wait_log("check backend listening", deadline(10));
    run.wait_log("spent backend listening", deadline(10));
    let before = capacity_at(addr(2), addr(3), 0, 250);
    let deaf: Vec<TcpStream> = (0..4)
        .map(|_| deaf_subscriber_at(addr(1), b"bulk"))
        .collect();
    let mut publisher = raw::handshake(addr(0), SocketType::Pub, deadline(10));
    thread::sleep(Duration::from_millis(200));
    for seq in 0..300 {
        raw::send_message(&mut publisher, &[&tagged(b"bulk", 0, seq, 64 * KIB)]);
    }
    run.wait_log("memory_max is spent", deadline(10));
    run.reload(&config("32M"));
    run.wait_log("1 restarted", deadline(10));
    // The stopped device first flushes what it can for a second.
    run.wait_log("spent stopped", deadline(10));
    thread::sleep(Duration::from_millis(300));
    let after = capacity_at(addr(2), addr(3), 1, 250);
    run.assert_running();
    let stderr = run.stderr();
    no_panic(&stderr);
    eprintln!(
        "the other device's subscriber holds {before} messages of 64 KiB before, {after} after"
    );
    assert!(
        after + 8 >= before,
        "a subscriber of the other device held {before} messages of 64 KiB before the restart, \
         {after} after: the stopped device's memory did not come back:\n{stderr}"
    );
    drop((deaf, publisher));
    run.sigterm();
    run.wait(Duration::from_secs(10));
}
