//! The devices driven end to end by simulated peers, in simulated time.
//!
//! Every remote peer is a real [`Session`](crate::conn::Session) configured as the socket an
//! application would use (REQ clients, REP workers, PUB publishers, SUB subscribers...), wired
//! to its device peer through in-memory pipes. The [`harness`] plays the device's caller as the
//! module docs describe it. Tests below are grouped by device, then the properties and the
//! known bugs.

use std::collections::{BTreeMap, BTreeSet};
use std::iter;
use std::vec::Vec;
use std::{format, vec};

use proptest::prelude::*;
use proptest::sample::Index;

use super::{CloseReason, DeviceConfig, Drops, Kind, Side};
use crate::conn::SessionError;
use crate::wire::metadata::SocketType::{Dealer, Pub, Pull, Push, Rep, Req, Sub, XPub, XSub};
use harness::{encode, End, Msg, Net, Storage, VecQueue, P};
use Side::{Backend, Frontend};

// ---- forwarder ----

#[test]
fn forwarder_filters_by_topic_prefix() {
    let mut store = Storage::new(8, 32);
    let mut net = Net::new(forwarder(), &mut store);
    let publisher = net.connect(Frontend, Pub);
    let weather = net.connect(Backend, Sub);
    let all = net.connect(Backend, XSub);
    let news = net.connect(Backend, Sub);
    let none = net.connect(Backend, Sub);
    net.pump();
    net.subscribe(weather, b"weather/");
    // Overlapping subscriptions of one subscriber: still one copy per message.
    net.subscribe(weather, b"weather/par");
    net.subscribe(all, b"");
    net.subscribe(news, b"news");
    net.pump();

    let sent = [
        msg(&[b"weather/paris 12C"]),
        msg(&[b"news", b"second frame", b""]),
        msg(&[b"sports"]),
        msg(&[b"weather"]),
        msg(&[b"newsflash"]),
        msg(&[b""]),
    ];
    for m in &sent {
        net.send(publisher, m);
    }
    net.pump();
    assert_eq!(net.msgs(all), sent);
    assert_eq!(net.msgs(weather), [sent[0].clone()]);
    assert_eq!(net.msgs(news), [sent[1].clone(), sent[4].clone()]);
    assert!(net.msgs(none).is_empty());
    assert_eq!(net.dev.stats().backend.msgs_out, 6 + 1 + 2);
    net.assert_healthy();
}

#[test]
fn forwarder_sends_each_topic_upstream_once_and_cancels_with_the_last() {
    let mut store = Storage::new(8, 32);
    let mut net = Net::new(forwarder(), &mut store);
    let publisher = net.connect(Frontend, Pub);
    let s1 = net.connect(Backend, Sub);
    let s2 = net.connect(Backend, XSub);
    net.pump();
    net.subscribe(s1, b"a");
    net.subscribe(s2, b"a");
    // Subscriptions are counted, as with libzmq: s1 holds "b" twice.
    net.subscribe(s1, b"b");
    net.subscribe(s1, b"b");
    net.pump();
    let mut want = vec![on(b"a"), on(b"b")];
    assert_eq!(net.upstream(publisher), want);

    net.cancel(s1, b"a");
    net.cancel(s1, b"b");
    net.pump();
    assert_eq!(net.upstream(publisher), want, "others still want a and b");

    net.cancel(s2, b"a");
    net.subscribe(s2, b"c");
    net.pump();
    want.extend([off(b"a"), on(b"c")]);
    assert_eq!(net.upstream(publisher), want);

    net.disconnect(s1);
    net.pump();
    want.push(off(b"b"));
    assert_eq!(
        net.upstream(publisher),
        want,
        "s1 leaving cancels its last b"
    );
    net.disconnect(s2);
    net.pump();
    want.push(off(b"c"));
    assert_eq!(net.upstream(publisher), want);
    assert_eq!(net.dev.subscriptions().0, 0);
    net.assert_healthy();
}

#[test]
fn forwarder_replays_subscriptions_to_a_late_publisher() {
    let mut store = Storage::new(8, 32);
    let mut net = Net::new(forwarder(), &mut store);
    let s1 = net.connect(Backend, Sub);
    let s2 = net.connect(Backend, Sub);
    net.pump();
    for (s, topic) in [(s1, &b"a"[..]), (s1, b"b"), (s2, b"a"), (s2, b"")] {
        net.subscribe(s, topic);
    }
    net.pump();

    let p31 = net.connect(Frontend, Pub);
    let p30 = net.connect_as(Frontend, XPub, true);
    net.pump();
    for p in [p31, p30] {
        let mut got = net.upstream(p).to_vec();
        got.sort();
        assert_eq!(got, [on(b""), on(b"a"), on(b"b")], "publisher {p}");
    }
    let wire = |p: P| net.remote(p).wire.as_slice();
    assert!(contains(wire(p31), b"\x04\x0b\x09SUBSCRIBEa"));
    assert!(contains(wire(p30), b"\x00\x02\x01a"));
    assert!(!contains(wire(p30), b"SUBSCRIBE"));

    net.send(p30, &msg(&[b"b1"]));
    net.send(p31, &msg(&[b"c1"]));
    net.pump();
    assert_eq!(net.msgs(s1), [msg(&[b"b1"])]);
    let mut got = net.msgs(s2).to_vec();
    got.sort();
    assert_eq!(got, [msg(&[b"b1"]), msg(&[b"c1"])]);
    net.assert_healthy();
}

#[test]
fn forwarder_speaks_both_subscription_forms() {
    for (pub_old, sub_old) in [(false, false), (false, true), (true, false), (true, true)] {
        let ctx = format!("publisher 3.0: {pub_old}, subscriber 3.0: {sub_old}");
        let mut store = Storage::new(4, 8);
        let mut net = Net::new(forwarder(), &mut store);
        let publisher = net.connect_as(Frontend, Pub, pub_old);
        let s = net.connect_as(Backend, Sub, sub_old);
        net.pump();
        assert_eq!(
            net.remote(s).session.peer_minor(),
            Some(u8::from(!sub_old)),
            "{ctx}"
        );
        net.subscribe(s, b"weather");
        net.pump();
        assert_eq!(net.upstream(publisher), [on(b"weather")], "{ctx}");
        let (sub_wire, pub_wire) = (&net.remote(s).sent, &net.remote(publisher).wire);
        assert_eq!(contains(sub_wire, b"\x00\x08\x01weather"), sub_old, "{ctx}");
        assert_eq!(
            contains(sub_wire, b"\x09SUBSCRIBEweather"),
            !sub_old,
            "{ctx}"
        );
        assert_eq!(contains(pub_wire, b"\x00\x08\x01weather"), pub_old, "{ctx}");
        assert_eq!(
            contains(pub_wire, b"\x09SUBSCRIBEweather"),
            !pub_old,
            "{ctx}"
        );

        net.send(publisher, &msg(&[b"weather/rome", b"20C"]));
        net.send(publisher, &msg(&[b"other"]));
        net.pump();
        assert_eq!(net.msgs(s), [msg(&[b"weather/rome", b"20C"])], "{ctx}");

        net.cancel(s, b"weather");
        net.pump();
        assert_eq!(
            net.upstream(publisher),
            [on(b"weather"), off(b"weather")],
            "{ctx}"
        );
        net.send(publisher, &msg(&[b"weather/oslo"]));
        net.pump();
        assert_eq!(net.msgs(s).len(), 1, "{ctx}");
        net.assert_healthy();
    }
}

