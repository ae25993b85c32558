//! Attacker, round 4: subscribers of several speeds beside a normal libzmq subscriber while a
//! publisher sends messages of mixed sizes (16 B .. 200 KiB); a queue worker replying with
//! bogus routing frames beside a normal worker; a queue client flooding small or large
//! requests and reading nothing, beside a libzmq REQ client of the same single worker.
//!
//! Each test asserts what the normal peer must still get. Ignored tests are open findings,
//! with what was measured; the others passed from the start and are kept as regression tests.
//!
//! Found: a client flooding requests and reading nothing cost a REQ client of the same single
//! worker seconds when the requests were tiny (the worker's queue was first come, first
//! served; libzmq's own proxy does no better): fixed in session 8 (`worker_inflight`, and
//! sources waiting for room take turns); and under `--memory-max 8M` with large requests about
//! 385 ms once, more than the `client_stall` once docs/isolation.md promises: fixed in session
//! 8 (a client closed for not reading gives its memory back at once). Withstood:
//! subscribers of several speeds beside a normal subscriber (with and without a 16M budget),
//! a worker replying with bogus routing frames, a deaf client sending at a steady rate.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use zedge_core::wire::metadata::SocketType;
use zedge_tests::broker::{under_budget, Broker};
use zedge_tests::flow::{pattern, retry_latency, Flow, FlowResult, FlowSpec};
use zedge_tests::normal::{dropped_at_stop, field, no_panic, normal_flow, worker_and_client};
use zedge_tests::raw;
use zedge_tests::wait::deadline;

const KIB: usize = 1 << 10;

// ---------------------------------------------------------------------------------------------
// Forwarder: subscribers of several speeds, a publisher of mixed sizes.
// ---------------------------------------------------------------------------------------------

/// How a raw subscriber of everything reads.
#[derive(Clone, Copy, Debug)]
enum Speed {
    /// Everything, as fast as it comes.
    Fast,
    /// 1 KiB every 100 ms.
    Trickle,
    /// Nothing at all.
    Stopped,
    /// Everything it has for 200 ms, then nothing for 1.5 s, and again.
    Bursts,
}

/// A raw subscriber of everything on `backend`, reading at `speed` until `stop`; the thread
/// returns how many bytes it read.
fn subscriber(backend: SocketAddr, speed: Speed, stop: Arc<AtomicBool>) -> JoinHandle<usize> {
    let mut s = raw::handshake(backend, SocketType::Sub, deadline(10));
    s.write_all(&raw::subscribe(b"")).expect("write SUBSCRIBE");
    thread::spawn(move || {
        let mut buf = vec![0u8; 256 * KIB];
        let mut read = 0usize;
        s.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let mut read_some =
            |s: &mut TcpStream, max: usize| s.read(&mut buf[..max]).unwrap_or_default();
        while !stop.load(Ordering::Relaxed) {
            match speed {
                Speed::Fast => read += read_some(&mut s, 256 * KIB),
                Speed::Trickle => {
                    read += read_some(&mut s, KIB);
                    thread::sleep(Duration::from_millis(100));
                }
                Speed::Stopped => thread::sleep(Duration::from_millis(50)),
                Speed::Bursts => {
                    let end = Instant::now() + Duration::from_millis(200);
                    while Instant::now() < end {
                        read += read_some(&mut s, 256 * KIB);
                    }
                    let end = Instant::now() + Duration::from_millis(1500);
                    while Instant::now() < end && !stop.load(Ordering::Relaxed) {
                        thread::sleep(Duration::from_millis(20));
                    }
                }
            }
        }
        drop(s);
        read
    })
}

/// Sizes of the mixed publisher's bodies, in turn: 16 B .. 200 KiB.
const MIXED: &[usize] = &[
    16,
    200 * KIB,
    1000,
    64 * KIB,
    100,
    16 * KIB,
    4 * KIB,
    200 * KIB,
    255,
    128 * KIB,
];

/// The number of mixed messages: 100 a second (about 6 MB/s) for 4 s.
const MIXED_N: usize = 400;

