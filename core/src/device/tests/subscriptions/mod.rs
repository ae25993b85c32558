//! Forwarder subscriptions at scale and under abuse: long topics, shares of the table, and
//! refusals counted and named here; a subscriber with many subscriptions leaving, a publisher
//! learning many, and churn in `scale.rs`.

use super::*;
use crate::device::{Refusal, SubscriptionRefusals};

mod pace;
mod scale;

fn refusals(net: &Net<'_>) -> SubscriptionRefusals {
    net.dev.stats().refused_subscriptions
}

/// A 5,000-byte subscription (past the 4 KiB command limit) is taken and sent upstream whole;
/// a 20,000-byte one (past `MAX_TOPIC`) is refused alone, counted. Nobody is closed, and a
/// subscriber beside them gets every message, in both protocol versions.
#[test]
fn long_topics_never_close_anyone() {
    for old in [false, true] {
        let ctx = format!("ZMTP 3.0 peers: {old}");
        let mut store = Storage::new(8, 64);
        let mut net = Net::new(forwarder(), &mut store);
        let publisher = net.connect_as(Frontend, Pub, old);
        let normal = net.connect_as(Backend, Sub, old);
        let long = net.connect_as(Backend, Sub, old);
        net.pump();
        let (within, over) = (vec![b'L'; 5000], vec![b'X'; 20_000]);
        net.subscribe(normal, b"n");
        net.subscribe(long, &within);
        net.subscribe(long, &over);
        net.subscribe(long, b"after");
        net.pump();
        assert_eq!(
            net.upstream(publisher),
            [on(b"n"), on(&within), on(b"after")],
            "{ctx}"
        );
        let counted = SubscriptionRefusals {
            too_long: 1,
            ..Default::default()
        };
        assert_eq!(refusals(&net), counted, "{ctx}");
        assert_eq!(net.dev.stats().dropped.subscriptions, 1, "{ctx}");

        let sent: Vec<Msg> = (0..20u32)
            .map(|i| msg(&[format!("n{i}").as_bytes(), b"body"]))
            .collect();
        let long_msg = msg(&[&[&within[..], b"/1"].concat(), b"body"]);
        let over_msg = msg(&[&over[..], b"body"]);
        for m in &sent {
            net.send(publisher, m);
            net.send(publisher, &long_msg);
            net.send(publisher, &over_msg);
        }
        net.pump();
        assert_eq!(net.msgs(normal), sent, "{ctx}");
        assert_eq!(net.msgs(long), vec![long_msg.clone(); 20], "{ctx}");

        // A publisher that connects later learns the long topic too, and nobody is closed.
        let late = net.connect_as(Frontend, Pub, old);
        net.pump();
        let mut got = net.upstream(late).to_vec();
        got.sort();
        assert_eq!(got, [on(&within), on(b"after"), on(b"n")], "{ctx}");
        net.cancel(long, &within);
        net.cancel(long, &over);
        net.pump();
        assert_eq!(net.upstream(late).last(), Some(&off(&within)), "{ctx}");
        assert!(net.closes.is_empty(), "{ctx}: {:?}", net.closes);
        assert_eq!(
            refusals(&net),
            counted,
            "{ctx}: a long cancel refuses nothing"
        );
        net.assert_healthy();
    }
}

