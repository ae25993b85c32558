use std::vec;
use std::vec::Vec;

use super::*;

impl StoredBytes for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

/// A message of a topic frame and a body frame, as encoded frames.
fn msg(topic: &[u8], body: &[u8]) -> Vec<u8> {
    let mut m = vec![0x01, topic.len() as u8];
    m.extend_from_slice(topic);
    m.extend([0x00, body.len() as u8]);
    m.extend_from_slice(body);
    m
}

/// A message of one frame.
fn single(bytes: &[u8]) -> Vec<u8> {
    let mut m = vec![0x00, bytes.len() as u8];
    m.extend_from_slice(bytes);
    m
}

fn store(t: &mut LastValues<'_, Vec<u8>>, m: Vec<u8>, prefix: usize, at: u64) -> Stored {
    let key = key_range(&m, prefix).expect("a key");
    t.store(m, key, Instant::from_millis(at))
}

fn matching(t: &LastValues<'_, Vec<u8>>, topic: &[u8], prefix: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    t.matching(topic, prefix, |m, _| {
        out.push(m.clone());
        true
    });
    out
}

fn table<const N: usize>() -> ([Entry<Vec<u8>>; N], [u32; N]) {
    (core::array::from_fn(|_| Entry::default()), [0; N])
}

#[test]
fn keys_are_the_topic_frame_or_a_prefix_of_a_single_frame() {
    let m = msg(b"sensor/1", b"21.5");
    assert_eq!(&m[key_range(&m, 0).unwrap()], b"sensor/1");
    let s = single(b"sensor/1 21.5");
    assert_eq!(key_range(&s, 0), None);
    assert_eq!(&s[key_range(&s, 8).unwrap()], b"sensor/1");
    assert_eq!(&s[key_range(&s, 64).unwrap()], b"sensor/1 21.5");
    // A command, a truncated frame and nothing at all have no key.
    assert_eq!(key_range(&[0x04, 0x01, 0x00], 4), None);
    assert_eq!(key_range(&[0x01, 0x09, b'a'], 4), None);
    assert_eq!(key_range(&[], 4), None);
    assert_eq!(key_range(&[0xff], 4), None);
}

#[test]
fn a_new_message_of_a_key_replaces_the_kept_one() {
    let (mut e, mut o) = table::<4>();
    let mut t = LastValues::new(&mut e, &mut o, 1 << 20);
    store(&mut t, msg(b"a", b"1"), 0, 0);
    store(&mut t, msg(b"b", b"1"), 0, 0);
    store(&mut t, msg(b"a", b"2"), 0, 0);
    assert_eq!(t.len(), 2);
    assert_eq!(matching(&t, b"a", 0), vec![msg(b"a", b"2")]);
    assert_eq!(t.bytes(), 2 * msg(b"a", b"1").len());
    assert_eq!(t.stats().stored, 3);
    assert_eq!(t.stores(), 3);
}

#[test]
fn a_subscription_gets_every_key_it_is_a_prefix_of_in_order() {
    let (mut e, mut o) = table::<8>();
    let mut t = LastValues::new(&mut e, &mut o, 1 << 20);
    for k in [&b"b/2"[..], b"a", b"b/1", b"c", b"b", b"ba"] {
        store(&mut t, msg(k, b"v"), 0, 0);
    }
    let keys = |topic: &[u8]| -> Vec<Vec<u8>> {
        matching(&t, topic, 0)
            .into_iter()
            .map(|m| m[2..2 + usize::from(m[1])].to_vec())
            .collect()
    };
    assert_eq!(keys(b"b"), [&b"b"[..], b"b/1", b"b/2", b"ba"]);
    assert_eq!(keys(b"b/"), [&b"b/1"[..], b"b/2"]);
    assert_eq!(keys(b""), [&b"a"[..], b"b", b"b/1", b"b/2", b"ba", b"c"]);
    assert!(keys(b"d").is_empty());
    assert!(keys(b"b/1/x").is_empty());
}

#[test]
fn a_longer_subscription_matches_a_single_frame_message_by_its_bytes() {
    let (mut e, mut o) = table::<4>();
    let mut t = LastValues::new(&mut e, &mut o, 1 << 20);
    store(&mut t, single(b"temp 21.5"), 4, 0);
    assert_eq!(matching(&t, b"temp 2", 4), vec![single(b"temp 21.5")]);
    assert_eq!(matching(&t, b"te", 4), vec![single(b"temp 21.5")]);
    assert!(matching(&t, b"temp 3", 4).is_empty());
    // A topic frame shorter than the subscription is not matched through the prefix.
    store(&mut t, msg(b"temp", b" 22"), 4, 0);
    assert!(matching(&t, b"temp 2", 4).is_empty());
}

