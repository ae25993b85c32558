//! Two sessions back to back: handshakes, traffic, heartbeats and limits.

use super::*;

const TYPES: [SocketType; 11] = {
    use SocketType::*;
    [
        Pair, Pub, Sub, Req, Rep, Dealer, Router, Pull, Push, XPub, XSub,
    ]
};
/// Offsets in the greeting: the minor version and the mechanism name.
const MINOR_AT: usize = 11;
const MECHANISM_AT: usize = 12;
const ERROR_INVALID_TYPE: &[u8] = b"\x04\x1a\x05ERROR\x13Invalid socket type";
const PING: &[u8] = b"\x04PING";
const PONG: &[u8] = b"\x04PONG";
/// Receiving chunk sizes: byte by byte, odd sizes that split headers, and everything at once.
const CHUNKS: [usize; 4] = [1, 3, 7, usize::MAX];

fn ready(socket_type: SocketType, minor: u8) -> Vec<Ev> {
    vec![Ev::Ready(socket_type, minor)]
}

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// A DEALER client with heartbeats `hb` and a ROUTER server without.
fn pinging(hb: Heartbeat) -> Sim {
    let client = SessionConfig {
        heartbeat: hb,
        ..SessionConfig::new(SocketType::Dealer)
    };
    Sim::new(client, SessionConfig::new(SocketType::Router))
}

/// A PUSH client and a PULL server, handshake done.
fn pipeline() -> Sim {
    let mut h = Sim::of(SocketType::Push, SocketType::Pull);
    h.drive();
    assert!(h.peer(Server).session.is_ready());
    h
}

#[test]
fn every_compatible_pair_shakes_hands_at_3_1_or_3_0() {
    for a in TYPES {
        for b in TYPES.into_iter().filter(|&b| a.accepts(b)) {
            // Whose greeting is rewritten into a 3.0 one: the other side speaks 3.0 to it.
            let olds = [[false, false], [true, false], [false, true], [true, true]];
            for (old, chunk) in olds.into_iter().flat_map(|o| CHUNKS.map(|c| (o, c))) {
                let mut h = Sim::of(a, b);
                h.chunk = chunk;
                for side in [Client, Server].into_iter().filter(|&s| old[s as usize]) {
                    h.patch(side, MINOR_AT, &[0]);
                }
                h.drive();
                let minor = |s: Side| u8::from(!old[s.other() as usize]);
                let ctx = format!("{a} -> {b}, 3.0 greetings {old:?}, chunk {chunk}");
                assert_eq!(h.peer(Client).events, ready(b, minor(Client)), "{ctx}");
                assert_eq!(h.peer(Server).events, ready(a, minor(Server)), "{ctx}");
                assert_eq!((h.error(Client), h.error(Server)), (None, None), "{ctx}");
                assert_eq!(h.peer(Client).session.peer_minor(), Some(minor(Client)));
                assert_eq!(h.peer(Server).session.peer_minor(), Some(minor(Server)));
            }
        }
    }
}

#[test]
fn every_incompatible_pair_is_refused_with_an_error_command() {
    for a in TYPES {
        for b in TYPES.into_iter().filter(|&b| !a.accepts(b)) {
            let ctx = format!("{a} -> {b}");
            let refused = SessionError::IncompatibleSocketType { ours: a, theirs: b };

            // The server's READY reaches the client first, data pipelined right behind it:
            // the client refuses and says why; the server learns it from the ERROR.
            let mut h = Sim::of(a, b);
            h.deliver(Server);
            h.flush(Server);
            h.send(Server, &[b"must not arrive"]);
            h.drive();
            assert_eq!(h.error(Client), Some(refused), "{ctx}");
            assert_eq!(count(h.wire(Client), ERROR_INVALID_TYPE), 1, "{ctx}");
            match h.error(Server) {
                Some(SessionError::PeerError(r)) => {
                    assert_eq!(r.as_bytes(), b"Invalid socket type", "{ctx}")
                }
                other => panic!("{ctx}: server got {other:?}"),
            }
            assert_eq!(h.peer(Client).events, [], "{ctx}");
            assert_eq!(h.peer(Server).events, [], "{ctx}");

            // Both READYs cross: both refuse, ERROR after READY on both wires.
            let mut h = Sim::of(a, b);
            h.deliver(Server);
            h.deliver(Client);
            h.flush(Client);
            h.flush(Server);
            h.send(Client, &[b"must not arrive"]);
            h.send(Server, &[b"must not arrive"]);
            h.drive();
            assert_eq!(h.error(Client), Some(refused), "{ctx}");
            let mirror = SessionError::IncompatibleSocketType { ours: b, theirs: a };
            assert_eq!(h.error(Server), Some(mirror), "{ctx}");
            for side in [Client, Server] {
                assert_eq!(count(h.wire(side), ERROR_INVALID_TYPE), 1, "{ctx}");
                assert_eq!(h.peer(side).events, [], "{ctx}");
            }
        }
    }
}

