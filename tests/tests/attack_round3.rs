//! Attacker, round 3: what a slow, stalled or hostile peer (or a bad radio link) can still cost
//! the normal peers beside it now that a queue's reply cut through to a client waits for it at
//! most `client_stall` (`room.rs` `room_for_more`, `queue.rs` `reply_may_wait`), and now that a
//! small frame is joined to its head before it is pushed for one destination too
//! (`flight.rs` `copy_to_dests`).
//!
//! Each test asserts what the normal peer must still get. The two that failed when this round
//! found them are fixed (their docs say what was measured); the others passed from the start
//! and are kept as regression tests.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use zedge_core::wire::metadata::SocketType;
use zedge_tests::broker::Broker;
use zedge_tests::normal::{
    dropped_at_stop, field, flood_requests, no_panic, QUEUE_WORKER_AND_CLIENT,
};
use zedge_tests::raw;
use zedge_tests::wait::deadline;

const KIB: usize = 1 << 10;

/// Bytes of frame `frame` of message `seq`, `len` long: each depends on all three, so that a
/// damaged, repeated, reordered or misplaced frame shows.
fn frame_bytes(seq: u32, frame: usize, len: usize) -> Vec<u8> {
    let salt = seq.wrapping_mul(7919) ^ (frame as u32).wrapping_mul(104_729);
    (0..len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(salt) as u8)
        .collect()
}

/// Frame lengths of message `seq`: around the 256-byte join (a short head is 2 bytes, so a
/// body of 254 is joined and one of 255 is not; 256 and more take the 9-byte long head), empty
/// frames, single frames and multipart.
fn shape(seq: u32) -> &'static [usize] {
    const SHAPES: &[&[usize]] = &[
        &[0],
        &[1, 0, 254],
        &[255, 256, 247],
        &[248, 249, 250, 251, 252, 253],
        &[0, 0, 0],
        &[300, 9, 2],
        &[254],
        &[255],
        &[256],
        &[257, 0],
        &[246, 1000, 0, 253],
        &[4096, 254, 5000],
    ];
    SHAPES[seq as usize % SHAPES.len()]
}

/// Message `seq`'s frames ([`shape`], [`frame_bytes`]).
fn message(seq: u32) -> Vec<Vec<u8>> {
    shape(seq)
        .iter()
        .enumerate()
        .map(|(f, &len)| frame_bytes(seq, f, len))
        .collect()
}

fn write_parts(s: &mut TcpStream, parts: &[Vec<u8>]) -> io::Result<()> {
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    zedge_tests::write_message(s, &refs)
}

/// A raw DEALER worker on `backend` that echoes every request back in a thread, until its
/// connection is shut down through the clone returned with it; the thread returns how many
/// requests it echoed.
fn echo_worker(backend: SocketAddr) -> (TcpStream, thread::JoinHandle<u32>) {
    let mut w = raw::handshake(backend, SocketType::Dealer, deadline(10));
    let handle = w.try_clone().expect("clone the worker");
    let thread = thread::spawn(move || {
        let mut echoed = 0;
        // Reads block (a read cut short by a timeout would lose part of a frame).
        while let Ok(m) = raw::next_message(&mut w, Instant::now() + Duration::from_secs(60)) {
            if write_parts(&mut w, &m).is_err() {
                break;
            }
            echoed += 1;
        }
        echoed
    });
    (handle, thread)
}

// ---------------------------------------------------------------------------------------------
// Queue: a worker on a slow link holds the client it replies to, and every worker behind it.
// ---------------------------------------------------------------------------------------------

/// A worker whose reply goes out slowly (a bad radio link) or a hostile one trickling it:
/// requests with body `slow` get a reply of `SLOW_REPLY` bytes, 32 KiB every 60 ms (about
/// 530 KB/s, far above the progress rule of 16 KiB per 5 s), others are echoed with the worker's
/// name appended. `slow_one` is set to the name of the worker that got a `slow` request.
const SLOW_REPLY: usize = 1280 * KIB;

