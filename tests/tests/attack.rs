//! The attacker and the bad radio link: what one slow, stalled or hostile peer (or a bad
//! config, or a signal) can still cost the other peers or the process, through the real
//! binary. Each test asserts what the innocent side must still get: every message, within
//! the isolation bound (100 ms), the process alive, no panic, memory bounded, a clear error.
//!
//! Tests marked `#[ignore = "bug: ..."]` fail today; the reason says what was measured. Those
//! marked `#[ignore = "probe: ..."]` pass, but too rarely under load to assert on a shared
//! machine: run them by hand (`-- --ignored --exact NAME --nocapture`) to measure. The others
//! pass and are kept as regression tests (each a few seconds at most).
//!
//! The process's edges (connection storms, descriptors, signals, reloads, config values) are
//! in `attack_ops.rs`. Known and worked on elsewhere, so not here: subscription leave/replay in one turn,
//! subscribe/cancel churn, per-connection shares, the quadratic scan of incomplete messages,
//! one copy per subscriber, the run-time memory budget (see `isolation.rs`).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use zedge_core::wire::greeting::GREETING_LEN;
use zedge_core::wire::metadata::SocketType;
use zedge_tests::broker::Broker;
use zedge_tests::flow::{retry_latency, Flow, FlowResult, FlowSpec, ISOLATION_MS};
use zedge_tests::normal::{field, flood_requests, no_panic, normal_flow, worker_and_client};
use zedge_tests::raw;
use zedge_tests::wait::deadline;
use zedge_tests::{zmq_prelude, PyPeer};

const KIB: usize = 1 << 10;

// ---------------------------------------------------------------------------------------------
// ZMTP parsing: odd but valid input is taken, broken input closes only its own connection.
// ---------------------------------------------------------------------------------------------

/// A greeting with `edit` applied to it.
fn greeting_with(edit: impl Fn(&mut [u8; GREETING_LEN])) -> Vec<u8> {
    let mut g = raw::greeting();
    edit(&mut g);
    g.to_vec()
}

/// A command frame: name and body.
fn command(name: &[u8], body: &[u8]) -> Vec<u8> {
    let mut b = vec![name.len() as u8];
    b.extend_from_slice(name);
    b.extend_from_slice(body);
    let mut out = raw::command_head(b.len() as u64);
    out.extend(b);
    out
}

/// A metadata property.
fn prop(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut p = vec![name.len() as u8];
    p.extend_from_slice(name);
    p.extend_from_slice(&(value.len() as u32).to_be_bytes());
    p.extend_from_slice(value);
    p
}

fn ready_with(props: &[Vec<u8>]) -> Vec<u8> {
    command(b"READY", &props.concat())
}

/// The broker's greeting and READY arrive on `s`, and it stays open for `settle`.
fn handshake_completes(s: &mut TcpStream, what: &str) {
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    let mut g = [0u8; GREETING_LEN];
    s.read_exact(&mut g)
        .unwrap_or_else(|e| panic!("{what}: no greeting from the broker: {e}"));
    let (flags, body) =
        raw::read_frame(s).unwrap_or_else(|e| panic!("{what}: no READY from the broker: {e}"));
    assert!(
        flags & 0x04 != 0 && body.starts_with(b"\x05READY"),
        "{what}: the broker's first command is not READY: {body:?}"
    );
    let (closed, _) = raw::closed_by(s, Instant::now() + Duration::from_millis(200));
    assert!(!closed, "{what}: the broker closed a valid peer");
}

