//! Random operation sequences on a streamer against what must hold.

use super::*;

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
/// and has a small high-water mark; with `bypass`, the caller moves bodies itself in chunks of
/// that size.
fn run_streamer(
    ops: &[Op],
    removals: Removals,
    bypass: Option<usize>,
) -> Result<(), TestCaseError> {
    let mut cfg = small_input(DeviceConfig::new(Kind::Streamer));
    cfg.queue_hwm = 8192;
    let mut store = Storage::new(16, 0);
    let mut net = Net::new(cfg, &mut store);
    net.bypass = bypass;
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
        prop_assert_eq!(net.dev.stats().backend().msgs_out, sent.len() as u64);
    }
    for p in producers {
        prop_assert_eq!(net.pending(p), 0, "producer {} stuck", p);
    }
    prop_assert_eq!(net.dev.stats().frontend().msgs_in, sent.len() as u64);
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
    fn streamer_delivers_everything_once(
        ops in proptest::collection::vec(op(), 1..60),
        bypass in proptest::option::of(1..5000usize),
    ) {
        run_streamer(&ops, Removals::Never, bypass)?;
    }

    #[test]
    fn streamer_loses_nothing_when_idle_workers_leave(
        ops in proptest::collection::vec(op(), 1..60),
        bypass in proptest::option::of(1..5000usize),
    ) {
        run_streamer(&ops, Removals::IdleOnly, bypass)?;
    }

    #[test]
    fn streamer_never_duplicates_nor_corrupts_when_busy_workers_leave(
        ops in proptest::collection::vec(op(), 1..60),
        bypass in proptest::option::of(1..5000usize),
    ) {
        run_streamer(&ops, Removals::Any, bypass)?;
    }
}

#[derive(Clone, Debug)]
enum SubOp {
    Subscribe(Index, usize),
    Cancel(Index, usize),
    AddSubscriber,
    RemoveSubscriber(Index),
    AddPublisher,
    RemovePublisher(Index),
    TogglePause(Index),
    Pump,
    /// One call of the device's waiting work, if any.
    Work,
}

fn sub_op() -> impl Strategy<Value = SubOp> {
    let t = 0..SUB_TOPICS.len();
    prop_oneof![
        6 => (any::<Index>(), t.clone()).prop_map(|(s, t)| SubOp::Subscribe(s, t)),
        5 => (any::<Index>(), t).prop_map(|(s, t)| SubOp::Cancel(s, t)),
        1 => Just(SubOp::AddSubscriber),
        1 => any::<Index>().prop_map(SubOp::RemoveSubscriber),
        1 => Just(SubOp::AddPublisher),
        1 => any::<Index>().prop_map(SubOp::RemovePublisher),
        2 => any::<Index>().prop_map(SubOp::TogglePause),
        2 => Just(SubOp::Pump),
        2 => Just(SubOp::Work),
    ]
}

const SUB_TOPICS: [&[u8]; 5] = [b"", b"a", b"ab", b"b", &[b'l'; 300]];

/// Subscribers that subscribe, cancel and leave, publishers that join, leave and stop reading,
/// in any order, on a forwarder: once everyone reads again and the device is idle, every
/// publisher holds exactly the topics some subscriber holds, a publisher that does not read
/// is never owed more than a batch, and nobody is closed. A PUB is never sent a subscription
/// it holds; an XPUB (another broker) may be (a re-offer, `reoffer_after`), and holds a topic
/// once however often it is sent it, as libzmq's XPUB and ours do. Subscribers alternate
/// between SUB, whose subscriptions are counted, and XSUB (a broker), which holds each topic
/// once.
fn run_forwarder_subscriptions(ops: &[SubOp]) -> Result<(), TestCaseError> {
    use crate::device::UPSTREAM_BATCH;
    let mut store = Storage::new(16, 32);
    let mut net = Net::new(forwarder(), &mut store);
    let mut pubs = vec![net.connect(Frontend, XPub)];
    let mut brokers = BTreeSet::from([pubs[0]]);
    let mut added_pubs = 0;
    let mut subs = vec![net.connect(Backend, XSub)];
    let mut proxies = BTreeSet::from([subs[0]]);
    let mut added_subs = 0;
    // Counted subscriptions of each subscriber still connected, as the device counts them.
    let mut held: BTreeMap<(P, usize), u32> = BTreeMap::new();
    net.pump();
    for op in ops {
        match op {
            SubOp::Subscribe(s, t) if !subs.is_empty() => {
                let s = subs[s.index(subs.len())];
                net.subscribe(s, SUB_TOPICS[*t]);
                let n = held.entry((s, *t)).or_default();
                *n = if proxies.contains(&s) { 1 } else { *n + 1 };
            }
            SubOp::Cancel(s, t) if !subs.is_empty() => {
                let s = subs[s.index(subs.len())];
                net.cancel(s, SUB_TOPICS[*t]);
                if let Some(n) = held.get_mut(&(s, *t)) {
                    *n -= 1;
                    if *n == 0 {
                        held.remove(&(s, *t));
                    }
                }
            }
            SubOp::AddSubscriber if subs.len() < 4 => {
                added_subs += 1;
                let proxy = added_subs % 2 == 0;
                let s = net.connect(Backend, if proxy { XSub } else { Sub });
                if proxy {
                    proxies.insert(s);
                }
                subs.push(s);
            }
            SubOp::RemoveSubscriber(i) if !subs.is_empty() => {
                let s = subs.remove(i.index(subs.len()));
                net.disconnect(s);
                held.retain(|k, _| k.0 != s);
            }
            SubOp::AddPublisher if pubs.len() < 4 => {
                added_pubs += 1;
                let broker = added_pubs % 2 == 0;
                let p = net.connect(Frontend, if broker { XPub } else { Pub });
                if broker {
                    brokers.insert(p);
                }
                pubs.push(p);
            }
            SubOp::RemovePublisher(i) if !pubs.is_empty() => {
                let p = pubs.remove(i.index(pubs.len()));
                net.disconnect(p);
            }
            SubOp::TogglePause(i) if !pubs.is_empty() => {
                let p = pubs[i.index(pubs.len())];
                let paused = net.remote(p).paused;
                net.pause(p, !paused);
            }
            SubOp::Pump => net.pump(),
            SubOp::Work if net.dev.has_work() => net.dev.handle_timeout(net.now),
            _ => {}
        }
        for &p in &pubs {
            prop_assert!(
                net.queued(p) <= UPSTREAM_BATCH + 2 * 400,
                "{} bytes queued for publisher {}",
                net.queued(p),
                p
            );
        }
    }
    for &p in &pubs {
        net.pause(p, false);
    }
    net.pump();
    prop_assert!(!net.dev.has_work());
    prop_assert_eq!(net.dev.stats().dropped.subscriptions, 0);
    let live: BTreeSet<Vec<u8>> = held.keys().map(|k| SUB_TOPICS[k.1].to_vec()).collect();
    for &p in &pubs {
        let broker = brokers.contains(&p);
        let mut got = BTreeSet::new();
        for (on, topic) in net.upstream(p) {
            if *on {
                prop_assert!(
                    got.insert(topic.clone()) || broker,
                    "publisher {} (a PUB) subscribed twice",
                    p
                );
            } else {
                got.remove(topic);
            }
        }
        prop_assert_eq!(&got, &live, "publisher {}", p);
    }
    prop_assert!(net.closes.is_empty(), "{:?}", net.closes);
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
    fn forwarder_publishers_end_with_the_subscriptions_there_are(
        ops in proptest::collection::vec(sub_op(), 1..120),
    ) {
        run_forwarder_subscriptions(&ops)?;
    }
}