fn two_faced_worker(
    backend: SocketAddr,
    name: u8,
    slow_one: Arc<AtomicU8>,
) -> (TcpStream, thread::JoinHandle<()>) {
    let mut w = raw::handshake(backend, SocketType::Dealer, deadline(10));
    w.set_write_timeout(Some(Duration::from_secs(20)))
        .expect("write timeout");
    let handle = w.try_clone().expect("clone the worker");
    let thread = thread::spawn(move || {
        while let Ok(mut m) = raw::next_message(&mut w, Instant::now() + Duration::from_secs(60)) {
            if m.last().is_some_and(|b| b == b"slow") {
                slow_one.store(name, Ordering::Relaxed);
                // The routing frame and the delimiter, then the large body a piece at a time.
                let mut start = Vec::new();
                for part in &m[..m.len() - 1] {
                    start.extend(raw::data_head(part.len() as u64, true));
                    start.extend(part);
                }
                start.extend(raw::data_head(SLOW_REPLY as u64, false));
                if w.write_all(&start).is_err() {
                    return;
                }
                for _ in 0..SLOW_REPLY / (32 * KIB) {
                    thread::sleep(Duration::from_millis(60));
                    if w.write_all(&[b's'; 32 * KIB]).is_err() {
                        return;
                    }
                }
                continue;
            }
            m.push(vec![name]);
            if write_parts(&mut w, &m).is_err() {
                return;
            }
        }
    });
    (handle, thread)
}

/// Two workers; a client C asks one of them (S) for a large reply, which S sends slowly (a bad
/// radio link: about 2.5 s for 1.25 MiB), and asks a few quick things too, some of which the
/// other worker (F) answers at once. A normal client D, which has nothing to do with S's reply,
/// asks F and S in turn. What S answers D waits behind S's large reply, as it would with
/// libzmq; what F answers D must come within 300 ms: F is fast and D's replies go to D.
///
/// Withstood: F answered D within 1.3 ms in every run (S's own answers to D came after 1.1-2.1
/// s, behind its large reply, as with libzmq).
#[test]
fn a_worker_replying_slowly_to_one_client_holds_no_other_worker() {
    let mut broker = Broker::start("queue", &["--heartbeat-ivl", "0"]);
    let stop = Arc::new(AtomicBool::new(false));
    let slow_one = Arc::new(AtomicU8::new(0));
    let workers: Vec<_> = [b'A', b'B']
        .into_iter()
        .map(|name| two_faced_worker(broker.backend_addr(), name, slow_one.clone()))
        .collect();
    thread::sleep(Duration::from_millis(200));

    // C reads everything it is sent, as a normal client does.
    let mut c = raw::handshake(broker.frontend_addr(), SocketType::Dealer, deadline(10));
    let mut c_reader = c.try_clone().expect("clone C");
    let c_stop = stop.clone();
    let c_thread = thread::spawn(move || {
        let mut buf = vec![0u8; 64 * KIB];
        c_reader
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        let mut read = 0usize;
        while !c_stop.load(Ordering::Relaxed) {
            match c_reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => read += n,
                Err(_) => {}
            }
        }
        read
    });
    raw::send_message(&mut c, &[b"", b"slow"]);
    thread::sleep(Duration::from_millis(100));
    for i in 0..4u8 {
        raw::send_message(&mut c, &[b"", b"c", &[i]]);
    }
    thread::sleep(Duration::from_millis(100));

    // D: a request every 100 ms, each answered by one worker or the other.
    let mut d = raw::handshake(broker.frontend_addr(), SocketType::Dealer, deadline(10));
    let mut d_reader = d.try_clone().expect("clone D");
    const N: u32 = 12;
    let sent_at = Arc::new(Mutex::new(Vec::new()));
    let times = sent_at.clone();
    let d_writer = thread::spawn(move || {
        for seq in 0..N {
            times.lock().expect("times").push(Instant::now());
            raw::send_message(&mut d, &[b"", b"d", &seq.to_be_bytes()]);
            thread::sleep(Duration::from_millis(100));
        }
        d
    });
    let mut answers = Vec::new();
    let until = Instant::now() + Duration::from_secs(10);
    while answers.len() < N as usize {
        let Ok(m) = raw::next_message(&mut d_reader, until) else {
            break;
        };
        let at = Instant::now();
        assert!(
            m.len() == 4 && m[0].is_empty() && m[1] == b"d" && m[2].len() == 4,
            "D got a message that is not its reply: {m:?}"
        );
        let seq = u32::from_be_bytes([m[2][0], m[2][1], m[2][2], m[2][3]]);
        let sent = sent_at.lock().expect("times")[seq as usize];
        answers.push((seq, m[3][0], at.duration_since(sent)));
    }
    stop.store(true, Ordering::Relaxed);
    let d = d_writer.join().expect("D's writer");
    let slow = slow_one.load(Ordering::Relaxed);
    for (w, thread) in workers {
        let _ = w.shutdown(std::net::Shutdown::Both);
        thread.join().expect("a worker");
    }
    let c_read = c_thread.join().expect("C's reader");
    broker.assert_running();
    no_panic(&broker.stderr());
    let fast: Vec<Duration> = answers
        .iter()
        .filter(|a| a.1 != slow)
        .map(|a| a.2)
        .collect();
    let worst = fast.iter().max().copied().unwrap_or_default();
    eprintln!(
        "slow worker {}; C read {c_read} bytes; D's answers (seq, worker, latency): {answers:?}",
        slow as char
    );
    assert!(slow != 0, "no worker got C's slow request");
    assert!(
        fast.len() >= N as usize / 2 - 1 && worst <= Duration::from_millis(300),
        "while worker {} sent C a large reply slowly, the other worker answered {} of D's \
         requests, the slowest after {worst:?}",
        slow as char,
        fast.len()
    );
    drop((c, d));
    broker.stop();
}

