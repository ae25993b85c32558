//! The forwarder's last-value cache (`--last-value`, issue 15) with real libzmq peers: a
//! subscriber that connects later gets the latest message of every topic it asks for, once,
//! then the live ones; the limits and the expiry hold; an upstream zedge's cache serves an
//! edge forwarder that connects to it; and subscribers that churn, stall or trickle beside a
//! normal flow cost it nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use zedge_tests::broker::{Broker, Ep};
use zedge_tests::flow::{retry_latency, Flow, FlowSpec, ISOLATION_MS};
use zedge_tests::normal::no_panic;
use zedge_tests::python::PyPeer;
use zedge_tests::zmq_prelude;

/// A libzmq PUB on `argv[1]` publishes `[topic, value]` for each `topic=value` of `argv[3]`
/// (comma-separated rounds separated by `;`; `!topic=value`: the one frame `topic:value`),
/// 300 ms after connecting, then prints `sent`.
/// After `argv[4]` s a libzmq SUB on `argv[2]` subscribes to each of `argv[5]` (comma
/// separated), reads until idle for 700 ms and prints what it got, one `topic=value` per
/// line after `got`. Then the PUB publishes the round `argv[6]` (or nothing for `-`) and the
/// SUB prints what it reads of it after `live`.
const LATER: &str = concat!(
    zmq_prelude!(),
    r#"
fe, be, rounds, wait, topics, live = sys.argv[1:7]
# No high-water mark: a PUB drops what its I/O thread has not yet taken past it (1,000
# messages), and on a loaded machine the 1,200 of three rounds come faster than that.
pub = sock(zmq.PUB, fe, SNDHWM=0)
time.sleep(0.3)
for rnd in rounds.split(";"):
    for kv in filter(None, rnd.split(",")):
        k, v = kv.split("=")
        if k.startswith("!"):
            # A message of one frame: topic and value in it.
            pub.send(("%s:%s" % (k[1:], v)).encode())
        else:
            pub.send_multipart([k.encode(), v.encode()])
print("sent", flush=True)
time.sleep(float(wait))
sub = sock(zmq.SUB, be)
for t in topics.split(","):
    sub.setsockopt(zmq.SUBSCRIBE, t.encode())
def read(idle):
    out = []
    while sub.poll(idle):
        m = sub.recv_multipart()
        out.append("%s=%s" % (m[0].decode(), b"|".join(m[1:]).decode()))
    return out
print("got", " ".join(read(700)) or "-", flush=True)
if live != "-":
    for kv in live.split(","):
        k, v = kv.split("=")
        pub.send_multipart([k.encode(), v.encode()])
    print("live", " ".join(read(700)) or "-", flush=True)
"#
);

