//! Attacker, round 8 (F3, F4): a sender of a message too large to store first (cut through)
//! that keeps the progress pace (20,000 B every 4.9 s of a 60 MiB message: about 4 KB/s)
//! held its receivers for as long as the message took, hours. One such raw producer per
//! worker stopped a streamer's or queue's 1 KB flow (0 of 6,000 in 25 s); one raw publisher
//! stopped every subscriber of a forwarder (0 of 16,982, all dropped at their marks). Now,
//! once another source waits for a receiver such a message holds, the rest of it is owed
//! within four progress timeouts, a part per 1.25 s (`core/src/device/peer.rs`,
//! `Peer::contend`): the hostile senders are aborted 1.25 s after the normal flow first
//! waits, and closed (`CloseReason::Overdue`), and the flow goes on.

use std::time::Duration;

use zedge_tests::broker::Broker;
use zedge_tests::normal::no_panic;
use zedge_tests::python::PyPeer;
use zedge_tests::zmq_prelude;

/// argv: kind, frontend, backend, hostile senders, seconds. Four libzmq readers (workers, or
/// subscribers of everything): two that keep up, a slow one and a stalled one; `hostile` raw
/// senders from 127.0.0.2, each a 60 MiB message at the pace, connecting again at once when
/// closed (streamer, queue) or not (forwarder); then a libzmq sender of numbered 1 KB
/// messages, 200 a second. Prints the outcome as JSON: per reader the numbers it got, and the
/// worst latency.
const AT_THE_PACE: &str = concat!(
    zmq_prelude!(),
    r#"
kind, fe, be = sys.argv[1], sys.argv[2], sys.argv[3]
hostile, secs = int(sys.argv[4]), float(sys.argv[5])
fwd, queue = kind == "forwarder", kind == "queue"
stop = threading.Event()
closed = [0]

def hostile_once():
    s = raw_null(fe, b"PUB" if fwd else (b"DEALER" if queue else b"PUSH"), src="127.0.0.2")
    if queue:
        s.sendall(b"\x01\x00")
    s.sendall(b"\x02" + struct.pack(">Q", 60 << 20))
    try:
        s.sendall(b"h" * (2 << 20))
        while not stop.wait(4.9):
            s.sendall(b"h" * 20000)
    except OSError:
        closed[0] += 1
    s.close()

def hostile_loop():
    while not stop.is_set():
        hostile_once()
        if fwd:
            return
        time.sleep(0.1)

got = {i: [] for i in range(4)}
worst = [0.0]
lock = threading.Lock()
def reader(i, s, pause, between):
    time.sleep(pause)
    s.setsockopt(zmq.RCVTIMEO, 200)
    while not stop.is_set():
        try:
            m = s.recv_multipart()
        except zmq.Again:
            continue
        k, at = m[-2].split(b" ")
        with lock:
            got[i].append(int(k))
            worst[0] = max(worst[0], time.monotonic() - float(at))
        if queue:
            s.send_multipart(m[:-1] + [b"ok"])
        time.sleep(between)

# Two readers that keep up, one slow (RCVHWM 1, 10 ms a message), one stalled (RCVHWM 1,
# a 4 KB window; as a subscriber it never reads, as a worker it reads nothing for the
# flow's first 1.5 s, then catches up).
kinds = [({}, 0, 0), ({}, 0, 0), ({"RCVHWM": 1}, 0, 0.01),
         ({"RCVHWM": 1, "RCVBUF": 4096}, 3600 if fwd else 3.5, 0)]
for i, (opts, pause, between) in enumerate(kinds):
    if fwd:
        r = sock(zmq.SUB, be, **({"RCVHWM": 0} if not opts else opts))
        r.subscribe(b"")
    else:
        r = sock(zmq.DEALER if queue else zmq.PULL, be, **opts)
    threading.Thread(target=reader, args=(i, r, pause, between), daemon=True).start()
time.sleep(0.5)
for _ in range(hostile):
    threading.Thread(target=hostile_loop, daemon=True).start()
time.sleep(1.0)
sender = sock(zmq.PUB if fwd else (zmq.DEALER if queue else zmq.PUSH), fe, SNDHWM=0)
time.sleep(0.5)
payload = b"x" * 1000
t0 = time.monotonic()
n = 0
while time.monotonic() - t0 < secs:
    sender.send_multipart(([b""] if queue else []) + [b"%d %.6f" % (n, time.monotonic()), payload])
    n += 1
    if queue:
        try:
            while True:
                sender.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            pass
    time.sleep(0.005)
time.sleep(3)
stop.set()
print(json.dumps({"sent": n, "got": [sorted(got[i]) for i in range(4)],
                  "worst": round(worst[0], 3), "closed": closed[0]}))
"#
);

