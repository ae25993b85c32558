//! The control endpoint (`--control EP`) with real libzmq peers: libzmq's steerable-proxy
//! commands (STATISTICS equal to what libzmq's own `zmq_proxy_steerable` reports for the same
//! traffic, PAUSE holding and RESUME releasing with nothing lost, TERMINATE ending the device
//! and, when it is the last, the process with status 0), zedge's STATS, and requests that are
//! wrong or hostile.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use zedge_core::conn::SessionConfig;
use zedge_core::wire::metadata::SocketType;
use zedge_tests::agent::Agent;
use zedge_tests::broker::{free_port, tcp_addr, Broker};
use zedge_tests::control::flood_beside_flow;
use zedge_tests::systemd::ConfigRun;
use zedge_tests::zmq_prelude;
use zedge_tests::{Driver, PyPeer};

/// Runs the same traffic through a device (argv: kind, frontend, backend, control, and
/// `libzmq` to run libzmq's steerable proxy on those endpoints itself, or `zedge` for one
/// already there), then asks the control endpoint for STATISTICS and prints the 8 numbers.
const STEER_TRAFFIC: &str = concat!(
    zmq_prelude!(),
    r#"

kind, fe, be, ctl, who = sys.argv[1:6]
if who == "libzmq" and zmq.zmq_version_info() < (4, 3, 5):
    print("OLD-LIBZMQ", zmq.zmq_version())
    sys.exit(0)

proxy = None
if who == "libzmq":
    types = {"streamer": (zmq.PULL, zmq.PUSH), "queue": (zmq.ROUTER, zmq.DEALER),
             "forwarder": (zmq.XSUB, zmq.XPUB)}[kind]
    f, b, c = ctx.socket(types[0]), ctx.socket(types[1]), ctx.socket(zmq.REP)
    f.bind(fe); b.bind(be); c.bind(ctl)
    proxy = threading.Thread(target=zmq.proxy_steerable, args=(f, b, None, c), daemon=True)
    proxy.start()

def streamer():
    push, pull = sock(zmq.PUSH, fe), sock(zmq.PULL, be)
    msgs = [[b"x" * i] for i in range(1, 41)] + [[b"a", b"bb", b"c" * 100]] * 5 + [[b""]]
    for m in msgs:
        push.send_multipart(m)
    for m in msgs:
        assert pull.recv_multipart() == m

def queue():
    def worker(w):
        for _ in range(30):
            w.send_multipart(w.recv_multipart())
    w = sock(zmq.REP, be)
    t = threading.Thread(target=worker, args=(w,), daemon=True)
    t.start()
    req = sock(zmq.REQ, fe)
    named = sock(zmq.REQ, fe, ROUTING_ID=b"operator-7")
    dealer = sock(zmq.DEALER, fe)
    for i in range(20):
        m = [b"q%d" % i, b"yy" * i]
        req.send_multipart(m)
        assert req.recv_multipart() == m
    for i in range(5):
        named.send(b"n" * i)
        assert named.recv() == b"n" * i
        dealer.send_multipart([b"", b"d", b"dd"])
        assert dealer.recv_multipart() == [b"", b"d", b"dd"]
    t.join(T / 1000)

def forwarder():
    s1, s2 = sock(zmq.SUB, be), sock(zmq.SUB, be)
    s1.subscribe(b"A")
    s2.subscribe(b"A")
    s2.subscribe(b"BB")
    time.sleep(0.5)
    pub = sock(zmq.PUB, fe)
    time.sleep(1.0)
    for i in range(30):
        pub.send_multipart([b"A", b"%d" % i])
        pub.send_multipart([b"BB", b"x" * i])
        pub.send(b"C not subscribed")
    for i in range(30):
        assert s1.recv_multipart() == [b"A", b"%d" % i]
    got = [s2.recv_multipart() for _ in range(60)]
    assert len(got) == 60
    s2.unsubscribe(b"BB")
    time.sleep(0.3)
    s1.close()
    time.sleep(0.3)
    s2.unsubscribe(b"A")
    time.sleep(0.5)

{"streamer": streamer, "queue": queue, "forwarder": forwarder}[kind]()
c = sock(zmq.REQ, ctl)
c.send(b"STATISTICS")
reply = c.recv_multipart()
assert len(reply) == 8 and all(len(f) == 8 for f in reply), reply
print(json.dumps([struct.unpack("=Q", f)[0] for f in reply]))
if proxy is not None:
    c.send(b"TERMINATE")
    c.recv()
    proxy.join(5)
"#
);

