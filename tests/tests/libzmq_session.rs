//! A zedge-core `Session` against real libzmq (through pyzmq), over loopback TCP.
//!
//! Each test listens on an ephemeral port, starts a Python peer that connects to it, and plays
//! its side through `zedge_tests::Driver`. Every wait has a deadline and the Python peer is
//! killed if it overruns, so a broken session fails the test instead of hanging it.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use zedge_core::conn::{Heartbeat, SessionConfig, SessionError};
use zedge_core::time::Duration as CoreDuration;
use zedge_core::wire::metadata::SocketType;
use zedge_tests::{
    accept, count, has_pending_connection, listen, Driver, OwnedEvent, PyPeer, Step,
};

/// Everything one test does must be over by then.
const BUDGET: Duration = Duration::from_secs(20);

fn deadline() -> Instant {
    Instant::now() + BUDGET
}

/// A Python peer running `script` connects to a fresh listener, and the Rust side takes the
/// connection with a session configured by `cfg`. The listener stays open for tests that
/// check that no second connection comes.
fn connect_peer(
    role: &str,
    script: &str,
    cfg: SessionConfig,
    deadline: Instant,
) -> (PyPeer, Driver, TcpListener) {
    let (listener, port) = listen();
    let peer = PyPeer::spawn(role, script, &[port.to_string()], BUDGET);
    let rust = Driver::new(accept(&listener, deadline), cfg);
    (peer, rust, listener)
}

/// The big frame: longer than the input buffer, so it arrives as a `Frame` and many `Body`s,
/// and longer than 0xff, so libzmq sends it with a long header. Not a repeated byte, so
/// reordered or duplicated chunks show.
fn big_frame() -> Vec<u8> {
    (0..70_000u32).map(|i| (i % 251) as u8).collect()
}

const PUSH_TO_RUST: &str = r#"
import sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.PUSH)
s.setsockopt(zmq.LINGER, 5000)
s.setsockopt(zmq.SNDTIMEO, 5000)
s.connect("tcp://127.0.0.1:%s" % sys.argv[1])
big = bytes(i % 251 for i in range(70000))
s.send_multipart([b"hello", b"", b"x" * 300, big])
s.send_multipart([b"second"])
s.close()
ctx.term()
"#;

#[test]
fn pull_receives_multipart_from_libzmq_push() {
    let deadline = deadline();
    let (peer, mut rust, _listener) = connect_peer(
        "PUSH",
        PUSH_TO_RUST,
        SessionConfig::new(SocketType::Pull),
        deadline,
    );
    assert_eq!(rust.ready(deadline), (SocketType::Push, Vec::new()));

    let msg = rust.message(deadline);
    let more: Vec<bool> = msg.iter().map(|f| f.more).collect();
    assert_eq!(more, [true, true, true, false]);
    assert_eq!(msg[0].body, b"hello");
    assert_eq!(msg[1].body, b"");
    assert_eq!(msg[2].body, vec![b'x'; 300]);
    assert!(msg[3].body == big_frame(), "70000-byte frame corrupted");
    assert_eq!((msg[0].events, msg[1].events), (1, 1));
    assert!(
        msg[3].events > 1,
        "a frame over the buffer size must come in pieces"
    );

    let second = rust.message(deadline);
    assert_eq!(second.len(), 1);
    assert_eq!(
        (second[0].more, second[0].body.as_slice()),
        (false, &b"second"[..])
    );
    rust.closed(deadline);
    peer.finish();
}

const PULL_FROM_RUST: &str = r#"
import sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.PULL)
s.setsockopt(zmq.RCVTIMEO, 10000)
s.setsockopt(zmq.LINGER, 0)
s.connect("tcp://127.0.0.1:%s" % sys.argv[1])
big = bytes(i % 251 for i in range(70000))
msg = s.recv_multipart()
assert msg == [b"hello", b"", b"x" * 300, big], [len(f) for f in msg]
assert s.recv_multipart() == [b"second"]
s.close()
ctx.term()
"#;

#[test]
fn push_sends_multipart_to_libzmq_pull() {
    let deadline = deadline();
    let (peer, mut rust, _listener) = connect_peer(
        "PULL",
        PULL_FROM_RUST,
        SessionConfig::new(SocketType::Push),
        deadline,
    );
    assert_eq!(rust.ready(deadline), (SocketType::Pull, Vec::new()));
    let big = big_frame();
    rust.send(&[b"hello", b"", &[b'x'; 300], &big]);
    rust.send(&[b"second"]);
    rust.closed(deadline);
    peer.finish();
}