/// A normal libzmq subscriber (a [`Flow`] of 100 ticks a second for 4 s, also taking the
/// topic `bulk`) beside four raw subscribers of everything (fast, trickling 1 KiB per 100 ms,
/// stopped, reading in bursts), and a raw publisher of `bulk` messages of mixed sizes, 100 a
/// second. Returns the flow's result and the latency of each `bulk` message it got.
fn speeds_run(broker: &mut Broker, copies: usize) -> (FlowResult, Vec<f64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let subs: Vec<_> = [Speed::Fast, Speed::Trickle, Speed::Stopped, Speed::Bursts]
        .into_iter()
        .flat_map(|speed| std::iter::repeat_n(speed, copies))
        .map(|speed| subscriber(broker.backend_addr(), speed, stop.clone()))
        .collect();
    let mut publisher = raw::handshake(broker.frontend_addr(), SocketType::Pub, deadline(10));
    publisher
        .set_write_timeout(Some(Duration::from_secs(10)))
        .expect("write timeout");
    let spec = FlowSpec {
        rate: 100,
        secs: 4.0,
        extra: vec![b"bulk".to_vec()],
        expect_extra: MIXED_N,
        extra_wait: 3.0,
    };
    let mut flow = Flow::start("forwarder", broker.frontend(), broker.backend(), spec);
    thread::sleep(Duration::from_millis(200));
    flow.go();
    let go = Instant::now();
    let mut sent_ms = Vec::new();
    for i in 0..MIXED_N {
        let due = go + Duration::from_millis(10 * i as u64);
        thread::sleep(due.saturating_duration_since(Instant::now()));
        sent_ms.push(go.elapsed().as_secs_f64() * 1000.0);
        let body = pattern(MIXED[i % MIXED.len()]);
        zedge_tests::write_message(&mut publisher, &[b"bulk", &body])
            .expect("the mixed publisher's write");
    }
    let result = flow.finish();
    stop.store(true, Ordering::Relaxed);
    let read: Vec<usize> = subs
        .into_iter()
        .map(|t| t.join().expect("a subscriber"))
        .collect();
    eprintln!("raw subscribers read ({copies} each of fast, trickle, stopped, bursts): {read:?}");
    let extras = result.extras();
    let sizes: Vec<usize> = extras.iter().map(|e| e.0).collect();
    let want: Vec<usize> = (0..MIXED_N).map(|i| 4 + MIXED[i % MIXED.len()]).collect();
    assert_eq!(
        sizes, want,
        "the normal subscriber's bulk messages, sizes in order (want every one, in order)"
    );
    assert!(
        extras.iter().all(|e| e.2 && e.1 == 2),
        "a bulk message was damaged: {extras:?}"
    );
    let lat: Vec<f64> = extras
        .iter()
        .zip(&sent_ms)
        .map(|(e, sent)| e.3 as f64 - sent)
        .collect();
    drop(publisher);
    (result, lat)
}

fn speeds(broker_args: impl Fn() -> Broker, copies: usize) {
    let mut worst_bulk = 0.0f64;
    let result = retry_latency(300.0, || {
        let mut broker = broker_args();
        let (result, lat) = speeds_run(&mut broker, copies);
        worst_bulk = lat.iter().copied().fold(0.0, f64::max);
        eprintln!(
            "bulk latency (ms, from the sender's clock, +-5): max {worst_bulk:.0}, {lat:.0?}"
        );
        let status = broker.terminate();
        assert_eq!(status.code(), Some(0), "zedge exited {status}");
        let stderr = broker.stderr();
        no_panic(&stderr);
        eprintln!(
            "drops at stop (all, hwm, memory): {:?}",
            dropped_at_stop(&stderr)
        );
        result
    });
    result.assert_within("subscribers of several speeds", 300.0);
    assert!(
        worst_bulk <= 300.0,
        "a bulk message reached the normal subscriber after {worst_bulk:.0} ms"
    );
}

/// Withstood: 400 of 400 ticks in order, the slowest in 5-9 ms, and all 400 bulk messages
/// (25 MB) whole and in order, the slowest about 11 ms after it was sent; the fast raw
/// subscribers read all 25 MB, the stopped one nothing (1,330 dropped above its mark).
#[test]
fn subscribers_of_several_speeds_cost_a_normal_subscriber_nothing() {
    speeds(|| Broker::start("forwarder", &["--heartbeat-ivl", "0"]), 1);
}

