//! Who gives way when a device is short of memory or of workers, at the default
//! `kernel_send_max` (256 KiB): peers that read in bursts or not at all beside a normal flow
//! that keeps up. Both tests come from attacker rounds and failed before their fixes:
//!
//! - round 17, F1: subscribers of 4 MiB messages that read in bursts, each holding one whole
//!   message between bursts, made a libzmq subscriber that kept up the one reset when the
//!   budget ran short (38 to 203 of 2,400 ticks lost, and large messages);
//! - round 16, K1b: every stalled PULL worker was still given its turn of new messages, which
//!   then waited in it (50 stalled workers left the worker that read 58 of 3,000).

use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use zedge_core::wire::metadata::SocketType;
use zedge_tests::broker::Broker;
use zedge_tests::flow::{pattern, retry_latency, Flow, FlowSpec, ISOLATION_MS};
use zedge_tests::normal::{no_panic, read_work, tagged};
use zedge_tests::python::PyPeer;
use zedge_tests::raw;
use zedge_tests::wait::deadline;
use zedge_tests::zmq_prelude;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// Raw subscribers of `big.` with 64 KiB receive buffers, `argv[2]` of them, that read in
/// bursts: each, on its own phase, reads all it can for up to `argv[4]` s every `argv[3]` s,
/// so its queue empties well within the 1 s lag rule while it holds most of a 4 MiB message
/// between bursts. Prints `ready` once all are subscribed and, after `argv[5]` s, how many
/// bytes they read and how many the broker closed.
const BURSTY: &str = concat!(
    zmq_prelude!(),
    r#"
ep, n, per, drain, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
socks = []
for i in range(n):
    s = raw_null(ep, b"SUB", rcvbuf=65536)
    s.sendall(b"\x04\x0e\x09SUBSCRIBEbig.")
    s.setblocking(False)
    socks.append(s)
print("ready", flush=True)
alive, got, closed = set(range(n)), 0, 0
start = time.monotonic()
due = [start + i * per / n for i in range(n)]
end = start + secs
while time.monotonic() < end:
    now = time.monotonic()
    for i in sorted(alive):
        if now < due[i]:
            continue
        t0, idle = time.monotonic(), 0
        while time.monotonic() - t0 < drain and idle <= 5:
            try:
                c = socks[i].recv(1 << 20)
            except BlockingIOError:
                idle += 1
                time.sleep(0.002)
                continue
            except OSError:
                c = b""
            if not c:
                alive.discard(i)
                closed += 1
                break
            got, idle = got + len(c), 0
        due[i] += per
    time.sleep(0.005)
print("bytes=%d closed=%d" % (got, closed), flush=True)
"#
);

/// A forwarder under a 16 MiB budget (`queue_hwm` 8M, so the budget binds first) carrying
/// 4 MiB messages on `big.` at 3 a second from a publisher, to a libzmq subscriber of ticks
/// and `big.` that keeps up, and to four subscribers of `big.` that read in bursts
/// ([`BURSTY`]). The keeper must get every tick, in order, within its bound, and every large
/// message whole, and must never be reset.
///
/// Before the fix (c842144), when a piece of a large message found no memory, the keeper was
/// the one reset ("memory_max could not take the rest of a message being written to it"): its
/// own part-written message made its queue count as behind for the spare piece, and when the
/// budget was short none of the bursty subscribers lagged by any rule, each holding one
/// exempt message and emptying its queue within 1 s.
#[test]
fn subscribers_reading_large_messages_in_bursts_cost_one_that_keeps_up_nothing() {
    const BIG: usize = 4 * MIB;
    const SECS: f64 = 6.0;
    const RATE: f64 = 3.0;
    let n_big = (SECS * RATE) as usize;
    // The ticks share the keeper's connection with the 4 MiB messages (25-36 ms seen).
    let r = retry_latency(250.0, || {
        let mut broker = Broker::start(
            "forwarder",
            &[
                "--memory-max",
                "16M",
                "--max-peers",
                "64",
                "--queue-hwm",
                "8M",
            ],
        );
        let bursty = PyPeer::spawn(
            "bursty subscribers",
            BURSTY,
            &[
                broker.backend().to_owned(),
                "4".into(),
                "0.9".into(),
                "0.3".into(),
                (SECS + 6.0).to_string(),
            ],
            Duration::from_secs(60),
        );
        let until = deadline(20);
        while !bursty.stdout_so_far().contains("ready") {
            assert!(
                Instant::now() < until,
                "the bursty subscribers never connected"
            );
            thread::sleep(Duration::from_millis(20));
        }
        let spec = FlowSpec {
            rate: 200,
            secs: SECS,
            extra: vec![b"big.".to_vec()],
            expect_extra: n_big,
            extra_wait: 5.0,
        };
        let mut flow = Flow::start("forwarder", broker.frontend(), broker.backend(), spec);
        let mut publisher = raw::handshake(broker.frontend_addr(), SocketType::Pub, deadline(10));
        thread::sleep(Duration::from_millis(300));
        flow.go();
        let mut body = b"big.".to_vec();
        body.extend(pattern(BIG - 4));
        let start = Instant::now();
        for i in 0..n_big {
            let at = start + Duration::from_secs_f64(i as f64 / RATE);
            thread::sleep(at.saturating_duration_since(Instant::now()));
            raw::send_message(&mut publisher, &[&body]);
        }
        let r = flow.finish();
        let hostile = bursty.finish();
        broker.assert_running();
        let stderr = broker.stderr();
        no_panic(&stderr);
        let whole = r.extras().iter().filter(|e| e.0 == BIG && e.2).count();
        eprintln!("bursty subscribers: {}", hostile.trim());
        assert_eq!(
            whole, n_big,
            "the subscriber that keeps up got {whole} of {n_big} 4 MiB messages whole: {}\n{stderr}",
            r.line
        );
        drop(publisher);
        broker.stop();
        r
    });
    r.assert_within("subscribers reading 4 MiB messages in bursts", 250.0);
}

