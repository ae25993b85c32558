//! The control endpoint's `PEERS` and `zedge peers` with real libzmq peers: every peer listed
//! with its side, address, socket type, ZMTP version and identity, its counters equal to the
//! traffic sent (and adding up to the sides' in `STATS`); a client flooding `PEERS` on a
//! device of hundreds of peers costs the device's flow nothing; the peer connect and
//! disconnect lines at info.

use std::time::{Duration, Instant};

use zedge_core::wire::metadata::SocketType;
use zedge_tests::agent::Agent;
use zedge_tests::broker::{free_port, tcp_addr, Broker};
use zedge_tests::control::flood_beside_flow;
use zedge_tests::raw;
use zedge_tests::systemd::zedge;
use zedge_tests::zmq_prelude;
use zedge_tests::PyPeer;

fn ep() -> String {
    format!("tcp://127.0.0.1:{}", free_port())
}

/// Queue traffic of known sizes (argv: frontend, backend, control), then `PEERS` and `STATS`,
/// checked against it; prints `OK` and the clients' addresses as the broker saw them.
const QUEUE_THEN_PEERS: &str = concat!(
    zmq_prelude!(),
    r#"

fe, be, ctl = sys.argv[1:4]

def worker(w):
    for _ in range(15):
        w.send_multipart(w.recv_multipart())

w = sock(zmq.REP, be)
t = threading.Thread(target=worker, args=(w,), daemon=True)
t.start()
req = sock(zmq.REQ, fe, ROUTING_ID=b"op-7")
dealer = sock(zmq.DEALER, fe)
for i in range(1, 11):
    req.send(b"x" * i)
    assert req.recv() == b"x" * i
for i in range(1, 6):
    dealer.send_multipart([b"", b"d" * i])
    assert dealer.recv_multipart() == [b"", b"d" * i]
t.join(T / 1000)
time.sleep(0.2)

c = sock(zmq.REQ, ctl)
c.send(b"PEERS")
answer = json.loads(c.recv())
c.send(b"STATS")
stats = json.loads(c.recv())
c.send(b"PEERS 2")
rest = json.loads(c.recv())
c.send(b"PEERS x")
bad = c.recv()

assert answer["kind"] == "queue" and answer["total"] == 3, answer
assert answer["listed"] == 3 and not answer["truncated"], answer
assert rest["from"] == 2 and rest["listed"] == 1 and len(rest["peers"]) == 1, rest
assert bad.startswith(b"ERROR"), bad
by_type = {p["socket_type"]: p for p in answer["peers"]}
assert sorted(by_type) == ["DEALER", "REP", "REQ"], answer
now = time.time()
for p in answer["peers"]:
    assert p["address"].startswith("127.0.0.1:"), p
    assert p["zmtp"] == "3.1", p
    assert 0 < p["connected_s"] < 60 and abs(now - p["connected_s"] - p["since"]) < 2, p
    assert p["queued_bytes"] == 0 and p["dropped"] == 0, p

r, d, rep = by_type["REQ"], by_type["DEALER"], by_type["REP"]
assert r["side"] == "frontend" and d["side"] == "frontend" and rep["side"] == "backend"
assert r["identity"] == b"op-7".hex() and d["identity"] is None and rep["identity"] is None
# Whole messages and body bytes: the client's delimiter is empty, its body i bytes.
assert (r["messages_in"], r["bytes_in"], r["messages_out"], r["bytes_out"]) == (10, 55, 10, 55), r
assert (d["messages_in"], d["bytes_in"], d["messages_out"], d["bytes_out"]) == (5, 15, 5, 15), d
# The worker's messages carry zedge's 9-byte routing frame both ways.
body = 15 * 9 + 55 + 15
assert (rep["messages_in"], rep["bytes_in"], rep["messages_out"], rep["bytes_out"]) == \
    (15, body, 15, body), rep
for side in ("frontend", "backend"):
    peers = [p for p in answer["peers"] if p["side"] == side]
    for key in ("messages_in", "bytes_in", "messages_out", "bytes_out"):
        assert sum(p[key] for p in peers) == stats[side][key], (side, key, peers, stats)
print("OK", r["address"], d["address"])
"#
);

#[test]
fn peers_lists_every_peer_with_its_facts_and_counters_equal_to_the_traffic() {
    let ctl = ep();
    let mut broker = Broker::start("queue", &["--control", &ctl]);
    let args = [
        broker.frontend().to_owned(),
        broker.backend().to_owned(),
        ctl.clone(),
    ];
    let out = PyPeer::spawn("traffic", QUEUE_THEN_PEERS, &args, Duration::from_secs(60)).finish();
    let line = out.lines().last().unwrap_or_default();
    assert!(line.starts_with("OK 127.0.0.1:"), "{out}");
    // The connect lines (at info, -v) name the same addresses.
    let stderr = broker.stderr();
    for addr in line.split(' ').skip(1) {
        assert!(
            stderr.contains(&format!("queue frontend {addr}: ")),
            "{addr}:\n{stderr}"
        );
    }
    assert!(
        stderr.contains(": REQ connected (ZMTP 3.1, identity \"op-7\")"),
        "{stderr}"
    );
    broker.assert_running();
}