/// Withstood: as above (ticks within 7 ms, bulk within 13 ms), with 904 messages dropped for
/// memory (the stopped and bursty subscribers').
#[test]
fn subscribers_of_several_speeds_cost_a_normal_subscriber_nothing_under_a_16m_budget() {
    speeds(|| under_budget("forwarder", "16M", &[]), 1);
}

/// Three subscribers of each speed, under `--memory-max 16M`. Withstood: ticks within 6 ms,
/// bulk within 8 ms, 2,747 dropped for memory.
#[test]
fn twelve_subscribers_of_several_speeds_under_a_16m_budget_cost_a_normal_subscriber_nothing() {
    speeds(|| under_budget("forwarder", "16M", &[]), 3);
}

// ---------------------------------------------------------------------------------------------
// Queue: a worker replying with bogus routing frames beside a normal one.
// ---------------------------------------------------------------------------------------------

/// A raw DEALER worker echoing every request; what it echoed (the bodies) goes into `echoed`.
fn normal_worker(
    backend: SocketAddr,
    echoed: Arc<Mutex<HashSet<Vec<u8>>>>,
) -> (TcpStream, JoinHandle<()>) {
    let mut w = raw::handshake(backend, SocketType::Dealer, deadline(10));
    let handle = w.try_clone().expect("clone the worker");
    let thread = thread::spawn(move || {
        while let Ok(m) = raw::next_message(&mut w, Instant::now() + Duration::from_secs(60)) {
            if let Some(body) = m.last() {
                echoed.lock().expect("echoed").insert(body.clone());
            }
            let refs: Vec<&[u8]> = m.iter().map(Vec::as_slice).collect();
            if zedge_tests::write_message(&mut w, &refs).is_err() {
                return;
            }
        }
    });
    (handle, thread)
}

/// A raw DEALER worker answering each request with a bogus reply, a different kind each time,
/// every body starting with `H`: a routing frame one byte too long, one byte short, 256 bytes,
/// of an unknown peer, empty, alone without raw::MORE, naming another live client, and a huge
/// multipart reply (4,000 frames of 1 KiB) to the client that asked, then 8 MiB to nobody.
fn hostile_worker(backend: SocketAddr) -> (TcpStream, JoinHandle<u32>) {
    let mut w = raw::handshake(backend, SocketType::Dealer, deadline(10));
    w.set_write_timeout(Some(Duration::from_secs(20)))
        .expect("write timeout");
    let handle = w.try_clone().expect("clone the worker");
    let thread = thread::spawn(move || {
        let mut ids: Vec<Vec<u8>> = Vec::new();
        let mut n = 0u32;
        let kilo = vec![b'H'; KIB];
        let huge = vec![b'H'; 8 << 20];
        while let Ok(m) = raw::next_message(&mut w, Instant::now() + Duration::from_secs(60)) {
            let id = m[0].clone();
            if !ids.contains(&id) {
                ids.push(id.clone());
            }
            let other = ids.iter().find(|i| **i != id).cloned();
            let long = [id.as_slice(), b"x"].concat();
            let short = id[..id.len().saturating_sub(1)].to_vec();
            let mut unknown = id.clone();
            if let Some(last) = unknown.last_mut() {
                *last ^= 0x5a;
            }
            let wide = vec![0u8; 256];
            let sent = match n % 9 {
                0 => zedge_tests::write_message(&mut w, &[&long, b"", b"H long"]),
                1 => zedge_tests::write_message(&mut w, &[&short, b"", b"H short"]),
                2 => zedge_tests::write_message(&mut w, &[&wide, b"", b"H wide"]),
                3 => zedge_tests::write_message(&mut w, &[&unknown, b"", b"H unknown"]),
                4 => zedge_tests::write_message(&mut w, &[b"", b"", b"H empty"]),
                5 => zedge_tests::write_message(&mut w, &[&id]),
                6 => match &other {
                    Some(o) => zedge_tests::write_message(&mut w, &[o, b"", b"H stolen"]),
                    None => Ok(()),
                },
                7 => {
                    let mut parts: Vec<&[u8]> = vec![&id, b""];
                    parts.extend(vec![kilo.as_slice(); 4000]);
                    zedge_tests::write_message(&mut w, &parts)
                }
                _ => zedge_tests::write_message(&mut w, &[&unknown, b"", &huge]),
            };
            if sent.is_err() {
                break;
            }
            n += 1;
        }
        n
    });
    (handle, thread)
}

