//! Forwarder subscriptions at scale: a subscriber with 10,000 subscriptions leaving, a
//! publisher learning 10,000 topics late, and one topic subscribed and cancelled thousands of
//! times, each done in bounded work per call and coalesced per publisher.

use super::*;
use crate::device::{UpstreamPace, MAX_STEPS, UPSTREAM_BATCH};

/// A subscriber with 10,000 subscriptions leaving visits its own entries and topics, not the
/// table's: work in proportion to what it held, whatever the others hold, and none of it in
/// the call that removes it: its subscriptions are taken out a bounded number per
/// [`Device::handle_timeout`](crate::device::Device::handle_timeout), between which the others
/// are served. It matches nothing from the moment it is gone, its slot waits until they are
/// out, and a topic someone subscribes to again meanwhile is not cancelled upstream.
#[test]
fn a_subscriber_with_10000_subscriptions_leaves_cheaply_a_bounded_part_per_call() {
    const N: u32 = 10_000;
    let mut cfg = forwarder();
    cfg.subscriptions.max_per_peer = N as usize + 1;
    // The work, not the pace (`pace.rs`): the clock does not move here.
    cfg.upstream = UpstreamPace::OFF;
    let mut store = Storage::new(8, 4 * N as usize);
    let mut net = Net::new(cfg, &mut store);
    let publisher = net.connect(Frontend, Pub);
    let [big, other, stays] = [0; 3].map(|_| net.connect(Backend, Sub));
    net.pump();
    for i in 0..N {
        net.subscribe(big, format!("topic/{i}").as_bytes());
        net.subscribe(other, format!("other/{i}").as_bytes());
        net.subscribe(stays, format!("stays/{i}").as_bytes());
    }
    net.subscribe(other, b"topic/7");
    net.pump();
    assert_eq!(net.dev.subscriptions().0, 3 * N as usize + 1);
    assert_eq!(net.upstream(publisher).len(), 3 * N as usize);

    let before = net.dev.subs.visited();
    let slot = net.id(big).index;
    net.disconnect(big);
    assert_eq!(
        net.dev.subs.visited(),
        before,
        "removing it does none of the work"
    );
    assert!(net.dev.has_work());
    // Published now, topic/0 reaches nobody (its subscriber is gone); stays/0 its own.
    net.send(publisher, &msg(&[b"topic/0"]));
    net.send(publisher, &msg(&[b"stays/0"]));
    let mut calls = 0;
    let mut resubscribed = false;
    let mut newcomer = None;
    while net.dev.has_work() {
        let at = net.dev.subs.visited();
        net.dev.handle_timeout(net.now);
        calls += 1;
        let work = net.dev.subs.visited() - at;
        assert!(
            work <= 8 * MAX_STEPS as u64,
            "{work} records visited in one call"
        );
        // Between the calls, the others are served: messages, subscriptions, newcomers.
        for p in 0..net.remotes.len() {
            net.feed(p);
            net.deliver(p);
        }
        net.dispatch();
        if !resubscribed {
            // topic/9999 was subscribed last, so it is taken out first: topic/1 is still in.
            net.subscribe(stays, b"topic/1");
            resubscribed = true;
        }
        if newcomer.is_none() {
            let p = net.connect(Backend, Sub);
            assert_ne!(
                net.id(p).index,
                slot,
                "a slot whose subscriptions are still in"
            );
            newcomer = Some(p);
        }
    }
    assert!(calls > 2, "all of it in {calls} calls");
    let work = net.dev.subs.visited() - before;
    assert!(
        work < 9 * u64::from(N),
        "{work} records visited for {N} subscriptions"
    );
    net.pump();
    let cancels = &net.upstream(publisher)[3 * N as usize..];
    assert_eq!(
        cancels.len(),
        N as usize - 2,
        "topic/7 and topic/1 are still wanted"
    );
    assert!(!cancels.contains(&off(b"topic/7")) && !cancels.contains(&off(b"topic/1")));
    assert_eq!(net.dev.subscriptions().0, 2 * N as usize + 2);
    net.send(publisher, &msg(&[b"topic/7"]));
    net.send(publisher, &msg(&[b"topic/1"]));
    net.send(publisher, &msg(&[b"stays/9999"]));
    net.pump();
    assert_eq!(net.msgs(other), [msg(&[b"topic/7"])]);
    assert_eq!(
        net.msgs(stays),
        [
            msg(&[b"stays/0"]),
            msg(&[b"topic/1"]),
            msg(&[b"stays/9999"])
        ]
    );
    net.assert_healthy();
}

/// What a publisher holds after the subscriptions it was sent, counted as an upstream that
/// counts them (ours) does; fails on a subscription to a topic it holds.
pub(super) fn held(upstream: &[(bool, Vec<u8>)]) -> BTreeSet<Vec<u8>> {
    let mut held = BTreeSet::new();
    for (on, topic) in upstream {
        if *on {
            assert!(held.insert(topic.clone()), "subscribed twice to {topic:?}");
        } else {
            held.remove(topic);
        }
    }
    held
}