/// A device's refused peer type (a ROUTER on a queue's frontend, though ROUTER talks to
/// ROUTER) is refused as an incompatible type is: two queues' frontends connected to each
/// other both refuse and say why; the uplink a queue uses (its backend DEALER to the other's
/// frontend) still shakes hands.
#[test]
fn a_refused_peer_type_is_refused_as_an_incompatible_one() {
    let frontend = crate::device::Kind::Queue.refused_peer(crate::device::Side::Frontend);
    assert_eq!(frontend, Some(SocketType::Router));
    let queue_frontend = SessionConfig {
        refused_peer: frontend,
        ..SessionConfig::new(SocketType::Router)
    };
    let refused = SessionError::IncompatibleSocketType {
        ours: SocketType::Router,
        theirs: SocketType::Router,
    };
    let mut h = Sim::new(queue_frontend, queue_frontend);
    h.deliver(Server);
    h.deliver(Client);
    h.flush(Client);
    h.flush(Server);
    h.send(Client, &[b"must not arrive"]);
    h.drive();
    for side in [Client, Server] {
        assert_eq!(h.error(side), Some(refused));
        assert_eq!(count(h.wire(side), ERROR_INVALID_TYPE), 1);
        assert_eq!(h.peer(side).events, []);
    }
    // Only one end refuses (a plain ROUTER connected to the queue): it still learns why.
    let mut h = Sim::new(SessionConfig::new(SocketType::Router), queue_frontend);
    h.drive();
    assert!(matches!(h.error(Client), Some(SessionError::PeerError(_))));
    assert_eq!(h.error(Server), Some(refused));

    let mut h = Sim::new(SessionConfig::new(SocketType::Dealer), queue_frontend);
    h.drive();
    assert_eq!(h.peer(Server).events, ready(SocketType::Dealer, 1));
    assert_eq!(h.peer(Client).events, ready(SocketType::Router, 1));
}

#[test]
fn multipart_messages_arrive_whole_however_the_bytes_are_cut() {
    let big: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    for chunk in [1, 2, 3, 7, 64, 300, usize::MAX] {
        let mut h = Sim::of(SocketType::Push, SocketType::Pull);
        h.chunk = chunk;
        h.drive();
        assert_eq!(h.peer(Server).events, ready(SocketType::Push, 1));
        h.send(Client, &[b"hello", b"", &big]);
        h.send(Client, &[b"second"]);
        h.drive();
        let want = [
            (true, b"hello".to_vec()),
            (true, Vec::new()),
            (false, big.clone()),
            (false, b"second".to_vec()),
        ];
        assert_eq!(h.frames(Server), want, "chunk {chunk}");
        assert_eq!(h.error(Server), None);
        // The 1000-byte frame is announced with at least head_bytes of it.
        let head_bytes = h.peer(Server).session.config().limits.head_bytes;
        let Some(Ev::Frame(_, 1000, first)) = h.peer(Server).events.get(3) else {
            panic!("chunk {chunk}: no 1000-byte third frame")
        };
        assert!(first.len() >= head_bytes, "chunk {chunk}: {}", first.len());
    }
}

#[test]
fn heartbeats_are_answered_and_a_silent_peer_times_out() {
    let hb = Heartbeat::every(Duration::from_millis(100));
    let mut h = pinging(hb);
    h.drive();
    h.advance(10_000);
    assert_eq!((h.error(Client), h.error(Server)), (None, None));
    assert_eq!(count(h.wire(Client), PING), 100);
    assert_eq!(count(h.wire(Server), PONG), 100);
    assert_eq!(h.peer(Client).session.poll_timeout(), Some(at(10_100)));

    // The server goes silent right after answering the PING at 10 s.
    h.cut(Server);
    h.advance(1_000);
    let dead_at = at(10_000 + hb.interval.as_millis() + hb.timeout.as_millis());
    let want = Some((dead_at, SessionError::HeartbeatTimeout));
    assert_eq!(h.peer(Client).error, want);
}

#[test]
fn a_3_0_peer_is_never_pinged_nor_timed_out() {
    let mut h = pinging(Heartbeat::every(Duration::from_millis(100)));
    h.patch(Server, MINOR_AT, &[0]);
    h.drive();
    assert_eq!(h.peer(Client).events, ready(SocketType::Router, 0));
    assert_eq!(h.peer(Client).session.poll_timeout(), None);
    h.advance(10_000);
    assert_eq!((h.error(Client), h.error(Server)), (None, None));
    assert_eq!(count(h.wire(Client), PING), 0);
}