/// What one normal client got: its own replies (seq), the worst latency of those, hostile
/// messages, and anything that was neither (should be empty).
#[derive(Debug, Default)]
struct ClientSaw {
    own: HashSet<u32>,
    worst_ms: f64,
    hostile: u32,
    foreign: Vec<Vec<Vec<u8>>>,
}

const CLIENT_N: u32 = 45;

/// A raw DEALER client `tag` sending [`CLIENT_N`] requests 20 ms apart and reading what comes.
fn client(frontend: SocketAddr, tag: u8) -> JoinHandle<ClientSaw> {
    let mut c = raw::handshake(frontend, SocketType::Dealer, deadline(10));
    let mut reader = c.try_clone().expect("clone the client");
    let sent_at = Arc::new(Mutex::new(Vec::new()));
    let times = sent_at.clone();
    let writer = thread::spawn(move || {
        for seq in 0..CLIENT_N {
            times.lock().expect("times").push(Instant::now());
            let body = [&[b'c', tag][..], &seq.to_be_bytes()].concat();
            raw::send_message(&mut c, &[b"", &body]);
            thread::sleep(Duration::from_millis(20));
        }
        c
    });
    thread::spawn(move || {
        let mut saw = ClientSaw::default();
        let until = Instant::now() + Duration::from_secs(4);
        while let Ok(m) = raw::next_message(&mut reader, until) {
            let at = Instant::now();
            let last = m.last().cloned().unwrap_or_default();
            if last.first() == Some(&b'H') {
                saw.hostile += 1;
                continue;
            }
            if m.len() == 2 && m[0].is_empty() && last.len() == 6 && last[..2] == [b'c', tag] {
                let seq = u32::from_be_bytes([last[2], last[3], last[4], last[5]]);
                let sent = sent_at.lock().expect("times")[seq as usize];
                saw.worst_ms = saw
                    .worst_ms
                    .max(at.duration_since(sent).as_secs_f64() * 1000.0);
                assert!(saw.own.insert(seq), "client {tag}: reply {seq} twice");
            } else {
                saw.foreign.push(m);
            }
        }
        drop(writer.join());
        saw
    })
}

/// A normal raw worker and a [`hostile_worker`] behind a queue; three raw DEALER clients send
/// 45 requests each, 20 ms apart. Each client must get exactly the replies the normal worker
/// sent it, within 300 ms, and nothing but those and the hostile worker's (marked `H`: its
/// reply naming another live client does reach that client, as with libzmq's ROUTER, and its
/// huge multipart reply reaches the client that asked).
///
/// Withstood: every reply the normal worker sent (20-25 per client) reached its client, the
/// slowest in 9-30 ms; of the hostile worker's 67 bogus replies only those naming a live
/// client (stolen, huge multipart) were delivered, nothing else, and nothing foreign.
fn bogus_routing(mut broker: Broker) {
    let echoed = Arc::new(Mutex::new(HashSet::new()));
    let (good, good_thread) = normal_worker(broker.backend_addr(), echoed.clone());
    let (bad, bad_thread) = hostile_worker(broker.backend_addr());
    thread::sleep(Duration::from_millis(200));
    let clients: Vec<_> = (0..3u8)
        .map(|tag| client(broker.frontend_addr(), tag))
        .collect();
    let saw: Vec<ClientSaw> = clients
        .into_iter()
        .map(|c| c.join().expect("a client"))
        .collect();
    let _ = good.shutdown(std::net::Shutdown::Both);
    let _ = bad.shutdown(std::net::Shutdown::Both);
    good_thread.join().expect("the normal worker");
    let bogus = bad_thread.join().expect("the hostile worker");
    let echoed = echoed.lock().expect("echoed").clone();
    for (tag, s) in saw.iter().enumerate() {
        let want: HashSet<u32> = echoed
            .iter()
            .filter(|b| b.len() == 6 && b[..2] == [b'c', tag as u8])
            .map(|b| u32::from_be_bytes([b[2], b[3], b[4], b[5]]))
            .collect();
        eprintln!(
            "client {tag}: {} own replies of {} echoed by the normal worker, worst {:.1} ms, \
             {} hostile messages, {} foreign",
            s.own.len(),
            want.len(),
            s.worst_ms,
            s.hostile,
            s.foreign.len()
        );
        assert!(
            s.foreign.is_empty(),
            "client {tag} got messages that are not its own replies: {:?}",
            s.foreign
        );
        assert_eq!(
            s.own, want,
            "client {tag}: the replies it got against those the normal worker sent it"
        );
        assert!(
            s.worst_ms <= 300.0,
            "client {tag}: a reply from the normal worker took {:.1} ms",
            s.worst_ms
        );
    }
    eprintln!("the hostile worker sent {bogus} bogus replies");
    assert!(bogus >= 9, "the hostile worker got only {bogus} requests");
    broker.assert_running();
    normal_flow(&mut broker, "queue");
    no_panic(&broker.stderr());
    broker.stop();
}