/// The numbers `STEER_TRAFFIC` printed, or `None` where the reference libzmq is too old to
/// count as libzmq 4.3.5 and later do.
fn statistics(kind: &str, who: &str, eps: [&str; 3]) -> Option<Vec<u64>> {
    let mut args = vec![kind.to_owned()];
    args.extend(eps.iter().map(|e| (*e).to_owned()));
    args.push(who.to_owned());
    let out = PyPeer::spawn(who, STEER_TRAFFIC, &args, Duration::from_secs(60)).finish();
    if out.starts_with("OLD-LIBZMQ") {
        return None;
    }
    let line = out.lines().last().unwrap_or_default();
    let nums: Vec<u64> = line
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|n| {
            n.trim()
                .parse()
                .unwrap_or_else(|_| panic!("not numbers: {out}"))
        })
        .collect();
    Some(nums)
}

fn ep() -> String {
    format!("tcp://127.0.0.1:{}", free_port())
}

fn statistics_match_libzmq(kind: &str, expected: [u64; 8]) {
    let (fe, be, ctl) = (ep(), ep(), ep());
    let Some(libzmq) = statistics(kind, "libzmq", [&fe, &be, &ctl]) else {
        panic!(
            "the reference peer's libzmq is older than 4.3.5, which counts STATISTICS \
             differently: install pyzmq from PyPI (tools/test does)"
        );
    };
    let ctl = ep();
    let broker = Broker::start(kind, &["--control", &ctl]);
    let zedge =
        statistics(kind, "zedge", [broker.frontend(), broker.backend(), &ctl]).unwrap_or_default();
    assert_eq!(
        zedge,
        libzmq,
        "{kind}: zedge's STATISTICS (left) differ from libzmq's steerable proxy's (right) for \
         the same traffic\n{}",
        broker.stderr()
    );
    // And both are what the traffic is, counted by hand: libzmq agreeing with itself proves
    // nothing if the traffic did not happen.
    assert_eq!(
        zedge, expected,
        "{kind}: STATISTICS differ from the traffic sent"
    );
}

#[test]
fn streamer_statistics_equal_libzmqs_steerable_proxy() {
    // 40 messages of 1..=40 bytes, 5 of 3 parts (1 + 2 + 100 bytes), 1 empty: 56 parts and
    // 820 + 515 bytes each way; nothing goes back to the producers.
    statistics_match_libzmq("streamer", [56, 1335, 0, 0, 0, 0, 56, 1335]);
}

#[test]
fn queue_statistics_equal_libzmqs_steerable_proxy() {
    // Requests with the routing frame libzmq's ROUTER puts first (5 bytes, or the client's
    // 10-byte identity) and the empty delimiter: 20 x (5 + 0 + "qN" + "yy" x N), 5 x (10 +
    // 0 + N), 5 x (5 + 0 + 1 + 2). Replies carry the same frames back.
    let req: u64 = (0..20u64)
        .map(|i| 5 + format!("q{i}").len() as u64 + 2 * i)
        .sum();
    let named: u64 = (0..5u64).map(|i| 10 + i).sum();
    let dealer = 5 * (5 + 1 + 2);
    let (msgs, bytes) = (20 * 4 + 5 * 3 + 5 * 4, req + named + dealer);
    statistics_match_libzmq(
        "queue",
        [msgs, bytes, msgs, bytes, msgs, bytes, msgs, bytes],
    );
}

