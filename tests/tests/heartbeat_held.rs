//! Heartbeats and backpressure with real libzmq peers: a sender the device holds back (no
//! worker has room, or none is there) is not taken for dead while its PONGs wait, unread,
//! behind its messages; everything it sent reaches the worker that comes. (The attacker
//! session found producers closed after the heartbeat timeout and their messages lost,
//! uncounted.)

use std::time::Duration;

use zedge_tests::broker::Broker;
use zedge_tests::PyPeer;

/// argv: kind, frontend, backend, seconds with no worker. Sends 1 KB messages without
/// blocking for that long (a stalled worker takes some first and is closed as dead), then
/// connects a worker (a queue's answers each request) and prints what it got.
const HELD: &str = r#"
import sys, time, struct, threading, zmq
kind, fe, be, hold = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
ctx = zmq.Context()
def sock(t, ep, **opts):
    s = ctx.socket(t)
    s.setsockopt(zmq.LINGER, 0)
    for k, v in opts.items():
        s.setsockopt(getattr(zmq, k), v)
    s.connect(ep)
    return s
if kind == "streamer":
    sender = sock(zmq.PUSH, fe)
    stalled = sock(zmq.PULL, be, RCVHWM=10, RCVBUF=4096)
else:
    # It never reads its replies: no receive limit, so that libzmq keeps reading them (and
    # the device's PINGs) off the socket.
    sender = sock(zmq.DEALER, fe, RCVHWM=0)
    stalled = sock(zmq.DEALER, be, RCVHWM=10, RCVBUF=4096)
time.sleep(0.3)
n, t0 = 0, time.time()
while time.time() - t0 < hold:
    try:
        sender.send_multipart([b"", struct.pack("<Q", n) + b"p" * 1000] if kind == "queue"
                              else [struct.pack("<Q", n) + b"p" * 1000], zmq.NOBLOCK)
        n += 1
    except zmq.Again:
        time.sleep(0.001)
stalled.close()
if kind == "streamer":
    worker = sock(zmq.PULL, be)
else:
    worker = sock(zmq.DEALER, be)
got = set()
while worker.poll(3000):
    m = worker.recv_multipart()
    got.add(struct.unpack_from("<Q", m[-1])[0])
    if kind == "queue":
        # A worker answers: the device gives one at most `worker_inflight` unanswered.
        worker.send_multipart(m)
# What the stalled worker had taken (in its socket buffers) went with it; the rest must all
# be here: the last message sent, and every one after the first the fresh worker got.
lo = min(got) if got else n
missing = [i for i in range(lo, n) if i not in got]
print("sent", n, "got", len(got), "missing_after_first", len(missing), "last", (n - 1) in got)
"#;

fn held_senders_survive_the_heartbeat(kind: &str) {
    let broker = Broker::start(
        kind,
        &["--heartbeat-ivl", "500ms", "--heartbeat-timeout", "1500ms"],
    );
    let args: Vec<String> = [kind, broker.frontend(), broker.backend(), "6"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let out = PyPeer::spawn(kind, HELD, &args, Duration::from_secs(60)).finish();
    let log = broker.stderr();
    assert!(
        out.contains("missing_after_first 0 last True"),
        "{kind}: {out}\n{log}"
    );
    let closed: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("frontend") && l.contains("heartbeat"))
        .collect();
    assert!(
        closed.is_empty(),
        "{kind}: a held sender was closed: {closed:?}"
    );
}

#[test]
fn a_producer_held_back_longer_than_the_heartbeat_timeout_keeps_its_messages() {
    held_senders_survive_the_heartbeat("streamer");
}

#[test]
fn a_client_held_back_longer_than_the_heartbeat_timeout_keeps_its_requests() {
    held_senders_survive_the_heartbeat("queue");
}
