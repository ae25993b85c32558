//! CURVE through the real binary with real libzmq CURVE peers (pyzmq): every device with CURVE
//! on both sides and an allow-list; clients that are not allowed, that have the wrong server
//! key or that speak NULL are refused, counted by reason and logged; zedge as a CURVE client of
//! a libzmq server, and chained to another zedge over CURVE; and a flow that keeps every
//! message beside a HELLO flood, stalled handshakes and slow readers.

use std::time::Duration;

use zedge_tests::broker::{free_port, Broker, Ep};
use zedge_tests::curve::{script, Keys, CURVE_PRELUDE};
use zedge_tests::systemd::ConfigRun;
use zedge_tests::{wait, zmq_prelude, PyPeer};

/// argv: keys, kind, frontend, backend, metrics url. Runs each device's traffic between
/// allowed CURVE clients, then tries the peers that must be refused; prints `OK` and the
/// handshake failures by reason.
const DEVICE_FLOW: &str = r#"
kind, fe, be, url = sys.argv[2:6]

def refused_peers(make):
    # Peers that must not get in: what they send must not arrive, and they are counted.
    wrong = zmq.curve_keypair()[0]
    intruder = make(lambda t, ep: curve(t, ep, me="intruder"))
    wrong_key = make(lambda t, ep: curve(t, ep, server=wrong))
    null = make(lambda t, ep: sock(t, ep))
    return [intruder, wrong_key, null]

if kind == "streamer":
    push, pull = curve(zmq.PUSH, fe), curve(zmq.PULL, be)
    msgs = [[b"%d" % i, b"x" * (i % 700)] for i in range(2000)] + [[b"big", b"y" * 300000]]
    for m in msgs:
        push.send_multipart(m)
    for m in msgs:
        assert pull.recv_multipart() == m
    bad = refused_peers(lambda mk: mk(zmq.PUSH, fe))
    for b in bad:
        b.setsockopt(zmq.SNDTIMEO, 100)
        try:
            b.send(b"must not arrive")
        except zmq.Again:
            pass
    push.send(b"last")
    assert pull.recv_multipart() == [b"last"]
    pull.setsockopt(zmq.RCVTIMEO, 500)
    try:
        raise SystemExit("a refused peer got through: %r" % pull.recv_multipart())
    except zmq.Again:
        pass
elif kind == "forwarder":
    sub = curve(zmq.SUB, be)
    sub.subscribe(b"A")
    pub = curve(zmq.PUB, fe)
    time.sleep(0.7)
    for i in range(1000):
        pub.send_multipart([b"A", b"%d" % i])
        pub.send_multipart([b"B", b"%d" % i])
    for i in range(1000):
        assert sub.recv_multipart() == [b"A", b"%d" % i]
    # Subscribers that are refused get nothing, publishers that are refused send nothing.
    bad_subs = refused_peers(lambda mk: mk(zmq.SUB, be))
    for b in bad_subs:
        b.subscribe(b"")
        b.setsockopt(zmq.RCVTIMEO, 300)
    bad_pubs = refused_peers(lambda mk: mk(zmq.PUB, fe))
    time.sleep(0.7)
    for b in bad_pubs:
        b.send_multipart([b"A", b"forged"])
    pub.send_multipart([b"A", b"last"])
    assert sub.recv_multipart() == [b"A", b"last"]
    for b in bad_subs:
        try:
            raise SystemExit("a refused subscriber got %r" % b.recv_multipart())
        except zmq.Again:
            pass
else:
    def work(w):
        while True:
            try:
                m = w.recv_multipart()
            except zmq.ZMQError:
                return
            w.send_multipart(m[:-1] + [b"re:" + m[-1]])
    w = curve(zmq.DEALER, be)
    threading.Thread(target=work, args=(w,), daemon=True).start()
    req = curve(zmq.REQ, fe)
    for i in range(300):
        req.send(b"q%d" % i)
        assert req.recv() == b"re:q%d" % i
    big = b"z" * 250000
    req.send(big)
    assert req.recv() == b"re:" + big
    bad = refused_peers(lambda mk: mk(zmq.REQ, fe))
    for b in bad:
        b.setsockopt(zmq.RCVTIMEO, 500)
        b.setsockopt(zmq.SNDTIMEO, 200)
        try:
            # A REQ holds its request until a connection is up: one that never comes up
            # refuses to send.
            b.send(b"q")
            raise SystemExit("a refused client got a reply: %r" % b.recv())
        except zmq.Again:
            pass
    req.send(b"last")
    assert req.recv() == b"re:last"
