//! The index against a model of counted (subscriber, topic) entries, with tiny tables (hash
//! collisions on every other insert), long topics, shares and every kind of refusal.

use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::vec::Vec;
use std::{format, vec};

fn limits(
    max: usize,
    max_per_peer: usize,
    pieces: usize,
    pieces_per_peer: usize,
) -> SubscriptionLimits {
    SubscriptionLimits {
        max,
        max_per_peer,
        topic_bytes: pieces * store::PIECE_DATA,
        topic_bytes_per_peer: pieces_per_peer * store::PIECE_DATA,
    }
}

fn storage(l: &SubscriptionLimits) -> Vec<u8> {
    vec![0; SubTable::storage_bytes(l)]
}

fn bytes(t: Topic<'_>) -> Vec<u8> {
    let v: Vec<u8> = t.pieces().flatten().copied().collect();
    assert_eq!(v.len(), t.len());
    v
}

fn matched(t: &SubTable<'_>, head: &[u8]) -> Vec<u32> {
    let mut hit = Vec::new();
    t.matches(head, |p| hit.push(p));
    hit.sort();
    hit
}

fn peers<const N: usize>() -> [PeerSubs; N] {
    core::array::from_fn(|p| PeerSubs::new(p as u32))
}

#[test]
fn first_and_last_per_topic() {
    let l = limits(8, 8, 0, 0);
    let mut store = storage(&l);
    let mut t = SubTable::new(&mut store, l, [1, 2]);
    let [mut p1, mut p2] = peers();
    assert_eq!(t.add(&mut p1, b"a"), Ok(true));
    assert_eq!(t.add(&mut p2, b"a"), Ok(false));
    assert_eq!(t.add(&mut p2, b"a"), Ok(false), "duplicates count");
    assert_eq!((t.len(), p2.len()), (2, 1), "and take no room");
    assert_eq!(t.remove(&mut p2, b"a"), Some(false));
    assert_eq!(t.remove(&mut p1, b"a"), Some(false));
    assert_eq!(t.remove(&mut p1, b"a"), None, "peer 1 has no more");
    assert_eq!(t.remove(&mut p2, b"a"), Some(true));
    assert!(t.is_empty() && t.topic_count() == 0);
}

/// The scan set lists up to 32 subscriptions by peer: a topic with more is walked in the
/// table, and the topics after it are still listed; every change to a topic's subscribers
/// shows at once, whichever way it is matched.
#[test]
fn few_topics_match_alike_whether_their_subscribers_are_listed_or_walked() {
    let l = limits(256, 8, 0, 0);
    let mut store = storage(&l);
    let mut t = SubTable::new(&mut store, l, [5, 6]);
    let mut ps: [PeerSubs; 40] = peers();
    let [busy, a, ab] = [&b""[..], b"a", b"ab"];
    for p in ps.iter_mut().take(3) {
        t.add(p, ab).unwrap();
    }
    // 40 on the empty topic, more than the set lists; "a" after it.
    for p in ps.iter_mut() {
        t.add(p, busy).unwrap();
    }
    t.add(&mut ps[7], a).unwrap();
    let all: Vec<u32> = (0..40).collect();
    let with = |extra: &[u32]| {
        let mut v = all.clone();
        v.extend_from_slice(extra);
        v.sort();
        v
    };
    assert_eq!(matched(&t, b"xyz"), all);
    assert_eq!(matched(&t, b"a"), with(&[7]));
    assert_eq!(matched(&t, b"abc"), with(&[0, 1, 2, 7]));
    // Down to 30 on the empty topic: all listed now.
    for p in ps.iter_mut().skip(30) {
        assert_eq!(t.remove(p, busy), Some(false));
    }
    let all: Vec<u32> = (0..30).collect();
    assert_eq!(matched(&t, b"xyz"), all);
    let mut want = all.clone();
    want.extend([0, 1, 2, 7]);
    want.sort();
    assert_eq!(matched(&t, b"abc"), want);
    // A subscriber leaving is gone from every topic's list at once.
    t.remove_peer(&mut ps[1], |_| {});
    assert!(!matched(&t, b"abc").contains(&1));
    assert_eq!(matched(&t, b"ab").len(), 29 + 1 + 2);
}

