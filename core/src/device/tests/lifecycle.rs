//! Peers leaving mid-message, and the counters.

use super::*;

#[test]
fn a_partial_message_is_taken_back_or_its_receiver_reset() {
    let mut store = Storage::new(8, 8);
    let mut net = Net::new(small_input(forwarder()), &mut store);
    let (publisher, [slow, fast]) = net.publisher_and_two_subscribers(b"");
    net.pause(slow, true);
    net.send(publisher, &msg(&[b"before"]));
    net.pump();
    let before_len = net.queued(slow);

    // Most of a 20 KB message, more than the input buffer holds: cut through to both
    // subscribers.
    let partial = encode(&big(0, 0));
    net.send_raw(publisher, &partial[..18_000]);
    net.pump();
    assert!(net.queued(slow) > before_len + 8_000);
    assert!(net.remote(fast).wire.len() > 8_000, "fast wrote part of it");

    net.disconnect(publisher);
    net.pump();
    assert_eq!(net.closes, [(fast, CloseReason::SenderAborted)]);
    assert_eq!(
        net.queued(slow),
        before_len,
        "taken back out of the slow queue"
    );
    net.pause(slow, false);
    net.pump();
    assert_eq!(net.msgs(slow), [msg(&[b"before"])]);
    assert_eq!(net.msgs(fast), [msg(&[b"before"])]);
    let stats = net.dev.stats();
    assert_eq!((stats.resets, stats.dropped.aborted), (1, 1));

    // The slow subscriber's stream is still good.
    let publisher = net.connect(Frontend, Pub);
    net.pump();
    net.send(publisher, &msg(&[b"after"]));
    net.pump();
    assert_eq!(net.msgs(slow), [msg(&[b"before"]), msg(&[b"after"])]);
    net.assert_healthy();
}

#[test]
fn a_client_leaving_mid_request_leaves_no_trace_at_an_idle_worker() {
    for paused in [true, false] {
        let mut store = Storage::new(8, 0);
        let mut net = Net::new(small_input(DeviceConfig::new(Kind::Queue)), &mut store);
        let worker = net.connect(Backend, Dealer);
        let leaving = net.connect(Frontend, Dealer);
        let staying = net.connect(Frontend, Dealer);
        net.pump();
        net.pause(worker, paused);
        net.send(staying, &msg(&[b"first"]));
        net.pump();
        net.send_raw(leaving, &encode(&big(1, 0))[..10_000]);
        net.pump();
        net.disconnect(leaving);
        net.pump();
        net.pause(worker, false);
        net.pump();
        net.send(staying, &msg(&[b"second"]));
        net.pump();

        let bodies: Vec<Msg> = net.msgs(worker).iter().map(|m| m[1..].to_vec()).collect();
        let stats = net.dev.stats();
        assert_eq!(stats.dropped.aborted, 1);
        if paused {
            // Routing frame and partial request taken back; the worker carries on.
            assert!(net.closes.is_empty());
            assert_eq!(bodies, [msg(&[b"first"]), msg(&[b"second"])]);
            assert_eq!(stats.resets, 0);
        } else {
            assert_eq!(net.closes, [(worker, CloseReason::SenderAborted)]);
            assert_eq!(bodies, [msg(&[b"first"])]);
            assert_eq!(stats.resets, 1);
        }
        net.assert_healthy();
    }
}

// Counters.

#[test]
fn stats_add_up_in_a_streamer() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Streamer), &mut store);
    let producer = net.connect(Frontend, Push);
    let w1 = net.connect(Backend, Pull);
    let w2 = net.connect(Backend, Pull);
    net.pump();
    let s = *net.dev.stats();
    assert_eq!((s.frontend().peers, s.backend().peers), (1, 2));
    for _ in 0..10 {
        net.send(producer, &msg(&[b"abc", b"defghij"]));
    }
    net.pump();
    assert_eq!(net.msgs(w1).len() + net.msgs(w2).len(), 10);
    let s = *net.dev.stats();
    assert_eq!((s.frontend().msgs_in, s.frontend().bytes_in), (10, 100));
    assert_eq!((s.backend().msgs_out, s.backend().bytes_out), (10, 100));
    assert_eq!((s.frontend().msgs_out, s.backend().msgs_in), (0, 0));

    net.disconnect(w1);
    // PUSH does not talk to PUSH.
    let wrong = net.connect(Backend, Push);
    net.pump();
    // Whichever side reads the other's READY first refuses; the other gets its ERROR.
    let refused = |e| {
        matches!(e, SessionError::IncompatibleSocketType { .. })
            || matches!(e, SessionError::PeerError(r) if r.as_bytes() == b"Invalid socket type")
    };
    assert!(matches!(net.remote(wrong).end, Some(End::Failed(e)) if refused(e)));
    let s = *net.dev.stats();
    assert_eq!((s.backend().peers, s.backend().connections), (1, 3));
    assert_eq!((s.backend().refused, s.frontend().refused), (1, 0));
    assert_eq!(s.dropped, Drops::default());
}

