//! The uplink recipes of board/README: an edge zedge feeds a cloud broker (a zedge for each
//! device; libzmq's proxy too for the forwarder) by connecting its backend to the cloud's
//! frontend; the peers are the test clients (`zedge pub`, `sub`...). Connecting the wrong
//! side is warned of at both ends, each saying which side to use.

use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use zedge_tests::broker::{free_port, zedge_bin, Broker, Ep};
use zedge_tests::clients::{self, client};
use zedge_tests::flow::{Flow, FlowSpec};
use zedge_tests::normal::no_panic;
use zedge_tests::PyPeer;

/// A client's output once it exits 0, within `secs`.
fn finish(c: Child, secs: u64) -> Output {
    let out = clients::finish(c, Duration::from_secs(secs));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// An edge `kind` device on loopback whose backend connects to `cloud_frontend`.
fn edge(kind: &str, cloud_frontend: &str) -> Broker {
    Broker::start_with(
        kind,
        &[Ep::Tcp],
        &[Ep::Connect(cloud_frontend.to_owned())],
        &[],
    )
}

/// Publishers on the edge, a subscriber on the cloud: the subscription travels up the chain
/// to the edge, and what matches comes down.
fn forwarder_uplink(cloud_frontend: &str, cloud_backend: &str) {
    let edge = edge("forwarder", cloud_frontend);
    let sub = client(&["sub", cloud_backend, "sensors/", "--count", "3"]);
    let publisher = client(&[
        "pub",
        edge.frontend(),
        "sensors/t1",
        "21.5",
        "--count",
        "400",
        "--rate",
        "20",
    ]);
    let out = finish(sub, 20);
    let mut publisher = publisher;
    let _ = publisher.kill();
    let _ = publisher.wait();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "sensors/t1\t21.5\n".repeat(3)
    );
}

#[test]
fn an_edge_forwarder_feeds_a_cloud_zedge_from_its_backend() {
    let cloud = Broker::start("forwarder", &[]);
    forwarder_uplink(cloud.frontend(), cloud.backend());
}

/// libzmq's proxy (XSUB frontend, XPUB backend), binding both; it lives 90 s (killed when the
/// test ends), so a first run that builds the binary meanwhile does not outlast it.
const LIBZMQ_PROXY: &str = r#"
fe, be = sys.argv[1:3]
x = ctx.socket(zmq.XSUB); x.bind(fe)
p = ctx.socket(zmq.XPUB); p.bind(be)
print("ready", flush=True)
poller = zmq.Poller()
poller.register(x, zmq.POLLIN); poller.register(p, zmq.POLLIN)
end = time.monotonic() + 90
while time.monotonic() < end:
    for s, _ in poller.poll(100):
        (p if s is x else x).send_multipart(s.recv_multipart())
"#;

