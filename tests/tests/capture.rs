//! The capture endpoint (`--capture EP`) with real libzmq peers: a SUB reader gets every
//! message each device forwards, either way, whole and in order; a reader that stalls or
//! reads slowly loses copies (counted in STATS and the metrics) and costs the flow beside it
//! nothing; peers that are no SUB, and readers past the limit, are refused.

use std::time::Duration;

use zedge_tests::broker::{free_port, Broker};
use zedge_tests::{wait, zmq_prelude, PyPeer};

/// Runs traffic through a device (argv: kind, frontend, backend, capture, control, mode) with
/// capture readers on the capture endpoint, and prints what the readers and the flow got.
///
/// mode `complete`: one reader reads everything; prints `OK` after checking it got every
/// message of the flow, whole and in order.
/// mode `stalled`: a reader that never reads and one that reads a message every 20 ms sit
/// on the capture endpoint beside a flow of 20,000 messages of 1 KB (20 MB: more than the
/// kernel's socket buffers on loopback hold); prints the flow's count, its
/// time, and the device's STATS.
const CAPTURE_TRAFFIC: &str = concat!(
    zmq_prelude!(),
    r#"

kind, fe, be, cap, ctl, mode = sys.argv[1:7]
T = 10000
LINGER = 0

def reader(**opts):
    r = sock(zmq.SUB, cap, **opts)
    r.subscribe(b"")
    return r

def stats():
    c = sock(zmq.REQ, ctl)
    c.send(b"STATS")
    return json.loads(c.recv())

if mode == "complete":
    r = reader()
    time.sleep(0.5)
    if kind == "streamer":
        push, pull = sock(zmq.PUSH, fe), sock(zmq.PULL, be)
        msgs = [[b"m%d" % i, b"x" * (i % 50)] for i in range(300)] + [[b""], [b"big", b"y" * 200000]]
        for m in msgs:
            push.send_multipart(m)
        for m in msgs:
            assert pull.recv_multipart() == m
        got = [r.recv_multipart() for _ in msgs]
        assert got == msgs, "capture differs from the flow"
    elif kind == "forwarder":
        s = sock(zmq.SUB, be)
        s.subscribe(b"A")
        time.sleep(0.5)
        pub = sock(zmq.PUB, fe)
        time.sleep(0.5)
        # The reader's subscription does not travel upstream (as with libzmq's capture
        # socket): the publisher filters B out at the source, and the reader sees what the
        # device receives.
        msgs = [[b"A", b"%d" % i] for i in range(200)]
        for i in range(200):
            pub.send_multipart(msgs[i])
            pub.send_multipart([b"B not subscribed", b"%d" % i])
        for m in msgs:
            assert s.recv_multipart() == m
        got = [r.recv_multipart() for _ in msgs]
        assert got == msgs, "capture differs from the publications"
    else:
        def worker(w):
            for _ in range(100):
                m = w.recv_multipart()
                w.send_multipart(m[:-1] + [b"re:" + m[-1]])
        w = sock(zmq.DEALER, be)
        t = threading.Thread(target=worker, args=(w,), daemon=True)
        t.start()
        req = sock(zmq.REQ, fe)
        for i in range(100):
            req.send(b"q%d" % i)
            assert req.recv() == b"re:q%d" % i
        t.join(5)
        got = [r.recv_multipart() for _ in range(200)]
        for i in range(100):
            q, a = got[2 * i], got[2 * i + 1]
            assert q[1:] == [b"", b"q%d" % i], q
            assert a[1:] == [b"", b"re:q%d" % i], a
            assert len(q[0]) == 9 and q[0] == a[0], (q, a)
    r.setsockopt(zmq.RCVTIMEO, 300)
    try:
        extra = r.recv_multipart()
        raise SystemExit("a copy too many: %r" % extra)
    except zmq.Again:
        pass
    s = stats()
    assert s["dropped"]["capture"] == 0, s
    assert s["capture"]["peers"] == 1, s
    print("OK", json.dumps(s["capture"]))
else:
    stalled = reader(RCVHWM=1, RCVBUF=4096)
    slow = reader(RCVHWM=1, RCVBUF=4096)
    stop = threading.Event()
    def read_slowly():
        slow.setsockopt(zmq.RCVTIMEO, 100)
        while not stop.is_set():
            try:
                slow.recv_multipart()
            except zmq.Again:
                pass
            time.sleep(0.02)
    t = threading.Thread(target=read_slowly, daemon=True)
    t.start()
    time.sleep(0.5)
    N = 20000
    start = time.monotonic()
    if kind == "streamer":
        push, pull = sock(zmq.PUSH, fe), sock(zmq.PULL, be)
        def produce():
            for i in range(N):
                push.send_multipart([b"%d" % i, b"z" * 1000])
        p = threading.Thread(target=produce, daemon=True)
        p.start()
        for i in range(N):
            assert pull.recv_multipart() == [b"%d" % i, b"z" * 1000], i
    elif kind == "forwarder":
        s = sock(zmq.SUB, be, RCVHWM=0)
        s.subscribe(b"")
        time.sleep(0.5)
        pub = sock(zmq.PUB, fe, SNDHWM=0)
        time.sleep(0.5)
        start = time.monotonic()
        def produce():
            for i in range(N):
                pub.send_multipart([b"%d" % i, b"z" * 1000])
                if i % 100 == 99:
                    time.sleep(0.01)
        p = threading.Thread(target=produce, daemon=True)
        p.start()
        for i in range(N):
            assert s.recv_multipart() == [b"%d" % i, b"z" * 1000], i
    else:
        def work(w):
            while True:
                try:
                    m = w.recv_multipart()
                except zmq.ZMQError:
                    return
                w.send_multipart(m)
        w = sock(zmq.DEALER, be)
        threading.Thread(target=work, args=(w,), daemon=True).start()
        d = sock(zmq.DEALER, fe)
        # One thread per libzmq socket (a socket sent on and read from by two threads at once
        # trips libzmq's asserts): the client sends while it can and reads what came back.
        poller = zmq.Poller()
        poller.register(d, zmq.POLLIN | zmq.POLLOUT)
        sent = got = 0
        while got < N:
            ready = dict(poller.poll(10000)).get(d, 0)
            assert ready, "no reply for 10 s after %d" % got
            if ready & zmq.POLLOUT and sent < N:
                d.send_multipart([b"", b"%d" % sent, b"z" * 1000])
                sent += 1
            if ready & zmq.POLLIN:
                assert d.recv_multipart() == [b"", b"%d" % got, b"z" * 1000], got
                got += 1
            if sent == N:
                poller.modify(d, zmq.POLLIN)
    took = time.monotonic() - start
    stop.set()
    s = stats()
    print(json.dumps({"got": N, "took": took, "stats": s}))
    # The readers stay while the device looks for slow readers to warn of (every second).
    time.sleep(1.5)
"#
);

