//! Capture readers (`capture.rs`): a copy of every message routed, either way, in order per
//! source; a reader that does not keep up loses copies (counted) and never slows the device.

use super::*;
use crate::device::MAX_CAPTURE_READERS;

use Side::Capture;

/// A capture reader that subscribed to everything.
fn reader(net: &mut Net<'_>) -> P {
    let r = net.connect(Capture, Sub);
    net.pump();
    net.subscribe(r, b"");
    net.pump();
    r
}

#[test]
fn a_streamer_reader_gets_every_message_whole_and_in_order() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Streamer), &mut store);
    let producers = [net.connect(Frontend, Push), net.connect(Frontend, Push)];
    let worker = net.connect(Backend, Pull);
    net.pump();
    let r = reader(&mut net);
    let mut sent = Vec::new();
    for seq in 0..50 {
        for (from, &p) in producers.iter().enumerate() {
            let m = tagged(from as u32, seq, &[10, 0, 300]);
            net.send(p, &m);
            sent.push(m);
        }
        net.pump();
    }
    assert_eq!(net.msgs(worker), sent);
    assert_eq!(net.msgs(r), sent);
    let s = net.dev.stats();
    assert_eq!((s.capture().msgs_out, s.dropped.capture), (100, 0));
    assert_eq!(s.capture().bytes_out, s.frontend().bytes_in);
    net.assert_healthy();
}

#[test]
fn a_reader_without_a_subscription_gets_nothing() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Streamer), &mut store);
    let producer = net.connect(Frontend, Push);
    let worker = net.connect(Backend, Pull);
    let quiet = net.connect(Capture, Sub);
    net.pump();
    net.send(producer, &msg(&[b"x"]));
    net.pump();
    assert_eq!(net.msgs(worker).len(), 1);
    assert!(net.msgs(quiet).is_empty());
    assert_eq!(net.dev.stats().capture().msgs_out, 0);
}

#[test]
fn a_queue_reader_sees_requests_and_replies_with_their_routing_frame() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Queue), &mut store);
    let client = net.connect(Frontend, Req);
    let worker = net.connect_echo(Rep);
    net.pump();
    let r = reader(&mut net);
    net.send(client, &envelope(true, b"ping"));
    net.pump();
    assert_eq!(net.msgs(client), [envelope(true, b"re:ping")]);
    let got = net.msgs(r);
    assert_eq!(got.len(), 2, "{got:?}");
    let request = &net.msgs(worker)[0];
    assert_eq!(&got[0], request, "the request as the worker got it");
    assert_eq!(got[0][0].len(), 9);
    assert_eq!(
        got[1][0], got[0][0],
        "the reply behind the same routing frame"
    );
    assert_eq!(got[1][1..], envelope(true, b"re:ping")[..]);
    // The reader's own counters are the capture side's: routing frames included.
    let view = net.dev.peer_view(net.id(r)).expect("the reader");
    let side = net.dev.stats().capture();
    assert_eq!(view.side, Capture);
    assert_eq!(view.socket_type, Some(Sub));
    assert_eq!(
        (view.traffic.msgs_out, view.traffic.bytes_out),
        (side.msgs_out, side.bytes_out)
    );
    assert_eq!(side.bytes_out, 2 * 9 + 4 + 7);
    net.assert_healthy();
}

#[test]
fn a_forwarder_reader_gets_publications_no_subscriber_asked_for() {
    let mut store = Storage::new(8, 32);
    let mut net = Net::new(forwarder(), &mut store);
    let (publisher, [a, b]) = net.publisher_and_two_subscribers(b"t");
    let r = reader(&mut net);
    let sent = [msg(&[b"t1"]), msg(&[b"x", b"y"]), msg(&[b"t2", b"z"])];
    for m in &sent {
        net.send(publisher, m);
    }
    net.pump();
    assert_eq!(net.msgs(a), [msg(&[b"t1"]), msg(&[b"t2", b"z"])]);
    assert_eq!(net.msgs(b), net.msgs(a));
    assert_eq!(net.msgs(r), sent);
    // The reader's subscription is no subscription of the device's: none went upstream.
    assert_eq!(net.upstream(publisher), [on(b"t")]);
}