deadline = time.time() + 5
name = "zedge_handshake_failures_total"
while time.time() < deadline:
    got = {r: metric(url, '%s{device="%s",side="%s",reason="%s"}' % (name, kind, s, r))
           for r, s in [("denied", SIDE), ("curve", SIDE), ("mechanism", SIDE)]}
    if all(got.values()):
        break
    time.sleep(0.2)
closed = metric(url, '%s{device="%s",side="%s",reason="closed"}' % (name, kind, SIDE))
print("OK", json.dumps(got), "closed before the handshake:", closed)
"#;

/// A device with CURVE on both sides, allowing `cli`, with metrics; the flow's output.
fn device_flow(kind: &str, side: &str) {
    let keys = Keys::generate();
    let port = free_port();
    let metrics = format!("127.0.0.1:{port}");
    let (secret, allowed) = (keys.arg("srv_secret"), keys.arg("allowed"));
    let mut broker = Broker::start(
        kind,
        &[
            "--curve-secret",
            &secret,
            "--curve-allow",
            &allowed,
            "--metrics",
            &metrics,
        ],
    );
    let url = format!("http://{metrics}/metrics");
    let body = format!("SIDE = {side:?}\n{DEVICE_FLOW}");
    let argv = [
        keys.arg(""),
        kind.into(),
        broker.frontend().into(),
        broker.backend().into(),
        url,
    ];
    let out = PyPeer::spawn(kind, &script(&body), &argv, Duration::from_secs(120)).finish();
    broker.assert_running();
    let log = broker.stderr();
    assert!(
        out.lines().any(|l| l.starts_with("OK")),
        "{kind}: {out}\n{log}"
    );
    assert!(!out.contains(": 0.0"), "every refusal counted: {out}");
    let cli = keys.public("cli");
    assert!(log.contains(&format!("CURVE client {cli}")), "{log}");
    let intruder = keys.public("intruder");
    for line in [
        "CURVE client not allowed",
        &format!("(client key {intruder})"),
        "CURVE handshake failed",
        "wrong security mechanism",
    ] {
        assert!(log.contains(line), "{kind}: no {line:?} in\n{log}");
    }
}

#[test]
fn a_streamer_with_curve_serves_allowed_clients_and_refuses_the_rest() {
    device_flow("streamer", "frontend");
}

#[test]
fn a_forwarder_with_curve_serves_allowed_clients_and_refuses_the_rest() {
    device_flow("forwarder", "backend");
}

#[test]
fn a_queue_with_curve_serves_allowed_clients_and_refuses_the_rest() {
    device_flow("queue", "frontend");
}

/// argv: keys, server endpoint (to bind), frontend. A libzmq CURVE PULL server with `srv`'s
/// keys; a clear PUSH into zedge's frontend; every message arrives at the server.
const LIBZMQ_SERVER: &str = r#"
server_ep, fe = sys.argv[2:4]
pub, sec = cert("srv_secret")
pull = ctx.socket(zmq.PULL)
pull.setsockopt(zmq.CURVE_SERVER, 1)
pull.setsockopt(zmq.CURVE_SECRETKEY, sec)
pull.setsockopt(zmq.RCVTIMEO, T)
pull.bind(server_ep)
push = sock(zmq.PUSH, fe)
msgs = [[b"%d" % i, b"p" * (i % 3000)] for i in range(1000)]
for m in msgs:
    push.send_multipart(m)
for m in msgs:
    assert pull.recv_multipart() == m
print("OK")
"#;