/// What the script printed: messages sent, the numbers each reader got, worst latency.
fn run(kind: &str, hostile: u32, secs: u32) -> (usize, Vec<Vec<usize>>, f64, String) {
    let mut broker = Broker::start(kind, &[]);
    let argv: Vec<String> = [kind, broker.frontend(), broker.backend()]
        .iter()
        .map(|s| (*s).to_owned())
        .chain([hostile.to_string(), secs.to_string()])
        .collect();
    let out = PyPeer::spawn(kind, AT_THE_PACE, &argv, Duration::from_secs(120)).finish();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    let line = out.lines().last().unwrap_or_default().to_owned();
    let number = |name: &str| -> f64 {
        let rest = line.split(&format!("\"{name}\": ")).nth(1).unwrap_or("");
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        rest[..end].parse().unwrap_or(-1.0)
    };
    let lists = line.split("\"got\": [[").nth(1).unwrap_or("");
    let got: Vec<Vec<usize>> = lists
        .split("], [")
        .map(|l| {
            l.split(']')
                .next()
                .unwrap_or("")
                .split(", ")
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .collect();
    assert!(
        stderr.contains("did not all come within four progress timeouts"),
        "{kind}: no hostile sender closed as overdue: {line}\n{stderr}"
    );
    (number("sent") as usize, got, number("worst"), line)
}

/// Streamer or queue: four hostile senders hold the four workers, and come back each time
/// they are closed. Every message of the normal flow reaches one of the four workers (the slow
/// and the stalled ones included), once, none later than 4 s after it was sent (each hostile
/// connection holds its worker 1.25 s after the flow first waits for it; the stalled worker's
/// share waits 1.5 s more).
fn streamer_or_queue(kind: &str) {
    let (sent, got, worst, line) = run(kind, 4, 8);
    let mut every: Vec<usize> = got.concat();
    every.sort_unstable();
    assert_eq!(every, (0..sent).collect::<Vec<_>>(), "{kind}: {line}");
    assert!(worst < 4.0, "{kind}: worst latency {worst} s: {line}");
}

#[test]
fn a_streamer_goes_on_beside_a_sender_at_the_pace_per_worker() {
    streamer_or_queue("streamer");
}

#[test]
fn a_queue_goes_on_beside_a_client_at_the_pace_per_worker() {
    streamer_or_queue("queue");
}

/// Forwarder: a hostile publisher's message holds every subscriber. It is aborted 1.25 s
/// after the normal publisher's first message is held back for them, and the subscribers it
/// had reached are reset (ZMTP cannot take a part-written message back), losing what was
/// queued for them; libzmq's SUBs reconnect. From 4 s on (the abort, the reconnect, the
/// subscription again), each of the two that keep up gets every message, in order, beside a
/// slow subscriber and one that never reads.
#[test]
fn a_forwarder_goes_on_beside_a_publisher_at_the_pace() {
    let (sent, got, _, line) = run("forwarder", 1, 8);
    let from = 4 * 200 * 9 / 10;
    assert_eq!(got.len(), 4, "{line}");
    for (i, g) in got.iter().take(2).enumerate() {
        let late: Vec<usize> = g.iter().copied().filter(|&k| k >= from).collect();
        assert_eq!(
            late,
            (from..sent).collect::<Vec<_>>(),
            "subscriber {i} from message {from}: {line}"
        );
    }
}