/// What [`LATER`] printed after `word`: `topic=value` pairs in the order they came.
fn printed(out: &str, word: &str) -> Vec<(String, String)> {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{word} ")))
        .unwrap_or_else(|| panic!("no {word} line in:\n{out}"));
    line.split(' ')
        .filter(|p| *p != "-")
        .map(|p| {
            let (k, v) = p.split_once('=').expect("topic=value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn later(broker: &Broker, rounds: &str, wait: f64, topics: &str, live: &str) -> String {
    let args = [
        broker.frontend(),
        broker.backend(),
        rounds,
        &wait.to_string(),
        topics,
        live,
    ]
    .map(str::to_owned);
    PyPeer::spawn(
        "publisher and later subscriber",
        LATER,
        &args,
        Duration::from_secs(30),
    )
    .finish()
}

/// `n` topics `sensor/<i>` and as many `other/<i>`, each with the value `v`.
fn round(n: usize, v: u32) -> String {
    (0..n)
        .flat_map(|i| [format!("sensor/{i:03}={v}"), format!("other/{i:03}={v}")])
        .collect::<Vec<_>>()
        .join(",")
}

/// Both brokers of a chain ran through without a panic; stop them.
fn stop_both(mut edge: Broker, mut cloud: Broker) {
    edge.assert_running();
    cloud.assert_running();
    no_panic(&edge.stderr());
    no_panic(&cloud.stderr());
    edge.stop();
    cloud.stop();
}

/// 200 sensor topics and 200 others published three times before any subscriber: one that
/// subscribes to `sensor/` gets each sensor topic's third value exactly once, in the topics'
/// order, and none of the others; then the next round live, each once.
#[test]
fn a_later_subscriber_gets_every_kept_topic_it_asks_for_once_then_live() {
    let mut broker = Broker::start("forwarder", &["--last-value"]);
    let rounds = [round(200, 1), round(200, 2), round(200, 3)].join(";");
    let live: String = (0..200)
        .map(|i| format!("sensor/{i:03}=4"))
        .collect::<Vec<_>>()
        .join(",");
    let out = later(&broker, &rounds, 0.5, "sensor/", &live);
    let got = printed(&out, "got");
    let want: Vec<(String, String)> = (0..200)
        .map(|i| (format!("sensor/{i:03}"), "3".to_owned()))
        .collect();
    assert_eq!(got, want, "the kept values");
    let live = printed(&out, "live");
    assert_eq!(live.len(), 200, "the live round: {live:?}");
    assert!(live.iter().all(|(_, v)| v == "4"), "{live:?}");
    broker.assert_running();
    no_panic(&broker.stderr());
    broker.stop();
}

/// Kept no more than `--last-value-max-topics` (the newest), nor after `--last-value-ttl`;
/// a message of one frame only under `--last-value-prefix`.
#[test]
fn the_cache_keeps_the_newest_within_its_limits_and_forgets_at_its_ttl() {
    let broker = Broker::start(
        "forwarder",
        &["--last-value", "--last-value-max-topics", "50"],
    );
    let out = later(&broker, &round(100, 1), 0.3, "sensor/,other/", "-");
    let got: BTreeMap<String, String> = printed(&out, "got").into_iter().collect();
    // Published sensor/000, other/000, sensor/001, ...: the last 50 are 25 of each.
    let want: BTreeMap<String, String> = (75..100)
        .flat_map(|i| [format!("sensor/{i:03}"), format!("other/{i:03}")])
        .map(|k| (k, "1".to_owned()))
        .collect();
    assert_eq!(got, want);
    broker.stop();

    let broker = Broker::start("forwarder", &["--last-value", "--last-value-ttl", "1s"]);
    let soon = later(&broker, &round(10, 1), 0.2, "sensor/", "-");
    assert_eq!(printed(&soon, "got").len(), 10, "{soon}");
    let gone = later(&broker, &round(10, 1), 1.5, "sensor/", "-");
    assert_eq!(printed(&gone, "got"), [], "{gone}");
    broker.stop();

    let broker = Broker::start(
        "forwarder",
        &["--last-value", "--last-value-max-bytes", "1K"],
    );
    // A kept message is its encoded frames: `sensor/NNN` and `vvvv` with a 2-byte head each,
    // 18 bytes; 1 KiB holds the newest 56.
    let wide: String = (0..100)
        .map(|i| format!("sensor/{i:03}=vvvv"))
        .collect::<Vec<_>>()
        .join(",");
    let out = later(&broker, &wide, 0.3, "sensor/", "-");
    let got: Vec<String> = printed(&out, "got").into_iter().map(|(k, _)| k).collect();
    let want: Vec<String> = (44..100).map(|i| format!("sensor/{i:03}")).collect();
    assert_eq!(got, want);
    broker.stop();

    // One-frame messages `sensor/NNN:V`, kept under their first 10 bytes (`sensor/NNN`).
    let mut broker = Broker::start("forwarder", &["--last-value", "--last-value-prefix", "10"]);
    let single = |v: u32| -> String {
        (0..5)
            .map(|i| format!("!sensor/{i:03}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let out = later(
        &broker,
        &[single(1), single(2)].join(";"),
        0.3,
        "sensor/00",
        "-",
    );
    let got: Vec<String> = printed(&out, "got").into_iter().map(|(k, _)| k).collect();
    let want: Vec<String> = (0..5).map(|i| format!("sensor/{i:03}:2")).collect();
    assert_eq!(got, want);
    broker.assert_running();
    broker.stop();
}

/// A cloud forwarder with the cache, an edge forwarder without it connected to the cloud's
/// backend (`>`): a subscriber at the edge gets the cloud's kept values of its topics; the
/// edge restarts and a new subscriber there gets them again.
#[test]
fn an_upstream_zedge_s_cache_serves_an_edge_that_connects_to_it() {
    let mut cloud = Broker::start("forwarder", &["--last-value"]);
    let up = cloud.backend().to_owned();
    for attempt in 0..2 {
        let mut edge = Broker::start_with("forwarder", &[Ep::Connect(up.clone())], &[Ep::Tcp], &[]);
        // The publisher publishes at the cloud; the subscriber is at the edge.
        let rounds = if attempt == 0 {
            round(20, 7)
        } else {
            String::new()
        };
        let args = [
            cloud.frontend(),
            edge.backend(),
            &rounds,
            "0.5",
            "sensor/",
            "-",
        ]
        .map(str::to_owned);
        let out = PyPeer::spawn("edge subscriber", LATER, &args, Duration::from_secs(30)).finish();
        let got = printed(&out, "got");
        assert_eq!(got.len(), 20, "attempt {attempt}: {got:?}");
        assert!(got.iter().all(|(_, v)| v == "7"), "{got:?}");
        edge.assert_running();
        no_panic(&edge.stderr());
        edge.stop();
    }
    cloud.assert_running();
    cloud.stop();
}

/// Both ends with the cache: the edge keeps what passes (its cache subscribes to everything
/// upstream), and a subscriber at the edge is given it from there; the edge's subscription
/// for that subscriber gets nothing more from the cloud (the edge had all of it through its
/// subscription to everything). The subscriber gets each value once.
#[test]
fn with_a_cache_at_both_ends_a_subscriber_gets_each_value_once() {
    let cloud = Broker::start("forwarder", &["--last-value"]);
    let edge = Broker::start_with(
        "forwarder",
        &[Ep::Connect(cloud.backend().to_owned())],
        &[Ep::Tcp],
        &["--last-value"],
    );
    // Wait for the edge's subscription to everything to reach the cloud: what the cloud
    // takes from then on reaches the edge.
    std::thread::sleep(Duration::from_millis(500));
    let args = [
        cloud.frontend(),
        edge.backend(),
        &round(20, 5),
        "0.5",
        "sensor/",
        "-",
    ]
    .map(str::to_owned);
    let out = PyPeer::spawn("edge subscriber", LATER, &args, Duration::from_secs(30)).finish();
    let got = printed(&out, "got");
    let want: Vec<(String, String)> = (0..20)
        .map(|i| (format!("sensor/{i:03}"), "5".to_owned()))
        .collect();
    assert_eq!(got, want, "each value once, in order");
    stop_both(edge, cloud);
}

/// The edge's link to the cloud drops and comes back (a TCP relay between them closes its
/// connections): the edge subscribes again, and the cloud's cache answers with every value
/// it keeps. The edge had them all, so its subscriber, which got each once live, gets none of
/// them again; a value published after the link is back reaches it.
#[test]
fn an_edge_whose_link_comes_back_passes_on_no_value_its_subscribers_had() {
    const RELINK: &str = concat!(
        zmq_prelude!(),
        r#"
import socket
cloud_fe, cloud_be_port = sys.argv[1], int(sys.argv[2])
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(sys.argv[3])))
listener.listen(8)
conns = []
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
def relay():
    while True:
        c, _ = listener.accept()
        u = socket.create_connection(("127.0.0.1", cloud_be_port))
        conns.extend([c, u])
        threading.Thread(target=pipe, args=(c, u), daemon=True).start()
        threading.Thread(target=pipe, args=(u, c), daemon=True).start()
threading.Thread(target=relay, daemon=True).start()
edge_be = sys.argv[4]
pub = sock(zmq.PUB, cloud_fe)
sub = sock(zmq.SUB, edge_be)
sub.setsockopt(zmq.SUBSCRIBE, b"sensor/")
time.sleep(1.0)
for i in range(20):
    pub.send_multipart([b"sensor/%03d" % i, b"1"])
def read(idle):
    out = []
    while sub.poll(idle):
        m = sub.recv_multipart()
        out.append("%s=%s" % (m[0].decode(), m[1].decode()))
    return out
print("got", " ".join(read(700)) or "-", flush=True)
for s in conns:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
time.sleep(2.0)
print("again", " ".join(read(700)) or "-", flush=True)
pub.send_multipart([b"sensor/000", b"2"])
print("live", " ".join(read(1500)) or "-", flush=True)
"#
    );
    let cloud = Broker::start("forwarder", &["--last-value"]);
    let relay = zedge_tests::broker::free_port();
    // The edge connects through the relay, trying again until it is up.
    let edge = Broker::start_with(
        "forwarder",
        &[Ep::Connect(format!("tcp://127.0.0.1:{relay}"))],
        &[Ep::Tcp],
        &["--last-value"],
    );
    let cloud_be = cloud.backend_addr().port().to_string();
    let args = [
        cloud.frontend().to_owned(),
        cloud_be,
        relay.to_string(),
        edge.backend().to_owned(),
    ];
    let out = PyPeer::spawn(
        "relay, publisher and subscriber",
        RELINK,
        &args,
        Duration::from_secs(40),
    )
    .finish();
    let got = printed(&out, "got");
    assert_eq!(got.len(), 20, "before the link dropped: {got:?}");
    assert_eq!(
        printed(&out, "again"),
        [],
        "values the subscriber had, again"
    );
    assert_eq!(
        printed(&out, "live"),
        [("sensor/000".to_owned(), "2".to_owned())],
        "the link did not come back"
    );
    stop_both(edge, cloud);
}

/// Beside a normal flow through a forwarder whose cache holds 2,000 topics of 200 bytes: a
/// subscriber that subscribes and cancels everything as fast as it can and reads nothing,
/// one that subscribed to everything and stalls, and one that reads 4 KiB every 100 ms. The
/// flow gets every tick within the isolation bound; the broker stays within its budget.
#[test]
fn subscribers_churning_stalling_or_trickling_on_the_cache_cost_a_flow_nothing() {
    const HOSTILE: &str = concat!(
        zmq_prelude!(),
        r#"
fe, be, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
# No high-water mark: a PUB drops what its I/O thread has not yet taken past it (1,000
# messages), and on a loaded machine the 1,200 of three rounds come faster than that.
pub = sock(zmq.PUB, fe, SNDHWM=0)
time.sleep(0.3)
for i in range(2000):
    pub.send_multipart([b"cache/%04d" % i, b"x" * 200])
time.sleep(0.3)
churn = raw_null(be, b"SUB", rcvbuf=4096)
stalled = raw_null(be, b"SUB", rcvbuf=4096)
stalled.sendall(b"\x04\x0a\x09SUBSCRIBE")
slow = raw_null(be, b"SUB", rcvbuf=4096)
slow.sendall(b"\x04\x0a\x09SUBSCRIBE")
print("ready", flush=True)
end = time.monotonic() + secs
burst = (b"\x04\x0a\x09SUBSCRIBE" + b"\x04\x07\x06CANCEL") * 256
churned = 0
next_read = time.monotonic()
churn.setblocking(False)
while time.monotonic() < end:
    try:
        churn.send(burst)
        churned += 256
    except BlockingIOError:
        time.sleep(0.001)
    except OSError:
        break
    if time.monotonic() >= next_read:
        try:
            slow.settimeout(0.01)
            slow.recv(4096)
        except OSError:
            pass
        next_read += 0.1
print("churned %d" % churned, flush=True)
"#
    );
    let r = retry_latency(ISOLATION_MS, || {
        let mut broker = Broker::start("forwarder", &["--last-value", "--memory-max", "64M"]);
        let spec = FlowSpec::ticks(200, 4.0);
        let hostile = PyPeer::spawn(
            "churning, stalled and slow subscribers",
            HOSTILE,
            &[
                broker.frontend().to_owned(),
                broker.backend().to_owned(),
                "7".to_owned(),
            ],
            Duration::from_secs(40),
        );
        let until = std::time::Instant::now() + Duration::from_secs(20);
        while !hostile.stdout_so_far().contains("ready") {
            assert!(
                std::time::Instant::now() < until,
                "the hostile peers never started"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut flow = Flow::start("forwarder", broker.frontend(), broker.backend(), spec);
        flow.go();
        let r = flow.finish();
        let out = hostile.finish();
        eprintln!("hostile: {}", out.trim().replace('\n', "; "));
        let rss = broker.rss_kib();
        broker.assert_running();
        no_panic(&broker.stderr());
        assert!(rss < 96 << 10, "RSS {rss} KiB under a 64M budget");
        broker.stop();
        r
    });
    r.assert_within(
        "subscribers churning, stalling or trickling on the cache",
        ISOLATION_MS,
    );
}

/// With CURVE on both sides: a libzmq CURVE subscriber that connects later is given the kept
/// values its subscription matches, sealed for it.
#[test]
fn a_curve_subscriber_is_given_the_kept_values() {
    use zedge_tests::curve::{script, Keys};
    let keys = Keys::generate();
    let mut broker = Broker::start(
        "forwarder",
        &["--last-value", "--curve-secret", &keys.arg("srv_secret")],
    );
    let body = r#"
fe, be = sys.argv[2], sys.argv[3]
pub = curve(zmq.PUB, fe)
time.sleep(0.5)
for v in (b"1", b"2"):
    for t in (b"sensor/a", b"sensor/b", b"other/c"):
        pub.send_multipart([t, v])
time.sleep(0.3)
sub = curve(zmq.SUB, be)
sub.setsockopt(zmq.SUBSCRIBE, b"sensor/")
got = []
while sub.poll(700):
    got.append(b"=".join(sub.recv_multipart()).decode())
print("got", " ".join(got) or "-", flush=True)
"#;
    let args = [
        keys.arg(""),
        broker.frontend().to_owned(),
        broker.backend().to_owned(),
    ];
    let out = PyPeer::spawn(
        "CURVE publisher and subscriber",
        &script(body),
        &args,
        Duration::from_secs(30),
    )
    .finish();
    assert_eq!(
        printed(&out, "got"),
        [
            ("sensor/a".to_owned(), "2".to_owned()),
            ("sensor/b".to_owned(), "2".to_owned())
        ]
    );
    broker.assert_running();
    no_panic(&broker.stderr());
    broker.stop();
}