#[test]
fn a_worker_replying_with_bogus_routing_frames_costs_normal_clients_nothing() {
    bogus_routing(Broker::start("queue", &["--heartbeat-ivl", "0"]));
}

#[test]
fn a_worker_replying_with_bogus_routing_frames_under_an_8m_budget_costs_clients_nothing() {
    bogus_routing(under_budget("queue", "8M", &[]));
}

// ---------------------------------------------------------------------------------------------
// Queue: a client flooding requests and reading nothing, beside a REQ client of one worker.
// ---------------------------------------------------------------------------------------------

/// A raw DEALER client flooding requests with bodies of `size` until `stop` (or a write times
/// out after 30 s); it never reads. Returns how many it sent.
fn flood(
    frontend: SocketAddr,
    size: usize,
    per_sec: Option<u32>,
    stop: Arc<AtomicBool>,
) -> JoinHandle<u64> {
    let mut c = raw::handshake(frontend, SocketType::Dealer, deadline(10));
    c.set_write_timeout(Some(Duration::from_secs(30)))
        .expect("write timeout");
    thread::spawn(move || {
        let body = vec![b'f'; size];
        let mut n = 0u64;
        let start = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if let Some(rate) = per_sec {
                let due = start + Duration::from_secs_f64(n as f64 / f64::from(rate));
                thread::sleep(due.saturating_duration_since(Instant::now()));
            }
            if zedge_tests::write_message(&mut c, &[b"", &body]).is_err() {
                break;
            }
            n += 1;
        }
        n
    })
}

fn deaf_flooder_run(broker: impl Fn() -> Broker, size: usize, per_sec: Option<u32>) -> (f64, f64) {
    let mut broker = broker();
    let stop = Arc::new(AtomicBool::new(false));
    let flooder = flood(broker.frontend_addr(), size, per_sec, stop.clone());
    let out = worker_and_client(&broker, 30, 1.0);
    stop.store(true, Ordering::Relaxed);
    broker.assert_running();
    let stderr = broker.stderr();
    no_panic(&stderr);
    eprintln!("drops at stop: {:?}", dropped_at_stop(&stderr));
    drop(broker);
    let sent = flooder.join().expect("the flooder");
    let (answered, max_ms) = (field(&out, "answered"), field(&out, "max_ms"));
    eprintln!("the flooder sent {sent} requests of {size} bytes; the REQ client got {answered} of 30, the slowest in {max_ms:.1} ms");
    (answered, max_ms)
}

fn deaf_flooder(broker: impl Fn() -> Broker, size: usize, per_sec: Option<u32>) {
    let (mut answered, mut max_ms) = deaf_flooder_run(&broker, size, per_sec);
    if answered == 30.0 && max_ms > 300.0 {
        eprintln!("over 300 ms once ({max_ms:.1} ms); running it again");
        (answered, max_ms) = deaf_flooder_run(&broker, size, per_sec);
    }
    assert!(
        answered == 30.0 && max_ms <= 300.0,
        "beside a client sending {size}-byte requests ({per_sec:?} a second) that never reads, a REQ client of the \
         same worker got {answered} of 30 replies, the slowest in {max_ms:.1} ms"
    );
}