#[test]
fn an_edge_forwarder_feeds_a_libzmq_proxy_from_its_backend() {
    let fe = format!("tcp://127.0.0.1:{}", free_port());
    let be = format!("tcp://127.0.0.1:{}", free_port());
    let body = format!("{}{LIBZMQ_PROXY}", zedge_tests::zmq_prelude!());
    let proxy = PyPeer::spawn(
        "proxy",
        &body,
        &[fe.clone(), be.clone()],
        Duration::from_secs(100),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !proxy.stdout_so_far().contains("ready") {
        assert!(Instant::now() < deadline, "the proxy never bound");
        thread::sleep(Duration::from_millis(20));
    }
    forwarder_uplink(&fe, &be);
    drop(proxy);
}

#[test]
fn an_edge_streamer_feeds_a_cloud_zedge_from_its_backend() {
    let cloud = Broker::start("streamer", &[]);
    let edge = edge("streamer", cloud.frontend());
    let mut push = Command::new(zedge_bin())
        .args(["push", edge.frontend()])
        .stdin(Stdio::piped())
        .spawn()
        .expect("zedge push");
    let lines: String = (0..200).map(|i| format!("{i}\n")).collect();
    std::io::Write::write_all(&mut push.stdin.take().expect("stdin"), lines.as_bytes())
        .expect("write");
    assert!(push.wait().expect("wait").success());
    let out = finish(client(&["pull", cloud.backend(), "--count", "200"]), 20);
    assert_eq!(String::from_utf8_lossy(&out.stdout), lines);
}

#[test]
fn an_edge_queue_feeds_a_cloud_zedge_from_its_backend_and_replies_come_back() {
    let cloud = Broker::start("queue", &[]);
    let edge = edge("queue", cloud.frontend());
    let worker = client(&["rep", cloud.backend(), "--count", "3"]);
    let out = finish(
        client(&[
            "req",
            edge.frontend(),
            "ping",
            "--count",
            "3",
            "--timeout",
            "10s",
        ]),
        20,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ping\n".repeat(3));
    let served = finish(worker, 10);
    assert_eq!(String::from_utf8_lossy(&served.stdout), "ping\n".repeat(3));
}

/// The recipe's mistake (an edge device's frontend connected to the cloud's frontend): both
/// ends warn at the default level, each naming the side to use, for every device (a queue's
/// frontend refuses a ROUTER although ROUTER talks to ROUTER: neither would ever speak).
#[test]
fn the_wrong_side_connected_is_warned_of_at_both_ends() {
    for (kind, front, back) in [
        ("forwarder", "XSUB", "XPUB"),
        ("queue", "ROUTER", "DEALER"),
        ("streamer", "PULL", "PUSH"),
    ] {
        let cloud = Broker::start(kind, &[]);
        let edge = Broker::start_with(
            kind,
            &[Ep::Connect(cloud.frontend().to_owned())],
            &[Ep::Tcp],
            &[],
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let (edge_says, cloud_says) = (
            format!(
                "this device's frontend ({front}) connected where its backend ({back}) \
                 belongs: to feed an upstream broker, connect the backend"
            ),
            // "an XSUB belongs...", or "it belongs..." for one that refused ours first.
            format!(
                "belongs on this device's backend ({back}): connect that client there, or, if \
                 it is a zedge that feeds this one, connect its backend here instead of its \
                 frontend"
            ),
        );
        both_warn(&edge, &cloud, &edge_says, &cloud_says, deadline);
    }
}

/// An edge queue's backend connected to the cloud queue's backend: DEALER talks to DEALER,
/// but a queue's backend refuses another zedge's DEALER (zedge's own clients are REQ and REP),
/// so both ends warn instead of dropping each other's requests as unroutable replies.
#[test]
fn a_queue_backend_connected_to_another_queues_backend_is_warned_of_at_both_ends() {
    let cloud = Broker::start("queue", &[]);
    let edge = Broker::start_with(
        "queue",
        &[Ep::Tcp],
        &[Ep::Connect(cloud.backend().to_owned())],
        &[],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    both_warn(
        &edge,
        &cloud,
        "this device's backend (DEALER) reached the other device's backend: to feed an \
         upstream broker, connect this backend to its frontend",
        "belongs on this device's frontend (ROUTER): connect that client there, or, if it is \
         a zedge that feeds this one, connect its backend to this device's frontend, not its \
         backend",
        deadline,
    );
}

/// Both brokers' logs have a WARN line with what each says, before `deadline`.
fn both_warn(edge: &Broker, cloud: &Broker, edge_says: &str, cloud_says: &str, deadline: Instant) {
    loop {
        let (e, c) = (edge.stderr(), cloud.stderr());
        let warned = |log: &str, what: &str| {
            log.lines()
                .any(|l| l.contains(" WARN ") && l.contains(what))
        };
        if warned(&e, edge_says) && warned(&c, cloud_says) {
            break;
        }
        assert!(Instant::now() < deadline, "edge:\n{e}\ncloud:\n{c}");
        thread::sleep(Duration::from_millis(100));
    }
}

// Bad days. Each uplink beside a local flow (peers on the edge's frontend and on a backend
// endpoint it also binds) and a cloud that stalls, is hostile or is slow; what the local flow
// gets is asserted: every message, in order, each within 3 s (the machine is noisy: a bound
// for a stall, not a benchmark).

/// A Python peer's line starting with `prefix`, waited for up to 10 s.
fn line_of(peer: &PyPeer, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(l) = peer.stdout_so_far().lines().find(|l| l.starts_with(prefix)) {
            return l.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no `{prefix}` line from the peer: {}",
            peer.stdout_so_far()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// A number `key=N` in a peer's report line.
fn num(line: &str, key: &str) -> u64 {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
}

/// A publisher of 8 KiB messages on `bulk`, 200 a second for `secs`: what the cloud
/// subscribes to beside the ticks, so a cloud that stops reading has a megabyte queued for it
/// at the edge within seconds.
const BULK: &str = r#"
ep, secs = sys.argv[1], float(sys.argv[2])
s = sock(zmq.PUB, ep, SNDHWM=100000)
body, n, end = b"x" * 8192, 0, time.monotonic() + secs
while time.monotonic() < end:
    s.send_multipart([b"bulk", body]); n += 1
    time.sleep(0.005)
print("sent %d" % n, flush=True)
"#;

/// A raw ZMTP listener on loopback port `argv[1]` for `argv[2]` seconds, standing in for the
/// cloud; `argv[3]` says how it treats each connection the edge makes:
/// - `stall`: greets as an XSUB, subscribes to everything, and never reads (a 4 KiB receive
///   buffer), holding the connection: the uplink stalls;
/// - `hostile`: cycles through garbage and close, a bad frame after the handshake, a reset, a
///   frame announcing 4 EiB, half a greeting then silence, and a wrong socket type; what it
///   holds it closes after 1.2 s, so the edge comes back at once (its backoff starts again
///   after a connection that lasted a second) and the abuse goes on.
///
/// It prints `ready` once listening, and `accepted N` for each connection.
const RAW_CLOUD: &str = r#"
import socket
port, secs, how = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
l.bind(("127.0.0.1", port)); l.listen(8); l.settimeout(0.1)
greeting = b"\xff" + b"\0" * 8 + b"\x7f\x03\x01" + b"NULL".ljust(20, b"\0") + b"\0" * 32
def ready(t):
    r = b"\x05READY\x0bSocket-Type" + struct.pack(">I", len(t)) + t
    return bytes([0x04, len(r)]) + r
xsub = greeting + ready(b"XSUB") + b"\x04\x0a\x09SUBSCRIBE"
def hold(c):
    held.append((c, time.monotonic()))
acts = [
    lambda c: (c.sendall(b"GET / HTTP/1.1\r\nHost: cloud\r\n\r\n" + bytes(range(256))), c.close()),
    lambda c: (c.sendall(xsub + b"\xff" * 64), hold(c)),
    lambda c: (c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)), c.close()),
    lambda c: (c.sendall(xsub + b"\x02" + struct.pack(">Q", 1 << 62) + b"x" * 100), hold(c)),
    lambda c: (c.sendall(greeting[:10]), hold(c)),
    lambda c: (c.sendall(greeting + ready(b"ROUTER")), hold(c)),
]
print("ready", flush=True)
held, n, end = [], 0, time.monotonic() + secs
while time.monotonic() < end:
    if how == "hostile":
        for c, _ in [h for h in held if time.monotonic() - h[1] > 1.2]:
            c.close()
        held = [h for h in held if time.monotonic() - h[1] <= 1.2]
    try:
        c, _ = l.accept()
    except socket.timeout:
        continue
    try:
        if how == "stall":
            c.sendall(xsub); hold(c)
        else:
            acts[n % len(acts)](c)
    except OSError:
        pass
    n += 1
    print("accepted %d" % n, flush=True)
"#;

/// A libzmq XSUB cloud bound on `argv[1]` that takes everything and reads a message every
/// 20 ms (a receive high-water mark of 20) for `argv[2]` seconds, then reports the ticks it
/// got and whether any came twice or out of order.
const SLOW_CLOUD: &str = r#"
ep, secs = sys.argv[1], float(sys.argv[2])
x = ctx.socket(zmq.XSUB); x.setsockopt(zmq.LINGER, 0); x.setsockopt(zmq.RCVHWM, 20); x.bind(ep)
x.send(b"\x01")
print("ready", flush=True)
got, ticks, dup, ooo, last, seen = 0, 0, 0, 0, -1, set()
end = time.monotonic() + secs
while time.monotonic() < end:
    if not x.poll(100):
        continue
    m = x.recv_multipart(); got += 1
    if m[0] == b"tick" and m[1] != b"warm":
        seq = int(m[1]); ticks += 1
        dup += seq in seen; ooo += seq < last
        seen.add(seq); last = seq
    time.sleep(0.02)
print("result got=%d ticks=%d dup=%d ooo=%d" % (got, ticks, dup, ooo), flush=True)
"#;

/// A Python peer running `script` (after the prelude) with `args`, up to `secs`.
fn py(name: &str, script: &str, args: &[String], secs: u64) -> PyPeer {
    let body = format!("{}{script}", zedge_tests::zmq_prelude!());
    PyPeer::spawn(name, &body, args, Duration::from_secs(secs))
}

/// An edge forwarder feeding `cloud_frontend` beside a local flow: ticks from a publisher on
/// its frontend to a subscriber on a backend endpoint it binds, 100 a second for 6 s, with
/// [`BULK`] for the cloud started once the flow is warm. `at_go` runs just before the ticks
/// start (to wait until the cloud's bad day has begun), and `at_end` with what it returned
/// once the flow has reported. The flow must get every tick, in order, each within 3 s, and
/// the edge must still run, then stop cleanly on SIGTERM.
fn local_flow_beside_uplink<R>(
    cloud_frontend: &str,
    what: &str,
    at_go: impl FnOnce(&Broker) -> R,
    at_end: impl FnOnce(&Broker, R),
) {
    let mut edge = Broker::start_with(
        "forwarder",
        &[Ep::Tcp],
        &[Ep::Tcp, Ep::Connect(cloud_frontend.to_owned())],
        &[],
    );
    let mut flow = Flow::start(
        "forwarder",
        edge.frontend(),
        edge.backend(),
        FlowSpec::ticks(100, 6.0),
    );
    let bulk = py("bulk", BULK, &[edge.frontend().to_owned(), "20".into()], 40);
    let during = at_go(&edge);
    flow.go();
    flow.finish().assert_within(what, 3000.0);
    edge.assert_running();
    at_end(&edge, during);
    drop(bulk);
    no_panic(&edge.stderr());
    edge.stop();
}

/// Waits (up to 15 s) until `log` names a slow subscriber that lost messages: a stall has
/// filled its queue.
fn wait_for_loss(log: impl Fn() -> String, whose: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !log().contains("slow subscriber lost") {
        assert!(
            Instant::now() < deadline,
            "{whose} never lost messages to the stalled reader:\n{}",
            log()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// The cloud is a zedge whose only subscriber (of everything) never reads: the cloud's queue
/// for it is full before the ticks start.
#[test]
fn an_edge_forwarder_s_local_flow_is_whole_while_the_cloud_s_subscriber_stalls() {
    let cloud = Broker::start("forwarder", &[]);
    let stalled = py(
        "stalled subscriber",
        r#"
s = raw_null(sys.argv[1], b"SUB", rcvbuf=4096)
s.sendall(b"\x04\x0a\x09SUBSCRIBE")
print("ready", flush=True)
time.sleep(50)
"#,
        &[cloud.backend().to_owned()],
        60,
    );
    line_of(&stalled, "ready");
    local_flow_beside_uplink(
        cloud.frontend(),
        "a cloud whose subscriber stalls",
        |_| wait_for_loss(|| cloud.stderr(), "the cloud"),
        |_, ()| {},
    );
    drop(stalled);
    no_panic(&cloud.stderr());
}

/// The cloud itself takes the edge's connection, subscribes to everything and never reads:
/// the edge's queue for it is full before the ticks start.
#[test]
fn an_edge_forwarder_s_local_flow_is_whole_while_the_cloud_stops_reading() {
    let port = free_port();
    let cloud = py(
        "stalled cloud",
        RAW_CLOUD,
        &[port.to_string(), "50".into(), "stall".into()],
        60,
    );
    line_of(&cloud, "ready");
    local_flow_beside_uplink(
        &format!("tcp://127.0.0.1:{port}"),
        "a cloud that stops reading",
        |edge| wait_for_loss(|| edge.stderr(), "the edge"),
        |_, ()| {},
    );
    line_of(&cloud, "accepted 1");
}

/// How many connections a [`RAW_CLOUD`] has taken.
fn accepted(cloud: &PyPeer) -> usize {
    cloud
        .stdout_so_far()
        .lines()
        .filter(|l| l.starts_with("accepted"))
        .count()
}

/// The cloud answers every connection with garbage, bad frames, resets or half a greeting,
/// and goes on doing so while the ticks flow.
#[test]
fn an_edge_forwarder_s_local_flow_is_whole_while_the_cloud_is_hostile() {
    let port = free_port();
    let cloud = py(
        "hostile cloud",
        RAW_CLOUD,
        &[port.to_string(), "50".into(), "hostile".into()],
        60,
    );
    line_of(&cloud, "ready");
    local_flow_beside_uplink(
        &format!("tcp://127.0.0.1:{port}"),
        "a hostile cloud",
        |_| accepted(&cloud),
        |_, before| {
            let during = accepted(&cloud) - before;
            eprintln!("hostile cloud: {during} connections from the edge during the flow");
            assert!(
                during >= 3,
                "the edge came back to the hostile cloud {during} times while the ticks \
                 flowed, not at least 3: {}",
                cloud.stdout_so_far()
            );
        },
    );
}

/// The cloud (libzmq) reads a message every 20 ms: it gets what it reads in order, never
/// twice, and the local flow does not wait for it.
#[test]
fn an_edge_forwarder_s_local_flow_is_whole_while_the_cloud_is_slow() {
    let ep = format!("tcp://127.0.0.1:{}", free_port());
    let cloud = py("slow cloud", SLOW_CLOUD, &[ep.clone(), "15".into()], 40);
    line_of(&cloud, "ready");
    local_flow_beside_uplink(&ep, "a slow cloud", |_| (), |_, ()| {});
    let report = cloud.finish();
    let report = report
        .lines()
        .find(|l| l.starts_with("result"))
        .expect("the slow cloud's report");
    eprintln!("slow cloud: {report}");
    assert!(
        num(report, "ticks") > 0,
        "the slow cloud got no tick: {report}"
    );
    assert_eq!(
        (num(report, "dup"), num(report, "ooo")),
        (0, 0),
        "the slow cloud got ticks twice or out of order: {report}"
    );
}

/// A libzmq PUSH producer to `argv[1]`: `argv[2]` messages `[seq, argv[3] bytes]`, each send
/// waiting up to a minute (a send high-water mark of 100 messages, so what it holds itself is
/// small); `sent` once they are all sent, `delivered` once its context has written them all to
/// the edge (LINGER -1).
const PRODUCER: &str = r#"
ep, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = ctx.socket(zmq.PUSH); s.setsockopt(zmq.LINGER, -1); s.setsockopt(zmq.SNDTIMEO, 60000)
s.setsockopt(zmq.SNDHWM, 100)
s.connect(ep)
pad = b"p" * size
for i in range(n):
    s.send_multipart([b"%d" % i, pad])
print("sent", flush=True)
s.close(); ctx.term()
print("delivered", flush=True)
"#;

/// A libzmq PULL worker on `argv[1]` expecting `argv[2]` messages of `argv[3]` bytes from
/// [`PRODUCER`]; after `argv[4]` it stops reading for `argv[5]` seconds (a receive high-water
/// mark of 100). It reports how many arrived, distinct, twice, out of order, malformed and
/// missing, waiting 20 s at most for each and half a second for stragglers after the last.
const WORKER: &str = r#"
ep, n, size, stall_at, stall = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
s = ctx.socket(zmq.PULL); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVHWM, 100)
s.connect(ep)
print("ready", flush=True)
got, dup, ooo, bad, last, seen = 0, 0, 0, 0, -1, set()
def take(m):
    global got, dup, ooo, bad, last
    got += 1
    if len(m) != 2 or len(m[1]) != size:
        bad += 1
        return
    seq = int(m[0]); dup += seq in seen; ooo += seq < last
    seen.add(seq); last = seq
while len(seen) < n:
    if got == stall_at:
        print("stalling", flush=True); time.sleep(stall); print("resumed", flush=True)
    if not s.poll(20000):
        break
    take(s.recv_multipart())
while s.poll(500):
    take(s.recv_multipart())
missing = [i for i in range(n) if i not in seen]
print("result got=%d distinct=%d dup=%d ooo=%d bad=%d missing=%d first_missing=%s" % (
      got, len(seen), dup, ooo, bad, len(missing), ",".join(map(str, missing[:5])) or "-"), flush=True)
"#;

/// The worker's report: every one of `n` messages once, in order (one producer, one path,
/// one worker: nothing may overtake), none malformed.
fn assert_every_message_once_in_order(worker: PyPeer, n: u64, what: &str) {
    let out = worker.finish();
    let report = out
        .lines()
        .find(|l| l.starts_with("result"))
        .unwrap_or_else(|| panic!("no report from the worker: {out}"));
    eprintln!("{what}: worker {report}");
    assert_eq!(
        ["distinct", "dup", "ooo", "bad", "missing"].map(|k| num(report, k)),
        [n, 0, 0, 0, 0],
        "{what}: the worker did not get every message once, in order: {report}"
    );
}

/// The README's promise: while the link is down the edge holds the work and its producer
/// waits, and nothing is lost. 2000 messages of 16 KiB (32 MiB: more than the edge's 1M
/// high-water mark, the producer's 100 messages and the sockets' buffers hold) are sent while
/// the cloud is not there yet: 3 s later the producer is still waiting to send the last ones.
/// Then the cloud comes, and its worker gets each once, in order.
#[test]
fn an_edge_streamer_holds_the_work_until_the_cloud_comes_up() {
    let cloud_fe = format!("tcp://127.0.0.1:{}", free_port());
    let mut edge = Broker::start_with(
        "streamer",
        &[Ep::Tcp],
        &[Ep::Connect(cloud_fe.clone())],
        &[],
    );
    let n = 2000;
    let producer = py(
        "producer",
        PRODUCER,
        &[edge.frontend().to_owned(), n.to_string(), "16384".into()],
        90,
    );
    thread::sleep(Duration::from_secs(3));
    let before = producer.stdout_so_far();
    assert!(
        !before.contains("sent"),
        "the producer sent all 32 MiB with no cloud to take it: the edge took it in rather \
         than make the producer wait"
    );
    let cloud = Broker::start_with("streamer", &[Ep::Bind(cloud_fe)], &[Ep::Tcp], &[]);
    let worker = py(
        "worker",
        WORKER,
        &[
            cloud.backend().to_owned(),
            n.to_string(),
            "16384".into(),
            "-1".into(),
            "0".into(),
        ],
        60,
    );
    assert_every_message_once_in_order(worker, n, "a cloud that came late");
    assert!(producer.finish().contains("delivered"));
    edge.assert_running();
    no_panic(&edge.stderr());
    edge.stop();
}

/// The cloud's only worker stops reading after 500 of 3000 messages of 4 KiB for 3 s, with
/// 64K high-water marks at both brokers, so the stall pushes back through the cloud to the
/// edge: when it reads again, it gets every message once, in order.
#[test]
fn an_edge_streamer_loses_nothing_while_the_cloud_s_worker_stalls() {
    let hwm = ["--queue-hwm", "64K"];
    let cloud = Broker::start("streamer", &hwm);
    let mut edge = Broker::start_with(
        "streamer",
        &[Ep::Tcp],
        &[Ep::Connect(cloud.frontend().to_owned())],
        &hwm,
    );
    let n = 3000;
    let worker = py(
        "worker",
        WORKER,
        &[
            cloud.backend().to_owned(),
            n.to_string(),
            "4096".into(),
            "500".into(),
            "3".into(),
        ],
        90,
    );
    line_of(&worker, "ready");
    let producer = py(
        "producer",
        PRODUCER,
        &[edge.frontend().to_owned(), n.to_string(), "4096".into()],
        90,
    );
    line_of(&worker, "stalling");
    assert_every_message_once_in_order(worker, n, "a worker that stalled");
    assert!(producer.finish().contains("delivered"));
    edge.assert_running();
    no_panic(&edge.stderr());
    no_panic(&cloud.stderr());
    edge.stop();
}

/// libzmq REQ clients on `argv[1]`: `argv[2]` of them, each asking `argv[3]` times
/// (`[b"cK-I"]`, `argv[5]` s apart) and expecting `[request, b"ok"]` back. A request not
/// answered within `argv[4]` ms is asked again on a fresh socket (lazy pirate: what was owed
/// the old one cannot reach the new one); one not answered within 15 s in all is a timeout.
/// A reply that is not the answer to the request is counted as wrong.
const CLIENTS: &str = r#"
ep, k, rounds, attempt_ms, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
res = {"ok": 0, "wrong": 0, "timeout": 0, "retries": 0, "max_ms": 0.0}
wrong = []
lock = threading.Lock()
def client(c):
    s = sock(zmq.REQ, ep, LINGER=0)
    for i in range(rounds):
        req = b"c%d-%d" % (c, i)
        t0 = time.monotonic()
        s.send(req)
        while True:
            if s.poll(attempt_ms):
                rep = s.recv_multipart()
                with lock:
                    res["max_ms"] = max(res["max_ms"], (time.monotonic() - t0) * 1000)
                    if rep == [req, b"ok"]:
                        res["ok"] += 1
                    else:
                        res["wrong"] += 1; wrong.append((req, rep))
                break
            s.close(0)
            s = sock(zmq.REQ, ep, LINGER=0)
            if time.monotonic() - t0 > 15:
                with lock:
                    res["timeout"] += 1
                break
            with lock:
                res["retries"] += 1
            s.send(req)
        time.sleep(gap)
    s.close(0)
ts = [threading.Thread(target=client, args=(c,)) for c in range(k)]
for t in ts: t.start()
for t in ts: t.join()
print("result ok=%d wrong=%d timeout=%d retries=%d max_ms=%d" % (
      res["ok"], res["wrong"], res["timeout"], res["retries"], res["max_ms"]), flush=True)
if wrong:
    print("wrong replies:", wrong[:5], flush=True)
"#;

/// The clients' report line.
fn clients_report(clients: PyPeer) -> String {
    let out = clients.finish();
    eprintln!("clients: {out}");
    out.lines()
        .find(|l| l.starts_with("result"))
        .unwrap_or_else(|| panic!("no report from the clients: {out}"))
        .to_owned()
}

/// A hostile cloud (libzmq ROUTER) answers each request with six messages for no client of
/// the edge's (unknown and 300-byte identities, no envelope, no delimiter, 50 frames, empty
/// frames) before the real reply. Three clients, 30 requests each: every one gets the reply
/// to its own request, at the first asking, within 3 s, and nothing else.
#[test]
fn an_edge_queue_s_clients_get_their_own_replies_from_a_hostile_cloud() {
    let cloud_fe = format!("tcp://127.0.0.1:{}", free_port());
    let cloud = py(
        "hostile router",
        r#"
ep, secs = sys.argv[1], float(sys.argv[2])
r = ctx.socket(zmq.ROUTER); r.setsockopt(zmq.LINGER, 0); r.bind(ep)
print("ready", flush=True)
junk = [[b"\xff" * 5, b"", b"junk"], [b"", b"no envelope"], [b"y" * 300, b"", b"long id"],
        [b"no delimiter"], [b"f%d" % k for k in range(50)], [b"", b"", b""]]
n, end = 0, time.monotonic() + secs
while time.monotonic() < end:
    if not r.poll(100):
        continue
    m = r.recv_multipart()
    for j in junk:
        r.send_multipart([m[0]] + j)
    r.send_multipart(m + [b"ok"])
    n += 1
print("served %d" % n, flush=True)
"#,
        &[cloud_fe.clone(), "20".into()],
        40,
    );
    line_of(&cloud, "ready");
    let mut edge = Broker::start_with("queue", &[Ep::Tcp], &[Ep::Connect(cloud_fe)], &[]);
    let clients = py(
        "clients",
        CLIENTS,
        &[
            edge.frontend().to_owned(),
            "3".into(),
            "30".into(),
            "3000".into(),
            "0.02".into(),
        ],
        60,
    );
    let report = clients_report(clients);
    assert_eq!(
        ["ok", "wrong", "timeout", "retries"].map(|k| num(&report, k)),
        [90, 0, 0, 0],
        "a hostile cloud: {report}"
    );
    assert!(num(&report, "max_ms") <= 3000, "a hostile cloud: {report}");
    edge.assert_running();
    no_panic(&edge.stderr());
    edge.stop();
    drop(cloud);
}

/// The cloud (a zedge queue, its echo worker on its backend taking 0.2 s a request, so one is
/// always in the cloud) is killed and started again on the same endpoints twice while three
/// clients ask 20 times each: what was in the killed cloud is lost (the clients ask again on
/// a fresh socket after 2 s, and at least one had to), but every request is answered within
/// 15 s and no client ever gets another's reply.
#[test]
fn an_edge_queue_s_clients_get_their_own_replies_across_a_cloud_restart() {
    let (fe, be) = (
        format!("tcp://127.0.0.1:{}", free_port()),
        format!("tcp://127.0.0.1:{}", free_port()),
    );
    let cloud_at = || {
        Broker::start_with(
            "queue",
            &[Ep::Bind(fe.clone())],
            &[Ep::Bind(be.clone())],
            &[],
        )
    };
    let mut cloud = cloud_at();
    let worker = py(
        "echo worker",
        r#"
s = sock(zmq.REP, sys.argv[1])
end = time.monotonic() + 60
while time.monotonic() < end:
    if s.poll(100):
        m = s.recv_multipart()
        time.sleep(0.2)
        s.send_multipart(m + [b"ok"])
"#,
        std::slice::from_ref(&be),
        90,
    );
    let mut edge = Broker::start_with("queue", &[Ep::Tcp], &[Ep::Connect(fe.clone())], &[]);
    let clients = py(
        "clients",
        CLIENTS,
        &[
            edge.frontend().to_owned(),
            "3".into(),
            "20".into(),
            "2000".into(),
            "0.05".into(),
        ],
        90,
    );
    for _ in 0..2 {
        thread::sleep(Duration::from_millis(1500));
        drop(cloud);
        thread::sleep(Duration::from_millis(500));
        cloud = cloud_at();
    }
    let report = clients_report(clients);
    assert_eq!(
        ["ok", "wrong", "timeout"].map(|k| num(&report, k)),
        [60, 0, 0],
        "a cloud restarted: {report}"
    );
    assert!(
        num(&report, "retries") >= 1,
        "no request was lost with a killed cloud: the restarts missed the run: {report}"
    );
    edge.assert_running();
    no_panic(&edge.stderr());
    edge.stop();
    drop(worker);
}