/// Two publishers' large messages, cut through and arriving interleaved, both reach a
/// subscriber that keeps up: the second waits for the first instead of being dropped.
#[test]
fn forwarder_interleaved_large_messages_from_two_publishers_all_arrive() {
    let mut store = Storage::new(4, 8);
    let mut net = Net::new(small_input(forwarder()), &mut store);
    let publishers = [net.connect(Frontend, Pub), net.connect(Frontend, Pub)];
    let sub = net.connect(Backend, Sub);
    net.pump();
    net.subscribe(sub, b"");
    net.pump();
    let mut sent = Vec::new();
    for round in 0..5u8 {
        // Each publisher's message arrives in two halves, the other's first half in between.
        let halves: Vec<(Vec<u8>, Vec<u8>)> = (0..2u8)
            .map(|n| {
                let m = msg(&[&[b'p', n, round], &[round ^ n; 20_000], b"end"]);
                let mut bytes = encode(&m);
                sent.push(m);
                let second = bytes.split_off(bytes.len() / 2);
                (bytes, second)
            })
            .collect();
        for (p, (first, _)) in publishers.iter().zip(&halves) {
            net.send_raw(*p, first);
            net.pump();
        }
        for (p, (_, second)) in publishers.iter().zip(&halves) {
            net.send_raw(*p, second);
            net.pump();
        }
    }
    let mut got = net.msgs(sub).to_vec();
    got.sort();
    sent.sort();
    assert_eq!(got.len(), sent.len(), "every message");
    assert_eq!(got, sent, "every message, whole");
    let dropped = net.dev.stats().dropped;
    assert_eq!((dropped.busy, dropped.hwm), (0, 0));
    for p in publishers {
        assert!(net.wants_read(p) && net.pending(p) == 0);
    }
    net.assert_healthy();
}

#[test]
fn forwarder_slow_subscriber_loses_messages_alone() {
    let mut cfg = forwarder();
    cfg.queue_hwm = 4096;
    let mut store = Storage::new(4, 8);
    let mut net = Net::new(cfg, &mut store);
    let publisher = net.connect(Frontend, Pub);
    let slow = net.connect(Backend, Sub);
    let fast = net.connect(Backend, Sub);
    net.pump();
    net.subscribe(slow, b"t");
    net.subscribe(fast, b"t");
    net.pump();

    net.pause(slow, true);
    let sent: Vec<Msg> = (0..200u32)
        .map(|i| msg(&[format!("t{i:03}").as_bytes(), &[i as u8; 100]]))
        .collect();
    for m in &sent {
        net.send(publisher, m);
        net.pump();
        assert!(net.wants_read(publisher), "the publisher is never blocked");
        assert_eq!(net.pending(publisher), 0);
        // At most one message past the high-water mark.
        assert!(net.queued(slow) < 4096 + 120, "{}", net.queued(slow));
    }
    assert_eq!(net.msgs(fast), sent);

    net.pause(slow, false);
    net.pump();
    let got = net.msgs(slow).len();
    assert!(got > 0 && got < sent.len(), "slow got {got}");
    assert_eq!(
        net.msgs(slow),
        &sent[..got],
        "what arrives arrives in order"
    );
    assert_eq!(net.dev.stats().dropped.hwm, (sent.len() - got) as u64);

    // Drained, it gets messages again.
    net.send(publisher, &msg(&[b"t again"]));
    net.pump();
    assert_eq!(net.msgs(slow).last(), Some(&msg(&[b"t again"])));
    assert_eq!(net.msgs(fast).len(), sent.len() + 1);
    net.assert_healthy();
}

#[test]
fn classic_forwarder_subscribes_publishers_to_everything() {
    let mut store = Storage::new(8, 8);
    let mut net = Net::new(
        DeviceConfig::new(Kind::Forwarder { classic: true }),
        &mut store,
    );
    let p1 = net.connect(Frontend, Pub);
    let p2 = net.connect(Frontend, XPub);
    let x = net.connect(Backend, Sub);
    let all = net.connect(Backend, Sub);
    net.pump();
    net.subscribe(x, b"x");
    net.subscribe(all, b"");
    net.pump();
    for p in [p1, p2] {
        assert_eq!(net.upstream(p), [on(b"")], "publisher {p}");
    }

    net.send(p1, &msg(&[b"x1"]));
    net.send(p1, &msg(&[b"y1"]));
    net.send(p2, &msg(&[b"x2", b"more"]));
    net.pump();
    let mut got = net.msgs(x).to_vec();
    got.sort();
    assert_eq!(got, [msg(&[b"x1"]), msg(&[b"x2", b"more"])]);
    assert_eq!(net.msgs(all).len(), 3);

    net.cancel(x, b"x");
    net.pump();
    net.send(p1, &msg(&[b"x3"]));
    net.pump();
    assert_eq!(net.msgs(x).len(), 2, "x cancelled");
    assert_eq!(net.msgs(all).len(), 4);
    for p in [p1, p2] {
        assert_eq!(
            net.upstream(p),
            [on(b"")],
            "subscriptions stay in the broker"
        );
    }
    net.assert_healthy();
}

// ---- queue ----