const DEALER_WITH_HEARTBEATS: &str = r#"
import sys, time, zmq
from zmq.utils.monitor import recv_monitor_message
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.ROUTING_ID, b"py-dealer")
s.setsockopt(zmq.HEARTBEAT_IVL, 100)
s.setsockopt(zmq.HEARTBEAT_TIMEOUT, 300)
s.setsockopt(zmq.HEARTBEAT_TTL, 500)
s.setsockopt(zmq.RCVTIMEO, 10000)
s.setsockopt(zmq.LINGER, 0)
mon = s.get_monitor_socket()
s.connect("tcp://127.0.0.1:%s" % sys.argv[1])
s.send(b"first")
assert s.recv_multipart() == [b"first"]
time.sleep(2.0)
s.send(b"second")
assert s.recv_multipart() == [b"second"]
events = []
while mon.poll(100):
    events.append(zmq.Event(recv_monitor_message(mon)["event"]))
print(events)
assert events.count(zmq.Event.CONNECTED) == 1, events
assert events.count(zmq.Event.HANDSHAKE_SUCCEEDED) == 1, events
assert zmq.Event.DISCONNECTED not in events, events
s.disable_monitor()
mon.close()
s.close()
ctx.term()
"#;

#[test]
fn heartbeats_keep_an_idle_libzmq_dealer_connected() {
    let deadline = deadline();
    let mut cfg = SessionConfig::new(SocketType::Router);
    cfg.heartbeat = Heartbeat::every(CoreDuration::from_millis(100));
    let (peer, mut rust, listener) = connect_peer("DEALER", DEALER_WITH_HEARTBEATS, cfg, deadline);
    assert_eq!(
        rust.ready(deadline),
        (SocketType::Dealer, b"py-dealer".to_vec())
    );

    let first = rust.message(deadline);
    assert_eq!(first[0].body, b"first");
    rust.send(&[b"first"]);
    let idle_from = Instant::now();
    // Any HeartbeatTimeout or TtlExpired would end `message` with a panic here.
    let second = rust.message(deadline);
    let idle = idle_from.elapsed();
    assert_eq!(second[0].body, b"second");
    rust.send(&[b"second"]);
    rust.closed(deadline);
    let monitor = peer.finish();

    assert!(idle >= Duration::from_millis(1900), "idle only {idle:?}");
    // 100 ms intervals over 2 s: about 20 each way; allow for scheduling slack.
    let pongs_out = count(&rust.written, b"\x04PONG");
    let pings_out = count(&rust.written, b"\x04PING");
    let pongs_in = count(&rust.received, b"\x04PONG");
    let pings_in = count(&rust.received, b"\x04PING");
    let counts = format!(
        "PINGs in {pings_in}, PONGs out {pongs_out}, PINGs out {pings_out}, PONGs in {pongs_in}"
    );
    assert!(pings_in >= 10 && pongs_out >= pings_in - 1, "{counts}");
    assert!(pings_out >= 10 && pongs_in >= pings_out - 1, "{counts}");
    println!("{counts}");
    assert!(!has_pending_connection(&listener), "libzmq reconnected");
    assert!(monitor.contains("HANDSHAKE_SUCCEEDED"), "{monitor}");
}

const PUB_TO_PULL: &str = r#"
import sys, time, zmq
from zmq.utils.monitor import recv_monitor_message
ctx = zmq.Context()
s = ctx.socket(zmq.PUB)
s.setsockopt(zmq.LINGER, 0)
mon = s.get_monitor_socket()
s.connect("tcp://127.0.0.1:%s" % sys.argv[1])
end = time.time() + 1.0
n = 0
while time.time() < end:
    s.send(b"leak %d" % n)
    n += 1
    time.sleep(0.01)
events = []
while mon.poll(100):
    events.append(zmq.Event(recv_monitor_message(mon)["event"]))
print(events)
assert zmq.Event.HANDSHAKE_SUCCEEDED not in events, events
assert zmq.Event.DISCONNECTED in events, events
s.disable_monitor()
mon.close()
s.close()
ctx.term()
"#;