#[test]
fn odd_but_valid_greetings_and_ready_commands_are_taken() {
    let mut broker = Broker::start("streamer", &["--heartbeat-ivl", "0"]);
    let push = raw::ready(SocketType::Push);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // A newer version is answered as 3.x (ZMTP: the lower version wins).
        ("major version 4", greeting_with(|g| g[10] = 4)),
        ("minor version 255", greeting_with(|g| g[11] = 255)),
        (
            "as-server set on a NULL greeting",
            greeting_with(|g| g[32] = 1),
        ),
        ("as-server 0xff", greeting_with(|g| g[32] = 0xff)),
        (
            "junk in the filler",
            greeting_with(|g| g[40..64].fill(0xaa)),
        ),
        (
            "junk in the signature padding",
            greeting_with(|g| g[1..9].fill(1)),
        ),
    ]
    .into_iter()
    .map(|(what, mut g)| {
        g.extend_from_slice(&push);
        (what, g)
    })
    .collect();
    let st = prop(b"Socket-Type", b"PUSH");
    let mut readies: Vec<(&str, Vec<u8>)> = vec![
        (
            "Socket-Type twice",
            ready_with(&[st.clone(), prop(b"Socket-Type", b"PUSH")]),
        ),
        (
            "Socket-Type in lower case",
            ready_with(&[prop(b"socket-type", b"PUSH")]),
        ),
        (
            "an Identity of 255 bytes",
            ready_with(&[st.clone(), prop(b"Identity", &[7; 255])]),
        ),
        (
            "unknown X- properties",
            ready_with(&[st.clone(), prop(b"X-Foo", b""), prop(b"X-Bar", &[0; 1000])]),
        ),
    ];
    for (what, ready) in readies.drain(..) {
        let mut bytes = raw::greeting().to_vec();
        bytes.extend(ready);
        let mut s = raw::connect(broker.frontend_addr(), deadline(10));
        s.write_all(&bytes).expect("write");
        handshake_completes(&mut s, what);
    }
    for (what, bytes) in cases {
        let mut s = raw::connect(broker.frontend_addr(), deadline(10));
        s.write_all(&bytes).expect("write");
        handshake_completes(&mut s, what);
    }
    normal_flow(&mut broker, "streamer");
    no_panic(&broker.stderr());
    broker.stop();
}

#[test]
fn broken_handshakes_and_commands_close_only_their_own_connection() {
    let mut broker = Broker::start("streamer", &["--heartbeat-ivl", "0"]);
    let st = prop(b"Socket-Type", b"PUSH");
    let before: Vec<(&str, Vec<u8>)> = vec![
        ("READY without properties", ready_with(&[])),
        (
            "READY with a 1 MiB property",
            ready_with(&[st.clone(), prop(b"X-Big", &vec![b'A'; 1 << 20])]),
        ),
        ("READY whose property length says 2^32-1", {
            let mut body = st.clone();
            body.extend_from_slice(b"\x01X\xff\xff\xff\xff");
            ready_with(&[body])
        }),
        (
            "READY with an empty property name",
            ready_with(&[st.clone(), prop(b"", b"v")]),
        ),
        (
            "an Identity of 256 bytes",
            ready_with(&[st.clone(), prop(b"Identity", &[7; 256])]),
        ),
        ("a command header of 2^63 bytes instead of READY", {
            let mut b = vec![0x06];
            b.extend_from_slice(&(1u64 << 63).to_be_bytes());
            b.extend_from_slice(&[0; 100]);
            b
        }),
    ];
    for (what, tail) in before {
        let mut bytes = raw::greeting().to_vec();
        bytes.extend(tail);
        let mut s = raw::connect(broker.frontend_addr(), deadline(10));
        let _ = s.write_all(&bytes);
        let (closed, _) = raw::closed_by(&mut s, Instant::now() + Duration::from_secs(5));
        assert!(closed, "the broker kept a peer that sent {what}");
    }
    let after: Vec<(&str, Vec<u8>)> = vec![
        ("a second READY", raw::ready(SocketType::Push)),
        ("frame flags 0x08", b"\x08\x03abc".to_vec()),
        ("frame flags 0x80", b"\x80\x03abc".to_vec()),
        ("a command with MORE", b"\x05\x03abc".to_vec()),
        ("a command with an empty name", b"\x04\x01\x00".to_vec()),
        (
            "a command name longer than its frame",
            b"\x04\x02\xc8A".to_vec(),
        ),
        ("an empty command frame", b"\x04\x00".to_vec()),
        (
            "an unknown command of 1 MiB",
            command(b"HELLO", &vec![0; 1 << 20]),
        ),
        ("a command header of 2^63 bytes", {
            let mut b = vec![0x06];
            b.extend_from_slice(&(1u64 << 63).to_be_bytes());
            b.extend_from_slice(&[0; 100]);
            b
        }),
        ("ERROR", command(b"ERROR", b"\x03bad")),
        (
            "ERROR with a truncated reason",
            command(b"ERROR", b"\xffbad"),
        ),
        ("PING with 17 bytes of context", command(b"PING", &[0; 19])),
        (
            "PING with 1 MiB of context",
            command(b"PING", &vec![0; 1 << 20]),
        ),
        ("PING without its TTL", command(b"PING", b"\x00")),
    ];
    for (what, tail) in after {
        let mut s = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
        let _ = s.write_all(&tail);
        let (closed, _) = raw::closed_by(&mut s, Instant::now() + Duration::from_secs(5));
        assert!(closed, "the broker kept a peer that sent {what}");
    }
    normal_flow(&mut broker, "streamer");
    no_panic(&broker.stderr());
    broker.stop();
}

