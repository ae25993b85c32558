//! A flood of CURVE handshakes from one address: each HELLO costs the device's thread an
//! X25519 (and a WELCOME another), so a side with CURVE takes at most
//! `handshake_rate_per_address` new connections a second from one address after a first
//! burst of `max_peers_per_address`. The flood from 127.0.0.2 is refused past that; the
//! flows from 127.0.0.1 beside it, a publisher that joins in the middle of it included, keep
//! every message, beside a stalled and a slow subscriber.

use std::time::Duration;

use zedge_tests::broker::Broker;
use zedge_tests::curve::{script, Keys};
use zedge_tests::PyPeer;

/// argv: keys, frontend, backend, flood seconds, rate, burst. Prints `OK` and what the flood
/// got.
const FLOOD: &str = r#"
fe, be = sys.argv[2:4]
flood_s, rate, burst = float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
N, LATE = 3000, 300
normal = curve(zmq.SUB, be, RCVHWM=0)
stalled = curve(zmq.SUB, be, RCVHWM=1, RCVBUF=4096)
slow = curve(zmq.SUB, be, RCVHWM=1, RCVBUF=4096)
for s in (normal, stalled, slow):
    s.subscribe(b"")
stop = threading.Event()
read_slowly(slow, 0.2, stop)
pub = curve(zmq.PUB, fe, SNDHWM=0)
time.sleep(1.5)

# The flood: fresh connections from 127.0.0.2, each a CURVE greeting and a HELLO of the
# right size (random, so its box does not open: the X25519 is spent all the same).
host, port = fe[len("tcp://"):].rsplit(":", 1)
greeting = b"\xff" + b"\0" * 8 + b"\x7f\x03\x01CURVE" + b"\0" * 15 + b"\0" * 32
hello_body = b"\x05HELLO\x01\x00" + b"\0" * 72
flood = {"accepted": 0, "refused": 0, "start": 0.0, "end": 0.0}
def flooder():
    flood["start"] = time.time()
    end = flood["start"] + flood_s
    while time.time() < end:
        c = socket.socket()
        c.bind(("127.0.0.2", 0))
        c.settimeout(2)
        try:
            c.connect((host, int(port)))
            c.sendall(greeting + b"\x04" + bytes([200]) + hello_body + os.urandom(120))
            got = c.recv(64)
        except OSError:
            got = b""
        c.close()
        flood["accepted" if got else "refused"] += 1
    flood["end"] = time.time()
flooding = threading.Thread(target=flooder)
flooding.start()

# The normal flows: the publisher that was there, and one that joins in the flood.
got, worst, late_got = [], 0.0, []
def read():
    global worst
    normal.setsockopt(zmq.RCVTIMEO, 30000)
    while len(got) + len(late_got) < N + LATE:
        m = normal.recv()
        who, n, t = m.split(b" ")
        worst = max(worst, time.time() - float(t))
        (got if who == b"a" else late_got).append(int(n))
reader = threading.Thread(target=read)
reader.start()
time.sleep(0.5)
late = curve(zmq.PUB, fe, SNDHWM=0)
def publish_late():
    time.sleep(1.0)
    for i in range(LATE):
        late.send(b"b %d %f" % (i, time.time()))
        time.sleep(0.002)
threading.Thread(target=publish_late).start()
for i in range(N):
    pub.send(b"a %d %f" % (i, time.time()))
    time.sleep(0.001)
reader.join(60)
flooding.join()
stop.set()
assert not reader.is_alive(), "the normal subscriber got %d of %d and %d of %d" % (
    len(got), N, len(late_got), LATE)
assert got == list(range(N)), "the first publisher's messages in order"
assert late_got == list(range(LATE)), "the late publisher's messages in order"
assert worst < 5, "a message took %.1f s" % worst
took = flood["end"] - flood["start"]
most = burst + rate * (took + 1)
assert flood["refused"] > 0, "the flood was never refused: %r" % flood
assert flood["accepted"] <= most, "the flood got %d in %.1f s, over %d" % (
    flood["accepted"], took, most)
print("OK flood accepted %d refused %d in %.1f s; worst latency %.3f s" % (
    flood["accepted"], flood["refused"], took, worst))
"#;

#[test]
fn a_handshake_flood_from_one_address_is_held_to_its_rate_beside_normal_flows() {
    let keys = Keys::generate();
    let (rate, burst) = ("20", "40");
    let mut broker = Broker::start(
        "forwarder",
        &[
            "--curve-secret",
            &keys.arg("srv_secret"),
            "--handshake-rate-per-address",
            rate,
            "--max-peers-per-address",
            burst,
        ],
    );
    let argv = [
        keys.arg(""),
        broker.frontend().into(),
        broker.backend().into(),
        "3".into(),
        rate.into(),
        burst.into(),
    ];
    let out = PyPeer::spawn("flood", &script(FLOOD), &argv, Duration::from_secs(120)).finish();
    broker.assert_running();
    let log = broker.stderr();
    let ok = out.lines().find(|l| l.starts_with("OK"));
    assert!(ok.is_some(), "{out}\n{log}");
    eprintln!("{}", ok.unwrap_or_default());
    assert!(
        log.contains("handshake_rate_per_address (20 a second) reached"),
        "{log}"
    );
}