// ---------------------------------------------------------------------------------------------
// Queue: a client reading in bursts, each sooner than client_stall.
// ---------------------------------------------------------------------------------------------

/// A client on a bursty link (it reads everything it has been sent every `period`, a period
/// well under `client_stall`, 250 ms) pipelining 16 KiB requests to an echo worker, with a
/// 64 KiB high-water mark. It never leaves a worker waiting `client_stall` at a time, and it
/// catches up at every burst: "a client that reads in bursts and catches up loses nothing"
/// (docs/isolation.md). It must get every reply, in order.
///
/// Returns the replies it got (in order, checked), and the drops at stop (all, hwm, memory).
/// [`BURST_N`] replies of 16 KiB: 24 MiB, past what the kernel's socket buffers take.
const BURST_N: u32 = 1500;

fn bursty_client(period: Duration) -> (u32, (u64, u64, u64), String) {
    let mut broker = Broker::start("queue", &["--heartbeat-ivl", "0", "--queue-hwm", "64K"]);
    let (worker, echoing) = echo_worker(broker.backend_addr());
    thread::sleep(Duration::from_millis(100));
    let mut client = raw::handshake(broker.frontend_addr(), SocketType::Dealer, deadline(10));
    let mut link = client.try_clone().expect("clone the client");
    client
        .set_write_timeout(Some(Duration::from_secs(20)))
        .expect("write timeout");
    let writer = thread::spawn(move || {
        for seq in 0..BURST_N {
            let mut body = seq.to_be_bytes().to_vec();
            body.extend(frame_bytes(seq, 1, 16 * KIB - 4));
            if zedge_tests::write_message(&mut client, &[b"", &body]).is_err() {
                break;
            }
        }
        client
    });
    // Not set_nonblocking: `link` shares its file with the writer's `client`, whose writes
    // would then fail with WouldBlock once the socket is full (as soon as 16 KiB on a machine
    // whose tcp_wmem starts there), and the writer stopped part-way.
    link.set_read_timeout(Some(Duration::from_millis(1)))
        .expect("a read timeout");
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 256 * KIB];
    let (mut got, mut next) = (0u32, 0u32);
    let mut bodies = Vec::new();
    let mut idle_since = Instant::now();
    // A burst every `period` from the first, however long checking the last one took (the
    // test's own work, in a debug build, is tens of milliseconds for a few MiB).
    let mut burst_at = Instant::now();
    while next < BURST_N && idle_since.elapsed() < Duration::from_secs(2) {
        burst_at += period;
        thread::sleep(burst_at.saturating_duration_since(Instant::now()));
        // The burst: everything the socket has.
        loop {
            match link.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    idle_since = Instant::now();
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(e) => panic!("the client's link: {e}"),
            }
        }
        // Whole frames: the delimiter, then the body.
        let mut at = 0;
        while let Some((flags, body, used)) = parse_frame(&buf[at..]) {
            at += used;
            if flags & raw::COMMAND != 0 || body.is_empty() {
                continue;
            }
            let seq = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
            assert!(
                seq >= next,
                "reply {seq} after {next}: repeated or reordered"
            );
            // Checked after the run: in a debug build, making each expected body in the loop
            // cost this client its cadence (a CI run saw 278 replies dropped when this
            // file's tests ran side by side; alone it passed).
            bodies.push((seq, body[4..].to_vec()));
            next = seq + 1;
            got += 1;
        }
        buf.drain(..at);
    }
    for (seq, body) in &bodies {
        assert!(
            body[..] == frame_bytes(*seq, 1, 16 * KIB - 4)[..],
            "reply {seq} damaged"
        );
    }
    let client = writer.join().expect("the client's writer");
    let _ = worker.shutdown(std::net::Shutdown::Both);
    let _ = echoing.join();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    drop(client);
    (got, dropped_at_stop(&stderr), stderr)
}