#[test]
fn a_reader_that_does_not_read_loses_copies_and_the_flow_loses_nothing() {
    for kind in [
        Kind::Streamer,
        Kind::Queue,
        Kind::Forwarder { classic: false },
    ] {
        let mut cfg = DeviceConfig::new(kind);
        cfg.queue_hwm = 4096;
        let mut store = Storage::new(8, 32);
        let mut net = Net::new(cfg, &mut store);
        let (src, dst) = match kind {
            Kind::Streamer => (net.connect(Frontend, Push), net.connect(Backend, Pull)),
            Kind::Queue => (net.connect(Frontend, Dealer), net.connect_echo(Dealer)),
            Kind::Forwarder { .. } => {
                let (p, [s, _]) = net.publisher_and_two_subscribers(b"");
                (p, s)
            }
        };
        net.pump();
        let stalled = reader(&mut net);
        net.pause(stalled, true);
        let fast = reader(&mut net);
        let n = 400u32;
        for seq in 0..n {
            net.send(src, &tagged(1, seq, &[200]));
            net.pump();
        }
        let got = if kind == Kind::Queue {
            net.msgs(src).len()
        } else {
            net.msgs(dst).len()
        };
        assert_eq!(got, n as usize, "{kind:?}: the flow got every message");
        let copies = if kind == Kind::Queue { 2 * n } else { n };
        assert_eq!(net.msgs(fast).len(), copies as usize, "{kind:?}");
        let s = *net.dev.stats();
        assert!(s.dropped.capture > 0, "{kind:?}: {s:?}");
        assert_eq!(s.dropped.messages(), 0, "{kind:?}: {s:?}");
        let cap = net.dev.config().queue_capacity();
        assert!(net.queued(stalled) <= cap, "{kind:?}");
        // Caught up, it gets what comes next.
        net.pause(stalled, false);
        net.pump();
        let before = net.msgs(stalled).len();
        net.send(src, &tagged(1, n, &[200]));
        net.pump();
        assert_eq!(
            net.msgs(stalled).len(),
            before + copies as usize / n as usize
        );
        net.assert_healthy();
    }
}

#[test]
fn a_reader_that_cannot_take_the_rest_of_a_large_message_lets_it_go_and_the_worker_gets_it() {
    let mut cfg = small_input(DeviceConfig::new(Kind::Streamer));
    cfg.queue_hwm = 8192;
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(cfg, &mut store);
    let producer = net.connect(Frontend, Push);
    let worker = net.connect(Backend, Pull);
    net.pump();
    let r = reader(&mut net);
    // Memory for the reader runs out in the middle of a message cut through.
    net.ration(r, Some(6000));
    let sent: Vec<Msg> = (0..3).map(|seq| big(1, seq)).collect();
    for m in &sent {
        net.send(producer, m);
    }
    net.pump();
    assert_eq!(net.msgs(worker), sent);
    assert!(net.dev.stats().dropped.capture > 0);
    net.assert_healthy();
}

/// A streamer's producer, worker and reader, with half of a large message (cut through) sent;
/// the message's wire bytes. `stalled`: the reader does not read.
fn half_sent(net: &mut Net<'_>, stalled: bool) -> (P, P, P, Msg, Vec<u8>) {
    let producer = net.connect(Frontend, Push);
    let worker = net.connect(Backend, Pull);
    net.pump();
    let r = reader(net);
    net.pause(r, stalled);
    let m = big(1, 0);
    let wire = encode(&m);
    net.send_raw(producer, &wire[..wire.len() / 2]);
    net.pump();
    (producer, worker, r, m, wire)
}

#[test]
fn the_worker_leaving_mid_message_takes_it_back_from_the_reader_too() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(small_input(DeviceConfig::new(Kind::Streamer)), &mut store);
    let (producer, worker, r, _, wire) = half_sent(&mut net, true);
    net.disconnect(worker);
    net.pump();
    let w2 = net.connect(Backend, Pull);
    net.pump();
    net.send_raw(producer, &wire[wire.len() / 2..]);
    net.send(producer, &msg(&[b"next"]));
    net.pause(r, false);
    net.pump();
    assert_eq!(net.msgs(w2), [msg(&[b"next"])]);
    assert_eq!(
        net.msgs(r),
        [msg(&[b"next"])],
        "no part of the message cut short"
    );
    net.assert_healthy();
}

