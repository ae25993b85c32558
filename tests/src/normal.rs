//! The normal flow an abuse test checks after its abuse: fresh libzmq peers on both sides of
//! a device exchange ten messages, and the broker is still running before and after.

use std::time::Duration;

use crate::broker::Broker;
use crate::PyPeer;

/// The flow's script. Arguments: device, frontend, backend. Fresh libzmq peers on both sides
/// exchange ten multipart messages (request/replies for the queue) and check every one.
const NORMAL_FLOW: &str = r#"
import sys, time, zmq
device, fe, be = sys.argv[1:4]
ctx = zmq.Context()
def sock(kind, ep):
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 10000)
    s.setsockopt(zmq.SNDTIMEO, 10000)
    s.connect(ep)
    return s
if device == "streamer":
    a, b = sock(zmq.PUSH, fe), sock(zmq.PULL, be)
    for i in range(10):
        a.send_multipart([b"ok", str(i).encode(), b"x" * (i * 100)])
    for i in range(10):
        assert b.recv_multipart() == [b"ok", str(i).encode(), b"x" * (i * 100)]
elif device == "queue":
    a, b = sock(zmq.REQ, fe), sock(zmq.REP, be)
    for i in range(10):
        a.send_multipart([b"ok", str(i).encode()])
        b.send_multipart(b.recv_multipart() + [b"r"])
        assert a.recv_multipart() == [b"ok", str(i).encode(), b"r"]
elif device == "forwarder":
    a, b = sock(zmq.PUB, fe), sock(zmq.SUB, be)
    b.setsockopt(zmq.SUBSCRIBE, b"ok")
    end = time.monotonic() + 10
    while True:
        assert time.monotonic() < end, "subscription never reached the publisher"
        a.send_multipart([b"ok", b"warm"])
        if b.poll(50):
            break
    for i in range(10):
        a.send_multipart([b"ok", str(i).encode()])
    got = []
    while len(got) < 10:
        m = b.recv_multipart()
        if m != [b"ok", b"warm"]:
            got.append(m)
    assert got == [[b"ok", str(i).encode()] for i in range(10)], got
ctx.destroy(linger=0)
print("flowed")
"#;

pub fn normal_flow(broker: &mut Broker, device: &str) {
    broker.assert_running();
    let args = [
        device.to_owned(),
        broker.frontend().to_owned(),
        broker.backend().to_owned(),
    ];
    let out = PyPeer::spawn("normal flow", NORMAL_FLOW, &args, Duration::from_secs(30)).finish();
    assert_eq!(out.trim(), "flowed");
    broker.assert_running();
}