/// A subscriber that holds its share is refused more, counted; another still subscribes.
#[test]
fn a_subscriber_with_its_share_full_does_not_stop_another() {
    let mut cfg = forwarder();
    cfg.subscriptions.max_per_peer = 3;
    let mut store = Storage::new(8, 8);
    let mut net = Net::new(cfg, &mut store);
    let publisher = net.connect(Frontend, Pub);
    let greedy = net.connect(Backend, Sub);
    let other = net.connect(Backend, Sub);
    net.pump();
    for i in 0..100u32 {
        net.subscribe(greedy, format!("g{i}").as_bytes());
    }
    // Counting up a topic it holds is free.
    net.subscribe(greedy, b"g0");
    net.pump();
    for topic in [&b"o1"[..], b"o2", b"g0"] {
        net.subscribe(other, topic);
    }
    net.pump();
    let counted = SubscriptionRefusals {
        peer_share: 97,
        ..Default::default()
    };
    assert_eq!(refusals(&net), counted);
    assert_eq!(net.dev.subscriptions(), (6, 8));
    net.send(publisher, &msg(&[b"o1 for other"]));
    net.send(publisher, &msg(&[b"g0 for both"]));
    net.send(publisher, &msg(&[b"g50 for nobody"]));
    net.pump();
    assert_eq!(
        net.msgs(other),
        [msg(&[b"o1 for other"]), msg(&[b"g0 for both"])]
    );
    assert_eq!(net.msgs(greedy), [msg(&[b"g0 for both"])]);

    // The table itself full: the next subscriptions are refused as such. Its last entry is for
    // no subscriber (it would hold more than `SHARE_OF_FREE` times what is left: nothing).
    let third = net.connect(Backend, Sub);
    net.pump();
    for topic in [&b"t1"[..], b"t2", b"t3"] {
        net.subscribe(third, topic);
    }
    net.pump();
    assert_eq!(refusals(&net).table_full, 2);
    assert_eq!(net.dev.subscriptions(), (7, 8));
    assert_eq!(net.dev.stats().dropped.subscriptions, 99);
    net.assert_healthy();
}

/// A refused subscription is counted by cause, and the last subscriber refused for each cause
/// is named, for the caller's log.
#[test]
fn a_refused_subscription_names_its_subscriber() {
    let mut cfg = forwarder();
    cfg.subscriptions.max_per_peer = 1;
    let mut store = Storage::new(8, 8);
    let mut net = Net::new(cfg, &mut store);
    let [a, b] = [0; 2].map(|_| net.connect(Backend, Sub));
    net.pump();
    assert_eq!(net.dev.last_refused(Refusal::PeerShare), None);
    net.subscribe(a, b"1");
    net.subscribe(b, b"1");
    net.subscribe(b, b"2");
    net.pump();
    assert_eq!(net.dev.last_refused(Refusal::PeerShare), Some(net.id(b)));
    net.subscribe(a, &vec![b'x'; MAX_TOPIC + 1]);
    net.pump();
    assert_eq!(net.dev.last_refused(Refusal::TooLong), Some(net.id(a)));
    assert_eq!(net.dev.last_refused(Refusal::PeerShare), Some(net.id(b)));
    assert_eq!(net.dev.last_refused(Refusal::TableFull), None);
    assert_eq!(net.dev.stats().dropped.subscriptions, 2);
}

/// An XSUB peer (a downstream broker, subscribing for all of its subscribers) has
/// [`PROXY_SHARES`](crate::device::subs::PROXY_SHARES) subscribers' shares: every topic it
/// subscribes within them reaches the publishers. Held to one, a chained forwarder lost every
/// topic past the share for good, silently: one subscriber there holding a share's worth cut a
/// later subscriber off, even after it left (attacker round 6). Past them it is refused as any
/// subscriber is: any peer may say it is an XSUB (attacker round 7).
#[test]
fn a_downstream_broker_has_four_subscribers_shares() {
    let mut cfg = forwarder();
    cfg.subscriptions.max_per_peer = 4;
    let mut store = Storage::new(8, 64);
    let mut net = Net::new(cfg, &mut store);
    let publisher = net.connect(Frontend, Pub);
    let broker = net.connect(Backend, XSub);
    let sub = net.connect(Backend, Sub);
    net.pump();
    let topics: Vec<Vec<u8>> = (0..20).map(|i| format!("t{i:02}").into_bytes()).collect();
    for t in &topics {
        net.subscribe(broker, t);
        net.subscribe(sub, t);
    }
    net.pump();
    // The subscriber holds its share, the broker four: 16 of the 20.
    assert_eq!(refusals(&net).peer_share, 16 + 4);
    for (i, t) in topics.iter().enumerate() {
        net.send(publisher, &msg(&[t]));
        net.pump();
        assert_eq!(
            net.msgs(broker).len(),
            (i + 1).min(16),
            "topic {i} reached the broker"
        );
    }
    assert_eq!(net.msgs(sub).len(), 4);
    net.assert_healthy();
}