#[test]
fn a_half_close_after_a_message_delivers_it_and_a_reset_mid_frame_costs_nothing() {
    let mut broker = Broker::start("streamer", &["--heartbeat-ivl", "0"]);
    let mut w =
        zedge_tests::agent::Agent::connect("worker", "PULL", broker.backend(), &["monitor"]);
    assert!(w.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    // Writes a message, then shuts its writing half: the message must still go through.
    let mut s = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
    raw::send_message(&mut s, &[b"half", b"closed"]);
    s.shutdown(Shutdown::Write).expect("shutdown write");
    assert_eq!(
        w.recv(Duration::from_secs(10)),
        Some(vec![b"half".to_vec(), b"closed".to_vec()]),
        "a message followed by a half-close was lost"
    );
    // A reset in the middle of a large frame: the PONG to our PING is left unread, so the
    // kernel answers our close with RST rather than FIN.
    let mut r = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
    let mut bytes = raw::ping(0, b"unread");
    bytes.extend(raw::data_head(4, true));
    bytes.extend_from_slice(b"part");
    bytes.extend(raw::data_head(500_000, false));
    bytes.extend(vec![0x5a; 100_000]);
    r.write_all(&bytes).expect("write part of a message");
    thread::sleep(Duration::from_millis(100));
    drop(r);
    drop(s);
    let leftover = w.drain(10, Duration::from_millis(300));
    assert!(leftover.is_empty(), "the worker got pieces: {leftover:?}");
    w.close();
    normal_flow(&mut broker, "streamer");
    no_panic(&broker.stderr());
    broker.stop();
}

// ---------------------------------------------------------------------------------------------
// Heartbeats: a peer that pings without end and never reads.
// ---------------------------------------------------------------------------------------------

/// A 200 msgs/s streamer flow while a raw PUSH peer on the same frontend writes PINGs
/// without end, 4096 per write; it reads its PONGs (and drops them) if `reads`. The broker's
/// memory must not grow, whatever it is sent. A PING owes a PONG: the PINGs must cost the
/// pinger its turns and not the others theirs.
fn pinging_nonstop(reads: bool) -> FlowResult {
    let broker = Broker::start("streamer", &[]);
    let mut flow = Flow::start(
        "streamer",
        broker.frontend(),
        broker.backend(),
        FlowSpec::ticks(200, 2.0),
    );
    let before = broker.rss_kib();
    let s = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
    let stop = Arc::new(AtomicBool::new(false));
    let pinger = {
        let stop = Arc::clone(&stop);
        let mut s = s.try_clone().expect("clone");
        s.set_write_timeout(Some(Duration::from_millis(200)))
            .expect("write timeout");
        thread::spawn(move || {
            let batch = raw::ping(0, &[b'C'; 16]).repeat(4096);
            let mut sent = 0usize;
            while !stop.load(Ordering::Relaxed) {
                if s.write_all(&batch).is_ok() {
                    sent += 4096;
                }
            }
            sent
        })
    };
    let reader = reads.then(|| {
        let mut s = s.try_clone().expect("clone");
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("read timeout");
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut buf = vec![0u8; 64 * KIB];
            let mut got = 0usize;
            while !stop.load(Ordering::Relaxed) {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(_) => {}
                }
            }
            got
        })
    });
    flow.go();
    let r = flow.finish();
    stop.store(true, Ordering::Relaxed);
    let sent = pinger.join().expect("pinger");
    let pongs = reader.map(|t| t.join().expect("reader"));
    let after = broker.rss_kib();
    eprintln!("{sent} PINGs written, PONG bytes read {pongs:?}, RSS {before} -> {after} KiB");
    assert!(
        after <= before + 4096,
        "{sent} PINGs: broker RSS grew from {before} KiB to {after} KiB"
    );
    if let Some(pongs) = pongs {
        assert!(pongs > 0, "a pinger that reads got no PONG");
    }
    drop(s);
    no_panic(&broker.stderr());
    broker.stop();
    r
}

/// A pinger that never reads is owed one PONG at a time (answering the latest PING once the
/// last one is read), so its PINGs neither grow its queue nor wake its connection each round.
#[test]
fn a_peer_pinging_nonstop_that_never_reads_costs_no_memory_and_no_latency() {
    let r = retry_latency(ISOLATION_MS, || pinging_nonstop(false));
    r.assert_within("a peer pinging nonstop, never reading", ISOLATION_MS);
}

