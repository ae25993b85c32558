//! Forwarder: filtering, subscriptions upstream, slow subscribers, the classic form.

use super::*;

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
    assert_eq!(net.dev.stats().backend().msgs_out, 6 + 1 + 2);
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
                let m = msg(&[&[b'p', n, round], &[round ^ n; 40_000], b"end"]);
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
    let (publisher, [slow, fast]) = net.publisher_and_two_subscribers(b"t");

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

/// A subscriber that one large message took over its mark still takes the small messages that
/// come while it drains (as with libzmq, whose mark counts messages), up to a sixteenth of the
/// mark past it; it loses larger ones, and small ones beyond that.
#[test]
fn a_large_message_over_the_mark_costs_a_subscriber_no_small_message() {
    const HWM: usize = 16 << 10;
    let mut cfg = forwarder();
    cfg.queue_hwm = HWM;
    let mut store = Storage::new(4, 8);
    let mut net = Net::new(cfg, &mut store);
    let (publisher, [sub, _]) = net.publisher_and_two_subscribers(b"t");
    net.pause(sub, true);
    let large = msg(&[b"t large", &[7; HWM + 100]]);
    net.send(publisher, &large);
    let small: Vec<Msg> = (0..3u8).map(|i| msg(&[b"t small", &[i; 20]])).collect();
    for m in &small {
        net.send(publisher, m);
    }
    net.pump();
    assert!(
        net.queued(sub) > HWM,
        "the large message took it over its mark"
    );
    assert_eq!(net.dev.stats().dropped.hwm, 0, "no small message lost");
    // A second large one is lost; small ones once a sixteenth past the mark are too.
    net.send(publisher, &msg(&[b"t large 2", &[8; 2000]]));
    for i in 0..60u8 {
        net.send(publisher, &msg(&[b"t small", &[i; 20]]));
    }
    net.pump();
    assert!(net.queued(sub) < HWM + HWM / 16 + 64, "{}", net.queued(sub));
    let lost = net.dev.stats().dropped.hwm;
    assert!(lost > 1, "{lost}");
    net.pause(sub, false);
    net.pump();
    let got = net.msgs(sub);
    assert_eq!(got[0], large);
    assert_eq!(&got[1..4], &small[..]);
    assert_eq!(got.len() as u64 + lost, 1 + 3 + 1 + 60);
    net.assert_healthy();
}

/// A cancellation sent to another broker (an XPUB) frees room there, where topics subscribed
/// after the cancelled one may have been refused: they are re-offered, after it, as
/// subscriptions (a broker holds each topic once). A PUB, which refuses nothing, is not.
#[test]
fn after_a_cancellation_a_broker_upstream_is_offered_the_later_topics_again() {
    let mut store = Storage::new(8, 16);
    let mut net = Net::new(forwarder(), &mut store);
    let (broker, publisher) = (net.connect(Frontend, XPub), net.connect(Frontend, Pub));
    let s = net.connect(Backend, Sub);
    net.pump();
    for t in [b"a", b"b", b"c"] {
        net.subscribe(s, t);
    }
    net.pump();
    net.cancel(s, b"b");
    net.pump();
    let on = |t: &[u8]| (true, t.to_vec());
    let off = |t: &[u8]| (false, t.to_vec());
    assert_eq!(
        net.upstream(broker),
        [on(b"a"), on(b"b"), on(b"c"), off(b"b"), on(b"c")],
        "c, subscribed after b, offered again after b's cancellation; a not"
    );
    assert_eq!(
        net.upstream(publisher),
        [on(b"a"), on(b"b"), on(b"c"), off(b"b")]
    );
    net.cancel(s, b"c");
    net.pump();
    assert_eq!(
        net.upstream(broker).last(),
        Some(&off(b"c")),
        "nothing after the last"
    );
    assert!(!net.dev.has_work());
}

/// A broker that is owed other changes when a topic is cancelled (it does not read) gets the
/// re-offer after the cancellation, not before it, where room would not have been freed yet.
#[test]
fn a_re_offer_to_a_broker_that_does_not_read_comes_after_the_cancellation() {
    let mut store = Storage::new(8, 16);
    let mut cfg = forwarder();
    cfg.upstream = crate::device::UpstreamPace::OFF;
    let mut net = Net::new(cfg, &mut store);
    let broker = net.connect(Frontend, XPub);
    let s = net.connect(Backend, Sub);
    net.pump();
    for t in [b"a", b"b", b"c"] {
        net.subscribe(s, t);
    }
    net.pump();
    net.pause(broker, true);
    // Fills its queue, so it is owed what follows.
    let long = [b'x'; 200];
    for i in 0..400u16 {
        let mut t = long.to_vec();
        t.extend_from_slice(&i.to_be_bytes());
        net.subscribe(s, &t);
    }
    net.pump();
    net.cancel(s, b"a");
    net.pump();
    net.pause(broker, false);
    net.pump();
    let up = net.upstream(broker);
    let cancelled = up
        .iter()
        .position(|u| *u == (false, b"a".to_vec()))
        .expect("a's cancellation");
    let again: Vec<&Vec<u8>> = up[cancelled..]
        .iter()
        .filter(|u| u.0)
        .map(|u| &u.1)
        .collect();
    assert!(
        again.contains(&&b"b".to_vec()) && again.contains(&&b"c".to_vec()),
        "b and c offered again after a's cancellation"
    );
    assert!(!net.dev.has_work());
}

/// A broker downstream (an XSUB) holds each topic once: subscribing again to one it holds is
/// not counted, and one cancellation takes it out (a SUB's are counted).
#[test]
fn a_broker_downstream_holds_each_topic_once() {
    let mut store = Storage::new(8, 16);
    let mut net = Net::new(forwarder(), &mut store);
    let p = net.connect(Frontend, Pub);
    let (proxy, sub) = (net.connect(Backend, XSub), net.connect(Backend, Sub));
    net.pump();
    net.subscribe(proxy, b"x");
    net.subscribe(proxy, b"x");
    net.subscribe(sub, b"y");
    net.subscribe(sub, b"y");
    net.pump();
    net.cancel(proxy, b"x");
    net.cancel(sub, b"y");
    net.pump();
    assert_eq!(
        net.upstream(p),
        [
            (true, b"x".to_vec()),
            (true, b"y".to_vec()),
            (false, b"x".to_vec())
        ],
        "x out after one cancellation, y held by its second subscription"
    );
}