/// A streamer with twenty PULL workers that stopped reading after their handshake, a peer that
/// sends garbage for a greeting, and a libzmq PUSH-PULL flow. A producer's 64 KiB messages go
/// round the workers first, so each stalled one takes what its connection holds and then has
/// a queue its socket takes nothing of. After a turn of the progress timeout the flow must get
/// every tick, in order, within the isolation bound, and once the stalled workers read, every
/// 64 KiB message must have arrived exactly once (the flow's worker got the rest).
///
/// Before the fix (df132df), the stalled workers stayed in the round-robin below their
/// high-water mark: twenty of every twenty-one ticks waited in workers that read nothing.
#[test]
fn stalled_workers_are_passed_over_once_their_sockets_take_nothing() {
    const STALLED: usize = 20;
    const N: u32 = 300;
    const BODY: usize = 64 * KIB;
    let r = retry_latency(ISOLATION_MS, || {
        let mut broker = Broker::start("streamer", &[]);
        let spec = FlowSpec::ticks(200, 3.0);
        let mut flow = Flow::start("streamer", broker.frontend(), broker.backend(), spec);
        let be = broker.backend_addr();
        let mut stalled: Vec<TcpStream> = (0..STALLED)
            .map(|_| raw::handshake(be, SocketType::Pull, deadline(10)))
            .collect();
        let mut garbage = raw::connect(be, deadline(10));
        std::io::Write::write_all(&mut garbage, &[0x55; 64]).expect("write garbage");
        let mut producer = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
        producer
            .set_write_timeout(Some(Duration::from_secs(20)))
            .expect("write timeout");
        for seq in 0..N {
            let m = tagged(b"work", 0, seq, BODY);
            zedge_tests::write_message(&mut producer, &[&m]).expect("the producer was held");
        }
        // A turn of the default 5 s progress timeout is 1.25 s.
        thread::sleep(Duration::from_millis(2500));
        flow.go();
        let r = flow.finish();
        let stalled_got: Vec<u32> = stalled
            .iter_mut()
            .flat_map(|s| read_work(s, Duration::from_secs(1)))
            .collect();
        let (refused, _) = raw::closed_by(&mut garbage, deadline(5));
        broker.assert_running();
        broker.terminate();
        let stderr = broker.stderr();
        no_panic(&stderr);
        assert!(refused, "the peer that sent garbage was not closed");
        let to_flow = r.extras().iter().filter(|e| e.0 == BODY).count();
        let mut seen = stalled_got.clone();
        seen.sort_unstable();
        seen.dedup();
        eprintln!(
            "64 KiB messages: {} at the stalled workers, {to_flow} at the flow's worker",
            stalled_got.len()
        );
        assert_eq!(
            (seen.len(), stalled_got.len() + to_flow),
            (stalled_got.len(), N as usize),
            "the 64 KiB messages did not all arrive exactly once: {}\n{stderr}",
            r.line
        );
        r
    });
    r.assert_within("twenty stalled workers", ISOLATION_MS);
}