/// A pinger that reads gets a PONG every round; that output must not let its connection skip
/// the wait through the reactor that gives the other sockets their turn.
#[test]
fn a_peer_pinging_nonstop_and_reading_its_pongs_costs_no_latency() {
    let r = retry_latency(ISOLATION_MS, || pinging_nonstop(true));
    r.assert_within("a peer pinging nonstop, reading its PONGs", ISOLATION_MS);
}

// ---------------------------------------------------------------------------------------------
// Streamer: a worker that stops reading.
// ---------------------------------------------------------------------------------------------

/// Arguments: frontend, backend, N, SIZE, SECS. A stalled raw worker, a libzmq PULL worker,
/// then a PUSH producer (monitored); N messages of SIZE bytes are pushed, and the worker takes what comes for
/// SECS. Prints `got=.. disconnects=.. first_ms=.. last_ms=..`.
const PRODUCER_AND_LIVE_WORKER: &str = concat!(
    zmq_prelude!(),
    r#"
from zmq.utils.monitor import recv_monitor_message
fe, be, n, size, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
# The stalled worker: a raw ZMTP PULL with a small receive window, which handshakes and then
# never reads a byte (what is written to it stays in its window, the broker's socket buffer
# and its queue, --queue-hwm).
stalled = raw_null(be, b"PULL", rcvbuf=4096)
stalled.settimeout(10)
hello = b""
while len(hello) < 64 + 2:
    hello += stalled.recv(64 + 2 - len(hello))
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)
pull.setsockopt(zmq.RCVHWM, 0)
pull.connect(be)
push = ctx.socket(zmq.PUSH)
push.setsockopt(zmq.SNDHWM, 0)
push.setsockopt(zmq.LINGER, 0)
mon = push.get_monitor_socket()
push.connect(fe)
end = time.monotonic() + 10
while True:
    assert time.monotonic() < end, "the live worker never got a warm-up message"
    push.send_multipart([b"warm", b""])
    if pull.poll(100):
        break
while pull.poll(200):
    pull.recv_multipart()
events = []
while mon.poll(0):
    events.append(recv_monitor_message(mon)["event"])
body = b"w" * size
t0 = time.monotonic()
for i in range(n):
    push.send_multipart([b"%d" % i, body])
got, first, last = 0, None, None
end = t0 + secs
while time.monotonic() < end:
    if pull.poll(50):
        m = pull.recv_multipart()
        if m[0] == b"warm":
            continue
        got += 1
        last = time.monotonic() - t0
        first = first if first is not None else last
events = []
while mon.poll(0):
    events.append(recv_monitor_message(mon)["event"])
print("got=%d disconnects=%d first_ms=%.0f last_ms=%.0f" % (
    got, events.count(zmq.EVENT_DISCONNECTED), (first or 0) * 1000, (last or 0) * 1000))
ctx.destroy(linger=0)
"#
);

#[test]
fn a_streamer_worker_that_stops_reading_costs_the_producer_nothing() {
    // Heartbeats off: this is about a worker that stays connected and never reads.
    let mut broker = Broker::start("streamer", &["--heartbeat-ivl", "0"]);
    let n = 600;
    let args = [
        broker.frontend().to_owned(),
        broker.backend().to_owned(),
        n.to_string(),
        (64 * KIB).to_string(),
        "4".to_owned(),
    ];
    let out = PyPeer::spawn(
        "producer and live worker",
        PRODUCER_AND_LIVE_WORKER,
        &args,
        Duration::from_secs(40),
    )
    .finish();
    eprintln!("{}", out.trim());
    let got = field(&out, "got");
    let disconnects = field(&out, "disconnects");
    assert_eq!(
        disconnects,
        0.0,
        "a worker that stopped reading got the innocent producer disconnected: {out}\n{}",
        broker.stderr()
    );
    // What the stalled worker holds (its queue and its kernel buffers) is at most ~100 of
    // these; every other message must reach the live worker within the 4 s.
    assert!(
        got >= 400.0,
        "a worker that stopped reading starved the live one: {out}"
    );
    broker.assert_running();
    no_panic(&broker.stderr());
    broker.stop();
}

// ---------------------------------------------------------------------------------------------
// Queue: a client that never reads its replies; malformed reply envelopes.
// ---------------------------------------------------------------------------------------------