#[test]
fn peer_ttl_expires_after_the_peer_goes_silent() {
    // The client pings every 100 ms asking for a 1 s TTL, and never times out itself.
    let mut h = pinging(Heartbeat {
        interval: Duration::from_millis(100),
        timeout: Duration::ZERO,
        ttl: Duration::from_secs(1),
    });
    h.drive();
    h.advance(150);
    assert_eq!(count(h.wire(Client), PING), 1);
    h.cut(Client);
    h.advance(2_000);
    // Last heard from at 100 ms (its PING), so dead at 1100 ms.
    let want = Some((at(1_100), SessionError::TtlExpired));
    assert_eq!(h.peer(Server).error, want);
    assert_eq!(h.error(Client), None);
}

#[test]
fn handshake_times_out_at_the_deadline_not_before() {
    let cfg = SessionConfig {
        handshake_timeout: Duration::from_millis(500),
        ..SessionConfig::new(SocketType::Rep)
    };
    for sent in [0, 10, 32, 63, 64] {
        let mut h = Sim::new(SessionConfig::new(SocketType::Req), cfg);
        // The client sends `sent` bytes of its greeting, then falls silent (64: no READY).
        let greeting = h.wire(Client)[..64].to_vec();
        h.pipes[Client as usize].wire.clear();
        h.inject(Client, &greeting[..sent]);
        h.cut(Client);
        h.drive();
        assert_eq!(h.peer(Server).session.poll_timeout(), Some(at(500)));
        h.advance(499);
        assert_eq!(h.error(Server), None, "{sent} bytes");
        h.advance(1);
        let want = Some((at(500), SessionError::HandshakeTimeout));
        assert_eq!(h.peer(Server).error, want, "{sent} bytes");
    }
}

#[test]
fn limits_are_enforced_from_headers_alone() {
    let limit = Limits::DEFAULT.max_message_size;
    let huge_data = SessionError::MessageTooLarge {
        len: 1 << 62,
        limit,
    };
    let big_command = SessionError::CommandTooLarge {
        len: 4097,
        limit: 4096,
    };
    for (head, want) in [
        ([0x02, 0x40, 0, 0, 0, 0, 0, 0, 0], huge_data),
        ([0x06, 0, 0, 0, 0, 0, 0, 0x10, 0x01], big_command),
    ] {
        let mut h = pipeline();
        // The header alone, no body bytes.
        h.inject(Client, &head);
        h.drive();
        assert_eq!(h.error(Server), Some(want));
        assert_eq!(h.peer(Server).events, ready(SocketType::Push, 1));
    }
}

#[test]
fn mechanism_mismatch_ends_the_handshake() {
    let mut h = Sim::of(SocketType::Push, SocketType::Pull);
    h.patch(Client, MECHANISM_AT, b"PLAIN");
    h.drive();
    let want = SessionError::MechanismMismatch {
        ours: Mechanism::Null,
        theirs: Mechanism::Plain,
    };
    assert_eq!(h.error(Server), Some(want));
    assert_eq!(h.peer(Server).events, []);
    assert_eq!(h.peer(Client).events, []);
}

#[test]
fn data_before_ready_is_refused() {
    let mut h = Sim::of(SocketType::Push, SocketType::Pull);
    // Right behind the greeting, before the client has READY to send.
    h.send(Client, &[b"early"]);
    h.drive();
    assert_eq!(h.error(Server), Some(SessionError::DataBeforeReady));
    assert_eq!(h.peer(Server).events, []);
}

#[test]
fn xpub_sees_subscriptions_in_both_protocol_forms() {
    for (minor, chunk) in [0, 1].into_iter().flat_map(|m| CHUNKS.map(|c| (m, c))) {
        let mut h = Sim::of(SocketType::Sub, SocketType::XPub);
        h.chunk = chunk;
        if minor == 0 {
            h.patch(Server, MINOR_AT, &[0]);
        }
        h.drive();
        assert_eq!(h.peer(Client).events, ready(SocketType::XPub, minor));
        h.subscribe(Client, true, b"weather");
        h.subscribe(Client, true, b"");
        h.subscribe(Client, false, b"weather");
        h.drive();
        let mut want = ready(SocketType::Sub, 1);
        want.extend([
            Ev::Subscribe(b"weather".to_vec()),
            Ev::Subscribe(Vec::new()),
            Ev::Cancel(b"weather".to_vec()),
        ]);
        let ctx = format!("minor {minor}, chunk {chunk}");
        assert_eq!(h.peer(Server).events, want, "{ctx}");
        assert_eq!(h.error(Server), None, "{ctx}");
        // 3.1 peers get commands, 3.0 peers `0x01`/`0x00` messages.
        let commands = count(h.wire(Client), b"\x09SUBSCRIBE");
        let messages = count(h.wire(Client), b"\x00\x08\x01weather");
        assert_eq!(
            (commands, messages),
            if minor == 1 { (2, 0) } else { (0, 1) }
        );
    }
}