#[test]
fn queue_routes_every_reply_to_its_client() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Queue), &mut store);
    let clients = [
        net.connect(Frontend, Req),
        net.connect(Frontend, Req),
        net.connect(Frontend, Dealer),
    ];
    let is_req = [true, true, false];
    let workers = [net.connect_echo(Rep), net.connect_echo(Dealer)];
    net.pump();

    let request = |c: usize, round: usize| format!("client {c} request {round}").into_bytes();
    for round in 0..5 {
        for (c, &client) in clients.iter().enumerate() {
            net.send(client, &envelope(is_req[c], &request(c, round)));
        }
        net.pump();
    }
    for (c, &client) in clients.iter().enumerate() {
        let want: Vec<Msg> = (0..5)
            .map(|round| envelope(is_req[c], &[b"re:", &request(c, round)[..]].concat()))
            .collect();
        assert_eq!(net.msgs(client), want, "client {c}");
    }
    for &w in &workers {
        // Round-robin: 15 requests over 2 workers.
        assert!(
            (7..=8).contains(&net.msgs(w).len()),
            "{}",
            net.msgs(w).len()
        );
        for m in net.msgs(w) {
            assert_eq!(m[0].len(), 9, "a routing frame first");
        }
    }
    net.assert_healthy();
}

#[test]
fn queue_gives_work_to_a_worker_that_comes_late() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Queue), &mut store);
    let w1 = net.connect_echo(Rep);
    let clients: Vec<P> = (0..4).map(|_| net.connect(Frontend, Req)).collect();
    net.pump();
    let round = |net: &mut Net<'_>, n: u8| {
        for &c in &clients {
            net.send(c, &envelope(true, &[n, c as u8]));
        }
        net.pump();
    };
    round(&mut net, 1);
    assert_eq!(net.msgs(w1).len(), 4);

    let w2 = net.connect_echo(Rep);
    net.pump();
    round(&mut net, 2);
    assert_eq!((net.msgs(w1).len(), net.msgs(w2).len()), (6, 2));
    for &c in &clients {
        let want = [1, 2].map(|n| envelope(true, &[b'r', b'e', b':', n, c as u8]));
        assert_eq!(net.msgs(c), want, "client {c}");
    }
    net.assert_healthy();
}

#[test]
fn queue_drops_replies_to_departed_clients() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Queue), &mut store);
    let worker = net.connect(Backend, Rep);
    let c1 = net.connect(Frontend, Req);
    let c2 = net.connect(Frontend, Req);
    net.pump();
    net.send(c1, &envelope(true, b"q1"));
    net.send(c2, &envelope(true, b"q2"));
    net.pump();
    let requests = net.msgs(worker).to_vec();
    assert_eq!(requests.len(), 2);
    let (rid1, rid2) = (&requests[0][0], &requests[1][0]);

    net.disconnect(c1);
    net.pump();
    // A multipart reply to the departed client, then one to a present client.
    net.send(worker, &msg(&[rid1, b"", b"a", b"b"]));
    net.send(worker, &msg(&[rid2, b"", b"re:q2"]));
    net.pump();
    assert_eq!(net.msgs(c2), [envelope(true, b"re:q2")]);
    assert_eq!(net.dev.stats().dropped.unroutable, 1);

    // A newcomer in the departed client's slot is not it; a routing frame that is not ours
    // names no one.
    let c3 = net.connect(Frontend, Req);
    net.pump();
    net.send(worker, &msg(&[rid1, b"", b"stale"]));
    net.send(worker, &msg(&[b"bogus", b"", b"x"]));
    net.pump();
    assert!(net.msgs(c3).is_empty());
    assert_eq!(net.dev.stats().dropped.unroutable, 3);
    assert!(net.wants_read(worker));
    net.assert_healthy();
}

#[test]
fn queue_keeps_large_multipart_requests_and_replies_whole() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(small_input(DeviceConfig::new(Kind::Queue)), &mut store);
    let clients = [net.connect(Frontend, Dealer), net.connect(Frontend, Dealer)];
    let worker = net.connect_echo(Dealer);
    net.pump();
    let sent: Vec<Vec<Msg>> = (0..2u32)
        .map(|c| (0..3).map(|i| big(c, i)).collect())
        .collect();
    for (c, msgs) in sent.iter().enumerate() {
        for m in msgs {
            net.send(clients[c], m);
        }
    }
    net.pump();
    for (c, msgs) in sent.iter().enumerate() {
        let want: Vec<Msg> = msgs.iter().map(echo).collect();
        assert_eq!(net.msgs(clients[c]), want, "client {c}");
    }
    for m in net.msgs(worker) {
        assert_eq!(m.len(), 4, "routing frame and three frames");
    }
    net.assert_healthy();
}

#[test]
fn queue_holds_requests_until_a_worker_arrives() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Queue), &mut store);
    let clients: Vec<P> = (0..3).map(|_| net.connect(Frontend, Dealer)).collect();
    net.pump();
    for &c in &clients {
        for i in 0..3u8 {
            net.send(c, &msg(&[&[c as u8, i]]));
        }
    }
    net.pump();
    for &c in &clients {
        assert!(!net.wants_read(c), "client {c} waits for a worker");
        assert!(net.pending(c) > 0);
    }
    assert_eq!(net.dev.stats().frontend.msgs_in, 0);

    let worker = net.connect_echo(Dealer);
    net.pump();
    for &c in &clients {
        let want: Vec<Msg> = (0..3u8)
            .map(|i| msg(&[&[b'r', b'e', b':', c as u8, i]]))
            .collect();
        assert_eq!(net.msgs(c), want, "client {c}");
        assert!(net.wants_read(c));
        assert_eq!(net.pending(c), 0);
    }
    assert_eq!(net.msgs(worker).len(), 9);
    net.assert_healthy();
}

// ---- streamer ----

#[test]
fn streamer_spreads_messages_over_workers_including_late_ones() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Streamer), &mut store);
    let producers = [net.connect(Frontend, Push), net.connect(Frontend, Push)];
    let mut workers = vec![net.connect(Backend, Pull), net.connect(Backend, Pull)];
    net.pump();
    let mut sent = Vec::new();
    let mut send_round = |net: &mut Net<'_>, n: u32, base: u32| {
        for (i, &p) in producers.iter().enumerate() {
            for seq in base..base + n {
                let m = tagged(i as u32, seq, &[10, 5]);
                net.send(p, &m);
                sent.push(m);
            }
        }
        net.pump();
    };
    send_round(&mut net, 20, 0);
    let before: Vec<usize> = workers.iter().map(|&w| net.msgs(w).len()).collect();
    workers.push(net.connect(Backend, Pull));
    net.pump();
    send_round(&mut net, 30, 20);

    let round2: Vec<usize> = workers
        .iter()
        .enumerate()
        .map(|(i, &w)| net.msgs(w).len() - before.get(i).copied().unwrap_or(0))
        .collect();
    let (min, max) = (round2.iter().min().unwrap(), round2.iter().max().unwrap());
    assert!(*min > 0 && max - min <= 1, "round-robin: {round2:?}");
    assert_delivered_once(&net, &workers, &sent, true);
    net.assert_healthy();
}