#[test]
fn zedge_peers_prints_a_table_and_json() {
    let ctl = ep();
    let mut broker = Broker::start("streamer", &["--control", &ctl]);
    let mut pull = Agent::connect("pull", "PULL", broker.backend(), &[]);
    let mut push = Agent::connect("push", "PUSH", broker.frontend(), &[]);
    push.burst(30, &[b"0123456789"]);
    assert_eq!(pull.drain(30, Duration::from_secs(5)).len(), 30);
    let out = zedge(&["peers", "--control", &ctl]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "streamer: 2 peers", "{text}");
    assert!(lines[1].starts_with("  SIDE      ADDRESS"), "{text}");
    let row = |ty: &str| {
        lines
            .iter()
            .find(|l| l.contains(&format!(" {ty} ")))
            .unwrap_or_else(|| panic!("no {ty} row:\n{text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    // SIDE ADDRESS TYPE ZMTP UP MSGS-IN BYTES-IN(2) MSGS-OUT BYTES-OUT(2) QUEUED(2) DROPS
    let p = row("PUSH");
    assert_eq!(&p[..4], ["frontend", p[1], "PUSH", "3.1"], "{text}");
    assert!(p[1].starts_with("127.0.0.1:"), "{text}");
    // A burst's messages carry their number in a second frame: 30 x 10 + 10 + 20 x 2 bytes.
    assert_eq!(&p[5..8], ["30", "350", "B"], "{text}");
    let w = row("PULL");
    assert_eq!(&w[8..11], ["30", "350", "B"], "{text}");

    let out = zedge(&["peers", "--json", "--control", &ctl]);
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        json.starts_with("{\"device\":\"\",\"kind\":\"streamer\",\"total\":2,"),
        "{json}"
    );
    assert!(json.contains("\"socket_type\":\"PUSH\""), "{json}");

    // Nothing listening: a clear error, status 1.
    let out = zedge(&["peers", "--control", &ep()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("zedge peers: tcp://127.0.0.1:"), "{err}");
    assert!(err.contains("cannot connect"), "{err}");
    broker.assert_running();
}

#[test]
fn a_client_flooding_peers_on_a_device_of_many_peers_costs_its_flow_nothing() {
    let ctl = ep();
    let mut broker = Broker::start("streamer", &["--control", &ctl]);
    // 200 idle producers that finished their handshake (256 is the cap per address): every
    // answer lists them all.
    let deadline = Instant::now() + Duration::from_secs(30);
    let idle: Vec<_> = (0..200)
        .map(|_| raw::handshake(tcp_addr(broker.frontend()), SocketType::Push, deadline))
        .collect();
    let sent = flood_beside_flow(&broker, &ctl, "PEERS");
    assert!(sent > 100, "the flood sent only {sent} requests");
    // The operator still gets in, and sees them all (and the flow's two peers, if their
    // leaving is not seen yet).
    let mut req = Agent::connect("control", "REQ", &ctl, &[]);
    req.send(&[b"PEERS"]);
    let reply = req.recv(Duration::from_secs(5)).expect("an answer");
    let text = String::from_utf8_lossy(&reply[0]);
    assert!(
        ["200", "201", "202"]
            .iter()
            .any(|n| text.contains(&format!("\"total\":{n},"))),
        "{}",
        &text[..200.min(text.len())]
    );
    drop(idle);
    broker.assert_running();
}

#[test]
fn peers_connecting_and_leaving_are_logged_at_info_with_side_address_and_type() {
    let mut broker = Broker::start("streamer", &[]);
    let mut pull = Agent::connect("pull", "PULL", broker.backend(), &[]);
    let mut push = Agent::connect("push", "PUSH", broker.frontend(), &[]);
    push.burst(10, &[b"abcd"]);
    assert_eq!(pull.drain(10, Duration::from_secs(5)).len(), 10);
    push.close();
    let deadline = Instant::now() + Duration::from_secs(10);
    let gone = loop {
        let stderr = broker.stderr();
        if let Some(l) = stderr.lines().find(|l| l.contains("PUSH disconnected")) {
            break (l.to_owned(), stderr);
        }
        assert!(Instant::now() < deadline, "no disconnect line:\n{stderr}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let (line, stderr) = gone;
    assert!(
        line.contains(" INFO  streamer frontend 127.0.0.1:"),
        "{line}"
    );
    assert!(
        // 10 x 4 bytes, and each message's number in a frame of its own.
        line.ends_with("; moved 10 messages (50 B) in, 0 (0 B) out"),
        "{line}"
    );
    let addr = line
        .split_whitespace()
        .find(|w| w.starts_with("127.0.0.1:"))
        .unwrap_or_default();
    // `addr` ends with the line's colon.
    assert!(
        stderr.contains(&format!(
            "streamer frontend {addr} PUSH connected (ZMTP 3.1)"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(" INFO  streamer backend 127.0.0.1:")
            && stderr.contains(": PULL connected (ZMTP 3.1)"),
        "{stderr}"
    );
    broker.assert_running();
}