#[test]
fn forwarder_statistics_equal_libzmqs_steerable_proxy() {
    // Publications: 30 x ["A", N] and 30 x ["BB", "x" x N]. Subscriptions going upstream:
    // A and BB (the second A is not new), the cancel of BB, and the cancel of A once its
    // last subscriber lets it go (not when the other one leaves): 4 messages, 10 bytes.
    let a: u64 = (0..30u64).map(|i| 1 + format!("{i}").len() as u64).sum();
    let bb: u64 = (0..30u64).map(|i| 2 + i).sum();
    statistics_match_libzmq("forwarder", [120, a + bb, 4, 10, 4, 10, 120, a + bb]);
}

/// One request on the control endpoint from a fresh REQ socket: the reply's frames.
fn ask(ctl: &str, command: &[u8]) -> Vec<Vec<u8>> {
    let mut req = Agent::connect("control", "REQ", ctl, &[]);
    req.send(&[command]);
    let reply = req
        .recv(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no answer to {:?}", String::from_utf8_lossy(command)));
    reply
}

#[test]
fn pause_holds_both_sides_and_resume_releases_everything_in_order() {
    let ctl = ep();
    let mut broker = Broker::start("streamer", &["--control", &ctl]);
    let mut pull = Agent::connect("pull", "PULL", broker.backend(), &[]);
    let mut push = Agent::connect("push", "PUSH", broker.frontend(), &[]);
    push.send(&[b"before"]);
    assert_eq!(
        pull.recv(Duration::from_secs(5)),
        Some(vec![b"before".to_vec()])
    );

    assert_eq!(ask(&ctl, b"PAUSE"), vec![Vec::<u8>::new()]);
    push.burst(200, &[b"held"]);
    assert!(
        pull.drain(200, Duration::from_millis(800)).is_empty(),
        "a message moved while paused"
    );
    let stats = String::from_utf8(ask(&ctl, b"STATS").remove(0)).unwrap();
    assert!(stats.contains("\"paused\":true"), "{stats}");

    assert_eq!(ask(&ctl, b"RESUME"), vec![Vec::<u8>::new()]);
    let got = pull.drain(200, Duration::from_secs(2));
    assert_eq!(
        got.len(),
        200,
        "not every held message arrived after RESUME"
    );
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.len(), 2, "message {i}: {:?}", m);
        assert_eq!(m[1], i.to_string().into_bytes(), "out of order at {i}");
    }
    broker.assert_running();
}