#[test]
fn streamer_backpressure_loses_nothing() {
    let mut cfg = DeviceConfig::new(Kind::Streamer);
    cfg.queue_hwm = 2048;
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(cfg, &mut store);
    let producer = net.connect(Frontend, Push);
    let workers = [net.connect(Backend, Pull), net.connect(Backend, Pull)];
    net.pump();
    net.pause(workers[0], true);
    net.pause(workers[1], true);
    let sent: Vec<Msg> = (0..100).map(|seq| tagged(0, seq, &[300])).collect();
    for m in &sent {
        net.send(producer, m);
    }
    net.pump();
    assert!(!net.wants_read(producer), "full workers stop the producer");
    assert!(net.pending(producer) > 0);
    for &w in &workers {
        assert!(net.queued(w) < 2048 + 320, "{}", net.queued(w));
    }

    net.pause(workers[0], false);
    net.pump();
    assert!(net.wants_read(producer));
    net.pause(workers[1], false);
    net.pump();
    assert_delivered_once(&net, &workers, &sent, true);
    assert_eq!(net.dev.stats().dropped, Drops::default());
    net.assert_healthy();
}

#[test]
fn streamer_cut_through_never_splices_frames() {
    let mut cfg = small_input(DeviceConfig::new(Kind::Streamer));
    cfg.queue_hwm = 4096;
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(cfg, &mut store);
    let producers = [net.connect(Frontend, Push), net.connect(Frontend, Push)];
    let workers = [net.connect(Backend, Pull), net.connect(Backend, Pull)];
    net.pump();
    let mut sent = Vec::new();
    for seq in 0..10 {
        for (i, &p) in producers.iter().enumerate() {
            let m = big(i as u32, seq);
            net.send(p, &m);
            sent.push(m);
        }
    }
    net.pump();
    assert_delivered_once(&net, &workers, &sent, true);
    for &w in &workers {
        assert!(!net.msgs(w).is_empty(), "worker {w} got nothing");
    }
    net.assert_healthy();
}

// ---- a sender leaving mid-message ----

#[test]
fn a_partial_message_is_taken_back_or_its_receiver_reset() {
    let mut store = Storage::new(8, 8);
    let mut net = Net::new(small_input(forwarder()), &mut store);
    let publisher = net.connect(Frontend, Pub);
    let slow = net.connect(Backend, Sub);
    let fast = net.connect(Backend, Sub);
    net.pump();
    net.subscribe(slow, b"");
    net.subscribe(fast, b"");
    net.pump();
    net.pause(slow, true);
    net.send(publisher, &msg(&[b"before"]));
    net.pump();
    let before_len = net.queued(slow);

    // Two frames and a bit of a 20 KB message, cut through to both subscribers.
    let partial = encode(&big(0, 0));
    net.send_raw(publisher, &partial[..14_000]);
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

// ---- stats ----

#[test]
fn stats_add_up_in_a_streamer() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Streamer), &mut store);
    let producer = net.connect(Frontend, Push);
    let w1 = net.connect(Backend, Pull);
    let w2 = net.connect(Backend, Pull);
    net.pump();
    let s = *net.dev.stats();
    assert_eq!((s.frontend.peers, s.backend.peers), (1, 2));
    for _ in 0..10 {
        net.send(producer, &msg(&[b"abc", b"defghij"]));
    }
    net.pump();
    assert_eq!(net.msgs(w1).len() + net.msgs(w2).len(), 10);
    let s = *net.dev.stats();
    assert_eq!((s.frontend.msgs_in, s.frontend.bytes_in), (10, 100));
    assert_eq!((s.backend.msgs_out, s.backend.bytes_out), (10, 100));
    assert_eq!((s.frontend.msgs_out, s.backend.msgs_in), (0, 0));

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
    assert_eq!((s.backend.peers, s.backend.connections), (1, 3));
    assert_eq!((s.backend.refused, s.frontend.refused), (1, 0));
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
    assert_eq!((s.frontend.msgs_in, s.frontend.bytes_in), (5, 50));
    assert_eq!((s.backend.msgs_out, s.backend.bytes_out), (5, 5 * (9 + 10)));
    assert_eq!((s.backend.msgs_in, s.backend.bytes_in), (5, 5 * (9 + 13)));
    assert_eq!((s.frontend.msgs_out, s.frontend.bytes_out), (5, 5 * 13));

    let mut store = Storage::new(8, 8);
    let mut net = Net::new(forwarder(), &mut store);
    let publisher = net.connect(Frontend, Pub);
    let subs = [net.connect(Backend, Sub), net.connect(Backend, Sub)];
    net.pump();
    for s in subs {
        net.subscribe(s, b"");
    }
    net.pump();
    for _ in 0..3 {
        net.send(publisher, &msg(&[b"topic", b"body"]));
    }
    net.pump();
    let s = *net.dev.stats();
    assert_eq!((s.frontend.msgs_in, s.frontend.bytes_in), (3, 27));
    assert_eq!((s.backend.msgs_out, s.backend.bytes_out), (6, 54));
    assert_eq!((s.frontend.peers, s.backend.peers), (1, 2));
    net.disconnect(subs[0]);
    net.disconnect(publisher);
    assert_eq!(
        (
            net.dev.stats().frontend.peers,
            net.dev.stats().backend.peers
        ),
        (0, 1)
    );
    net.assert_healthy();
}

// ---- operation sequences ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Removals {
    Never,
    /// Only workers with nothing queued, while no message is in flight.
    IdleOnly,
    Any,
}

#[derive(Clone, Debug)]
enum Op {
    AddWorker,
    RemoveWorker(Index),
    Send { producer: usize, sizes: Vec<usize> },
    Pump,
    TogglePause(Index),
}

fn op() -> impl Strategy<Value = Op> {
    let size = prop_oneof![3 => 0..300usize, 1 => 300..9000usize];
    let send = (0..2usize, proptest::collection::vec(size, 1..=3))
        .prop_map(|(producer, sizes)| Op::Send { producer, sizes });
    prop_oneof![
        1 => Just(Op::AddWorker),
        1 => any::<Index>().prop_map(Op::RemoveWorker),
        6 => send,
        3 => Just(Op::Pump),
        2 => any::<Index>().prop_map(Op::TogglePause),
    ]
}