#[test]
fn remove_peer_reports_orphaned_topics_once() {
    let l = limits(8, 8, 0, 0);
    let mut store = storage(&l);
    let mut t = SubTable::new(&mut store, l, [3, 4]);
    let [mut p0, mut p1] = peers();
    for (p, topic) in [(0, &b"x"[..]), (0, b"y"), (0, b"y"), (1, b"y"), (0, b"")] {
        let subs = if p == 0 { &mut p0 } else { &mut p1 };
        t.add(subs, topic).unwrap();
    }
    let mut gone = Vec::new();
    t.remove_peer(&mut p0, |topic| gone.push(bytes(topic)));
    gone.sort();
    assert_eq!(gone, [b"".to_vec(), b"x".to_vec()]);
    assert_eq!((t.len(), p0.len()), (1, 0));
}

#[test]
fn prefix_matching_long_topics_and_a_full_table() {
    // Room for 5, but none of the last one is for a subscriber that would hold it and leave
    // none (`SHARE_OF_FREE`): full for it.
    let l = limits(5, 4, 1000, 1000);
    let mut store = storage(&l);
    let mut t = SubTable::new(&mut store, l, [5, 6]);
    let mut p = peers::<5>();
    let long = [b'w'; 5000];
    t.add(&mut p[1], b"weather/").unwrap();
    t.add(&mut p[2], b"").unwrap();
    t.add(&mut p[3], &long).unwrap();
    t.add(&mut p[0], &long[..17]).unwrap();
    assert_eq!(t.add(&mut p[4], b"z"), Err(Refusal::TableFull));
    assert_eq!(matched(&t, b"weather/paris 12C"), [1, 2]);
    assert_eq!(matched(&t, &[&long[..], b"!"].concat()), [0, 2, 3]);
    assert_eq!(matched(&t, &long[..4999]), [0, 2]);
    let mut all = Vec::new();
    t.topics(|topic| all.push(bytes(topic)));
    all.sort();
    assert_eq!(
        all,
        [
            b"".to_vec(),
            b"weather/".to_vec(),
            vec![b'w'; 17],
            long.to_vec()
        ]
    );
}

#[test]
fn a_table_without_storage_holds_nothing_and_a_short_one_less() {
    let mut none: [u8; 0] = [];
    let mut t = SubTable::new(&mut none, SubscriptionLimits::DEFAULT, [0, 0]);
    let mut p = PeerSubs::new(0);
    assert_eq!(t.add(&mut p, b"a"), Err(Refusal::TableFull));
    assert_eq!(matched(&t, b"abc"), []);
    let l = limits(64, 64, 64, 64);
    let mut short = vec![0; SubTable::storage_bytes(&l) - 1];
    let t = SubTable::new(&mut short, l, [0, 0]);
    assert!(t.capacity() > 0 && t.capacity() < 64, "{}", t.capacity());
}

#[test]
fn a_subscriber_leaving_costs_its_own_subscriptions_not_the_tables() {
    let l = limits(40_000, 10_000, 0, 0);
    let mut store = storage(&l);
    let mut t = SubTable::new(&mut store, l, [7, 8]);
    let [mut big, mut other] = peers();
    for i in 0..10_000u32 {
        t.add(&mut big, format!("t{i}").as_bytes()).unwrap();
        t.add(&mut other, format!("u{i}").as_bytes()).unwrap();
    }
    let before = t.visited();
    let mut orphaned = 0;
    t.remove_peer(&mut big, |_| orphaned += 1);
    assert_eq!(orphaned, 10_000);
    let work = t.visited() - before;
    assert!(work < 10 * 10_000, "{work} records visited");
}

