//! Streams of large messages through the streamer and the queue, over TCP and IPC, with real
//! libzmq peers (pyzmq). Bodies of 16 KiB and more go from socket to socket through a pipe
//! (splice(2)) while smaller ones are copied; these tests mix both, from several senders to
//! several receivers at once, and check every byte.

use std::time::Duration;

use zedge_tests::broker::{Broker, Ep};
use zedge_tests::PyPeer;

const BUDGET: Duration = Duration::from_secs(60);

/// Argument 1 names the device; 2 and 3 are the broker's frontend and backend. Every message
/// is `[id, body]`: the id names its sender and number, and the body's length and bytes follow
/// from the id, so a receiver can check it alone. Sizes straddle the 16 KiB at which bodies
/// start going through a pipe, and reach 1 MiB.
const LARGE_STREAMS: &str = r#"
import hashlib, random, sys, time, zmq
device, fe, be = sys.argv[1:4]
SENDERS, RECEIVERS, PER_SENDER = 3, 3, 40
SIZES = [0, 7, 300, 16383, 16384, 16385, 65536, 65545, 100000, 300000, 1 << 20]
ctx = zmq.Context()

def sock(kind, ep):
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 5000)
    s.connect(ep)
    return s

def body(mid):
    rng = random.Random(mid)
    n = rng.choice(SIZES)
    seed = hashlib.sha256(mid).digest()
    return (seed * (n // 32 + 1))[:n]

def check(parts, where):
    assert len(parts) == 2, (where, [len(p) for p in parts])
    mid, b = parts
    assert b == body(mid), (where, mid, len(b), len(body(mid)))
    return mid

ids = [b"s%d-%d" % (s, i) for s in range(SENDERS) for i in range(PER_SENDER)]
total = sum(len(body(m)) for m in ids)

if device == "streamer":
    senders = [sock(zmq.PUSH, fe) for _ in range(SENDERS)]
    receivers = [sock(zmq.PULL, be) for _ in range(RECEIVERS)]
    time.sleep(0.3)  # every worker connected, so the work is spread
    # Interleaved: the broker has several senders mid-message at once.
    for i in range(PER_SENDER):
        for s, push in enumerate(senders):
            mid = b"s%d-%d" % (s, i)
            push.send_multipart([mid, body(mid)])
    poller = zmq.Poller()
    for r in receivers:
        poller.register(r, zmq.POLLIN)
    seen, per = {}, [0] * RECEIVERS
    end = time.monotonic() + 40
    while len(seen) < len(ids):
        assert time.monotonic() < end, "only %d of %d arrived" % (len(seen), len(ids))
        for r, _ in poller.poll(200):
            w = receivers.index(r)
            mid = check(r.recv_multipart(), "worker %d" % w)
            assert mid not in seen, ("delivered twice", mid)
            seen[mid] = w
            per[w] += 1
    time.sleep(0.3)
    for r in receivers:
        assert r.poll(0) == 0, "a message more than was sent"
    assert all(per), ("work not spread", per)
    # Each sender's messages reach each worker in the order they were sent.
    for s in range(SENDERS):
        for w in range(RECEIVERS):
            got = [int(m.split(b"-")[1]) for m in ids if m.startswith(b"s%d-" % s) and seen[m] == w]
            assert got == sorted(got), ("reordered", s, w)
elif device == "queue":
    clients = [sock(zmq.DEALER, fe) for _ in range(SENDERS)]
    workers = [sock(zmq.DEALER, be) for _ in range(RECEIVERS)]
    time.sleep(0.3)
    for i in range(PER_SENDER):
        for c, dealer in enumerate(clients):
            mid = b"s%d-%d" % (c, i)
            dealer.send_multipart([b"", mid, body(mid)])
    poller = zmq.Poller()
    for s in clients + workers:
        poller.register(s, zmq.POLLIN)
    replies, served = set(), [0] * RECEIVERS
    end = time.monotonic() + 40
    while len(replies) < len(ids):
        assert time.monotonic() < end, "only %d of %d replies" % (len(replies), len(ids))
        for s, _ in poller.poll(200):
            if s in workers:
                # A DEALER worker sees [routing..., b"", id, body] and sends it all back.
                parts = s.recv_multipart()
                check(parts[-2:], "request")
                served[workers.index(s)] += 1
                s.send_multipart(parts)
            else:
                c = clients.index(s)
                parts = s.recv_multipart()
                assert parts[0] == b"", parts[:1]
                mid = check(parts[1:], "reply to client %d" % c)
                assert mid.startswith(b"s%d-" % c), ("reply to the wrong client", c, mid)
                assert mid not in replies, ("reply twice", mid)
                replies.add(mid)
    assert all(served), ("requests not spread", served)
print("ok %d messages %d bytes" % (len(ids), total))
ctx.destroy(linger=0)
"#;

/// Argument 1 is the streamer's frontend, 2 its backend. A worker with a tiny receive buffer
/// that reads slowly (the broker's pipe drains a little at a time and waits on the socket),
/// then one that leaves while large messages are on their way to it: what it had not
/// received is lost with it, as in libzmq, but nothing reaches the next worker twice, out of
/// order or broken.
const SLOW_AND_LEAVING: &str = r#"
import hashlib, sys, time, zmq
fe, be = sys.argv[1:3]
ctx = zmq.Context()
def sock(kind, ep, small=False):
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 0)
    if small:
        s.setsockopt(zmq.RCVBUF, 4096)
        s.setsockopt(zmq.RCVHWM, 1)
    s.connect(ep)
    return s
def body(i, n=200000):
    seed = hashlib.sha256(b"%d" % i).digest()
    return (seed * (n // 32 + 1))[:n]
def check(parts):
    assert len(parts) == 2, [len(p) for p in parts]
    i = int(parts[0])
    assert parts[1] == body(i, len(parts[1])) and len(parts[1]) in (200000, 500000), ("broken", i)
    return i

push = sock(zmq.PUSH, fe)
push.setsockopt(zmq.LINGER, 5000)
slow = sock(zmq.PULL, be, small=True)
slow.setsockopt(zmq.RCVTIMEO, 20000)
time.sleep(0.3)
# 20 MB: more than the kernel buffers on the way hold, so the broker's pipe must wait.
for i in range(40):
    push.send_multipart([b"%d" % i, body(i, 500000)])
time.sleep(1)
for i in range(40):
    time.sleep(0.005)
    assert check(slow.recv_multipart()) == i
slow.close()

leaving = sock(zmq.PULL, be, small=True)
leaving.setsockopt(zmq.RCVTIMEO, 20000)
time.sleep(0.3)
for i in range(20, 60):
    push.send_multipart([b"%d" % i, body(i)])
got = [check(leaving.recv_multipart()) for _ in range(2)]
time.sleep(0.2)  # the broker is mid-message to it, its socket full
leaving.close()
after = sock(zmq.PULL, be)
after.setsockopt(zmq.RCVTIMEO, 20000)
for i in range(60, 70):
    push.send_multipart([b"%d" % i, body(i)])
seen = []
while not seen or seen[-1] != 69:
    seen.append(check(after.recv_multipart()))
assert seen == sorted(seen) and len(set(seen)) == len(seen), seen
assert not set(seen) & set(got), ("twice", set(seen) & set(got))
assert seen[-10:] == list(range(60, 70)), seen[-10:]
print("ok slow 40, leaving %d, after %d" % (len(got), len(seen)))
ctx.destroy(linger=0)
"#;

fn large_streams(device: &str, ep: Ep) {
    large_streams_with(device, ep, &[]);
}

fn large_streams_with(device: &str, ep: Ep, args: &[&str]) {
    let eps = [ep];
    let broker = Broker::start_with(device, &eps, &eps, args);
    let args = [
        device.to_owned(),
        broker.frontend().to_owned(),
        broker.backend().to_owned(),
    ];
    let out = PyPeer::spawn(device, LARGE_STREAMS, &args, BUDGET).finish();
    assert!(out.starts_with("ok 120 messages"), "{out:?}");
    broker.stop();
}

#[test]
fn streamer_carries_interleaved_large_messages_intact_over_tcp() {
    large_streams("streamer", Ep::Tcp);
}

#[test]
fn streamer_carries_interleaved_large_messages_intact_over_ipc() {
    large_streams("streamer", Ep::Ipc);
}

#[test]
fn queue_routes_large_requests_and_replies_intact_over_tcp() {
    large_streams("queue", Ep::Tcp);
}

#[test]
fn queue_routes_large_requests_and_replies_intact_over_ipc() {
    large_streams("queue", Ep::Ipc);
}

#[test]
fn streamer_copies_every_body_when_splicing_is_off() {
    large_streams_with("streamer", Ep::Tcp, &["--max-splices", "0"]);
}

#[test]
fn streamer_waits_for_a_slow_worker_and_survives_one_leaving_mid_message() {
    for ep in [Ep::Tcp, Ep::Ipc] {
        let eps = [ep];
        let broker = Broker::start_with("streamer", &eps, &eps, &[]);
        let args = [broker.frontend().to_owned(), broker.backend().to_owned()];
        let out = PyPeer::spawn("slow", SLOW_AND_LEAVING, &args, BUDGET).finish();
        assert!(out.starts_with("ok slow 40"), "{out:?}");
        broker.stop();
    }
}