#[test]
fn zedge_is_a_curve_client_of_a_libzmq_server() {
    let keys = Keys::generate();
    let server_ep = format!("tcp://127.0.0.1:{}", free_port());
    let (secret, server_key) = (keys.arg("edge_secret"), keys.public("srv"));
    let mut broker = Broker::start_with(
        "streamer",
        &[Ep::Tcp],
        &[Ep::Connect(server_ep.clone())],
        &[
            "--curve-secret",
            &secret,
            "--curve-server-key",
            &server_key,
            "--curve-sides",
            "backend",
        ],
    );
    let argv = [keys.arg(""), server_ep, broker.frontend().into()];
    let out = PyPeer::spawn(
        "libzmq server",
        &script(LIBZMQ_SERVER),
        &argv,
        Duration::from_secs(60),
    )
    .finish();
    broker.assert_running();
    assert!(out.contains("OK"), "{out}\n{}", broker.stderr());
}

#[test]
fn a_wrong_server_key_is_named_in_the_log() {
    let keys = Keys::generate();
    let server_ep = format!("tcp://127.0.0.1:{}", free_port());
    // The server is `srv`; zedge is told `intruder`'s key.
    let (secret, wrong) = (keys.arg("edge_secret"), keys.public("intruder"));
    let broker = Broker::start_with(
        "streamer",
        &[Ep::Tcp],
        &[Ep::Connect(server_ep.clone())],
        &[
            "--curve-secret",
            &secret,
            "--curve-server-key",
            &wrong,
            "--curve-sides",
            "backend",
        ],
    );
    let server = format!(
        "{}{CURVE_PRELUDE}{}",
        zmq_prelude!(),
        r#"
pub, sec = cert("srv_secret")
pull = ctx.socket(zmq.PULL)
pull.setsockopt(zmq.CURVE_SERVER, 1)
pull.setsockopt(zmq.CURVE_SECRETKEY, sec)
pull.bind(sys.argv[2])
time.sleep(2)
print("OK")
"#
    );
    let out = PyPeer::spawn(
        "server",
        &server,
        &[keys.arg(""), server_ep],
        Duration::from_secs(20),
    )
    .finish();
    assert!(out.contains("OK"), "{out}");
    let log = broker.stderr();
    assert!(
        log.contains("is curve_server_key its public key?"),
        "the log says why the uplink fails:\n{log}"
    );
}

/// argv: keys, edge frontend, cloud backend. A clear publisher at the edge, a clear
/// subscriber at the cloud: between them, zedge to zedge over CURVE. The subscription
/// travels up through both, the publications down.
const CHAIN: &str = r#"
edge_fe, cloud_be = sys.argv[2:4]
sub = sock(zmq.SUB, cloud_be)
sub.subscribe(b"T")
pub = sock(zmq.PUB, edge_fe)
# Until the subscription has crossed both devices.
for _ in range(100):
    pub.send_multipart([b"T", b"probe"])
    sub.setsockopt(zmq.RCVTIMEO, 100)
    try:
        if sub.recv_multipart() == [b"T", b"probe"]:
            break
    except zmq.Again:
        pass
sub.setsockopt(zmq.RCVTIMEO, T)
while True:
    sub.setsockopt(zmq.RCVTIMEO, 300)
    try:
        sub.recv_multipart()
    except zmq.Again:
        break
sub.setsockopt(zmq.RCVTIMEO, T)
for i in range(500):
    pub.send_multipart([b"U", b"%d" % i])
    pub.send_multipart([b"T", b"%d" % i])
for i in range(500):
    assert sub.recv_multipart() == [b"T", b"%d" % i]
print("OK")
"#;