/// Two producers and a changing set of workers on a streamer that cuts large messages through
/// and has a small high-water mark.
fn run_streamer(ops: &[Op], removals: Removals) -> Result<(), TestCaseError> {
    let mut cfg = small_input(DeviceConfig::new(Kind::Streamer));
    cfg.queue_hwm = 8192;
    let mut store = Storage::new(16, 0);
    let mut net = Net::new(cfg, &mut store);
    let producers = [net.connect(Frontend, Push), net.connect(Frontend, Push)];
    let mut live = vec![net.connect(Backend, Pull)];
    let mut workers = live.clone();
    let mut sent = Vec::new();
    net.pump();
    for op in ops {
        match op {
            Op::AddWorker if live.len() < 10 => {
                let w = net.connect(Backend, Pull);
                live.push(w);
                workers.push(w);
            }
            Op::RemoveWorker(i) if !live.is_empty() => {
                let w = live[i.index(live.len())];
                let idle = net.queued(w) == 0 && producers.iter().all(|&p| net.pending(p) == 0);
                if removals == Removals::Any || (removals == Removals::IdleOnly && idle) {
                    net.disconnect(w);
                    live.retain(|&l| l != w);
                }
            }
            Op::Send { producer, sizes } => {
                let m = tagged(*producer as u32, sent.len() as u32, sizes);
                net.send(producers[*producer], &m);
                sent.push(m);
            }
            Op::Pump => net.pump(),
            Op::TogglePause(i) if !live.is_empty() => {
                let w = live[i.index(live.len())];
                let paused = net.remote(w).paused;
                net.pause(w, !paused);
            }
            Op::AddWorker | Op::RemoveWorker(_) | Op::TogglePause(_) => {}
        }
    }
    for &w in &live {
        net.pause(w, false);
    }
    if live.is_empty() {
        workers.push(net.connect(Backend, Pull));
    }
    net.pump();

    let everything = removals != Removals::Any;
    let mut seen = BTreeSet::new();
    for &w in &workers {
        let mut last: [Option<u32>; 2] = [None; 2];
        for m in net.msgs(w) {
            let (from, seq) = tag(m);
            prop_assert_eq!(Some(m), sent.get(seq as usize), "corrupted at worker {}", w);
            prop_assert!(seen.insert(seq), "{} delivered twice", seq);
            prop_assert!(last[from as usize] < Some(seq), "reordered at worker {}", w);
            last[from as usize] = Some(seq);
        }
    }
    if everything {
        prop_assert_eq!(seen.len(), sent.len(), "lost messages");
        prop_assert_eq!(net.dev.stats().backend.msgs_out, sent.len() as u64);
    }
    for p in producers {
        prop_assert_eq!(net.pending(p), 0, "producer {} stuck", p);
    }
    prop_assert_eq!(net.dev.stats().frontend.msgs_in, sent.len() as u64);
    net.assert_healthy();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn streamer_delivers_everything_once(ops in proptest::collection::vec(op(), 1..60)) {
        run_streamer(&ops, Removals::Never)?;
    }

    #[test]
    fn streamer_loses_nothing_when_idle_workers_leave(
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        run_streamer(&ops, Removals::IdleOnly)?;
    }

    #[test]
    fn streamer_never_duplicates_nor_corrupts_when_busy_workers_leave(
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        run_streamer(&ops, Removals::Any)?;
    }
}

// ---- known bugs ----

/// A publisher's greeting and READY often arrive in one read (it sends READY as soon as it has
/// our greeting, which we send at once). The subscriptions it is owed must follow our READY.
#[test]
fn subscriptions_to_a_new_publisher_follow_our_ready() {
    for classic in [false, true] {
        let mut store = Storage::new(4, 8);
        let mut net = Net::new(DeviceConfig::new(Kind::Forwarder { classic }), &mut store);
        let s = net.connect(Backend, Sub);
        net.pump();
        net.subscribe(s, b"a");
        net.pump();
        let publisher = net.connect(Frontend, Pub);
        // The publisher takes our greeting before we read its own: its READY follows.
        net.deliver(publisher);
        net.pump();
        let topic: &[u8] = if classic { b"" } else { b"a" };
        assert_eq!(net.remote(publisher).error, None, "classic {classic}");
        assert_eq!(net.upstream(publisher), [on(topic)], "classic {classic}");
    }
}

/// A caller that flushes a failed peer's output before closing it (edge-bin does) keeps the
/// peer a while; messages must not be routed to it meanwhile.
#[test]
fn a_worker_whose_session_failed_gets_no_more_work() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Streamer), &mut store);
    net.remove_failed = false;
    let producer = net.connect(Frontend, Push);
    let broken = net.connect(Backend, Pull);
    let worker = net.connect(Backend, Pull);
    net.pump();
    // Reserved flag bits: a framing error.
    net.send_raw(broken, &[0xf0, 0x00]);
    net.pump();
    assert!(matches!(net.remote(broken).end, Some(End::Failed(_))));
    let sent = [msg(&[b"m0"]), msg(&[b"m1"])];
    for m in &sent {
        net.send(producer, m);
    }
    net.pump();
    net.disconnect(broken);
    net.pump();
    assert_eq!(net.msgs(worker), sent);
}

/// `poll_close` must not answer `None` while closes are pending, even when a pending entry's
/// slot went to a new peer in the same round.
#[test]
fn poll_close_reports_every_pending_close_after_a_slot_is_reused() {
    // Which of the two reset subscribers leaves first depends on list order: try both.
    for leaving in 0..2 {
        let mut store = Storage::new(8, 8);
        let mut net = Net::new(small_input(forwarder()), &mut store);
        let publisher = net.connect(Frontend, Pub);
        let subs = [net.connect(Backend, Sub), net.connect(Backend, Sub)];
        net.pump();
        for s in subs {
            net.subscribe(s, b"");
        }
        net.pump();
        net.send_raw(publisher, &encode(&big(0, 0))[..10_000]);
        net.pump();
        // One round of the caller: the publisher and a subscriber hang up, and new peers take
        // their slots, before the caller asks what to close.
        net.dev.remove_peer(net.id(publisher));
        net.dev.remove_peer(net.id(subs[leaving]));
        for _ in 0..2 {
            let queue = VecQueue::new(net.dev.config().queue_capacity());
            assert!(net.dev.add_peer(Backend, queue, net.now).is_ok());
        }
        let closes: Vec<_> = iter::from_fn(|| net.dev.poll_close()).collect();
        let staying = net.id(subs[1 - leaving]);
        assert_eq!(
            closes,
            [(staying, CloseReason::SenderAborted)],
            "sub {leaving} left"
        );
    }
}

// ---- helpers ----

fn forwarder() -> DeviceConfig {
    DeviceConfig::new(Kind::Forwarder { classic: false })
}