/// Topics: prefixes of each other, inline and in pieces, at and over the limit, some differing
/// only in their last byte; more than [`SCAN_TOPICS`], so matching takes both of its ways.
fn topic_set() -> Vec<Vec<u8>> {
    let ends_in = |n: usize, last: u8| [&vec![b'l'; n - 1][..], &[last]].concat();
    vec![
        b"".to_vec(),
        b"a".to_vec(),
        b"ab".to_vec(),
        b"ac".to_vec(),
        b"abc".to_vec(),
        b"b".to_vec(),
        ends_in(15, b'x'),
        vec![b'l'; 16],
        ends_in(16, b'x'),
        vec![b'l'; 17],
        ends_in(17, b'x'),
        vec![b'l'; 45],
        vec![b'l'; 5000],
        vec![b'm'; MAX_TOPIC],
        vec![b'm'; MAX_TOPIC + 1],
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Add(usize, usize),
    Remove(usize, usize),
    Drop(usize),
    /// A head: the topic's first bytes (as many as the `usize`, at most all) and a byte.
    Match(usize, usize, u8),
}

fn op() -> impl Strategy<Value = Op> {
    let (p, t) = (0..4usize, 0..topic_set().len());
    prop_oneof![
        4 => (p.clone(), t.clone()).prop_map(|(p, t)| Op::Add(p, t)),
        2 => (p.clone(), t.clone()).prop_map(|(p, t)| Op::Remove(p, t)),
        1 => p.prop_map(Op::Drop),
        3 => (t, 0..20_000usize, prop::sample::select(b"abclmx\0".to_vec())).prop_map(|(t, cut, b)| Op::Match(t, cut, b)),
    ]
}

/// Small tables: full, shares and topic storage all bind.
fn small_limits() -> impl Strategy<Value = SubscriptionLimits> {
    prop_oneof![
        Just(limits(1, 1, 0, 0)),
        Just(limits(3, 2, 2, 1)),
        Just(limits(12, 5, 200, 190)),
        Just(limits(12, 12, 700, 700)),
        Just(limits(40, 40, 2000, 2000)),
    ]
}

/// What the model says `add` should give.
fn expect_add(
    model: &BTreeMap<(usize, usize), u32>,
    l: &SubscriptionLimits,
    topics: &[Vec<u8>],
    (p, ti): (usize, usize),
) -> Result<bool, Refusal> {
    let len = topics[ti].len();
    if len > MAX_TOPIC {
        return Err(Refusal::TooLong);
    }
    if model.contains_key(&(p, ti)) {
        return Ok(false);
    }
    let pieces = |t: usize| pieces_for(topics[t].len());
    let mine: Vec<usize> = model.keys().filter(|k| k.0 == p).map(|k| k.1).collect();
    let my_pieces: usize = mine.iter().map(|&t| pieces(t)).sum();
    let per_peer_pieces = l.topic_bytes_per_peer / store::PIECE_DATA;
    if mine.len() >= l.max_per_peer || my_pieces + pieces(ti) > per_peer_pieces {
        return Err(Refusal::PeerShare);
    }
    if model.len() >= l.max {
        return Err(Refusal::TableFull);
    }
    let live: BTreeSet<usize> = model.keys().map(|k| k.1).collect();
    let used: usize = live.iter().map(|&t| pieces(t)).sum();
    let total = l.topic_bytes / store::PIECE_DATA;
    let new = !live.contains(&ti);
    if new && used + pieces(ti) > total {
        return Err(Refusal::TopicBytesFull);
    }
    // What it would hold against what would be left.
    if mine.len() + 1 > SHARE_OF_FREE * (l.max - model.len() - 1) {
        return Err(Refusal::TableFull);
    }
    let left = total - used - if new { pieces(ti) } else { 0 };
    if pieces(ti) > 0 && my_pieces + pieces(ti) > SHARE_OF_FREE * left {
        return Err(Refusal::TopicBytesFull);
    }
    Ok(new)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Against a model (counts per (peer, topic)): refusals by cause, first/last signals,
    /// matching (once per matching subscription), the distinct topics, and orphans reported
    /// once when a peer leaves.
    #[test]
    fn behaves_like_a_counted_model(
        l in small_limits(),
        seed: [u64; 2],
        ops in proptest::collection::vec(op(), 0..120),
    ) {
        let topics = topic_set();
        let mut store = storage(&l);
        let mut t = SubTable::new(&mut store, l, seed);
        let mut subs = peers::<4>();
        let mut model: BTreeMap<(usize, usize), u32> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Add(p, ti) => {
                    let want = expect_add(&model, &l, &topics, (p, ti));
                    prop_assert_eq!(t.add(&mut subs[p], &topics[ti]), want);
                    if want.is_ok() {
                        *model.entry((p, ti)).or_default() += 1;
                    }
                }
                Op::Remove(p, ti) => {
                    let want = model.get(&(p, ti)).map(|&n| {
                        n == 1 && model.keys().filter(|k| k.1 == ti).count() == 1
                    });
                    prop_assert_eq!(t.remove(&mut subs[p], &topics[ti]), want);
                    if let Some(n) = model.get_mut(&(p, ti)) {
                        *n -= 1;
                        if *n == 0 {
                            model.remove(&(p, ti));
                        }
                    }
                }
                Op::Drop(p) => {
                    let mine: BTreeSet<usize> = model.keys().filter(|k| k.0 == p).map(|k| k.1).collect();
                    model.retain(|k, _| k.0 != p);
                    let live: BTreeSet<usize> = model.keys().map(|k| k.1).collect();
                    let mut want: Vec<Vec<u8>> = mine.difference(&live).map(|&ti| topics[ti].clone()).collect();
                    let mut gone = Vec::new();
                    t.remove_peer(&mut subs[p], |topic| gone.push(bytes(topic)));
                    want.sort();
                    gone.sort();
                    prop_assert_eq!(gone, want);
                    prop_assert!(subs[p].is_empty());
                }
                Op::Match(ti, cut, extra) => {
                    let topic = &topics[ti];
                    let head = [&topic[..cut.min(topic.len())], &[extra]].concat();
                    let mut want: Vec<u32> = model.keys()
                        .filter(|(_, mt)| head.starts_with(&topics[*mt]))
                        .map(|&(p, _)| p as u32)
                        .collect();
                    want.sort();
                    prop_assert_eq!(matched(&t, &head), want);
                }
            }
            prop_assert_eq!(t.len(), model.len());
            let mut live: Vec<Vec<u8>> = model.keys().map(|k| topics[k.1].clone()).collect();
            live.dedup();
            live.sort();
            live.dedup();
            let mut distinct = Vec::new();
            t.topics(|topic| distinct.push(bytes(topic)));
            distinct.sort();
            prop_assert_eq!(&live, &distinct);
            prop_assert_eq!(t.topic_count(), live.len());
        }
    }
}