#[test]
fn zedge_chains_to_zedge_over_curve() {
    let keys = Keys::generate();
    let cloud_fe = format!("tcp://127.0.0.1:{}", free_port());
    let (srv, allowed) = (keys.arg("srv_secret"), keys.arg("allowed"));
    // The cloud: its frontend takes CURVE clients on the list; `edge` is added to it.
    let edge_pub = keys.public("edge");
    std::fs::write(keys.path("allowed"), format!("{edge_pub}\n")).expect("write the allow-list");
    let mut cloud = Broker::start_with(
        "forwarder",
        &[Ep::Bind(cloud_fe.clone())],
        &[Ep::Tcp],
        &[
            "--curve-secret",
            &srv,
            "--curve-allow",
            &allowed,
            "--curve-sides",
            "frontend",
        ],
    );
    let (edge_secret, server_key) = (keys.arg("edge_secret"), keys.public("srv"));
    let mut edge = Broker::start_with(
        "forwarder",
        &[Ep::Tcp],
        &[Ep::Connect(cloud_fe)],
        &[
            "--curve-secret",
            &edge_secret,
            "--curve-server-key",
            &server_key,
            "--curve-sides",
            "backend",
        ],
    );
    let argv = [keys.arg(""), edge.frontend().into(), cloud.backend().into()];
    let out = PyPeer::spawn("chain", &script(CHAIN), &argv, Duration::from_secs(60)).finish();
    edge.assert_running();
    cloud.assert_running();
    assert!(
        out.contains("OK"),
        "{out}\nedge:\n{}\ncloud:\n{}",
        edge.stderr(),
        cloud.stderr()
    );
    assert!(cloud.stderr().contains(&format!("CURVE client {edge_pub}")));
}

/// argv: keys, frontend, backend, stage. Beside a forwarder flow between allowed CURVE peers
/// (20,000 x 1 KB to a subscriber that reads, and to one that reads slowly and one that
/// stalls), hostile connections: a HELLO flood of libzmq clients with a wrong server key,
/// clients that are not allowed, raw connections that send a CURVE greeting and garbage,
/// and raw ones that stop after the greeting. The reading subscriber gets every message,
/// in order.
const BAD_DAY: &str = r#"
fe, be = sys.argv[2:4]
stop = threading.Event()
sub = curve(zmq.SUB, be, RCVHWM=0)
sub.subscribe(b"")
slow = curve(zmq.SUB, be, RCVHWM=1, RCVBUF=4096)
slow.subscribe(b"")
stalled = curve(zmq.SUB, be, RCVHWM=1, RCVBUF=4096)
stalled.subscribe(b"")
read_slowly(slow, 0.02, stop)
host, port = fe[len("tcp://"):].rsplit(":", 1)
greeting = b"\xff" + b"\0" * 8 + b"\x7f\x03\x01CURVE" + b"\0" * 15 + b"\0" * 32
def hostile():
    wrong = zmq.curve_keypair()[0]
    held, quiet = [], []
    n = 0
    while not stop.is_set():
        # A libzmq client with the wrong server key: a well-formed HELLO that does not open.
        held.append(curve(zmq.PUB, fe, server=wrong))
        # One that completes the handshake with a key not on the list.
        held.append(curve(zmq.PUB, fe, me="intruder"))
        # A greeting, then garbage where HELLO goes.
        s = socket.create_connection((host, int(port)))
        s.sendall(greeting + b"\x04\xc8" + os.urandom(200))
        held.append(s)
        # A greeting, then nothing (until the handshake timeout closes it).
        if len(quiet) < 100:
            s = socket.create_connection((host, int(port)))
            s.sendall(greeting)
            quiet.append(s)
        n += 4
        if len(held) > 120:
            for h in held[:40]:
                h.close()
            held = held[40:]
        time.sleep(0.01)
    print("hostile connections:", n)
threading.Thread(target=hostile, daemon=True).start()
pub = curve(zmq.PUB, fe, SNDHWM=0)
time.sleep(1)
N = 20000
start = time.monotonic()
def produce():
    for i in range(N):
        pub.send_multipart([b"%d" % i, b"z" * 1000])
        if i % 100 == 99:
            time.sleep(0.005)
threading.Thread(target=produce, daemon=True).start()
# The normal flow's latency: no wait between two of its messages may be long (the producer
# pauses 5 ms every 100; a slow or stalled peer that held the device would show here).
gap, last = 0.0, time.monotonic()
for i in range(N):
    assert sub.recv_multipart() == [b"%d" % i, b"z" * 1000], i
    now = time.monotonic()
    gap, last = max(gap, now - last), now
took = time.monotonic() - start
stop.set()
time.sleep(0.3)
assert gap < 2.0, "a %.2f s wait between two messages" % gap
print("OK", N, "in %.1f s, longest wait %.0f ms" % (took, gap * 1000))
"#;