/// One whole frame at the start of `b`: flags, body, bytes used.
fn parse_frame(b: &[u8]) -> Option<(u8, &[u8], usize)> {
    let flags = *b.first()?;
    let (len, at) = if flags & 0x02 != 0 {
        let l: [u8; 8] = b.get(1..9)?.try_into().ok()?;
        (u64::from_be_bytes(l) as usize, 9)
    } else {
        (usize::from(*b.get(1)?), 2)
    };
    let body = b.get(at..at + len)?;
    Some((flags, body, at + len))
}

/// Reading every 150 ms (under the 250 ms `client_stall`), the client must lose nothing. (At
/// 200 ms, with this file's other tests running beside it in a debug build, a CI run once saw
/// the cadence stretch past 250 ms and 348 replies dropped; 100 ms of margin, not 50.)
///
/// Measured when found: it got 1206-1230 of 1500 replies, 270-294 dropped above the high-water
/// mark. Part of that was this test's own pace (it slept 200 ms after checking each burst,
/// which takes tens of milliseconds in a debug build; it now keeps a 200 ms cadence), part the
/// rule of the time: a worker's wait that began before the client caught up was counted
/// against it after (the core test
/// `a_client_catching_up_within_client_stall_each_time_loses_no_reply` shows that part alone:
/// 36 of 40 replies lost). The rule now counts how long the client has been behind.
#[test]
fn a_client_reading_in_bursts_under_client_stall_loses_no_reply() {
    let (got, drops, stderr) = bursty_client(Duration::from_millis(150));
    assert!(
        got == BURST_N && (drops.1, drops.2) == (0, 0),
        "a client reading every 150 ms got {got} of {BURST_N} replies; dropped (all, hwm, \
         memory) {drops:?}:\n{stderr}"
    );
}