mod upstream;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The upstream log against a model of counted subscriptions and publishers that count
    /// what they are sent: subscribers leave a few entries at a time, publishers lag, join and
    /// leave at any point, and once all is worked off every publisher holds exactly the live
    /// topics, none twice; a publisher is never sent a subscription it holds, and no topic is
    /// kept that nobody is owed.
    #[test]
    fn the_upstream_log_leaves_every_publisher_with_the_live_topics(
        l in small_limits(),
        seed: [u64; 2],
        ops in proptest::collection::vec(upstream::up_op(), 0..200),
    ) {
        let mut store = storage(&l);
        let mut w = upstream::World::new(SubTable::new(&mut store, l, seed));
        for op in ops {
            w.apply(op)?;
        }
        w.settle()?;
    }
}

/// Subscribers at their full share one after the other leave a fifth of what was free before
/// each: the next always finds room, and so does one more after it.
#[test]
fn a_share_shrinks_as_the_table_fills_so_a_later_subscriber_finds_room() {
    // The default table and share: four at 1,024 used to fill it.
    let l = limits(4096, 1024, 1000, 250);
    let mut store = storage(&l);
    let mut t = SubTable::new(&mut store, l, [9, 10]);
    let mut p = peers::<6>();
    let mut took = Vec::new();
    for (i, subs) in p.iter_mut().enumerate().take(5) {
        let mut n = 0;
        while n < 2000 && t.add(subs, format!("{i}/{n}").as_bytes()).is_ok() {
            n += 1;
        }
        took.push(n);
    }
    // 1,024 each while a fifth of what is left is more than that, then four fifths of it.
    assert_eq!(took, [1024, 1024, 1024, 819, 164]);
    assert_eq!(t.add(&mut p[5], b"later"), Ok(true));
    // Topic bytes alike: 250 pieces each at most, and four times what would be left.
    let long =
        |i: usize, j: usize| [format!("{i}/{j}/").as_bytes(), &[b'l'; 16 + 28 * 49]].concat();
    let mut q = peers::<6>().map(|mut s| {
        s.peer += 10;
        s
    });
    let mut held = Vec::new();
    for (i, subs) in q.iter_mut().enumerate().take(5) {
        let mut n = 0;
        while n < 10 && t.add(subs, &long(i, n)).is_ok() {
            n += 1;
        }
        held.push(n);
    }
    // 50 pieces a topic: 5 (the share) while four times what would be left is more, then 4
    // of the 250 left (leaving 50), then none: a topic of 50 is more than four times nothing.
    assert_eq!(held, [5, 5, 5, 4, 0]);
    let topic = [&b"later/"[..], &[b'l'; 16 + 28 * 2]].concat();
    assert_eq!(t.add(&mut q[5], &topic), Ok(true));
}