#[test]
fn a_curve_flow_keeps_every_message_beside_hostile_slow_and_stalled_peers() {
    let keys = Keys::generate();
    let (secret, allowed) = (keys.arg("srv_secret"), keys.arg("allowed"));
    let mut broker = Broker::start(
        "forwarder",
        &[
            "--curve-secret",
            &secret,
            "--curve-allow",
            &allowed,
            "--handshake-timeout",
            "1000",
        ],
    );
    let argv = [
        keys.arg(""),
        broker.frontend().into(),
        broker.backend().into(),
    ];
    let out = PyPeer::spawn("bad day", &script(BAD_DAY), &argv, Duration::from_secs(180)).finish();
    broker.assert_running();
    let log = broker.stderr();
    assert!(out.contains("OK 20000"), "{out}\n{log}");
    for line in [
        "CURVE client not allowed",
        "CURVE handshake failed",
        "handshake timeout",
    ] {
        assert!(log.contains(line), "no {line:?} in\n{log}");
    }
}

/// argv: keys, frontend, backend. An allowed client streams; after `removed` appears
/// (the test took its key off the list and reloaded), its connection is closed and it is
/// refused on reconnecting, while `intruder`, now on the list, gets in.
const RELOAD: &str = r#"
fe, be, flag = sys.argv[2:5]
pull = curve(zmq.PULL, be, me="cli")
push = curve(zmq.PUSH, fe, me="cli")
push.send(b"before")
assert pull.recv() == b"before"
open(flag, "w").close()
while os.path.exists(flag):
    time.sleep(0.05)
# cli is off the list now; intruder is on it.
push2 = curve(zmq.PUSH, fe, me="intruder")
push2.send(b"intruder in")
assert pull.recv() == b"intruder in"
push.setsockopt(zmq.SNDTIMEO, 200)
try:
    push.send(b"cli after")
except zmq.Again:
    pass
push2.send(b"last")
assert pull.recv() == b"last"
print("OK")
"#;

#[test]
fn a_reloaded_allow_list_closes_removed_clients_and_keeps_the_rest() {
    let keys = Keys::generate();
    let (fe, be) = (free_port(), free_port());
    let cli = keys.public("cli");
    let intruder = keys.public("intruder");
    // The backend's puller is `cli` too: it stays connected only while `cli` is allowed on
    // that side, so the backend is clear.
    let write = |allowed: &str| {
        std::fs::write(keys.path("allowed"), allowed).expect("write the allow-list");
    };
    write(&format!("{cli}\n"));
    let config = format!(
        "[[device]]\nname = \"s\"\nkind = \"streamer\"\nfrontend = [\"tcp://127.0.0.1:{fe}\"]\n\
             backend = [\"tcp://127.0.0.1:{be}\"]\ncurve_secret = \"{}\"\ncurve_allow = \"{}\"\n\
             curve_sides = \"frontend\"\n",
        keys.arg("srv_secret"),
        keys.arg("allowed")
    );
    let mut broker = ConfigRun::start(&config, &[]);
    let flag = keys.path("flag");
    let reload = format!(
        "{}{CURVE_PRELUDE}{}",
        zmq_prelude!(),
        RELOAD.replace("curve(zmq.PULL, be, me=\"cli\")", "sock(zmq.PULL, be)")
    );
    let argv = [
        keys.arg(""),
        format!("tcp://127.0.0.1:{fe}"),
        format!("tcp://127.0.0.1:{be}"),
        flag.display().to_string(),
    ];
    let peer = PyPeer::spawn("reload", &reload, &argv, Duration::from_secs(60));
    wait::until(wait::deadline(20), "the client streams", || {
        std::thread::sleep(Duration::from_millis(20));
        flag.exists()
    });
    write(&format!("# cli removed\n{intruder}\n"));
    broker.reload(&config);
    broker.wait_log(
        "is no longer allowed; closing its connection",
        wait::deadline(10),
    );
    std::fs::remove_file(&flag).expect("remove the flag");
    let out = peer.finish();
    let log = broker.stderr();
    assert!(out.contains("OK"), "{out}\n{log}");
    assert!(
        log.contains(&format!("client {cli} is no longer allowed")),
        "{log}"
    );
    assert!(log.contains("1 CURVE clients allowed by"), "{log}");
}
