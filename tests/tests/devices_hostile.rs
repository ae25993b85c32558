//! Hostile and broken peers against a running device. Each abuse is followed by a normal flow
//! between real libzmq peers that must still work, and the broker must still be running (and
//! stop cleanly on SIGTERM). Raw peers speak through `std::net::TcpStream`, their valid parts
//! built with `zedge_core::wire`.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use zedge_core::wire::greeting::{Greeting, Mechanism};
use zedge_core::wire::metadata::SocketType;
use zedge_tests::agent::{Agent, Msg};
use zedge_tests::broker::Broker;
use zedge_tests::normal::normal_flow;
use zedge_tests::raw;
use zedge_tests::wait::{deadline, until};
use zedge_tests::PyPeer;

/// How long the broker may take to close a connection it should refuse.
const CLOSE_WITHIN: Duration = Duration::from_secs(10);

/// The broker must close `s` (having sent whatever it had to say).
fn assert_closed(s: &mut TcpStream, what: &str) {
    let (closed, _) = raw::closed_by(s, Instant::now() + CLOSE_WITHIN);
    assert!(closed, "the broker kept a connection that sent {what}");
}

/// Connect and send `bytes`; writes that fail (the broker closed already) are fine.
fn send_raw(broker: &Broker, bytes: &[u8]) -> TcpStream {
    let mut s = raw::connect(broker.frontend_addr(), deadline(10));
    let _ = s.write_all(bytes);
    s
}

/// Not random, not ZMTP.
fn junk(n: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_u32;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn garbage_instead_of_a_greeting_is_refused() {
    let broker = Broker::start("streamer", &[]);
    let http = b"GET / HTTP/1.1\r\nHost: zedge\r\n\r\n".to_vec();
    // A first byte of 0xff, then no ZMTP signature.
    let mut ff = vec![0xff; 1];
    ff.extend(junk(4096));
    ff[9] = 0x00;
    refused_then_normal_flow(
        broker,
        "streamer",
        vec![
            ("an HTTP request", http),
            ("junk after 0xff", ff),
            ("junk", junk(65536)),
        ],
    );
}

/// ZMTP 1.0 and 2.0 are refused with `--no-legacy` (by default zedge speaks them:
/// `legacy_v1.rs`, `legacy_peers.rs`), and 2.0 on any endpoint when its greeting names a type
/// that cannot talk to the side's, or none.
#[test]
fn zmtp_1_and_2_greetings_are_refused() {
    let broker = Broker::start("streamer", &["--no-legacy"]);
    // ZMTP 2.0: signature, revision 1, socket type PUSH (8), then an empty identity frame.
    let zmtp2 = b"\xff\0\0\0\0\0\0\0\x01\x7f\x01\x08\x00\x00".to_vec();
    // ZMTP 1.0: an identity frame of length 1 with no flags and nothing in it.
    let zmtp1 = b"\x01\x00".to_vec();
    refused_then_normal_flow(
        broker,
        "streamer",
        vec![
            ("a ZMTP 2.0 greeting", zmtp2),
            ("a ZMTP 1.0 greeting", zmtp1),
        ],
    );
    let broker = Broker::start("streamer", &[]);
    // A 2.0 PUB (1) at a PULL frontend, and an unknown type.
    let wrong = b"\xff\0\0\0\0\0\0\0\x01\x7f\x01\x01\x00\x00".to_vec();
    let unknown = b"\xff\0\0\0\0\0\0\0\x01\x7f\x01\x63\x00\x00".to_vec();
    refused_then_normal_flow(
        broker,
        "streamer",
        vec![
            ("a ZMTP 2.0 PUB at a PULL", wrong),
            ("a ZMTP 2.0 greeting with no known type", unknown),
        ],
    );
}

#[test]
fn unknown_or_unsupported_mechanisms_are_refused() {
    let broker = Broker::start("queue", &[]);
    let curve = Greeting::ours(Mechanism::Curve, false).encode().to_vec();
    let plain = Greeting::ours(Mechanism::Plain, false).encode().to_vec();
    let mut foo = raw::greeting().to_vec();
    foo[12..32].fill(0);
    foo[12..15].copy_from_slice(b"FOO");
    // A NULL greeting with junk after the name in the mechanism field.
    let mut padded = raw::greeting().to_vec();
    padded[20] = b'X';
    refused_then_normal_flow(
        broker,
        "queue",
        vec![
            ("a CURVE greeting", curve),
            ("a PLAIN greeting", plain),
            ("a greeting naming FOO", foo),
            ("a NULL greeting with junk in its mechanism field", padded),
        ],
    );
}

#[test]
fn incompatible_raw_peer_gets_an_error_and_is_closed() {
    let mut broker = Broker::start("streamer", &[]);
    let mut bytes = raw::greeting().to_vec();
    bytes.extend(raw::ready(SocketType::Pub));
    bytes.extend(raw::data_head(3, false));
    bytes.extend(b"bad");
    let mut s = send_raw(&broker, &bytes);
    s.set_read_timeout(Some(CLOSE_WITHIN))
        .expect("read timeout");
    let mut greeting = [0u8; 64];
    std::io::Read::read_exact(&mut s, &mut greeting).expect("the broker's greeting");
    let mut commands = Vec::new();
    while let Ok((flags, body)) = raw::read_frame(&mut s) {
        assert!(
            flags & 0x04 != 0,
            "the broker sent data to a PUB on its PULL side"
        );
        commands.push(body);
    }
    assert!(
        commands.iter().any(|c| c.starts_with(b"\x05ERROR")),
        "no ERROR command before closing an incompatible peer; got {:?}",
        commands
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
    );
    assert_closed(&mut s, "READY as a PUB to a PULL");
    normal_flow(&mut broker, "streamer");
    broker.stop();
}

/// Arguments: frontend, backend of a streamer. A libzmq PUB (incompatible with the broker's
/// PULL) publishes for a while; then a PUSH sends ten messages. The PULL worker must get the
/// ten and nothing from the PUB.
const PUB_ON_STREAMER: &str = r#"
import sys, time, zmq
fe, be = sys.argv[1:3]
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)
pull.connect(be)
bad = ctx.socket(zmq.PUB)
bad.setsockopt(zmq.LINGER, 0)
bad.connect(fe)
end = time.monotonic() + 1.0
while time.monotonic() < end:
    bad.send_multipart([b"bad", b"pub"])
    assert not pull.poll(10), ("delivered from an incompatible PUB", pull.recv_multipart())