fn ep() -> String {
    format!("tcp://127.0.0.1:{}", free_port())
}

/// A device with a capture and a control endpoint; the traffic script's output.
fn run(kind: &str, mode: &str, extra: &[&str]) -> (Broker, String) {
    let (cap, ctl) = (ep(), ep());
    let mut args = vec!["--capture", &cap, "--control", &ctl];
    args.extend_from_slice(extra);
    let broker = Broker::start(kind, &args);
    let argv: Vec<String> = [kind, broker.frontend(), broker.backend(), &cap, &ctl, mode]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let out = PyPeer::spawn(kind, CAPTURE_TRAFFIC, &argv, Duration::from_secs(120)).finish();
    (broker, out)
}

fn complete(kind: &str) {
    let (broker, out) = run(kind, "complete", &[]);
    assert!(
        out.lines().any(|l| l.starts_with("OK")),
        "{kind}: {out}\n{}",
        broker.stderr()
    );
}

#[test]
fn a_streamer_reader_gets_every_message_whole_and_in_order() {
    complete("streamer");
}

#[test]
fn a_forwarder_reader_gets_every_publication_the_device_receives() {
    complete("forwarder");
}

#[test]
fn a_queue_reader_gets_each_request_and_its_reply_behind_the_same_routing_frame() {
    complete("queue");
}

/// A field of the STATS JSON the script printed, by path.
fn field(out: &str, path: &[&str]) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no result: {out}"));
    let mut at = line;
    for key in path {
        let k = format!("\"{key}\":");
        let i = at.find(&k).unwrap_or_else(|| panic!("no {key} in {line}"));
        at = &at[i + k.len()..];
    }
    let at = at.trim_start();
    let end = at.find(|c: char| !c.is_ascii_digit()).unwrap_or(at.len());
    at[..end]
        .parse()
        .unwrap_or_else(|_| panic!("{path:?} is no number in {line}"))
}