#[test]
fn stats_add_up_in_a_queue_and_a_forwarder() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Queue), &mut store);
    let client = net.connect(Frontend, Req);
    net.connect_echo(Rep);
    net.pump();
    for _ in 0..5 {
        net.send(client, &envelope(true, b"0123456789"));
        net.pump();
    }
    assert_eq!(net.msgs(client).len(), 5);
    let s = *net.dev.stats();
    // Body bytes relayed, routing frames included on the backend both ways: the device adds
    // one to each request and takes it off each reply.
    assert_eq!((s.frontend().msgs_in, s.frontend().bytes_in), (5, 50));
    assert_eq!(
        (s.backend().msgs_out, s.backend().bytes_out),
        (5, 5 * (9 + 10))
    );
    assert_eq!(
        (s.backend().msgs_in, s.backend().bytes_in),
        (5, 5 * (9 + 13))
    );
    assert_eq!((s.frontend().msgs_out, s.frontend().bytes_out), (5, 5 * 13));

    let mut store = Storage::new(8, 8);
    let mut net = Net::new(forwarder(), &mut store);
    let (publisher, subs) = net.publisher_and_two_subscribers(b"");
    for _ in 0..3 {
        net.send(publisher, &msg(&[b"topic", b"body"]));
    }
    net.pump();
    let s = *net.dev.stats();
    assert_eq!((s.frontend().msgs_in, s.frontend().bytes_in), (3, 27));
    assert_eq!((s.backend().msgs_out, s.backend().bytes_out), (6, 54));
    assert_eq!((s.frontend().peers, s.backend().peers), (1, 2));
    net.disconnect(subs[0]);
    net.disconnect(publisher);
    assert_eq!(
        (
            net.dev.stats().frontend().peers,
            net.dev.stats().backend().peers
        ),
        (0, 1)
    );
    net.assert_healthy();
}

/// Connections that end in an error before their handshake is done count as handshake
/// failures by reason; one that ends after it is refused, not a handshake failure.
#[test]
fn handshake_failures_are_counted_by_reason() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Streamer), &mut store);
    // Not ZeroMQ at all.
    let http = net.connect(Frontend, Push);
    net.remotes[http].sent.clear();
    net.send_raw(http, b"GET /metrics HTTP/1.1\r\nHost: gateway\r\n\r\n");
    // A ZMTP 1.0 peer, which this device (the core's default) does not speak.
    let old = net.connect(Frontend, Push);
    net.remotes[old].sent.clear();
    net.send_raw(old, b"\x01\x00");
    // A greeting, then a command that is not READY.
    let bad = net.connect(Frontend, Push);
    net.remotes[bad]
        .sent
        .truncate(crate::wire::greeting::GREETING_LEN);
    net.send_raw(bad, &[0x04, 0x06, 0x05, b'H', b'E', b'L', b'L', b'O']);
    let producer = net.connect(Frontend, Push);
    // A port scan: connected, gone.
    let scan = net.connect(Frontend, Push);
    net.disconnect(scan);
    net.pump();
    // A command out of place (READY again), once in.
    net.send_raw(producer, &[0x04, 0x06, 0x05, b'R', b'E', b'A', b'D', b'Y']);
    net.pump();
    let f = net.dev.stats().frontend();
    assert_eq!(f.refused, 4, "{f:?}");
    let h = f.handshake_failures;
    assert_eq!(
        (h.greeting, h.legacy, h.protocol, h.socket_type, h.timeout),
        (1, 1, 1, 0, 0),
        "{h:?}"
    );
    assert_eq!(h.closed, 1, "{h:?}");
    // A layer under the session (CURVE, PLAIN) passes the same error on: not counted again
    // (attacker round 3: every refusal after a CURVE handshake counted twice).
    net.dev
        .fail_session(net.remotes[bad].id, SessionError::Closed);
    assert_eq!(net.dev.stats().frontend().handshake_failures, h);
    assert_eq!(net.dev.stats().frontend().refused, 4);
    // The refused ones, removed by their caller, are not counted again.
    for p in [http, old, bad, producer] {
        net.disconnect(p);
    }
    assert_eq!(net.dev.stats().frontend().handshake_failures, h);
}
