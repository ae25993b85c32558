//! Each device over IPC with a 16 MiB multipart message, and over TCP with libzmq heartbeats:
//! real libzmq peers (pyzmq scripts), one script per device.

use std::time::Duration;

use zedge_tests::broker::{Broker, Ep};
use zedge_tests::PyPeer;

const BUDGET: Duration = Duration::from_secs(40);

/// Argument 1 names the device; 2 and 3 are the broker's frontend and backend. Sends one
/// message of three parts, the middle one 16 MiB of random bytes, through the device and
/// compares the SHA-256 of every part on arrival.
const BIG_MESSAGE: &str = r#"
import hashlib, os, sys, time, zmq
device, fe, be = sys.argv[1:4]
ctx = zmq.Context()
def sock(kind, ep):
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 5000)
    s.setsockopt(zmq.RCVTIMEO, 20000)
    s.setsockopt(zmq.SNDTIMEO, 20000)
    s.connect(ep)
    return s
def digests(parts):
    return [hashlib.sha256(p).hexdigest() for p in parts]
big = [b"head", os.urandom(16 << 20), b"tail"]
want = digests(big)

if device == "streamer":
    push, pull = sock(zmq.PUSH, fe), sock(zmq.PULL, be)
    push.send_multipart(big)
    got = pull.recv_multipart()
    assert [len(p) for p in got] == [len(p) for p in big], [len(p) for p in got]
    assert digests(got) == want, "16 MiB message corrupted"
elif device == "queue":
    client, worker = sock(zmq.DEALER, fe), sock(zmq.REP, be)
    client.send_multipart([b""] + big)
    req = worker.recv_multipart()
    assert digests(req) == want, ("request corrupted", [len(p) for p in req])
    worker.send_multipart(req + [b"done"])
    rep = client.recv_multipart()
    assert rep[0] == b"" and rep[-1] == b"done", [len(p) for p in rep]
    assert digests(rep[1:-1]) == want, "reply corrupted"
elif device == "forwarder":
    pub, sub = sock(zmq.PUB, fe), sock(zmq.SUB, be)
    pub.setsockopt(zmq.SNDHWM, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"head")
    end = time.monotonic() + 20
    while True:  # subscriptions travel asynchronously: publish until one arrives
        assert time.monotonic() < end, "subscription never reached the publisher"
        pub.send_multipart([b"head", b"warm"])
        if sub.poll(50):
            sub.recv_multipart()
            break
    pub.send_multipart(big)
    while True:
        got = sub.recv_multipart()
        if got[1:] != [b"warm"]:
            break
    assert [len(p) for p in got] == [len(p) for p in big], [len(p) for p in got]
    assert digests(got) == want, "16 MiB message corrupted"
print(want[1])
ctx.destroy(linger=0)
"#;

fn big_message_over_ipc(device: &str) {
    let broker = Broker::start_with(device, &[Ep::Ipc], &[Ep::Ipc], &[]);
    let args = [
        device.to_owned(),
        broker.frontend().to_owned(),
        broker.backend().to_owned(),
    ];
    let out = PyPeer::spawn(device, BIG_MESSAGE, &args, BUDGET).finish();
    assert_eq!(out.trim().len(), 64, "no digest printed: {out:?}");
    broker.stop();
}

#[test]
fn streamer_passes_a_16_mib_message_over_ipc() {
    big_message_over_ipc("streamer");
}

#[test]
fn queue_passes_a_16_mib_message_both_ways_over_ipc() {
    big_message_over_ipc("queue");
}

#[test]
fn forwarder_passes_a_16_mib_message_over_ipc() {
    big_message_over_ipc("forwarder");
}

/// Argument 1 names the device; 2 and 3 are the broker's endpoints. Both peers heartbeat
/// every 100 ms; traffic, 2 s of silence (only heartbeats), traffic again; neither socket's
/// monitor may report a disconnection.
const HEARTBEATS: &str = r#"
import sys, time, zmq
from zmq.utils.monitor import recv_monitor_message
device, fe, be = sys.argv[1:4]
ctx = zmq.Context()
monitors = []
def sock(kind, ep):
    s = ctx.socket(kind)
    s.setsockopt(zmq.HEARTBEAT_IVL, 100)
    s.setsockopt(zmq.HEARTBEAT_TIMEOUT, 300)
    s.setsockopt(zmq.HEARTBEAT_TTL, 500)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 10000)
    s.setsockopt(zmq.SNDTIMEO, 10000)
    monitors.append((s, s.get_monitor_socket()))
    s.connect(ep)
    return s

if device == "streamer":
    a, b = sock(zmq.PUSH, fe), sock(zmq.PULL, be)
    def flow(tag):
        a.send(tag)
        assert b.recv() == tag
elif device == "queue":
    a, b = sock(zmq.DEALER, fe), sock(zmq.REP, be)
    def flow(tag):
        a.send_multipart([b"", tag])
        b.send_multipart(b.recv_multipart() + [b"ok"])
        assert a.recv_multipart() == [b"", tag, b"ok"]
elif device == "forwarder":
    a, b = sock(zmq.PUB, fe), sock(zmq.SUB, be)
    b.setsockopt(zmq.SUBSCRIBE, b"")
    def flow(tag):
        end = time.monotonic() + 10
        while True:
            assert time.monotonic() < end, "nothing arrived"
            a.send(tag)
            if b.poll(50) and b.recv() == tag:
                return

flow(b"first")
time.sleep(2.0)
flow(b"second")
for s, mon in monitors:
    events = []
    while mon.poll(100):
        events.append(zmq.Event(recv_monitor_message(mon)["event"]).name)
    print(s.socket_type, events)
    assert "DISCONNECTED" not in events, events
    assert events.count("HANDSHAKE_SUCCEEDED") == 1, events
    s.disable_monitor()
    mon.close()
    s.close()
ctx.term()
"#;

fn heartbeats_keep_peers_connected(device: &str) {
    let broker = Broker::start(device, &["--heartbeat-ivl", "100"]);
    let args = [
        device.to_owned(),
        broker.frontend().to_owned(),
        broker.backend().to_owned(),
    ];
    PyPeer::spawn(device, HEARTBEATS, &args, BUDGET).finish();
    broker.stop();
}

#[test]
fn streamer_keeps_heartbeating_libzmq_peers_connected() {
    heartbeats_keep_peers_connected("streamer");
}

#[test]
fn queue_keeps_heartbeating_libzmq_peers_connected() {
    heartbeats_keep_peers_connected("queue");
}

#[test]
fn forwarder_keeps_heartbeating_libzmq_peers_connected() {
    heartbeats_keep_peers_connected("forwarder");
}
