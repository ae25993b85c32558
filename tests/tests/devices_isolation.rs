//! Devices in one process do not stall each other: each runs on a thread of its own.
//!
//! `zedge run --config FILE` with a streamer flooded by a PUSH producer sending 16-byte
//! messages as fast as it can (and a PULL worker taking them as fast as it can), and a queue
//! doing REQ/REP round trips beside it. The queue's worst round trip while the streamer is
//! flooded stays within 100 ms of its worst round trip when idle (the isolation goal of
//! `shared/ARCHITECTURE.md`: a busy or hostile flow adds at most 100 ms to any other), and the
//! process has one thread per device besides its main thread and async-io's reactor.
//!
//! A correctness property, not a benchmark: the bound is wide on purpose (a debug build on two
//! shared cores, with four busy processes), the loads are bounded, and every figure is printed.

use std::time::{Duration, Instant};

use zedge_tests::broker::free_port;
use zedge_tests::systemd::ConfigRun;
use zedge_tests::PyPeer;

/// Round trips measured idle, then flooded.
const ROUNDS: usize = 200;

/// The flood in two forked processes, the round trips (REQ) and their worker (REP, on a
/// thread) in the parent; prints `idle_ms=.. flooded_ms=.. flood_before=.. flood_during=..`.
const LATENCY_UNDER_FLOOD: &str = r#"
import sys, time, threading, multiprocessing as mp
import zmq

flood_in, flood_out, rpc_in, rpc_out, rounds_n = sys.argv[1:6]
rounds_n = int(rounds_n)

def producer(go, stop):
    go.wait()
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDTIMEO, 100)
    s.connect(flood_in)
    msg = b"0123456789abcdef"
    while not stop.is_set():
        try:
            for _ in range(1000):
                s.send(msg)
        except zmq.Again:
            pass
    s.close()
    ctx.term()

def consumer(go, stop, count):
    go.wait()
    ctx = zmq.Context()
    s = ctx.socket(zmq.PULL)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(flood_out)
    n = 0
    while not stop.is_set():
        if s.poll(100):
            for _ in range(1000):
                try:
                    s.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                n += 1
            count.value = n
    s.close()
    ctx.term()

# Fork before this process makes a zmq context: each child makes its own.
fork = mp.get_context("fork")
go, stop = fork.Event(), fork.Event()
count = fork.Value("q", 0, lock=False)
procs = [fork.Process(target=producer, args=(go, stop)),
         fork.Process(target=consumer, args=(go, stop, count))]
for p in procs:
    p.start()

ctx = zmq.Context()
rep = ctx.socket(zmq.REP)
rep.setsockopt(zmq.LINGER, 0)
rep.connect(rpc_out)
done = threading.Event()
def worker():
    while not done.is_set():
        if rep.poll(50):
            rep.send(rep.recv())
t = threading.Thread(target=worker)
t.start()

req = ctx.socket(zmq.REQ)
req.setsockopt(zmq.LINGER, 0)
req.setsockopt(zmq.RCVTIMEO, 10000)
req.connect(rpc_in)

def worst_of(n):
    worst = 0.0
    for i in range(n):
        body = b"%d" % i
        t0 = time.perf_counter()
        req.send(body)
        got = req.recv()
        worst = max(worst, time.perf_counter() - t0)
        assert got == body, (got, body)
    return worst

try:
    worst_of(20)  # both connections made and past their handshakes
    idle = worst_of(rounds_n)
    go.set()
    end = time.time() + 10
    while count.value < 50000 and time.time() < end:
        time.sleep(0.01)
    before = count.value
    flooded = worst_of(rounds_n)
    during = count.value - before
finally:
    stop.set()
    done.set()
    for p in procs:
        p.join(10)
    t.join(10)
print("idle_ms=%.3f flooded_ms=%.3f flood_before=%d flood_during=%d"
      % (idle * 1000, flooded * 1000, before, during))
"#;

fn figure(out: &str, key: &str) -> f64 {
    out.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {out:?}"))
}

#[test]
fn a_flooded_streamer_adds_at_most_100_ms_to_a_queue_beside_it() {
    let ep = |p: u16| format!("tcp://127.0.0.1:{p}");
    let ports: Vec<String> = (0..4).map(|_| ep(free_port())).collect();
    let config = format!(
        "[[device]]\nname = \"flood\"\nkind = \"streamer\"\nfrontend = \"{}\"\nbackend = \"{}\"\n\n\
         [[device]]\nname = \"rpc\"\nkind = \"queue\"\nfrontend = \"{}\"\nbackend = \"{}\"\n",
        ports[0], ports[1], ports[2], ports[3]
    );
    let mut run = ConfigRun::start(&config, &[]);
    run.wait_log(
        "rpc backend listening on",
        Instant::now() + Duration::from_secs(5),
    );

    // One thread per device, besides the main thread and async-io's reactor.
    let mut threads = run.threads();
    threads.sort();
    assert_eq!(
        threads,
        ["async-io", "flood", "rpc", "zedge"],
        "{threads:?}"
    );

    let mut args = ports.clone();
    args.push(ROUNDS.to_string());
    let peers = PyPeer::spawn(
        "flood+rpc",
        LATENCY_UNDER_FLOOD,
        &args,
        Duration::from_secs(90),
    );
    let out = peers.finish();
    let (idle, flooded) = (figure(&out, "idle_ms"), figure(&out, "flooded_ms"));
    let during = figure(&out, "flood_during");
    eprintln!("{out}");
    // The flood ran all through the flooded round trips.
    assert!(during >= 1000.0, "the streamer was not flooded: {out}");
    assert!(
        flooded <= idle + 100.0,
        "worst round trip {flooded} ms flooded against {idle} ms idle: {out}"
    );
    run.assert_running();
    run.stop_clean();
}
