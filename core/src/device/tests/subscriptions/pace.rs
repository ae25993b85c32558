//! Subscriptions upstream at a pace ([`UpstreamPace`]): a churning subscriber costs each
//! publisher at most the rate and the burst, coalescing takes the rest, the publisher ends
//! holding exactly the topics there are, and a replay completes at the rate.

use super::scale::held;
use super::*;
use crate::device::UpstreamPace;
use crate::time::Duration;

const PACE: UpstreamPace = UpstreamPace {
    rate: 100_000,
    burst: 20_000,
};

/// Bytes a subscription or cancellation of a topic takes at most on the wire beyond it: a
/// long frame head and the command's name.
const HEAD: usize = 9 + 10;

fn paced() -> DeviceConfig {
    let mut cfg = forwarder();
    cfg.upstream = PACE;
    cfg
}

/// Bytes of subscriptions a publisher was sent, at most.
fn bytes(upstream: &[(bool, Vec<u8>)]) -> usize {
    upstream.iter().map(|(_, t)| t.len() + HEAD).sum()
}

/// Move the clock on by `ms`, firing the device's timers.
fn wait(net: &mut Net<'_>, ms: u64) {
    let t = net.now + Duration::from_millis(ms);
    net.run_until(t);
}

/// A subscriber subscribing to and cancelling two 16 KiB topics every millisecond for 2 s
/// (64 MB/s of changes): a publisher that reads all it is sent is sent at most
/// `burst + rate * t` and one subscription and cancellation more, yet at the rate (the pace
/// holds it back, nothing else); a short topic subscribed meanwhile reaches it within a
/// refill; when the churn stops it is told the final state, exactly. Without a pace
/// ([`UpstreamPace::OFF`]) it is sent every change its queue takes: hundreds of MB.
#[test]
fn a_churning_subscriber_costs_a_publisher_at_most_the_rate_and_the_burst() {
    for pace in [PACE, UpstreamPace::OFF] {
        let mut cfg = forwarder();
        cfg.upstream = pace;
        let mut store = Storage::new(8, 64);
        let mut net = Net::new(cfg, &mut store);
        let publisher = net.connect(Frontend, Pub);
        let churn = net.connect(Backend, Sub);
        let normal = net.connect(Backend, Sub);
        net.pump();
        let topics: Vec<Vec<u8>> = (0..2u8)
            .map(|i| {
                let mut t = vec![b'c', b'0' + i];
                t.resize(MAX_TOPIC, b'c');
                t
            })
            .collect();
        let start = net.now;
        let mut short_at = None;
        for ms in 0..2_000u64 {
            for t in &topics {
                net.subscribe(churn, t);
            }
            for t in &topics {
                net.cancel(churn, t);
            }
            if ms == 1_000 {
                net.subscribe(normal, b"short");
            }
            wait(&mut net, 1);
            if short_at.is_none() && net.upstream(publisher).contains(&on(b"short")) {
                short_at = Some(ms);
            }
        }
        let elapsed = (net.now - start).as_millis() as usize;
        let sent = bytes(net.upstream(publisher));
        let most =
            PACE.burst as usize + PACE.rate as usize * elapsed / 1000 + 2 * (MAX_TOPIC + HEAD);
        if pace.is_off() {
            assert!(sent > 10 * most, "unpaced, only {sent} bytes were sent");
            continue;
        }
        assert!(
            sent <= most,
            "{sent} bytes of subscriptions in {elapsed} ms; at most {most}"
        );
        assert!(
            sent >= most / 2,
            "{sent} bytes in {elapsed} ms: held back below the rate"
        );
        let short_at = short_at.expect("the short topic reached the publisher");
        assert!(
            short_at <= 1_000 + 2 * (MAX_TOPIC + HEAD) as u64 * 1000 / u64::from(PACE.rate) + 5,
            "the short topic waited {} ms behind the churn",
            short_at - 1_000
        );
        // The churn stops, one topic subscribed: told exactly that, and then nothing more.
        net.subscribe(churn, &topics[1]);
        wait(&mut net, 2_000);
        let want = BTreeSet::from([topics[1].clone(), b"short".to_vec()]);
        assert_eq!(held(net.upstream(publisher)), want);
        let n = net.upstream(publisher).len();
        wait(&mut net, 2_000);
        assert_eq!(
            net.upstream(publisher).len(),
            n,
            "sent more after it settled"
        );
        assert!(net.closes.is_empty(), "{:?}", net.closes);
        net.send(publisher, &msg(&[b"short"]));
        net.pump();
        assert_eq!(net.msgs(normal), [msg(&[b"short"])]);
        net.assert_healthy();
    }
}

/// A publisher waiting only for its allowance is no work: the device says when it refills
/// ([`Device::poll_timeout`](crate::device::Device::poll_timeout)), not now, so a caller
/// sleeps till then.
#[test]
fn a_spent_allowance_is_a_deadline_not_work() {
    let mut store = Storage::new(8, 64);
    let mut net = Net::new(paced(), &mut store);
    let publisher = net.connect(Frontend, Pub);
    let sub = net.connect(Backend, Sub);
    net.pump();
    let mut topic = b"long".to_vec();
    topic.resize(MAX_TOPIC, b'l');
    // 16 KiB of the 20,000 burst, then a cancellation that takes it below zero.
    net.subscribe(sub, &topic);
    net.pump();
    net.cancel(sub, &topic);
    net.pump();
    net.subscribe(sub, &topic);
    net.pump();
    assert_eq!(net.upstream(publisher), [on(&topic), off(&topic)]);
    assert!(!net.dev.has_work(), "waiting for the refill is no work");
    let due = net.dev.poll_timeout().expect("the refill is a deadline");
    assert!(due > net.now, "{due:?} is not later than {:?}", net.now);
    assert!(due <= net.now + Duration::from_millis(200), "{due:?}");
    net.run_until(due);
    assert_eq!(
        net.upstream(publisher),
        [on(&topic), off(&topic), on(&topic)]
    );
}

/// A publisher that connects to a table of 2,000 topics of 100 bytes (240 KB on the wire) is
/// replayed it at the pace: not all in the first second, all by the time the rate allows, and
/// holding each topic once.
#[test]
fn a_replay_completes_at_the_pace() {
    const N: usize = 2_000;
    let mut cfg = paced();
    cfg.subscriptions.max_per_peer = N;
    let mut store = Storage::new(8, 2 * N);
    let mut net = Net::new(cfg, &mut store);
    let sub = net.connect(Backend, Sub);
    net.pump();
    let topics: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let mut t = format!("topic/{i:05}/").into_bytes();
            t.resize(100, b't');
            t
        })
        .collect();
    for t in &topics {
        net.subscribe(sub, t);
    }
    net.pump();
    let late = net.connect(Frontend, Pub);
    net.pump();
    let total = bytes(&topics.iter().map(|t| on(t)).collect::<Vec<_>>());
    let took_ms = ((total - PACE.burst as usize) * 1000 / PACE.rate as usize) as u64;
    wait(&mut net, took_ms / 2);
    let half = net.upstream(late).len();
    assert!(half < N, "all {N} topics in {} ms", took_ms / 2);
    assert!(half > N / 4, "{half} topics in {} ms", took_ms / 2);
    wait(&mut net, took_ms / 2 + 100);
    let want: BTreeSet<Vec<u8>> = topics.into_iter().collect();
    assert_eq!(net.dev.subscriptions().0, N, "the table took them all");
    assert_eq!(net.upstream(late).len(), N, "sent once each");
    assert!(held(net.upstream(late)) == want, "it holds other topics");
    assert!(net.closes.is_empty(), "{:?}", net.closes);
}