#[test]
fn a_reader_leaving_mid_message_costs_the_worker_nothing() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(small_input(DeviceConfig::new(Kind::Streamer)), &mut store);
    let (producer, worker, r, m, wire) = half_sent(&mut net, false);
    net.disconnect(r);
    net.pump();
    net.send_raw(producer, &wire[wire.len() / 2..]);
    net.pump();
    assert_eq!(net.msgs(worker), [m]);
    net.assert_healthy();
}

#[test]
fn readers_are_counted_and_as_many_as_the_limit_all_get_copies() {
    let mut store = Storage::new(16, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Streamer), &mut store);
    let producer = net.connect(Frontend, Push);
    let _worker = net.connect(Backend, Pull);
    net.pump();
    let readers: Vec<P> = (0..MAX_CAPTURE_READERS).map(|_| reader(&mut net)).collect();
    assert_eq!(net.dev.stats().capture().peers, MAX_CAPTURE_READERS as u32);
    net.send(producer, &msg(&[b"a", b"b"]));
    net.pump();
    for &r in &readers {
        assert_eq!(net.msgs(r), [msg(&[b"a", b"b"])]);
    }
    net.disconnect(readers[0]);
    net.pump();
    let again = reader(&mut net);
    net.send(producer, &msg(&[b"c"]));
    net.pump();
    assert_eq!(net.msgs(again), [msg(&[b"c"])]);
}

#[test]
fn a_reader_that_reads_nothing_for_the_progress_timeout_while_losing_copies_is_closed() {
    use crate::time::Duration;
    let mut cfg = DeviceConfig::new(Kind::Streamer);
    cfg.queue_hwm = 4096;
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(cfg, &mut store);
    let producer = net.connect(Frontend, Push);
    let worker = net.connect(Backend, Pull);
    net.pump();
    // A ZMTP 3.0 reader: never pinged, so the heartbeat would never close it.
    let stalled = net.connect_as(Side::Capture, Sub, true);
    net.pump();
    net.subscribe(stalled, b"");
    net.pump();
    net.pause(stalled, true);
    let reading = reader(&mut net);
    let step = |net: &mut Net<'_>, seq: u32| {
        net.send(producer, &tagged(1, seq, &[500]));
        net.pump();
    };
    for seq in 0..40 {
        step(&mut net, seq);
    }
    assert!(net.dev.stats().dropped.capture > 0, "it is behind");
    assert!(net.closes.is_empty(), "not yet: {:?}", net.closes);
    net.run_until(net.now + cfg.progress_timeout + Duration::from_millis(1));
    step(&mut net, 40);
    assert_eq!(net.closes, [(stalled, CloseReason::ReaderStalled)]);
    // The reader that reads was never behind: it has every copy, and the flow every message.
    assert_eq!(net.msgs(reading).len(), 41);
    assert_eq!(net.msgs(worker).len(), 41);
    let again = reader(&mut net);
    step(&mut net, 41);
    assert_eq!(net.msgs(again).len(), 1, "its slot is free again");
}

#[test]
fn a_reader_quiet_for_long_then_sent_a_burst_in_one_call_is_not_taken_for_stalled() {
    let mut cfg = DeviceConfig::new(Kind::Streamer);
    cfg.queue_hwm = 4096;
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(cfg, &mut store);
    let producer = net.connect(Frontend, Push);
    let worker = net.connect(Backend, Pull);
    net.pump();
    let r = reader(&mut net);
    net.send(producer, &msg(&[b"first"]));
    net.pump();
    // Quiet for twice the progress timeout (its socket took nothing since), then a burst
    // faster than it reads: it loses copies, and it is no stalled reader.
    net.run_until(net.now + cfg.progress_timeout + cfg.progress_timeout);
    net.pause(r, true);
    for seq in 0..40 {
        net.send(producer, &tagged(1, seq, &[500]));
    }
    net.pump();
    assert!(net.dev.stats().dropped.capture > 0, "the burst overran it");
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    net.pause(r, false);
    net.pump();
    assert_eq!(net.msgs(worker).len(), 41);
    assert!(net.msgs(r).len() > 1);
}