/// A publisher that connects to a table of 10,000 topics is sent them as its queue drains,
/// [`UPSTREAM_BATCH`] at a time, never all in one call; topics that come and go meanwhile
/// leave it holding exactly the topics there are, each once, and one taken out before its turn
/// came is not sent.
#[test]
fn a_late_publisher_learns_every_topic_a_batch_per_drain_and_ends_with_the_current_set() {
    const N: u32 = 10_000;
    let mut cfg = forwarder();
    cfg.subscriptions.max_per_peer = 2 * N as usize;
    let mut store = Storage::new(8, 2 * N as usize);
    let mut net = Net::new(cfg, &mut store);
    let early = net.connect(Frontend, Pub);
    let sub = net.connect(Backend, Sub);
    net.pump();
    for i in 0..N {
        net.subscribe(sub, format!("topic/{i:05}").as_bytes());
    }
    net.pump();
    let late = net.connect(Frontend, Pub);
    // Its handshake, without the device's waiting work.
    while !net.dev.is_ready(net.id(late)) {
        net.dispatch();
        for p in 0..net.remotes.len() {
            net.feed(p);
            net.deliver(p);
        }
    }
    net.pause(late, true);
    assert_eq!(net.queued(late), 0);
    assert!(net.dev.has_work());
    net.dev.handle_timeout(net.now);
    let one_batch = net.queued(late);
    assert!(
        one_batch > UPSTREAM_BATCH / 2 && one_batch < UPSTREAM_BATCH + 100,
        "{one_batch} bytes queued for a publisher that does not read"
    );
    assert!(!net.dev.has_work(), "no more until it drains");
    net.pump();
    assert_eq!(net.queued(late), one_batch);
    assert!(net.upstream(late).is_empty());
    // It took the first batch: replayed in order of subscription, oldest first.
    net.write(late, usize::MAX);
    net.remotes[late].read(net.now);
    let first = net.upstream(late).len();
    assert!(
        first > 100 && first < N as usize / 2,
        "{first} topics in the first batch"
    );
    assert_eq!(net.upstream(late)[0], on(b"topic/00000"));
    // Meanwhile: a topic it has been sent goes and comes back, one it has not goes, one it
    // has not goes and comes back, and a new one comes.
    let sent = format!("topic/{:05}", 10).into_bytes();
    let gone = format!("topic/{:05}", N - 10).into_bytes();
    let back = format!("topic/{:05}", N - 20).into_bytes();
    for (subscribe, topic) in [
        (false, &sent),
        (true, &sent),
        (false, &gone),
        (false, &back),
        (true, &back),
    ] {
        if subscribe {
            net.subscribe(sub, topic);
        } else {
            net.cancel(sub, topic);
        }
    }
    net.subscribe(sub, b"new");
    net.pause(late, false);
    net.pump();
    let got = net.upstream(late);
    // At most a cancellation, which an upstream that does not hold it ignores (the other
    // publisher held it, and the topic keeps one word of what the publishers it is owed to
    // hold).
    assert!(
        !got.contains(&on(&gone)),
        "a topic taken out before its turn"
    );
    let mut want: BTreeSet<Vec<u8>> = (0..N)
        .map(|i| format!("topic/{i:05}").into_bytes())
        .collect();
    want.remove(&gone);
    want.insert(b"new".to_vec());
    assert_eq!(held(got), want);
    assert_eq!(held(net.upstream(early)), want);
    assert!(
        got.len() <= want.len() + 4,
        "{} sent for {}",
        got.len(),
        want.len()
    );
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    net.assert_healthy();
}

/// A subscriber subscribing to and cancelling one 16 KiB topic 2,500 times (80 MiB of
/// subscriptions): a publisher that does not read is owed one state of the topic, not 5,000,
/// and is not closed; one that reads gets a few, not 5,000; both end with the last state.
#[test]
fn subscribe_and_cancel_churn_is_coalesced_per_publisher() {
    let mut store = Storage::new(8, 8);
    let mut cfg = forwarder();
    // The coalescing, not the pace (`pace.rs`): the clock does not move here.
    cfg.upstream = UpstreamPace::OFF;
    let mut net = Net::new(cfg, &mut store);
    let slow = net.connect(Frontend, Pub);
    let reading = net.connect(Frontend, Pub);
    let churn = net.connect(Backend, Sub);
    net.pump();
    net.pause(slow, true);
    let mut topic = b"churn".to_vec();
    topic.resize(MAX_TOPIC, b'c');
    for round in 0..2_500 {
        net.subscribe(churn, &topic);
        net.cancel(churn, &topic);
        if round % 100 == 0 {
            net.pump();
            assert!(
                net.queued(slow) < 4 * MAX_TOPIC,
                "{} bytes queued for a publisher that does not read",
                net.queued(slow)
            );
        }
    }
    net.subscribe(churn, &topic);
    net.pump();
    let sent = net.upstream(reading).len();
    assert!(sent < 200, "{sent} subscriptions for 5,001 changes");
    assert_eq!(held(net.upstream(reading)), BTreeSet::from([topic.clone()]));
    net.pause(slow, false);
    net.pump();
    assert!(
        net.upstream(slow).len() <= 4,
        "{:?}",
        net.upstream(slow).len()
    );
    assert_eq!(held(net.upstream(slow)), BTreeSet::from([topic.clone()]));
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    net.assert_healthy();
}
