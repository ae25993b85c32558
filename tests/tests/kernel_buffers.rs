//! What a peer that stops reading holds of the kernel's memory: at most `kernel_send_max`
//! (here 256 KiB; 1 MiB by default, 2 MiB for a forwarder) of its connection's output, unsent
//! or unacknowledged, plus a write's worth, never the megabytes of send buffer the kernel's autotuning would give it (attacker
//! round 16, K1: 3.94 MB a stalled peer, 394 MB for 100 of them under an 84M `memory_max`,
//! none of it counted). Each test has stalled peers on every connection the device sends large
//! messages to, a normal flow beside them, and reads what the kernel holds for each of the
//! broker's connections from /proc/net/tcp while the stalled peers still read nothing.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use zedge_core::wire::metadata::SocketType;
use zedge_tests::broker::Broker;
use zedge_tests::flow::{retry_latency, Flow, FlowSpec};
use zedge_tests::kernel_send_queues;
use zedge_tests::normal::{no_panic, read_work, tagged};
use zedge_tests::raw;
use zedge_tests::wait::deadline;

const KIB: u64 = 1 << 10;
/// The most one stalled connection may hold in the kernel with a 256 KiB limit: the
/// limit, one write past it (a 64 KiB segment) and room. Without the limit a stalled
/// subscriber's held 3.94 MB here, a deaf client's 0.9 MB.
const HELD_MAX: u64 = 384 * KIB;
const STALLED: usize = 20;
const BODY: usize = 64 << 10;

/// The ports `peers` connect from.
fn ports(peers: &[TcpStream]) -> Vec<u16> {
    peers
        .iter()
        .map(|s| s.local_addr().expect("a local address").port())
        .collect()
}

/// Until `until`, the most any of the broker's connections at `port` to peers at `ports` held
/// in the kernel (a peer that reads may have more in flight: its window is its own).
fn most_held_until(port: u16, ports: &[u16], until: Instant) -> u64 {
    let mut most = 0;
    while Instant::now() < until {
        most = kernel_send_queues(port)
            .into_iter()
            .filter(|(peer, _)| ports.contains(peer))
            .fold(most, |m, (_, held)| m.max(held));
        thread::sleep(Duration::from_millis(100));
    }
    most
}

/// A streamer with 20 workers that stopped reading right after their handshake and one that
/// reads: the stalled ones hold at most `HELD_MAX` each in the kernel, so they take a few
/// messages each (two in their queues, at a `queue_hwm` of 128K, and what their connections
/// hold) and the live worker the rest (before, each took ~59 of 64 KiB into its 3.94 MB, and
/// 50 of them left the live worker 58 of 3,000), and once they read, every message has
/// arrived exactly once.
#[test]
fn stalled_workers_hold_little_of_the_kernel_and_the_live_worker_gets_the_rest() {
    let mut broker = Broker::start(
        "streamer",
        &["--queue-hwm", "128K", "--kernel-send-max", "256K"],
    );
    let be = broker.backend_addr();
    let mut stalled: Vec<TcpStream> = (0..STALLED)
        .map(|_| raw::handshake(be, SocketType::Pull, deadline(10)))
        .collect();
    let mut live = raw::handshake(be, SocketType::Pull, deadline(10));
    let reader = thread::spawn(move || read_work(&mut live, Duration::from_secs(3)));
    const N: u32 = 400;
    let mut producer = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
    producer
        .set_write_timeout(Some(Duration::from_secs(20)))
        .expect("write timeout");
    for seq in 0..N {
        let m = tagged(b"work", 0, seq, BODY);
        zedge_tests::write_message(&mut producer, &[&m]).expect("the producer was held");
    }
    let held = most_held_until(
        be.port(),
        &ports(&stalled),
        Instant::now() + Duration::from_secs(2),
    );
    let live_got = reader.join().expect("the live worker");
    let stalled_got: Vec<Vec<u32>> = stalled
        .iter_mut()
        .map(|s| read_work(s, Duration::from_secs(1)))
        .collect();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    let from_stalled: usize = stalled_got.iter().map(Vec::len).sum();
    eprintln!(
        "most held in the kernel for one worker: {held} B; the live worker got {} of {N}, \
         the stalled ones {from_stalled}",
        live_got.len()
    );
    assert!(
        held <= HELD_MAX,
        "a stalled worker's connection held {held} B in the kernel"
    );
    let mut all: Vec<u32> = live_got
        .iter()
        .chain(stalled_got.iter().flatten())
        .copied()
        .collect();
    all.sort_unstable();
    assert!(
        all == (0..N).collect::<Vec<_>>(),
        "{} of {N} arrived, some more than once or not at all:\n{stderr}",
        all.len()
    );
    // A few each: two in its queue, what its own socket took in, and what its connection
    // may hold unsent here.
    assert!(
        from_stalled <= STALLED * 8,
        "the stalled workers took {from_stalled} of {N} messages"
    );
}

