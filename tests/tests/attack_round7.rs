//! Attacker, round 7: a queue's or streamer's worker that never reads, given a message too
//! large to store first (cut through), held its sender in the middle of it for as long as it
//! stayed connected: a producer of 4 MiB messages beside a raw PULL worker with a 4 KB receive
//! buffer got 1 message to its live worker in 30 s (0ba156d, 0996eaf: 0 of 16 in 8 s here).
//! Now a worker that holds its sender mid-message and takes less than `PROGRESS_BYTES` of it
//! per progress timeout is closed (`core/src/device/deaf.rs`): that message is lost, counted
//! (`aborted`, `zedge_peers_closed_total{reason="unread"}`), and the others go on. The hostile
//! worker connects again as soon as it is closed, from the same address (127.0.0.2): round 8
//! found each new connection given the next large message, holding the producer again (5
//! messages in 30 s to the normal worker instead of 7,000). Now its address is struck, and its
//! connections get a message cut through only when no other worker can take it: one message
//! lost in all.
//!
//! Beside the hostile worker, the normal flow has a libzmq worker reading at once, a slow one
//! (a message every 0.3 s) and a stalled one (reads nothing for 3 s, less than the progress
//! timeout, then catches up): every message but the hostile's reaches one of them, once, in
//! order per worker.

use std::time::Duration;

use zedge_tests::broker::Broker;
use zedge_tests::normal::no_panic;
use zedge_tests::python::PyPeer;
use zedge_tests::zmq_prelude;

/// argv: kind, frontend, backend, messages, size. Prints the outcome as JSON.
const DEAF_WORKER: &str = concat!(
    zmq_prelude!(),
    r#"
kind, fe, be = sys.argv[1], sys.argv[2], sys.argv[3]
N, SIZE = int(sys.argv[4]), int(sys.argv[5])

def raw_worker(socket_type):
    """Handshakes as a worker (NULL) from 127.0.0.2 and never reads; its receive buffer is
    4 KB."""
    return raw_null(be, socket_type, src="127.0.0.2", rcvbuf=4096)

queue = kind == "queue"
worker_type = zmq.DEALER if queue else zmq.PULL
got = {"normal": [], "slow": [], "stalled": []}
lock = threading.Lock()
stop = threading.Event()
deaf_connections = [0]

def deaf_again_and_again():
    """The hostile worker: connects again as soon as it is closed."""
    import select
    while not stop.is_set():
        s = raw_worker(b"DEALER" if queue else b"PULL")
        deaf_connections[0] += 1
        p = select.poll()
        p.register(s, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
        while not stop.is_set() and not p.poll(100):
            pass
        s.close()

threading.Thread(target=deaf_again_and_again, daemon=True).start()
latest = [time.monotonic()]

def reader(name, s, pause_first, between):
    time.sleep(pause_first)
    s.setsockopt(zmq.RCVTIMEO, 200)
    while not stop.is_set():
        try:
            m = s.recv_multipart()
        except zmq.Again:
            continue
        assert len(m[-1]) == SIZE and m[-1] == b"z" * SIZE, (name, len(m[-1]))
        with lock:
            got[name].append(int(m[-2]))
            latest[0] = time.monotonic()
        if queue:
            s.send_multipart(m[:-1] + [b"ok"])
        time.sleep(between)

workers = {
    "normal": (sock(worker_type, be), 0, 0),
    "slow": (sock(worker_type, be, RCVHWM=1, RCVBUF=65536), 0, 0.3),
    "stalled": (sock(worker_type, be, RCVHWM=1, RCVBUF=4096), 3.0, 0),
}
for name, (s, pause_first, between) in workers.items():
    threading.Thread(target=reader, args=(name, s, pause_first, between), daemon=True).start()
time.sleep(0.5)
producer = sock(zmq.DEALER if queue else zmq.PUSH, fe, SNDTIMEO=60000)
replies = []
def read_replies():
    # On the thread that sends: libzmq sockets are not thread-safe (a socket sent on and read
    # from by two threads at once trips libzmq's asserts).
    while queue:
        try:
            replies.append(int(producer.recv_multipart(zmq.NOBLOCK)[-2]))
        except zmq.Again:
            return
payload = b"z" * SIZE
started = latest[0] = time.monotonic()
for i in range(N):
    producer.send_multipart(([b""] if queue else []) + [b"%d" % i, payload])
    read_replies()
# Until nothing new came for 8 s, longer than the progress timeout (5 s).
while time.monotonic() - latest[0] < 8 and time.monotonic() - started < 100:
    time.sleep(0.2)
    read_replies()
stop.set()
every = sorted(got["normal"] + got["slow"] + got["stalled"])
print(json.dumps({
    "got": {k: len(v) for k, v in got.items()},
    "missing": sorted(set(range(N)) - set(every)),
    "repeated": len(every) - len(set(every)),
    "in_order": all(v == sorted(v) for v in got.values()),
    "replies": len(replies),
    "deaf_connections": deaf_connections[0],
    "last_after": round(latest[0] - started, 2),
}))
"#
);

/// The device `kind`, its three libzmq workers and the hostile one, and 12 messages of 8 MiB:
/// more than the hostile worker's kernel buffers and the device's queue for it take.
fn beside_a_worker_that_never_reads(kind: &str) {
    const N: usize = 12;
    let mut broker = Broker::start(kind, &[]);
    let argv: Vec<String> = [kind, broker.frontend(), broker.backend()]
        .iter()
        .map(|s| (*s).to_owned())
        .chain([N.to_string(), (8usize << 20).to_string()])
        .collect();
    let out = PyPeer::spawn(kind, DEAF_WORKER, &argv, Duration::from_secs(150)).finish();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    let line = out.lines().last().unwrap_or_default();
    eprintln!("{kind}: {line}");
    let field = |name: &str| {
        let at = line
            .find(&format!("\"{name}\": "))
            .map(|i| i + name.len() + 4);
        let rest = at.map_or("", |i| &line[i..]);
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        rest[..end].to_owned()
    };
    // One message, the one the hostile worker held, is lost; every other one arrived once.
    let missing = line
        .split("\"missing\": [")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .unwrap_or("?");
    assert!(
        !missing.is_empty() && !missing.contains(','),
        "{kind}: exactly one message lost (the hostile worker's): {line}\n{stderr}"
    );
    assert!(
        field("deaf_connections").parse::<u32>().unwrap_or(0) >= 2,
        "the hostile worker was closed and came back: {line}"
    );
    assert_eq!(field("repeated"), "0", "{line}");
    assert_eq!(field("in_order"), "true", "{line}");
    if kind == "queue" {
        assert_eq!(field("replies"), (N - 1).to_string(), "{line}");
    }
    assert!(
        stderr.contains("a worker that read too little of a message for the progress timeout"),
        "the hostile worker was closed, and said why:\n{stderr}"
    );
    assert!(
        stderr.contains("1 aborted"),
        "the lost message is counted:\n{stderr}"
    );
}

#[test]
fn a_streamer_worker_that_never_reads_holds_its_producer_one_progress_timeout_at_most() {
    beside_a_worker_that_never_reads("streamer");
}

#[test]
fn a_queue_worker_that_never_reads_holds_its_client_one_progress_timeout_at_most() {
    beside_a_worker_that_never_reads("queue");
}