#[test]
fn pull_rejects_libzmq_pub_with_error() {
    let deadline = deadline();
    let (peer, mut rust, _listener) = connect_peer(
        "PUB",
        PUB_TO_PULL,
        SessionConfig::new(SocketType::Pull),
        deadline,
    );
    match rust.step(deadline) {
        Step::Failed(SessionError::IncompatibleSocketType { ours, theirs }) => {
            assert_eq!((ours, theirs), (SocketType::Pull, SocketType::Pub));
        }
        other => panic!("expected IncompatibleSocketType, got {other:?}"),
    }
    // Our READY went out as soon as the peer's greeting was in (RFC 23 lets either side send
    // ERROR after READY); the ERROR must be the last thing we said.
    let error = b"\x04\x1a\x05ERROR\x13Invalid socket type";
    assert!(
        rust.written.ends_with(error),
        "{:?}",
        rust.written.escape_ascii().to_string()
    );
    // The session is over: whatever else arrives is refused, never delivered.
    assert!(matches!(
        rust.step(deadline),
        Step::Failed(SessionError::Closed)
    ));
    let monitor = peer.finish();
    assert_eq!(count(&rust.received, b"leak"), 0, "PUB data reached us");
    println!("PUB saw {monitor}");
}

const SUB_TO_XPUB: &str = r#"
import sys, time, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.SUB)
s.setsockopt(zmq.RCVTIMEO, 10000)
s.setsockopt(zmq.LINGER, 5000)
s.connect("tcp://127.0.0.1:%s" % sys.argv[1])
s.setsockopt(zmq.SUBSCRIBE, b"topic-a")
s.setsockopt(zmq.SUBSCRIBE, b"")
s.setsockopt(zmq.SUBSCRIBE, b"\x00bin\xff")
msg = s.recv_multipart()
assert msg == [b"topic-a", b"payload"], msg
s.setsockopt(zmq.UNSUBSCRIBE, b"topic-a")
s.setsockopt(zmq.UNSUBSCRIBE, b"")
s.close()
ctx.term()
"#;

#[test]
fn xpub_sees_libzmq_sub_subscriptions() {
    let deadline = deadline();
    let (peer, mut rust, _listener) = connect_peer(
        "SUB",
        SUB_TO_XPUB,
        SessionConfig::new(SocketType::XPub),
        deadline,
    );
    assert_eq!(rust.ready(deadline), (SocketType::Sub, Vec::new()));
    assert_eq!(rust.session.peer_minor(), Some(1));
    for topic in [&b"topic-a"[..], b"", b"\x00bin\xff"] {
        assert_eq!(rust.event(deadline), OwnedEvent::Subscribe(topic.to_vec()));
    }
    rust.send(&[b"topic-a", b"payload"]);
    for topic in [&b"topic-a"[..], b""] {
        assert_eq!(rust.event(deadline), OwnedEvent::Cancel(topic.to_vec()));
    }
    rust.closed(deadline);
    peer.finish();
}

const XSUB_TO_XPUB: &str = r#"
import sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.XSUB)
s.setsockopt(zmq.LINGER, 5000)
s.connect("tcp://127.0.0.1:%s" % sys.argv[1])
s.send(b"\x01news")
s.send(b"\x01")
s.send(b"\x02not a subscription")
s.send(b"\x00news")
s.close()
ctx.term()
"#;

/// libzmq's XSUB sends subscriptions in the 3.0 form (`0x01`/`0x00` data frames) even to 3.1
/// peers; other upstream messages stay data.
#[test]
fn xpub_sees_libzmq_xsub_subscription_messages() {
    let deadline = deadline();
    let (peer, mut rust, _listener) = connect_peer(
        "XSUB",
        XSUB_TO_XPUB,
        SessionConfig::new(SocketType::XPub),
        deadline,
    );
    assert_eq!(rust.ready(deadline), (SocketType::XSub, Vec::new()));
    assert_eq!(
        rust.event(deadline),
        OwnedEvent::Subscribe(b"news".to_vec())
    );
    assert_eq!(rust.event(deadline), OwnedEvent::Subscribe(Vec::new()));
    let data = rust.message(deadline);
    assert_eq!(data.len(), 1);
    assert_eq!(data[0].body, b"\x02not a subscription");
    assert_eq!(rust.event(deadline), OwnedEvent::Cancel(b"news".to_vec()));
    rust.closed(deadline);
    peer.finish();
}