/// A forwarder with 20 subscribers of everything that stopped reading, an attacker's
/// publisher sending 64 KiB messages, and a libzmq flow of ticks beside them: the flow gets
/// every tick within 100 ms, and no subscriber's connection holds more than `HELD_MAX` in
/// the kernel.
#[test]
fn stalled_subscribers_hold_little_of_the_kernel_beside_a_flow() {
    let r = retry_latency(100.0, || {
        let broker = Broker::start("forwarder", &["--kernel-send-max", "256K"]);
        let be = broker.backend_addr();
        let stalled: Vec<TcpStream> = (0..STALLED)
            .map(|_| {
                let mut s = raw::handshake(be, SocketType::Sub, deadline(10));
                std::io::Write::write_all(&mut s, &raw::subscribe(b"")).expect("subscribe");
                s
            })
            .collect();
        let mut flow = Flow::start(
            "forwarder",
            broker.frontend(),
            broker.backend(),
            FlowSpec::ticks(100, 4.0),
        );
        let fe = broker.frontend_addr();
        let bulk = thread::spawn(move || {
            let mut publisher = raw::handshake(fe, SocketType::Pub, deadline(10));
            for seq in 0..400 {
                let m = tagged(b"work", 1, seq, BODY);
                if zedge_tests::write_message(&mut publisher, &[&m]).is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(5));
            }
        });
        flow.go();
        let held = most_held_until(
            be.port(),
            &ports(&stalled),
            Instant::now() + Duration::from_secs(4),
        );
        let r = flow.finish();
        bulk.join().expect("the attacker's publisher");
        eprintln!("most held in the kernel for one subscriber: {held} B");
        assert!(
            held <= HELD_MAX,
            "a stalled subscriber's connection held {held} B in the kernel"
        );
        no_panic(&broker.stderr());
        broker.stop();
        r
    });
    r.assert_whole("beside 20 stalled subscribers of 64 KiB messages");
    r.assert_within("beside 20 stalled subscribers of 64 KiB messages", 100.0);
}

/// A queue with 5 clients that send 60 KB requests, read their replies for 2 s at
/// 5 MB/s each (so the kernel grows their connections' send buffers, as it did for libzmq
/// clients whose I/O thread read until RCVHWM) and then none while they go on asking, a worker
/// that echoes, and a client that asks 50 times: it gets every reply, its own, and no deaf
/// client's connection holds more than `HELD_MAX` in the kernel (attacker round 16: 4.2 MB
/// each).
#[test]
fn clients_that_never_read_their_replies_hold_little_of_the_kernel() {
    let mut broker = Broker::start("queue", &["--kernel-send-max", "256K"]);
    let (fe, be) = (broker.frontend_addr(), broker.backend_addr());
    let mut worker = raw::handshake(be, SocketType::Rep, deadline(10));
    let echo = thread::spawn(move || {
        while let Ok(m) = raw::next_message(&mut worker, Instant::now() + Duration::from_secs(3)) {
            let parts: Vec<&[u8]> = m.iter().map(Vec::as_slice).collect();
            raw::send_message(&mut worker, &parts);
        }
    });
    let mut deaf: Vec<TcpStream> = (0..5)
        .map(|_| raw::handshake(fe, SocketType::Req, deadline(10)))
        .collect();
    let deaf_ports = ports(&deaf);
    let asking = thread::spawn(move || {
        let start = Instant::now();
        let mut seq = 0;
        let mut sink = vec![0; 1 << 20];
        while start.elapsed() < Duration::from_secs(5) {
            let reading = start.elapsed() < Duration::from_secs(2);
            for s in &mut deaf {
                for _ in 0..if reading { 10 } else { 1 } {
                    raw::send_message(s, &[b"", &tagged(b"work", 2, seq, 60_000)]);
                }
                s.set_nonblocking(true).expect("nonblocking");
                while reading && matches!(s.read(&mut sink), Ok(n) if n > 0) {}
                s.set_nonblocking(false).expect("blocking");
            }
            seq += 1;
            thread::sleep(Duration::from_millis(50));
        }
        deaf
    });
    let mut client = raw::handshake(fe, SocketType::Req, deadline(10));
    let mut answered = BTreeSet::new();
    for seq in 0..50u32 {
        raw::send_message(&mut client, &[b"", &seq.to_be_bytes()]);
        let reply = raw::next_message(&mut client, deadline(5)).expect("a reply");
        assert_eq!(reply, vec![Vec::new(), seq.to_be_bytes().to_vec()]);
        answered.insert(seq);
    }
    let held = most_held_until(
        fe.port(),
        &deaf_ports,
        Instant::now() + Duration::from_secs(2),
    );
    let deaf = asking.join().expect("the deaf clients");
    broker.terminate();
    drop(deaf);
    echo.join().expect("the worker");
    no_panic(&broker.stderr());
    eprintln!("most held in the kernel for one client: {held} B");
    assert_eq!(answered.len(), 50);
    assert!(
        held <= HELD_MAX,
        "a client's connection held {held} B in the kernel"
    );
}
