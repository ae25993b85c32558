//! The normal flows an abuse test checks beside or after its abuse: fresh libzmq peers on both
//! sides of a device exchange ten messages, and the broker is still running before and after;
//! a queue's echo worker and a client timing its round trips; the one-line reports they print,
//! and the drops a broker reports when it stops. Also the queue's bad client they are run
//! beside: one that floods large requests.

use std::net::TcpStream;
use std::thread::{self, JoinHandle};
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

/// Arguments: frontend, backend, N, the seconds the worker has to connect first (1 if left
/// out) and the requests' size (a few bytes if left out). A libzmq DEALER worker echoing every
/// request, then a REQ client making N round trips (each given 3 s). Prints
/// `answered=.. max_ms=..` ([`field`] reads them).
pub const QUEUE_WORKER_AND_CLIENT: &str = r#"
import sys, time, threading, zmq
fe, be, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
warm = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
size = int(sys.argv[5]) if len(sys.argv) > 5 else 0
ctx = zmq.Context()
w = ctx.socket(zmq.DEALER)
w.setsockopt(zmq.LINGER, 0)
w.connect(be)
stop = threading.Event()
def echo():
    while not stop.is_set():
        if w.poll(50):
            w.send_multipart(w.recv_multipart())
t = threading.Thread(target=echo)
t.start()
time.sleep(warm)
c = ctx.socket(zmq.REQ)
c.setsockopt(zmq.LINGER, 0)
c.setsockopt(zmq.RCVTIMEO, 3000)
c.connect(fe)
answered, worst = 0, 0.0
for i in range(n):
    body = (b"%08d" % i) * (size // 8) if size else b"req %d" % i
    t0 = time.monotonic()
    c.send(body)
    try:
        assert c.recv() == body
    except zmq.Again:
        break
    answered += 1
    worst = max(worst, time.monotonic() - t0)
    time.sleep(0.01)
stop.set()
t.join()
print("answered=%d max_ms=%.1f" % (answered, worst * 1000))
ctx.destroy(linger=0)
"#;

/// `key=value` from a script's one-line report, as a number.
pub fn field(out: &str, key: &str) -> f64 {
    out.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {out:?}"))
}

/// The counts of the report a device logs at stop: `dropped N messages while running: H above
/// a high-water mark, M for memory, ...`; zeros when it dropped nothing.
pub fn dropped_at_stop(stderr: &str) -> (u64, u64, u64) {
    let Some(line) = stderr
        .lines()
        .find(|l| l.contains("messages while running: "))
    else {
        return (0, 0, 0);
    };
    let number_before = |what: &str| -> u64 {
        let head = &line[..line
            .find(what)
            .unwrap_or_else(|| panic!("no {what:?}: {line}"))];
        let word = head.trim_end().rsplit(' ').next().unwrap_or("");
        word.parse()
            .unwrap_or_else(|_| panic!("no count before {what:?}: {line}"))
    };
    (
        number_before(" messages while running"),
        number_before(" above a high-water mark"),
        number_before(" for memory"),
    )
}

/// A queue client (`client`, a raw DEALER already handshaken) that sends `n` requests of
/// 64 KiB as fast as the broker takes them, each write given up after `write_timeout`; it
/// reads nothing itself. The thread gives the stream back when it is done.
pub fn flood_requests(
    mut client: TcpStream,
    n: usize,
    write_timeout: Duration,
) -> JoinHandle<TcpStream> {
    client
        .set_write_timeout(Some(write_timeout))
        .expect("write timeout");
    thread::spawn(move || {
        let body = vec![b'x'; 64 << 10];
        for _ in 0..n {
            if crate::write_message(&mut client, &[b"", &body]).is_err() {
                break;
            }
        }
        client
    })
}

/// Run [`QUEUE_WORKER_AND_CLIENT`] against `broker`: its worker connects, `warm_secs` later its
/// client makes `n` round trips; its one-line report (`answered=... max_ms=...`).
pub fn worker_and_client(broker: &Broker, n: u32, warm_secs: f64) -> String {
    let args = [
        broker.frontend().to_owned(),
        broker.backend().to_owned(),
        n.to_string(),
        warm_secs.to_string(),
    ];
    let out = PyPeer::spawn(
        "echo worker and client",
        QUEUE_WORKER_AND_CLIENT,
        &args,
        Duration::from_secs(90),
    )
    .finish();
    eprintln!("{}", out.trim());
    out
}

/// No panic anywhere in a broker's log.
pub fn no_panic(stderr: &str) {
    assert!(!stderr.contains("panicked"), "zedge panicked:\n{stderr}");
}

/// Message `seq` from sender `from`, `len` bytes: a tag, the sender, the number, then bytes
/// that depend on all three, so that a damaged, repeated or misrouted message shows.
pub fn tagged(tag: &[u8; 4], from: u8, seq: u32, len: usize) -> Vec<u8> {
    let mut m = tag.to_vec();
    m.push(from);
    m.extend(seq.to_be_bytes());
    let salt = u32::from(from) << 24 ^ seq;
    m.extend((m.len()..len).map(|i| (i as u32).wrapping_mul(31).wrapping_add(salt) as u8));
    m
}

/// The sender and number of a message made by [`tagged`], if it is one, undamaged.
pub fn untag(tag: &[u8; 4], m: &[u8]) -> Option<(u8, u32)> {
    if m.len() < 9 || &m[..4] != tag {
        return None;
    }
    let (from, seq) = (m[4], u32::from_be_bytes([m[5], m[6], m[7], m[8]]));
    (tagged(tag, from, seq, m.len()) == m).then_some((from, seq))
}

/// The numbers of the `tagged(b"work", ..)` messages a raw PULL or SUB reads until it has
/// read nothing for `idle`.
pub fn read_work(s: &mut TcpStream, idle: Duration) -> Vec<u32> {
    let mut got = Vec::new();
    while let Ok((_, body)) = crate::raw::next_data_frame(s, std::time::Instant::now() + idle) {
        if let Some((_, seq)) = untag(b"work", &body) {
            got.push(seq);
        }
    }
    got
}