/// The same client reading every 50 ms gets every reply: the rule holds for short bursts.
#[test]
fn a_client_reading_in_short_bursts_loses_no_reply() {
    let (got, drops, stderr) = bursty_client(Duration::from_millis(50));
    assert!(
        got == BURST_N && (drops.1, drops.2) == (0, 0),
        "a client reading every 50 ms got {got} of {BURST_N} replies; dropped (all, hwm, \
         memory) {drops:?}:\n{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// Streamer and queue: small frames joined to their heads, byte for byte and in order.
// ---------------------------------------------------------------------------------------------

/// One producer sends 600 messages of every [`shape`] (frames around the 256-byte join, empty
/// frames, long heads, multipart) through a streamer to one worker, written in odd pieces so
/// that frames arrive split across reads: the worker must get each message byte for byte, in
/// order, with its frame boundaries.
#[test]
fn small_frames_around_the_join_arrive_byte_for_byte_and_in_order_through_a_streamer() {
    const N: u32 = 600;
    let mut broker = Broker::start("streamer", &["--heartbeat-ivl", "0"]);
    let mut worker = raw::handshake(broker.backend_addr(), SocketType::Pull, deadline(10));
    let mut producer = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
    let writer = thread::spawn(move || {
        let mut bytes = Vec::new();
        for seq in 0..N {
            let m = message(seq);
            let refs: Vec<&[u8]> = m.iter().map(Vec::as_slice).collect();
            zedge_tests::write_message(&mut bytes, &refs).expect("encode");
        }
        // Pieces of 1, 7, 100, 253, 4099 bytes in turn, now and then a pause.
        let sizes = [1usize, 7, 100, 253, 4099];
        let mut at = 0;
        for i in 0.. {
            if at >= bytes.len() {
                break;
            }
            let end = (at + sizes[i % sizes.len()]).min(bytes.len());
            producer.write_all(&bytes[at..end]).expect("write");
            at = end;
            if i % 97 == 0 {
                thread::sleep(Duration::from_millis(1));
            }
        }
        producer
    });
    let until = Instant::now() + Duration::from_secs(20);
    for seq in 0..N {
        let got = raw::next_message(&mut worker, until)
            .unwrap_or_else(|e| panic!("message {seq} of {N} did not come: {e}"));
        assert!(
            got == message(seq),
            "message {seq} (frames {:?}) arrived as frames of {:?}",
            shape(seq),
            got.iter().map(Vec::len).collect::<Vec<_>>()
        );
    }
    let producer = writer.join().expect("the producer");
    broker.assert_running();
    no_panic(&broker.stderr());
    drop(producer);
    broker.stop();
}

/// A DEALER client pipelines 400 requests of every [`shape`] through a queue to one echo
/// worker: each reply must come back byte for byte, in order (the delimiter, then the frames).
#[test]
fn small_frames_around_the_join_arrive_byte_for_byte_and_in_order_through_a_queue() {
    const N: u32 = 400;
    let mut broker = Broker::start("queue", &["--heartbeat-ivl", "0"]);
    let (worker, echoing) = echo_worker(broker.backend_addr());
    thread::sleep(Duration::from_millis(100));
    let mut client = raw::handshake(broker.frontend_addr(), SocketType::Dealer, deadline(10));
    let mut reader = client.try_clone().expect("clone the client");
    let writer = thread::spawn(move || {
        for seq in 0..N {
            let mut m = vec![Vec::new()];
            m.extend(message(seq));
            write_parts(&mut client, &m).expect("a request");
        }
        client
    });
    let until = Instant::now() + Duration::from_secs(20);
    for seq in 0..N {
        let got = raw::next_message(&mut reader, until)
            .unwrap_or_else(|e| panic!("reply {seq} of {N} did not come: {e}"));
        assert!(
            got.first().is_some_and(Vec::is_empty) && got[1..] == message(seq)[..],
            "reply {seq} (frames {:?}) arrived as frames of {:?}",
            shape(seq),
            got.iter().map(Vec::len).collect::<Vec<_>>()
        );
    }
    let client = writer.join().expect("the client");
    let _ = worker.shutdown(std::net::Shutdown::Both);
    assert_eq!(echoing.join().expect("the worker"), N);
    broker.assert_running();
    no_panic(&broker.stderr());
    drop(client);
    broker.stop();
}

// ---------------------------------------------------------------------------------------------
// Queue: clients that leave, or stop reading, half-way through a large reply.
// ---------------------------------------------------------------------------------------------

/// A client sends 2 MiB requests (cut through both ways) to the libzmq echo worker, reads a
/// little of each reply and leaves, again and again; another stalls half-way through its reply
/// and stays. A normal libzmq client of the same worker must get its 20 replies, each within
/// 300 ms, and the broker must neither panic nor hang.
#[test]
fn clients_leaving_or_stalling_half_way_through_large_replies_cost_a_normal_client_nothing() {
    let mut broker = Broker::start("queue", &["--heartbeat-ivl", "0"]);
    let addr = broker.frontend_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let leaving = stop.clone();
    let leaver = thread::spawn(move || {
        let body = vec![b'L'; 2 << 20];
        let mut rounds = 0;
        while !leaving.load(Ordering::Relaxed) {
            let mut c = raw::handshake(addr, SocketType::Dealer, deadline(10));
            c.set_write_timeout(Some(Duration::from_secs(5)))
                .expect("write timeout");
            if zedge_tests::write_message(&mut c, &[b"", &body]).is_err() {
                continue;
            }
            let mut buf = vec![0u8; 100 * KIB];
            c.set_read_timeout(Some(Duration::from_millis(300)))
                .expect("read timeout");
            let _ = c.read(&mut buf);
            drop(c);
            rounds += 1;
        }
        rounds
    });
    let mut stuck = raw::handshake(addr, SocketType::Dealer, deadline(10));
    let args = [
        broker.frontend().to_owned(),
        broker.backend().to_owned(),
        "20".to_owned(),
        "1.5".to_owned(),
    ];
    let normal = zedge_tests::PyPeer::spawn(
        "echo worker and client",
        QUEUE_WORKER_AND_CLIENT,
        &args,
        Duration::from_secs(60),
    );
    // The stuck client asks once the worker is there, and reads 64 KiB of its reply.
    thread::sleep(Duration::from_millis(1200));
    stuck
        .set_write_timeout(Some(Duration::from_secs(5)))
        .expect("write timeout");
    raw::send_message(&mut stuck, &[b"", &vec![b'S'; 2 << 20]]);
    let mut buf = vec![0u8; 64 * KIB];
    stuck
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("read timeout");
    stuck.read_exact(&mut buf).expect("the start of the reply");
    let out = normal.finish();
    stop.store(true, Ordering::Relaxed);
    let rounds = leaver.join().expect("the leaving client");
    eprintln!("{} ({rounds} clients left half-way)", out.trim());
    broker.assert_running();
    no_panic(&broker.stderr());
    let (answered, max_ms) = (field(&out, "answered"), field(&out, "max_ms"));
    assert!(
        answered == 20.0 && max_ms <= 300.0,
        "beside clients leaving or stalling half-way through 2 MiB replies, a normal client of \
         the same worker got {answered} of 20 replies, the slowest in {max_ms:.1} ms:\n{}",
        broker.stderr()
    );
    assert!(rounds > 0, "the leaving client never got through");
    drop(stuck);
    broker.stop();
}

// ---------------------------------------------------------------------------------------------
// Queue: large replies to a client that keeps up while deaf clients hold the budget.
// ---------------------------------------------------------------------------------------------

/// Under `--memory-max 8M`, deaf clients (16 of them, each sending 40 requests of 64 KiB to
/// the one echo worker and reading nothing) take what the budget lets their queues hold. A
/// normal libzmq client of the same worker makes 10 round trips of 2 MiB (over
/// `store_forward_max`: cut through both ways), reading as fast as it can: each of its replies
/// needs room as it comes, and now waits for it at most `client_stall`. It must get all 10, its
/// connection never reset, each within 2 s: its first round trip waits while the deaf
/// clients are closed one by one, as their replies meet the spent budget (600-1,000 ms
/// measured, 1,016 ms with a busy loop on one of the 2 cores).
///
/// Measured when found: in 4 runs of 8 it got 0, 0, 1 or 2 of 10 (the others 10 of 10,
/// within 600 ms); without the deaf clients, 10 of 10 within 26 ms. A trace showed its first
/// request waiting for room at the worker for good: the deaf clients' queues and their inputs
/// (requests waiting for the worker) held the budget, and each deaf client cost the worker
/// `client_stall` in turn before its reply was dropped, while keeping its memory. Now a client
/// behind for `client_stall` with no room for want of memory is closed (`CloseReason::Unread`):
/// 10 of 10, the slowest 630 ms, the deaf clients closed within 1.3 s.
#[test]
fn large_replies_reach_a_client_that_keeps_up_while_deaf_clients_hold_the_budget() {
    let mut broker = zedge_tests::broker::under_budget("queue", "8M", &[]);
    let args = [
        broker.frontend().to_owned(),
        broker.backend().to_owned(),
        "10".to_owned(),
        "1.0".to_owned(),
        (2 << 20).to_string(),
    ];
    let normal = zedge_tests::PyPeer::spawn(
        "echo worker and large client",
        QUEUE_WORKER_AND_CLIENT,
        &args,
        Duration::from_secs(90),
    );
    thread::sleep(Duration::from_millis(500));
    let addr = broker.frontend_addr();
    let deaf: Vec<thread::JoinHandle<TcpStream>> = (0..16)
        .map(|_| {
            let c = raw::handshake(addr, SocketType::Dealer, deadline(10));
            flood_requests(c, 40, Duration::from_secs(20))
        })
        .collect();
    let out = normal.finish();
    broker.assert_running();
    broker.terminate();
    let stderr = broker.stderr();
    eprintln!(
        "{} (memory spent: {}, dropped (all, hwm, memory): {:?})\n{stderr}",
        out.trim(),
        stderr.contains("memory_max is spent"),
        dropped_at_stop(&stderr)
    );
    no_panic(&stderr);
    let (answered, max_ms) = (field(&out, "answered"), field(&out, "max_ms"));
    assert!(
        answered == 10.0 && max_ms <= 2000.0,
        "beside deaf clients holding the budget, a normal client got {answered} of 10 replies \
         of 2 MiB, the slowest in {max_ms:.1} ms:\n{stderr}"
    );
    drop(broker);
    for d in deaf {
        drop(d.join());
    }
}