#[test]
fn terminate_stops_one_device_and_the_last_one_ends_the_process_with_status_0() {
    let (ctl_a, ctl_b) = (ep(), ep());
    let (a_front, a_back) = (ep(), ep());
    let config = format!(
        "[[device]]\nname = \"a\"\nkind = \"streamer\"\nfrontend = \"{a_front}\"\n\
         backend = \"{a_back}\"\ncontrol = \"{ctl_a}\"\n\n[[device]]\nname = \"b\"\n\
         kind = \"queue\"\nfrontend = \"{}\"\nbackend = \"{}\"\ncontrol = \"{ctl_b}\"\n",
        ep(),
        ep()
    );
    let mut run = ConfigRun::start(&config, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    run.wait_log("b control listening", deadline);

    assert_eq!(ask(&ctl_b, b"TERMINATE"), vec![Vec::<u8>::new()]);
    run.wait_log("b TERMINATE from the control endpoint", deadline);
    // Device a still moves messages; b's ports are closed.
    let mut pull = Agent::connect("pull", "PULL", &a_back, &[]);
    let mut push = Agent::connect("push", "PUSH", &a_front, &[]);
    push.send(&[b"still here"]);
    assert!(
        pull.recv(Duration::from_secs(5)).is_some(),
        "{}",
        run.stderr()
    );
    let closed = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(tcp_addr(&ctl_b)).is_ok() {
        assert!(
            Instant::now() < closed,
            "b's control endpoint still accepts"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    run.assert_running();

    assert_eq!(ask(&ctl_a, b"TERMINATE"), vec![Vec::<u8>::new()]);
    let status = run.wait(Duration::from_secs(10));
    let log = run.stderr();
    assert_eq!(status.code(), Some(0), "{log}");
    // The line at stop counts what the terminated devices moved, not only the running ones'.
    assert!(
        log.contains(": 1 messages in, 1 out, 0 dropped"),
        "the totals at stop\n{log}"
    );
}

#[test]
fn wrong_and_hostile_requests_get_errors_or_are_dropped_and_the_device_goes_on() {
    let ctl = ep();
    let mut broker = Broker::start("streamer", &["--control", &ctl]);
    let unknown = ask(&ctl, b"REBOOT");
    assert_eq!(unknown.len(), 1);
    let text = String::from_utf8_lossy(&unknown[0]);
    assert!(
        text.starts_with("ERROR unknown command \"REBOOT\""),
        "{text}"
    );

    // Not ZeroMQ at all, a command longer than allowed, and a DEALER without the delimiter.
    let mut junk = TcpStream::connect(tcp_addr(&ctl)).unwrap();
    junk.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    junk.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut sink = Vec::new();
    let _ = junk.read_to_end(&mut sink); // closed by zedge
    let mut long = Agent::connect("long", "REQ", &ctl, &[]);
    long.send(&[&[b'S'; 4096]]);
    assert!(long.recv(Duration::from_millis(500)).is_none());
    let mut dealer = Agent::connect("dealer", "DEALER", &ctl, &[]);
    dealer.send(&[b"STATS"]);
    assert!(dealer.recv(Duration::from_millis(500)).is_none());
    // A message of ever more empty frames (nothing against the size limit): closed at the
    // 17th frame.
    let mut flood = Driver::new(
        TcpStream::connect(tcp_addr(&ctl)).unwrap(),
        SessionConfig::new(SocketType::Req),
    );
    flood.ready(Instant::now() + Duration::from_secs(5));
    flood.send(&[&b""[..]; 1000]);
    flood.closed(Instant::now() + Duration::from_secs(5));
    // With the delimiter it is answered, as a REP socket answers a DEALER.
    dealer.send(&[b"", b"STATISTICS"]);
    let reply = dealer.recv(Duration::from_secs(5)).expect("an answer");
    assert_eq!(reply.len(), 9);

    // A crowd of idle connections: the oldest make room, and an operator gets in.
    let crowd: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(tcp_addr(&ctl)).unwrap())
        .collect();
    assert_eq!(ask(&ctl, b"STATISTICS").len(), 8);
    drop(crowd);

    // The device itself never noticed.
    let mut pull = Agent::connect("pull", "PULL", broker.backend(), &[]);
    let mut push = Agent::connect("push", "PUSH", broker.frontend(), &[]);
    push.burst(100, &[b"m"]);
    assert_eq!(pull.drain(100, Duration::from_secs(2)).len(), 100);
    let stats = String::from_utf8(ask(&ctl, b"STATS").remove(0)).unwrap();
    assert!(stats.contains("\"messages_in\":100,"), "{stats}");
    broker.assert_running();
}

#[test]
fn a_control_client_flooding_requests_costs_the_device_s_flow_nothing() {
    let ctl = ep();
    let mut broker = Broker::start("streamer", &["--control", &ctl]);
    let sent = flood_beside_flow(&broker, &ctl, "STATS");
    assert!(sent > 1000, "the flood sent only {sent} requests");
    // The operator still gets in.
    assert_eq!(ask(&ctl, b"STATISTICS").len(), 8);
    broker.assert_running();
}