fn stalled_readers_cost_the_flow_nothing(kind: &str) {
    // Queues of 64 KiB: the stalled reader is behind after a few hundred copies.
    let (broker, out) = run(kind, "stalled", &["--queue-hwm", "64K"]);
    assert_eq!(
        field(&out, &["got"]),
        20_000,
        "{kind}: {out}\n{}",
        broker.stderr()
    );
    let lost = field(&out, &["stats", "dropped", "capture"]);
    assert!(
        lost > 10_000,
        "{kind}: the stalled reader should have lost most copies: {out}"
    );
    assert_eq!(field(&out, &["stats", "capture", "peers"]), 2, "{out}");
    assert_eq!(field(&out, &["stats", "dropped", "hwm"]), 0, "{out}");
    // The readers' losses are named at the default level, as a slow subscriber's are (the
    // device looks every second).
    wait::until(wait::deadline(5), "a warning about the readers", || {
        std::thread::sleep(Duration::from_millis(100));
        broker.stderr().contains("slow capture reader lost")
    });
}

#[test]
fn a_stalled_and_a_slow_reader_cost_a_streamer_flow_nothing() {
    stalled_readers_cost_the_flow_nothing("streamer");
}

#[test]
fn a_stalled_and_a_slow_reader_cost_a_forwarder_flow_nothing() {
    stalled_readers_cost_the_flow_nothing("forwarder");
}

#[test]
fn a_stalled_and_a_slow_reader_cost_a_queue_flow_nothing() {
    stalled_readers_cost_the_flow_nothing("queue");
}

/// Hostile and wrong peers on the capture endpoint: raw garbage, a PUB (no SUB), a reader
/// that sends data, and a fifth reader; the four readers within the limit still get every
/// copy of the flow.
const CAPTURE_HOSTILE: &str = r#"
import sys, time, socket, json, zmq

fe, be, cap, ctl = sys.argv[1:5]
host, port = cap[len("tcp://"):].rsplit(":", 1)
ctx = zmq.Context()

def sock(t, ep):
    s = ctx.socket(t)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 5000)
    s.connect(ep)
    return s

junk = socket.create_connection((host, int(port)))
junk.sendall(b"GET / HTTP/1.1\r\n\r\n" * 10)
wrong = sock(zmq.PUB, cap)
chatty = sock(zmq.XSUB, cap)
chatty.send(b"\x01")
chatty.send(b"not a subscription, just data")
time.sleep(0.5)
readers = [sock(zmq.SUB, cap) for _ in range(3)]
for r in readers:
    r.subscribe(b"")
time.sleep(1.0)
fifth = sock(zmq.SUB, cap)
fifth.subscribe(b"")
time.sleep(0.5)
push, pull = sock(zmq.PUSH, fe), sock(zmq.PULL, be)
msgs = [[b"%d" % i] for i in range(100)]
for m in msgs:
    push.send_multipart(m)
for m in msgs:
    assert pull.recv_multipart() == m
for r in readers:
    assert [r.recv_multipart() for _ in msgs] == msgs
assert [chatty.recv_multipart() for _ in msgs] == msgs
fifth.setsockopt(zmq.RCVTIMEO, 300)
try:
    fifth.recv_multipart()
    raise SystemExit("a fifth reader got a copy")
except zmq.Again:
    pass
c = sock(zmq.REQ, ctl)
c.send(b"STATS")
print(c.recv().decode())
"#;

#[test]
fn wrong_and_hostile_peers_on_the_capture_endpoint_are_refused_and_readers_served() {
    let (cap, ctl) = (ep(), ep());
    let mut broker = Broker::start("streamer", &["--capture", &cap, "--control", &ctl]);
    let argv: Vec<String> = [broker.frontend(), broker.backend(), &cap, &ctl]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let out = PyPeer::spawn("hostile", CAPTURE_HOSTILE, &argv, Duration::from_secs(60)).finish();
    // The PUB and the garbage were refused in their handshake; the data a reader sent was
    // counted and dropped; four readers in all (the fifth was turned away).
    assert!(
        field(&out, &["capture", "refused"]) >= 2,
        "{out}\n{}",
        broker.stderr()
    );
    assert_eq!(field(&out, &["capture", "peers"]), 4, "{out}");
    assert_eq!(field(&out, &["capture", "messages_out"]), 400, "{out}");
    assert!(field(&out, &["dropped", "upstream_data"]) >= 1, "{out}");
    let log = broker.stderr();
    assert!(
        log.contains("at most 4 capture readers"),
        "the fifth reader's refusal is not logged\n{log}"
    );
    broker.assert_running();
}