/// Withstood since `worker_inflight` and the line of waiting sources (session 8): 30 of 30,
/// the slowest in 82-134 ms. A raw DEALER client writing 16-byte requests as fast as the
/// broker takes them (430,000-760,000 in the run), reading nothing, and a libzmq REQ client
/// of the same single (Python echo) worker. Before: the REQ client got 0 of 30 replies, its
/// first not within 3 s; by hand with a pyzmq flooder (10 round trips, 20 s each) zedge's
/// REQ client waited 3.6 s, then 14.3 s, then over 20 s; libzmq's own ROUTER/DEALER proxy in
/// its place, 8.5 s, 17.1 s, then over 20 s. The worker's queue was first come, first served:
/// the REQ client's request waited behind the 1 MiB high-water mark of the flooder's requests
/// (about 34,000) and what the socket buffers and the worker's libzmq pipe held. Now a worker
/// holds at most 1,000 unanswered requests, and clients waiting for it take turns.
#[test]
fn a_client_flooding_tiny_requests_unread_costs_a_req_client_of_its_worker_nothing() {
    deaf_flooder(
        || Broker::start("queue", &["--heartbeat-ivl", "0"]),
        16,
        None,
    );
}

/// Withstood, as the one above, under `--memory-max 8M` (before: 0 of 30 within 3 s; by
/// hand 3.8 s, then 18 s).
#[test]
fn a_client_flooding_tiny_requests_unread_under_an_8m_budget_costs_a_req_client_nothing() {
    deaf_flooder(|| under_budget("queue", "8M", &[]), 16, None);
}

/// Withstood since session 8: 16 of 16 runs within 5 ms (before, 5 of 10 runs had one round
/// trip of 380-388 ms). A client closed for not reading (`CloseReason::Unread`) gives its
/// queue back at once now: its connection used to write what it was still owed for up to a
/// second first, which a client that does not read never takes, holding that memory meanwhile.
/// Found: a raw DEALER client writing 256 KiB requests as fast as the broker takes them
/// (350-560 in the run), reading nothing, under `--memory-max 8M`: in about half the runs one
/// round trip of the REQ client took 381-391 ms (the others 1-4 ms); 6 of 11 runs had one,
/// and three times both tries of a test run. By hand with a pyzmq DEALER flooder that
/// stops reading (RCVHWM 1, SO_RCVBUF 4 KiB) it was the REQ client's first round trip every
/// time: 386, 388, 391 ms for 256 KiB requests, 403 ms for 64 KiB, then 1-2 ms each; without
/// the budget 2-13 ms; libzmq's proxy 24-39 ms. docs/isolation.md says such a client costs
/// the others "at most `client_stall` (250 ms) once": this is `client_stall` and some 140 ms
/// more. (`attack_budget.rs`' `a_queue_client_that_never_reads_while_memory_is_spent_...`
/// passes: its flooder stops after 300 requests, before its REQ client starts.)
#[test]
fn a_client_flooding_256k_requests_unread_under_an_8m_budget_costs_a_req_client_nothing() {
    deaf_flooder(|| under_budget("queue", "8M", &[]), 256 * KIB, None);
}

/// Withstood: 30 of 30, the slowest in 2-13 ms.
#[test]
fn a_client_flooding_256k_requests_unread_costs_a_req_client_nothing() {
    deaf_flooder(
        || Broker::start("queue", &["--heartbeat-ivl", "0"]),
        256 * KIB,
        None,
    );
}

/// A client sending 1 KiB requests at 5,000 a second (a rate the worker keeps up with) and
/// reading none of the replies, beside a REQ client of the same worker. Withstood: 30 of 30,
/// the slowest in 1-2 ms (also under 8M, and 64 KiB at 200 a second under 8M).
#[test]
fn a_client_sending_requests_at_a_steady_rate_unread_costs_a_req_client_nothing() {
    deaf_flooder(
        || Broker::start("queue", &["--heartbeat-ivl", "0"]),
        KIB,
        Some(5000),
    );
}

#[test]
fn a_client_sending_requests_at_a_steady_rate_unread_under_an_8m_budget_costs_nothing() {
    deaf_flooder(|| under_budget("queue", "8M", &[]), KIB, Some(5000));
}

#[test]
fn a_client_sending_64k_requests_at_a_steady_rate_unread_under_an_8m_budget_costs_nothing() {
    deaf_flooder(|| under_budget("queue", "8M", &[]), 64 * KIB, Some(200));
}