fn client_that_never_reads_run() -> (f64, f64) {
    let mut broker = Broker::start("queue", &["--heartbeat-ivl", "0"]);
    // A DEALER client that sends 300 requests of 64 KiB and never reads a reply.
    let bad = raw::handshake(broker.frontend_addr(), SocketType::Dealer, deadline(10));
    let writer = flood_requests(bad, 300, Duration::from_secs(20));
    let out = worker_and_client(&broker, 20, 1.0);
    broker.assert_running();
    no_panic(&broker.stderr());
    drop(broker);
    drop(writer.join());
    (field(&out, "answered"), field(&out, "max_ms"))
}

#[test]
fn a_queue_client_that_never_reads_its_replies_costs_other_clients_nothing() {
    let (mut answered, mut max_ms) = client_that_never_reads_run();
    if answered == 20.0 && max_ms > ISOLATION_MS {
        eprintln!("over {ISOLATION_MS} ms once ({max_ms:.1} ms); running it again");
        (answered, max_ms) = client_that_never_reads_run();
    }
    assert_eq!(
        answered, 20.0,
        "a client that never reads its replies starved a normal client of the same worker"
    );
    assert!(
        max_ms <= ISOLATION_MS,
        "a client that never reads its replies added {max_ms:.1} ms to a normal client"
    );
}

/// Reads one frame whose body may be large.
fn read_big_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut f = [0u8; 1];
    s.read_exact(&mut f).expect("frame flags");
    let len = if f[0] & 0x02 != 0 {
        let mut l = [0u8; 8];
        s.read_exact(&mut l).expect("frame length");
        u64::from_be_bytes(l)
    } else {
        let mut l = [0u8; 1];
        s.read_exact(&mut l).expect("frame length");
        u64::from(l[0])
    };
    let mut body = vec![0u8; usize::try_from(len).expect("frame fits")];
    s.read_exact(&mut body).expect("frame body");
    (f[0], body)
}

/// Reads one whole message from a raw peer (commands skipped).
fn read_message(s: &mut TcpStream) -> Vec<Vec<u8>> {
    let mut parts = Vec::new();
    loop {
        let (flags, body) = read_big_frame(s);
        if flags & 0x04 != 0 {
            continue;
        }
        parts.push(body);
        if flags & 0x01 == 0 {
            return parts;
        }
    }
}

#[test]
fn queue_drops_malformed_reply_envelopes_and_keeps_the_worker() {
    let mut broker = Broker::start("queue", &["--heartbeat-ivl", "0"]);
    let mut worker = raw::handshake(broker.backend_addr(), SocketType::Dealer, deadline(10));
    worker
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut client = zedge_tests::agent::Agent::connect("client", "DEALER", broker.frontend(), &[]);
    client.send(&[b"", b"req"]);
    let req = read_message(&mut worker);
    assert_eq!(req.len(), 3, "{req:?}");
    let rid = req[0].clone();
    let mut wrong_gen = rid.clone();
    wrong_gen[8] ^= 1;
    let mut bad_prefix = rid.clone();
    bad_prefix[0] = 1;
    let long = [rid.as_slice(), b"x"].concat();
    let bads: Vec<Vec<&[u8]>> = vec![
        vec![b"", b"no routing frame"],
        vec![b"one frame only"],
        vec![&rid[..8], b"", b"short routing frame"],
        vec![&long, b"", b"long routing frame"],
        vec![&bad_prefix, b"", b"bad prefix"],
        vec![&wrong_gen, b"", b"wrong generation"],
        vec![&[0u8; 9], b"", b"zero routing id"],
        vec![
            &[0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            b"",
            b"max routing id",
        ],
        // The routing frame alone, without MORE: a whole message of nothing to route.
        vec![&rid],
    ];
    for m in &bads {
        raw::send_message(&mut worker, m);
    }
    raw::send_message(&mut worker, &[&rid, b"", b"good"]);
    assert_eq!(
        client.recv(Duration::from_secs(10)),
        Some(vec![Vec::new(), b"good".to_vec()]),
        "the good reply after malformed ones did not arrive"
    );
    let extra = client.drain(10, Duration::from_millis(300));
    assert!(
        extra.is_empty(),
        "malformed replies were delivered: {extra:?}"
    );
    let (closed, _) = raw::closed_by(&mut worker, Instant::now() + Duration::from_millis(300));
    assert!(!closed, "the worker was closed for malformed replies");
    client.close();
    drop(worker);
    normal_flow(&mut broker, "queue");
    no_panic(&broker.stderr());
    broker.stop();
}
