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

/// argv: frontend, backend, message bytes, link bytes a second, seconds. A libzmq PULL worker
/// behind a slow link (a proxy that reads the broker's side through a 4 KB receive buffer, so
/// that what the link has not carried waits in the broker's socket and queue, as behind a
/// real radio link, and passes it on at that rate; the other way unpaced), and a PUSH
/// producer of one message; prints whether the worker got it whole.
const ONE_OVER_A_SLOW_LINK: &str = r#"
import socket, sys, threading, time, zmq
fe, be, size, rate, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
host, port = be[len("tcp://"):].rsplit(":", 1)
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
def link():
    worker, _ = listener.accept()
    up = socket.socket()
    up.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    up.connect((host, int(port)))
    def back():
        while True:
            d = worker.recv(65536)
            if not d:
                return
            up.sendall(d)
    threading.Thread(target=back, daemon=True).start()
    while True:
        t = time.monotonic()
        d = up.recv(rate // 20)
        if not d:
            return
        worker.sendall(d)
        time.sleep(max(0, 0.05 - (time.monotonic() - t)))
threading.Thread(target=link, daemon=True).start()
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)
pull.connect("tcp://127.0.0.1:%d" % listener.getsockname()[1])
push = ctx.socket(zmq.PUSH)
push.setsockopt(zmq.LINGER, 0)
push.connect(fe)
time.sleep(0.5)
t0 = time.monotonic()
push.send(b"s" * size)
got = pull.poll(int(secs * 1000)) and pull.recv()
print("got", len(got) if got else 0, "after %.1f s" % (time.monotonic() - t0))
"#;

/// A worker behind a link of 80 KB/s is given a 600 KB message under heartbeats of 500 ms
/// and a 1.5 s timeout. Our PINGs wait behind the message in its socket, and its PONGs come
/// only once it has read that far: it was closed as silent mid-message, and the message lost
/// (attacker round 8, F6). Its socket taking what it is sent counts as hearing from it: it
/// gets the message whole, about 8 s later, and is not closed.
#[test]
fn a_worker_on_a_slow_link_is_not_taken_for_dead_while_it_takes_a_large_message() {
    let broker = Broker::start(
        "streamer",
        &["--heartbeat-ivl", "500ms", "--heartbeat-timeout", "1500ms"],
    );
    let size = 600_000;
    let args: Vec<String> = [broker.frontend(), broker.backend()]
        .iter()
        .map(|s| (*s).to_owned())
        .chain([size.to_string(), "80000".to_owned(), "30".to_owned()])
        .collect();
    let out = PyPeer::spawn(
        "slow-link",
        ONE_OVER_A_SLOW_LINK,
        &args,
        Duration::from_secs(60),
    )
    .finish();
    let log = broker.stderr();
    assert!(out.contains(&format!("got {size}")), "{out}\n{log}");
    assert!(
        !log.contains("heartbeat"),
        "the worker was taken for dead:\n{log}"
    );
}