/// Input buffers of 4 KB: larger messages are cut through.
fn small_input(mut cfg: DeviceConfig) -> DeviceConfig {
    cfg.limits.max_command_size = 1024;
    cfg.input_capacity = 4096;
    cfg
}

fn msg(frames: &[&[u8]]) -> Msg {
    frames.iter().map(|f| f.to_vec()).collect()
}

/// A request or reply as a REQ socket sends and receives it (behind an empty delimiter), or
/// as a DEALER does.
fn envelope(req: bool, body: &[u8]) -> Msg {
    if req {
        msg(&[b"", body])
    } else {
        msg(&[body])
    }
}

/// What an echoing worker answers, once the device has taken the routing frame off.
fn echo(request: &Msg) -> Msg {
    let mut m = request.clone();
    if let Some(last) = m.last_mut() {
        *last = [&b"re:"[..], last].concat();
    }
    m
}

fn on(topic: &[u8]) -> (bool, Vec<u8>) {
    (true, topic.to_vec())
}

fn off(topic: &[u8]) -> (bool, Vec<u8>) {
    (false, topic.to_vec())
}

/// A message whose every byte depends on its sender and number, so that a splice or a loss
/// shows; frame 0 starts with both.
fn tagged(from: u32, seq: u32, sizes: &[usize]) -> Msg {
    sizes
        .iter()
        .enumerate()
        .map(|(f, &len)| {
            let mut frame = Vec::with_capacity(8 + len);
            if f == 0 {
                frame.extend(from.to_be_bytes());
                frame.extend(seq.to_be_bytes());
            }
            let salt = from as usize * 101 + seq as usize * 31 + f * 7;
            frame.extend((0..len).map(|i| (salt + i) as u8));
            frame
        })
        .collect()
}

fn tag(m: &Msg) -> (u32, u32) {
    let word = |at: usize| u32::from_be_bytes(m[0][at..at + 4].try_into().unwrap());
    (word(0), word(4))
}

/// About 20 KB in three frames.
fn big(from: u32, seq: u32) -> Msg {
    tagged(from, seq, &[7000, 6000, 7000])
}