#[test]
fn the_oldest_gives_way_when_keys_or_bytes_run_out() {
    let (mut e, mut o) = table::<3>();
    let m = msg(b"a", b"12345678").len();
    let mut t = LastValues::new(&mut e, &mut o, 3 * m);
    for (i, k) in [b"a", b"b", b"c"].iter().enumerate() {
        store(&mut t, msg(*k, b"12345678"), 0, i as u64);
    }
    // Refreshing "a" makes "b" the oldest.
    store(&mut t, msg(b"a", b"87654321"), 0, 3);
    store(&mut t, msg(b"d", b"12345678"), 0, 4);
    assert!(matching(&t, b"b", 0).is_empty());
    assert_eq!(t.len(), 3);
    assert_eq!(t.stats().evicted, 1);
    // A message as large as two: the two oldest ("c", then "a") go.
    store(&mut t, msg(b"e", &[7; 8 + 2 + 8]), 0, 5);
    assert_eq!(t.len(), 2);
    assert!(matching(&t, b"c", 0).is_empty() && matching(&t, b"a", 0).is_empty());
    assert!(t.bytes() <= 3 * m);
    assert_eq!(t.stats().evicted, 3);
}

#[test]
fn a_message_larger_than_the_table_is_not_kept_nor_its_older_value() {
    let (mut e, mut o) = table::<3>();
    let mut t = LastValues::new(&mut e, &mut o, 32);
    store(&mut t, msg(b"a", b"small"), 0, 0);
    store(&mut t, msg(b"b", b"small"), 0, 0);
    assert_eq!(store(&mut t, msg(b"a", &[0; 40]), 0, 1), Stored::TooLarge);
    assert!(matching(&t, b"a", 0).is_empty());
    assert_eq!(matching(&t, b"b", 0).len(), 1);
    assert_eq!(t.stats().refused, 1);
    t.refused(b"b");
    assert!(t.is_empty() && t.bytes() == 0);
}

#[test]
fn messages_expire_oldest_first_after_their_time_to_live() {
    let (mut e, mut o) = table::<4>();
    let mut t = LastValues::new(&mut e, &mut o, 1 << 20);
    store(&mut t, msg(b"a", b"1"), 0, 0);
    store(&mut t, msg(b"b", b"1"), 0, 500);
    store(&mut t, msg(b"a", b"2"), 0, 900);
    let ttl = Duration::from_millis(1000);
    assert_eq!(t.next_expiry(ttl), Some(Instant::from_millis(1500)));
    assert_eq!(t.expire(Instant::from_millis(1499), ttl), 0);
    assert_eq!(t.expire(Instant::from_millis(1500), ttl), 1);
    assert_eq!(matching(&t, b"", 0), vec![msg(b"a", b"2")]);
    assert_eq!(t.expire(Instant::from_millis(5000), Duration::ZERO), 0);
    assert_eq!(t.expire(Instant::from_millis(5000), ttl), 1);
    assert!(t.is_empty());
    assert_eq!(t.next_expiry(ttl), None);
    assert_eq!(t.stats().expired, 2);
}

#[test]
fn versions_tell_what_came_after_a_point() {
    let (mut e, mut o) = table::<4>();
    let mut t = LastValues::new(&mut e, &mut o, 1 << 20);
    store(&mut t, msg(b"a", b"1"), 0, 0);
    let joined = t.stores();
    store(&mut t, msg(b"b", b"1"), 0, 0);
    let mut seen = Vec::new();
    t.matching(b"", 0, |m, v| {
        seen.push((m[2], v > joined));
        true
    });
    assert_eq!(seen, [(b'a', false), (b'b', true)]);
}

#[test]
fn a_table_without_entries_keeps_nothing() {
    let mut t = LastValues::<Vec<u8>>::new(&mut [], &mut [], 1 << 20);
    assert_eq!(store(&mut t, msg(b"a", b"1"), 0, 0), Stored::TooLarge);
    assert!(t.is_empty());
}

/// Any sequence of stores, removals and expiries keeps the table within its bounds, its order
/// sorted, and every key findable.
#[test]
fn random_use_keeps_the_table_whole() {
    use proptest::prelude::*;
    let op = (0u8..4, 0u8..12, 0usize..40);
    proptest!(|(ops in proptest::collection::vec(op, 1..200))| {
        let (mut e, mut o) = table::<5>();
        let mut t = LastValues::new(&mut e, &mut o, 64);
        let mut now = 0;
        for (what, k, size) in ops {
            let key = [b'k', k];
            now += 10;
            match what {
                0 | 1 => { store(&mut t, msg(&key, &vec![k; size]), 0, now); }
                2 => t.remove(&key),
                _ => { t.expire(Instant::from_millis(now), Duration::from_millis(200)); }
            }
            prop_assert!(t.len() <= 5);
            prop_assert!(t.bytes() <= 64);
            let all = matching(&t, b"", 0);
            prop_assert_eq!(all.len(), t.len());
            prop_assert_eq!(all.iter().map(Vec::len).sum::<usize>(), t.bytes());
            let keys: Vec<_> = all.iter().map(|m| m[2..4].to_vec()).collect();
            let mut sorted = keys.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(keys, sorted);
        }
    });
}

#[test]
fn a_lookup_stops_when_told_and_says_how_many_it_left() {
    let (mut e, mut o) = table::<8>();
    let mut t = LastValues::new(&mut e, &mut o, 1 << 20);
    for k in [b"a/1", b"a/2", b"a/3", b"b/1"] {
        store(&mut t, msg(k, b"v"), 0, 0);
    }
    let mut n = 0;
    let left = t.matching(b"a/", 0, |_, _| {
        n += 1;
        n < 2
    });
    assert_eq!((n, left), (2, 1));
    assert_eq!(t.matching(b"a/", 0, |_, _| true), 0);
}