push = ctx.socket(zmq.PUSH)
push.setsockopt(zmq.SNDTIMEO, 10000)
push.connect(fe)
for i in range(10):
    push.send_multipart([b"good", str(i).encode()])
got = []
while len(got) < 10:
    assert pull.poll(10000), ("only", got)
    got.append(pull.recv_multipart())
assert got == [[b"good", str(i).encode()] for i in range(10)], got
assert not pull.poll(300), pull.recv_multipart()
ctx.destroy(linger=0)
"#;

#[test]
fn libzmq_pub_on_the_streamer_frontend_delivers_nothing() {
    let mut broker = Broker::start("streamer", &[]);
    let args = [broker.frontend().to_owned(), broker.backend().to_owned()];
    PyPeer::spawn(
        "PUB on PULL",
        PUB_ON_STREAMER,
        &args,
        Duration::from_secs(30),
    )
    .finish();
    normal_flow(&mut broker, "streamer");
    broker.stop();
}

#[test]
fn a_frame_header_announcing_2_pow_62_bytes_costs_no_memory() {
    let broker = Broker::start("streamer", &[]);
    let mut worker = Agent::connect("worker", "PULL", broker.backend(), &["monitor"]);
    assert!(worker.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    let before = broker.rss_kib();
    let heads = [
        (
            "a frame header announcing 2^62 bytes",
            raw::data_head(1 << 62, false),
        ),
        (
            "a MORE frame header announcing 2^62 bytes",
            raw::data_head(1 << 62, true),
        ),
        (
            "a command header announcing 2^62 bytes",
            raw::command_head(1 << 62),
        ),
        (
            "a frame header announcing 2^64-1 bytes",
            raw::data_head(u64::MAX, false),
        ),
    ];
    for (what, head) in heads {
        let mut s = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
        let mut bytes = head;
        bytes.extend(junk(1 << 20));
        let _ = s.write_all(&bytes);
        assert_closed(&mut s, what);
    }
    let after = broker.rss_kib();
    assert!(
        after <= before + 4096,
        "broker RSS grew from {before} KiB to {after} KiB"
    );
    flow_to_worker(&broker, &mut worker, "PUSH");
    broker.stop();
}

/// A new producer of `producer_type` sends ten messages; `worker` must get exactly those.
fn flow_to_worker(broker: &Broker, worker: &mut Agent, producer_type: &str) {
    let end = deadline(20);
    let mut producer = Agent::connect("producer", producer_type, broker.frontend(), &[]);
    let good = |i: u32| -> Msg { vec![b"good".to_vec(), i.to_string().into_bytes()] };
    if producer_type == "PUB" {
        until(end, "the subscription reaches the new publisher", || {
            producer.send(&[b"good", b"warm"]);
            worker.recv(Duration::from_millis(50)).is_some()
        });
    }
    for i in 0..10u32 {
        producer.send(&[b"good", i.to_string().as_bytes()]);
    }
    let mut got = Vec::new();
    until(end, "the worker gets ten good messages", || {
        for m in worker.drain(100, Duration::from_millis(100)) {
            assert!(
                m.len() == 2 && m[0] == b"good",
                "the worker got a bad message: {}",
                describe(&m)
            );
            if m[1] != b"warm" {
                got.push(m);
            }
        }
        got.len() >= 10
    });
    assert_eq!(got, (0..10).map(good).collect::<Vec<_>>());
    producer.close();
}

fn describe(m: &Msg) -> String {
    let parts: Vec<String> = m
        .iter()
        .map(|p| {
            if p.len() <= 16 {
                format!("{:?}", String::from_utf8_lossy(p))
            } else {
                format!("<{} bytes>", p.len())
            }
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// 300 connections opened, each stopping part of the way into its handshake: nothing at all,
/// the signature, half the greeting, or the whole greeting without READY.
fn stall(broker: &Broker, n: usize) -> Vec<TcpStream> {
    let greeting = raw::greeting();
    let cuts = [0, 10, 32, 64];
    (0..n)
        .map(|i| {
            let mut s = raw::connect(broker.frontend_addr(), deadline(20));
            s.write_all(&greeting[..cuts[i % cuts.len()]])
                .expect("write part of a greeting");
            s
        })
        .collect()
}

#[test]
fn stalled_handshakes_do_not_block_others() {
    let mut broker = Broker::start("streamer", &[]);
    let stalled = stall(&broker, 300);
    normal_flow(&mut broker, "streamer");
    drop(stalled);
    normal_flow(&mut broker, "streamer");
    broker.stop();
}

#[test]
fn stalled_handshakes_are_dropped_after_the_handshake_timeout() {
    let mut broker = Broker::start("streamer", &["--handshake-timeout", "500"]);
    let mut stalled = stall(&broker, 300);
    let end = Instant::now() + Duration::from_secs(15);
    let open: Vec<usize> = stalled
        .iter_mut()
        .enumerate()
        .filter_map(|(i, s)| (!raw::closed_by(s, end).0).then_some(i))
        .collect();
    assert!(
        open.is_empty(),
        "{} of 300 stalled connections still open after the 500 ms handshake timeout (first: #{})",
        open.len(),
        open[0]
    );
    normal_flow(&mut broker, "streamer");
    broker.stop();
}

#[test]
fn silent_peer_is_dropped_by_heartbeat_timeout() {
    let mut broker = Broker::start("streamer", &["--heartbeat-ivl", "100"]);
    let mut s = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
    let (flags, body) = raw::read_frame(&mut s).expect("a PING from the broker");
    assert!(
        flags & 0x04 != 0 && body.starts_with(b"\x04PING"),
        "expected PING, got {body:?}"
    );
    // We never answer: the broker must give up on us.
    assert_closed(&mut s, "no PONG");
    normal_flow(&mut broker, "streamer");
    broker.stop();
}

#[test]
fn a_peer_silent_past_its_own_ttl_is_dropped() {
    // No heartbeats of our own (they are on by default): the peer's TTL (in its PING) still
    // binds.
    let mut broker = Broker::start("streamer", &["--heartbeat-ivl", "0"]);
    let mut s = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
    s.write_all(&raw::ping(5, b"ctx")).expect("PING");
    let (flags, body) = raw::read_frame(&mut s).expect("a PONG");
    assert!(
        flags & 0x04 != 0 && body == b"\x04PONGctx",
        "expected PONG ctx, got {body:?}"
    );
    assert_closed(&mut s, "PING with a 500 ms TTL and then nothing");
    normal_flow(&mut broker, "streamer");
    broker.stop();
}

#[test]
fn a_zmtp_3_0_peer_gets_no_ping_and_is_kept() {
    // A 3.0 peer may take PING for an error: the broker must not send it one, nor drop it for
    // not answering heartbeats it was never sent.
    let broker = Broker::start("streamer", &["--heartbeat-ivl", "100"]);
    let mut w = Agent::connect("worker", "PULL", broker.backend(), &["monitor"]);
    assert!(w.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    let mut s = raw::handshake_as(broker.frontend_addr(), SocketType::Push, 0, deadline(10));
    let (closed, seen) = raw::closed_by(&mut s, Instant::now() + Duration::from_millis(1500));
    assert!(!closed, "the broker dropped an idle ZMTP 3.0 peer");
    assert_eq!(
        seen, 0,
        "the broker sent {seen} bytes (a PING?) to a ZMTP 3.0 peer"
    );
    raw::send_message(&mut s, &[b"from", b"3.0"]);
    let m = w.recv(Duration::from_secs(10));
    assert_eq!(m, Some(vec![b"from".to_vec(), b"3.0".to_vec()]));
    w.close();
    broker.stop();
}

/// A raw `socket_type` peer on `device`'s frontend sends `prefix` (whole frames with MORE),
/// then a frame header for 1 MiB and only `sent` bytes of it, and dies. `worker` (connected
/// beforehand) must then get a following normal flow, and nothing of the dead peer's message.
fn dies_mid_frame(
    device: &str,
    socket_type: SocketType,
    prefix: &[&[u8]],
    worker: (&str, &[&str]),
    producer: &str,
    sent: usize,
) {
    let mut broker = Broker::start(device, &[]);
    let mut w = Agent::connect("worker", worker.0, broker.backend(), worker.1);
    assert!(w.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    let mut s = raw::handshake(broker.frontend_addr(), socket_type, deadline(10));
    if device == "forwarder" {
        // Let the worker's subscription reach us (the broker's XSUB side) first.
        let (_, body) = raw::read_frame(&mut s).expect("the worker's subscription");
        assert!(
            body.starts_with(b"\x09SUBSCRIBE") || body.starts_with(b"\x01"),
            "{body:?}"
        );
    }
    let mut bytes = Vec::new();
    for part in prefix {
        bytes.extend(raw::data_head(part.len() as u64, true));
        bytes.extend_from_slice(part);
    }
    bytes.extend(raw::data_head(1 << 20, false));
    bytes.extend(vec![0xab; sent]);
    s.write_all(&bytes).expect("write the partial message");
    std::thread::sleep(Duration::from_millis(100));
    drop(s);
    broker.assert_running();
    if device == "queue" {
        // The worker answers; replies go to the new client.
        let end = deadline(20);
        let mut client = Agent::connect("client", producer, broker.frontend(), &[]);
        for i in 0..10u32 {
            let n = i.to_string();
            client.send(&[b"good", n.as_bytes()]);
            let mut req = None;
            until(end, "the worker gets the request", || {
                req = w.recv(Duration::from_millis(100));
                req.is_some()
            });
            let req = req.unwrap_or_default();
            assert_eq!(
                req.len(),
                4,
                "the worker got a bad request: {}",
                describe(&req)
            );
            assert_eq!(
                req[1..],
                [Vec::new(), b"good".to_vec(), n.clone().into_bytes()]
            );
            let reply: Vec<&[u8]> = req.iter().map(Vec::as_slice).collect();
            w.send(&reply);
            assert_eq!(
                client.recv(Duration::from_secs(10)),
                Some(vec![b"good".to_vec(), n.into_bytes()])
            );
        }
        client.close();
    } else {
        flow_to_worker(&broker, &mut w, producer);
    }
    let leftover = w.drain(10, Duration::from_millis(200));
    assert!(leftover.is_empty(), "unexpected: {leftover:?}");
    w.close();
    broker.stop();
}

#[test]
fn streamer_survives_a_producer_dying_mid_frame() {
    dies_mid_frame(
        "streamer",
        SocketType::Push,
        &[b"head"],
        ("PULL", &["monitor"]),
        "PUSH",
        1000,
    );
}

#[test]
fn streamer_survives_a_producer_dying_mid_frame_past_its_input_buffer() {
    // 300 KB of the 1 MiB frame: more than the broker buffers, so it is being cut through.
    dies_mid_frame(
        "streamer",
        SocketType::Push,
        &[b"head"],
        ("PULL", &["monitor"]),
        "PUSH",
        300_000,
    );
}

#[test]
fn forwarder_survives_a_publisher_dying_mid_frame() {
    dies_mid_frame(
        "forwarder",
        SocketType::Pub,
        &[b"good"],
        ("SUB", &["monitor", "sub=-"]),
        "PUB",
        1000,
    );
}

#[test]
fn forwarder_survives_a_publisher_dying_mid_frame_past_its_input_buffer() {
    dies_mid_frame(
        "forwarder",
        SocketType::Pub,
        &[b"good"],
        ("SUB", &["monitor", "sub=-"]),
        "PUB",
        300_000,
    );
}

#[test]
fn queue_survives_a_client_dying_mid_frame() {
    dies_mid_frame(
        "queue",
        SocketType::Dealer,
        &[b"", b"good"],
        ("DEALER", &["monitor"]),
        "REQ",
        1000,
    );
}

#[test]
fn queue_survives_a_client_dying_mid_frame_past_its_input_buffer() {
    dies_mid_frame(
        "queue",
        SocketType::Dealer,
        &[b"", b"good"],
        ("DEALER", &["monitor"]),
        "REQ",
        300_000,
    );
}

/// Arguments: frontend, backend of a forwarder. A publisher sends 30 MiB in batches of 100
/// messages of 1 KiB, each batch only after the subscriber has received the previous one
/// whole: a subscriber that keeps up must lose nothing, whatever other subscribers do.
const KEEPS_UP: &str = r#"
import sys, time, zmq
fe, be = sys.argv[1:3]
ctx = zmq.Context()
pub = ctx.socket(zmq.PUB)
pub.setsockopt(zmq.SNDHWM, 0)
pub.setsockopt(zmq.SNDTIMEO, 10000)
pub.connect(fe)
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.RCVHWM, 0)
sub.setsockopt(zmq.RCVTIMEO, 10000)
sub.setsockopt(zmq.SUBSCRIBE, b"n")
sub.connect(be)
end = time.monotonic() + 10
while True:
    assert time.monotonic() < end, "subscription never reached the publisher"
    pub.send_multipart([b"n", b"warm"])
    if sub.poll(50):
        break
body = b"x" * 1024
for batch in range(300):
    for i in range(100):
        pub.send_multipart([b"n", b"%d" % (batch * 100 + i), body])
    for i in range(100):
        while True:
            m = sub.recv_multipart()
            if m[1] != b"warm":
                break
        assert m == [b"n", b"%d" % (batch * 100 + i), body], (batch, i, m[:2])
ctx.destroy(linger=0)
print("kept up")
"#;

#[test]
fn a_subscriber_that_never_reads_stalls_nobody() {
    // Heartbeats off: they would drop the stuck subscriber (it cannot read a PING) 30 s in,
    // and this is about one that stays.
    let mut broker = Broker::start(
        "forwarder",
        &["--queue-hwm", "256K", "--heartbeat-ivl", "0"],
    );
    // Subscribes to everything and never reads a byte.
    let mut stuck = raw::handshake(broker.backend_addr(), SocketType::Sub, deadline(10));
    stuck.write_all(&raw::subscribe(b"")).expect("subscribe");
    let before = broker.rss_kib();
    let args = [broker.frontend().to_owned(), broker.backend().to_owned()];
    let out = PyPeer::spawn("keeps up", KEEPS_UP, &args, Duration::from_secs(40)).finish();
    assert_eq!(out.trim(), "kept up");
    let after = broker.rss_kib();
    assert!(
        after <= before + 16 * 1024,
        "30 MiB published past a stuck subscriber: broker RSS grew from {before} KiB to {after} KiB"
    );
    normal_flow(&mut broker, "forwarder");
    drop(stuck);
    broker.stop();
}

/// Arguments: frontend, backend of a streamer started with `--max-msg-size 1M`. Oversized
/// messages (one part of 2 MiB; three parts of 600 KiB) are refused; the worker gets only the
/// ten normal messages that follow, whole.
const OVERSIZED: &str = r#"
import sys, time, zmq
fe, be = sys.argv[1:3]
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)
pull.connect(be)
def push():
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDTIMEO, 10000)
    s.connect(fe)
    return s
big = push()
big.send(b"B" * (2 << 20))
parts = push()
parts.send_multipart([b"P" * (600 << 10)] * 3)
assert not pull.poll(500), [len(p) for p in pull.recv_multipart()]
good = push()
for i in range(10):
    good.send_multipart([b"good", str(i).encode(), b"g" * (100 << 10)])
got = []
while len(got) < 10:
    assert pull.poll(10000), ("only", len(got))
    got.append(pull.recv_multipart())
for i, m in enumerate(got):
    assert m == [b"good", str(i).encode(), b"g" * (100 << 10)], (i, [len(p) for p in m], m[0][:8])
assert not pull.poll(300)
ctx.destroy(linger=0)
print("refused")
"#;

#[test]
fn oversized_messages_are_refused_whole() {
    let mut broker = Broker::start("streamer", &["--max-msg-size", "1M"]);
    let args = [broker.frontend().to_owned(), broker.backend().to_owned()];
    let out = PyPeer::spawn("oversized", OVERSIZED, &args, Duration::from_secs(30)).finish();
    assert_eq!(out.trim(), "refused");
    normal_flow(&mut broker, "streamer");
    broker.stop();
}

#[test]
fn a_peer_table_full_of_stalled_handshakes_recovers() {
    // Every slot taken by a stalled handshake: new peers are refused until the handshake
    // timeout frees them; libzmq peers reconnect and must get through after that.
    let mut broker = Broker::start(
        "streamer",
        &["--max-peers", "40", "--handshake-timeout", "1000"],
    );
    let mut stalled = stall(&broker, 40);
    normal_flow(&mut broker, "streamer");
    let end = Instant::now() + Duration::from_secs(15);
    assert!(
        stalled.iter_mut().all(|s| raw::closed_by(s, end).0),
        "stalled connections outlived the handshake timeout"
    );
    broker.stop();
}

/// Each raw peer in `cases` is closed by the broker, which then still serves a normal flow
/// and stops cleanly.
fn refused_then_normal_flow(mut broker: Broker, device: &str, cases: Vec<(&str, Vec<u8>)>) {
    for (what, bytes) in cases {
        let mut s = send_raw(&broker, &bytes);
        assert_closed(&mut s, what);
    }
    normal_flow(&mut broker, device);
    broker.stop();
}