/// Every message the workers got is one that was sent, whole, and none came twice; with `all`,
/// every sent message arrived.
fn assert_delivered_once(net: &Net<'_>, workers: &[P], sent: &[Msg], all: bool) {
    let mut count: BTreeMap<&Msg, usize> = BTreeMap::new();
    for &w in workers {
        for m in net.msgs(w) {
            *count.entry(m).or_default() += 1;
        }
    }
    let sent_set: BTreeSet<&Msg> = sent.iter().collect();
    for (m, n) in &count {
        assert!(
            sent_set.contains(m),
            "a message that was never sent: {:?}",
            tag(m)
        );
        assert_eq!(*n, 1, "{:?} delivered {n} times", tag(m));
    }
    if all {
        assert_eq!(count.len(), sent_set.len(), "lost messages");
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

mod harness {
    //! The device's caller and its remote peers, in memory.
    //!
    //! Per connection the caller keeps an input buffer of `input_capacity` bytes. It reads the
    //! remote's bytes into it only while [`Device::wants_read`], feeds the whole buffer to
    //! [`Device::handle_input`] when new bytes came in or [`Device::poll_wake`] named the peer,
    //! and keeps what was not consumed. It writes each peer's output to its remote unless the
    //! test paused that remote (a slow peer), and closes what [`Device::poll_close`] names after
    //! writing what it holds. A buffer that is full, wanted, and not consumed would hang a real
    //! caller: the harness panics.
    //!
    //! A remote queues messages and subscriptions until its handshake is done, as a ZeroMQ
    //! socket does, and records the whole messages and the subscriptions it receives. An echoing
    //! remote answers every message with the same frames, the last prefixed with `re:`: a REP
    //! or DEALER worker keeping the envelope.

    use std::collections::VecDeque;
    use std::mem;
    use std::vec;
    use std::vec::Vec;

    use crate::conn::{Event, Session, SessionConfig, SessionError, TRANSMIT_BUFFER};
    use crate::device::{
        ByteQueue, CloseReason, Device, DeviceConfig, PeerId, Side, Slot, SUB_ENTRY_LEN,
    };
    use crate::time::Instant;
    use crate::wire::frame::FrameHead;
    use crate::wire::metadata::SocketType;
    use crate::wire::{Full, Writer};

    /// A message: its frames' bodies.
    pub type Msg = Vec<Vec<u8>>;

    /// A remote peer: its place in the order of connection.
    pub type P = usize;

    /// Where a greeting carries the ZMTP minor version.
    const MINOR_AT: usize = 11;

    /// An outbound queue that takes memory only while it holds bytes.
    #[derive(Debug)]
    pub struct VecQueue {
        buf: VecDeque<u8>,
        cap: usize,
    }

    impl VecQueue {
        pub fn new(cap: usize) -> Self {
            VecQueue {
                buf: VecDeque::new(),
                cap,
            }
        }
    }

    impl ByteQueue for VecQueue {
        fn len(&self) -> usize {
            self.buf.len()
        }

        fn capacity(&self) -> usize {
            self.cap
        }

        fn push(&mut self, data: &[u8]) -> Result<(), Full> {
            if self.cap - self.buf.len() < data.len() {
                return Err(Full);
            }
            self.buf.extend(data);
            Ok(())
        }

        fn front(&self) -> (&[u8], &[u8]) {
            self.buf.as_slices()
        }

        fn consume(&mut self, n: usize) {
            self.buf.drain(..n.min(self.buf.len()));
        }

        fn truncate_back(&mut self, n: usize) {
            self.buf.truncate(self.buf.len().saturating_sub(n));
        }
    }

    /// The device's peer slots and subscription table.
    #[derive(Debug)]
    pub struct Storage {
        slots: Vec<Slot<VecQueue>>,
        subs: Vec<u8>,
    }

    impl Storage {
        pub fn new(peers: usize, subs: usize) -> Self {
            Storage {
                slots: (0..peers).map(|_| Slot::default()).collect(),
                subs: vec![0; subs * SUB_ENTRY_LEN],
            }
        }
    }

    /// How a remote's connection ended.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum End {
        /// The remote hung up.
        Left,
        /// The device's session failed on the remote's input.
        Failed(SessionError),
        /// The device asked for the connection to be closed.
        Closed(CloseReason),
    }

    #[derive(Debug)]
    enum Out {
        Msg(Msg),
        Sub(bool, Vec<u8>),
    }

    /// A session event with its bytes copied out of the input.
    enum Ev {
        Frame(bool, u64, Vec<u8>),
        Body(Vec<u8>),
        Sub(bool, Vec<u8>),
        Ready,
    }

    impl From<Event<'_>> for Ev {
        fn from(e: Event<'_>) -> Self {
            match e {
                Event::Ready(_) => Ev::Ready,
                Event::Frame(f) => Ev::Frame(f.more, f.len, f.chunk.to_vec()),
                Event::Body { chunk, .. } => Ev::Body(chunk.to_vec()),
                Event::Subscribe(t) => Ev::Sub(true, t.to_vec()),
                Event::Cancel(t) => Ev::Sub(false, t.to_vec()),
            }
        }
    }

    #[derive(Debug)]
    pub struct Remote {
        pub id: PeerId,
        pub session: Session,
        /// Speaks ZMTP 3.0: its greeting and the device's, as it reads it, say so.
        old: bool,
        echo: bool,
        pub paused: bool,
        /// Queued by the test until the handshake is done.
        outbox: Vec<Out>,
        /// Every byte the remote wrote, and how much of it the caller has read.
        pub sent: Vec<u8>,
        sent_read: usize,
        /// The caller's input buffer for this connection.
        inbuf: Vec<u8>,
        woken: bool,
        /// Every byte the device wrote to the remote, and how much of it the session took.
        pub wire: Vec<u8>,
        wire_read: usize,
        pub msgs: Vec<Msg>,
        frames: Msg,
        /// The frame being received: MORE, announced length, body so far.
        frame: Option<(bool, u64, Vec<u8>)>,
        /// Subscriptions (true) and cancellations received.
        pub subs: Vec<(bool, Vec<u8>)>,
        pub error: Option<SessionError>,
        pub end: Option<End>,
        /// The device still has the peer.
        attached: bool,
    }

    impl Remote {
        /// Take in what the device wrote, then write what the session owes and, after the
        /// handshake, what the test queued. Returns whether anything moved.
        fn read(&mut self, now: Instant) -> bool {
            let mut moved = false;
            while self.error.is_none() {
                let ev = match self.session.handle_input(&self.wire[self.wire_read..], now) {
                    Ok(input) if input.needs_more() => break,
                    Ok(input) => {
                        self.wire_read += input.consumed;
                        input.event.map(Ev::from)
                    }
                    Err(e) => {
                        self.error = Some(e);
                        break;
                    }
                };
                moved = true;
                if let Some(ev) = ev {
                    self.on_event(ev);
                }
            }
            self.transmit() || moved
        }

        fn on_event(&mut self, ev: Ev) {
            match ev {
                Ev::Frame(more, len, chunk) => self.frame = Some((more, len, chunk)),
                Ev::Body(chunk) => match &mut self.frame {
                    Some((_, _, body)) => body.extend(chunk),
                    None => panic!("body bytes outside a frame"),
                },
                Ev::Sub(on, topic) => {
                    self.subs.push((on, topic));
                    return;
                }
                Ev::Ready => return,
            }
            let Some((more, _, body)) = self.frame.take_if(|(_, len, b)| b.len() as u64 == *len)
            else {
                return;
            };
            self.frames.push(body);
            if !more {
                let m = mem::take(&mut self.frames);
                if self.echo {
                    self.outbox.push(Out::Msg(super::echo(&m)));
                }
                self.msgs.push(m);
            }
        }

        /// Write owed commands, then (once ready) queued messages and subscriptions: always at
        /// a message boundary, since whole messages are written at once.
        fn transmit(&mut self) -> bool {
            let before = self.sent.len();
            let mut buf = [0u8; TRANSMIT_BUFFER];
            let n = self.session.poll_transmit(&mut buf);
            self.sent.extend_from_slice(&buf[..n]);
            if self.session.is_ready() {
                for out in self.outbox.drain(..) {
                    match out {
                        Out::Msg(m) => self.sent.extend(encode(&m)),
                        Out::Sub(on, topic) => {
                            let mut buf = vec![0u8; topic.len() + 32];
                            let mut w = Writer::new(&mut buf);
                            let ok = self.session.write_subscription(&mut w, on, &topic);
                            assert!(ok.is_ok(), "room for a subscription");
                            let n = w.len();
                            self.sent.extend_from_slice(&buf[..n]);
                        }
                    }
                }
            }
            self.sent.len() > before
        }
    }

    /// A device, its caller, and the remote peers.
    #[derive(Debug)]
    pub struct Net<'s> {
        pub dev: Device<'s, VecQueue>,
        pub now: Instant,
        remotes: Vec<Remote>,
        /// Closes the device asked for, in order.
        pub closes: Vec<(P, CloseReason)>,
        /// Remove a peer as soon as its session fails. When false the test does it, like a
        /// caller that first writes the failed peer's output (edge-bin).
        pub remove_failed: bool,
    }

    impl<'s> Net<'s> {
        pub fn new(cfg: DeviceConfig, store: &'s mut Storage) -> Self {
            assert_eq!(cfg.validate(), Ok(()));
            Net {
                dev: Device::new(cfg, &mut store.slots, &mut store.subs),
                now: Instant::ZERO,
                remotes: Vec::new(),
                closes: Vec::new(),
                remove_failed: true,
            }
        }

        /// A remote of type `ty` connects to the device's `side`.
        pub fn connect(&mut self, side: Side, ty: SocketType) -> P {
            self.connect_as(side, ty, false)
        }

        /// A worker that answers every request.
        pub fn connect_echo(&mut self, ty: SocketType) -> P {
            let p = self.connect(Side::Backend, ty);
            self.remotes[p].echo = true;
            p
        }

        /// `old`: the remote speaks ZMTP 3.0.
        pub fn connect_as(&mut self, side: Side, ty: SocketType, old: bool) -> P {
            let queue = VecQueue::new(self.dev.config().queue_capacity());
            let id = self.dev.add_peer(side, queue, self.now);
            let mut remote = Remote {
                id: id.expect("a free peer slot"),
                session: Session::new(SessionConfig::new(ty), self.now),
                old,
                echo: false,
                paused: false,
                outbox: Vec::new(),
                sent: Vec::new(),
                sent_read: 0,
                inbuf: Vec::new(),
                woken: false,
                wire: Vec::new(),
                wire_read: 0,
                msgs: Vec::new(),
                frames: Vec::new(),
                frame: None,
                subs: Vec::new(),
                error: None,
                end: None,
                attached: true,
            };
            remote.transmit();
            if old {
                remote.sent[MINOR_AT] = 0;
            }
            self.remotes.push(remote);
            self.remotes.len() - 1
        }

        /// The remote hangs up.
        pub fn disconnect(&mut self, p: P) {
            let r = &mut self.remotes[p];
            if r.attached {
                self.dev.remove_peer(r.id);
                r.attached = false;
            }
            r.end.get_or_insert(End::Left);
        }

        pub fn send(&mut self, p: P, m: &Msg) {
            self.remotes[p].outbox.push(Out::Msg(m.clone()));
        }

        /// Bytes written past the remote's session: a peer that misbehaves or stops mid-way.
        pub fn send_raw(&mut self, p: P, bytes: &[u8]) {
            self.remotes[p].sent.extend_from_slice(bytes);
        }

        pub fn subscribe(&mut self, p: P, topic: &[u8]) {
            self.remotes[p].outbox.push(Out::Sub(true, topic.to_vec()));
        }

        pub fn cancel(&mut self, p: P, topic: &[u8]) {
            self.remotes[p].outbox.push(Out::Sub(false, topic.to_vec()));
        }

        /// A paused remote takes no output: the device's queue for it fills.
        pub fn pause(&mut self, p: P, paused: bool) {
            self.remotes[p].paused = paused;
        }

        pub fn remote(&self, p: P) -> &Remote {
            &self.remotes[p]
        }

        pub fn id(&self, p: P) -> PeerId {
            self.remotes[p].id
        }

        pub fn msgs(&self, p: P) -> &[Msg] {
            &self.remotes[p].msgs
        }

        /// Subscriptions a publisher received.
        pub fn upstream(&self, p: P) -> &[(bool, Vec<u8>)] {
            &self.remotes[p].subs
        }

        pub fn wants_read(&self, p: P) -> bool {
            self.dev.wants_read(self.remotes[p].id)
        }

        /// Bytes the device holds for the remote.
        pub fn queued(&self, p: P) -> usize {
            let (a, b) = self.dev.output(self.remotes[p].id);
            a.len() + b.len()
        }

        /// What the remote sent or queued that the device has not consumed; 0 when it has
        /// taken everything.
        pub fn pending(&self, p: P) -> usize {
            let r = &self.remotes[p];
            r.sent.len() - r.sent_read + r.inbuf.len() + r.outbox.len()
        }

        /// No remote that is still connected saw an error, and the device refused no one.
        pub fn assert_healthy(&self) {
            for (p, r) in self.remotes.iter().enumerate() {
                if matches!(r.end, None | Some(End::Left)) {
                    assert_eq!(r.error, None, "remote {p}'s session failed");
                }
                assert!(
                    !matches!(r.end, Some(End::Failed(_))),
                    "device failed remote {p}: {:?}",
                    r.end
                );
            }
        }

        /// Move bytes until nothing moves.
        pub fn pump(&mut self) {
            for _ in 0..100_000 {
                let mut moved = self.dispatch();
                for p in 0..self.remotes.len() {
                    moved |= self.feed(p);
                    moved |= self.deliver(p);
                }
                if !moved {
                    return;
                }
            }
            panic!("pump() never went idle");
        }

        /// Write the device's output to the remote (unless paused), and let the remote read it.
        pub fn deliver(&mut self, p: P) -> bool {
            let r = &self.remotes[p];
            if !r.attached {
                return false;
            }
            let wrote = !r.paused && self.write(p, usize::MAX) > 0;
            self.remotes[p].read(self.now) || wrote
        }

        /// Write at most `max` bytes of the device's output to the remote.
        pub fn write(&mut self, p: P, max: usize) -> usize {
            let r = &mut self.remotes[p];
            if !r.attached {
                return 0;
            }
            let (a, b) = self.dev.output(r.id);
            let n = (a.len() + b.len()).min(max);
            let from_a = n.min(a.len());
            let start = r.wire.len();
            r.wire.extend_from_slice(&a[..from_a]);
            r.wire.extend_from_slice(&b[..n - from_a]);
            if r.old && (start..r.wire.len()).contains(&MINOR_AT) {
                r.wire[MINOR_AT] = 0;
            }
            self.dev.consume_output(r.id, n);
            n
        }

        /// Take the device's wake-ups and carry out its closes.
        fn dispatch(&mut self) -> bool {
            let mut moved = false;
            while let Some(id) = self.dev.poll_wake() {
                if let Some(p) = self.find(id) {
                    self.remotes[p].woken = true;
                    moved = true;
                }
            }
            while let Some((id, reason)) = self.dev.poll_close() {
                let p = self.find(id).expect("a close for a connected peer");
                self.closes.push((p, reason));
                self.remotes[p].end.get_or_insert(End::Closed(reason));
                self.hang_up(p);
                moved = true;
            }
            moved
        }

        /// Read what the remote sent into the caller's buffer and feed it to the device.
        fn feed(&mut self, p: P) -> bool {
            let cap = self.dev.config().input_capacity;
            let r = &mut self.remotes[p];
            if r.end.is_some() {
                return false;
            }
            let mut moved = false;
            while self.dev.wants_read(r.id) {
                let n = (cap - r.inbuf.len()).min(r.sent.len() - r.sent_read);
                r.inbuf
                    .extend_from_slice(&r.sent[r.sent_read..r.sent_read + n]);
                r.sent_read += n;
                let woken = mem::take(&mut r.woken);
                if n == 0 && !woken {
                    break;
                }
                moved |= n > 0;
                match self.dev.handle_input(r.id, &r.inbuf, self.now) {
                    Ok(0) => {
                        let stuck = r.inbuf.len() == cap && self.dev.wants_read(r.id);
                        assert!(
                            !stuck,
                            "remote {p}: a full buffer that is wanted and not read"
                        );
                        if n == 0 {
                            break;
                        }
                    }
                    Ok(used) => {
                        r.inbuf.drain(..used);
                        moved = true;
                    }
                    Err(e) => {
                        r.end = Some(End::Failed(e));
                        if self.remove_failed {
                            self.hang_up(p);
                        }
                        return true;
                    }
                }
            }
            moved
        }

        /// Write what the device holds for the remote, then close the connection.
        fn hang_up(&mut self, p: P) {
            self.write(p, usize::MAX);
            let r = &mut self.remotes[p];
            r.read(self.now);
            self.dev.remove_peer(r.id);
            r.attached = false;
        }

        fn find(&self, id: PeerId) -> Option<P> {
            self.remotes.iter().position(|r| r.attached && r.id == id)
        }
    }

    /// A message as data frames on the wire.
    pub fn encode(m: &Msg) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, body) in m.iter().enumerate() {
            let head = FrameHead::data(body.len() as u64, i + 1 < m.len());
            out.extend_from_slice(head.encode().as_slice());
            out.extend_from_slice(body);
        }
        out
    }
}
