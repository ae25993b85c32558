//! The forwarder's subscription table: (subscriber, topic) entries in caller storage.
//!
//! Entries are counted, not deduplicated: a subscriber that subscribes twice to a topic must
//! cancel twice, as with libzmq. A topic's upstream life follows its entry count: the first
//! entry sends it upstream, the removal of the last cancels it. Matching is a linear scan:
//! fine for the hundreds to low thousands of subscriptions an edge broker carries.

use crate::wire::Full;

/// Longest topic kept. Longer subscriptions are cut to this length, which only widens them
/// (a message matching the full topic still matches the cut one); subscribers filter again.
pub const MAX_TOPIC: usize = 256;

/// Bytes of table storage per subscription: the subscriber (4), the topic's length (2), the
/// topic. The caller hands the table zeroed bytes; a hosted caller that takes them from a
/// zeroed allocation pays memory only for the entries that are ever used.
pub const SUB_ENTRY_LEN: usize = 4 + 2 + MAX_TOPIC;

/// Subscriptions, densely packed at the front of the caller's bytes, [`SUB_ENTRY_LEN`] each.
#[derive(Debug)]
pub(crate) struct SubTable<'s> {
    bytes: &'s mut [u8],
    len: usize,
}

/// A topic cut to [`MAX_TOPIC`].
pub(crate) fn cut(topic: &[u8]) -> &[u8] {
    &topic[..topic.len().min(MAX_TOPIC)]
}

/// Whether `topic` is a prefix of `head`. Topics are mostly a few bytes (or empty), for which
/// comparing in place beats a call to `memcmp` on every entry of every message.
#[inline]
fn is_prefix(topic: &[u8], head: &[u8]) -> bool {
    const SHORT: usize = 16;
    match head.get(..topic.len()) {
        None => false,
        Some(h) if topic.len() <= SHORT => h.iter().zip(topic).all(|(a, b)| a == b),
        Some(h) => h == topic,
    }
}

/// One stored entry, read in place.
struct Entry<'a>(&'a [u8]);

impl<'a> Entry<'a> {
    fn peer(&self) -> u32 {
        u32::from_le_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }

    fn topic(&self) -> &'a [u8] {
        let len = usize::from(u16::from_le_bytes([self.0[4], self.0[5]])).min(MAX_TOPIC);
        &self.0[6..6 + len]
    }
}

impl<'s> SubTable<'s> {
    pub(crate) fn new(bytes: &'s mut [u8]) -> Self {
        SubTable { bytes, len: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn capacity(&self) -> usize {
        self.bytes.len() / SUB_ENTRY_LEN
    }

    fn used(&self) -> impl Iterator<Item = Entry<'_>> + '_ {
        self.bytes
            .chunks_exact(SUB_ENTRY_LEN)
            .take(self.len)
            .map(Entry)
    }

    pub(crate) fn count(&self, topic: &[u8]) -> usize {
        let topic = cut(topic);
        self.used().filter(|e| e.topic() == topic).count()
    }

    /// Add a subscription. `Ok(true)` if it is the topic's first.
    pub(crate) fn add(&mut self, peer: u32, topic: &[u8]) -> Result<bool, Full> {
        let topic = cut(topic);
        let first = self.count(topic) == 0;
        let at = self.len * SUB_ENTRY_LEN;
        let slot = self.bytes.get_mut(at..at + SUB_ENTRY_LEN).ok_or(Full)?;
        slot[..4].copy_from_slice(&peer.to_le_bytes());
        slot[4..6].copy_from_slice(&(topic.len() as u16).to_le_bytes());
        slot[6..6 + topic.len()].copy_from_slice(topic);
        self.len += 1;
        Ok(first)
    }

    /// Remove one subscription of `peer` to `topic`. `Some(true)` if it was the topic's last,
    /// `None` if the peer had no such subscription.
    pub(crate) fn remove(&mut self, peer: u32, topic: &[u8]) -> Option<bool> {
        let topic = cut(topic);
        let at = self
            .used()
            .position(|e| e.peer() == peer && e.topic() == topic)?;
        self.swap_remove(at);
        Some(self.count(topic) == 0)
    }

    /// Remove every subscription of `peer`, calling `on_last` for each topic that no one
    /// subscribes to any more.
    pub(crate) fn remove_peer(&mut self, peer: u32, mut on_last: impl FnMut(&[u8])) {
        let mut gone = [0u8; MAX_TOPIC];
        let mut at = 0;
        while at < self.len {
            let n = {
                let e = Entry(&self.bytes[at * SUB_ENTRY_LEN..(at + 1) * SUB_ENTRY_LEN]);
                if e.peer() != peer {
                    at += 1;
                    continue;
                }
                gone[..e.topic().len()].copy_from_slice(e.topic());
                e.topic().len()
            };
            self.swap_remove(at);
            if self.count(&gone[..n]) == 0 {
                on_last(&gone[..n]);
            }
        }
    }

    /// Move the last entry into `at`'s place.
    fn swap_remove(&mut self, at: usize) {
        self.len -= 1;
        if at != self.len {
            let (front, last) = self.bytes.split_at_mut(self.len * SUB_ENTRY_LEN);
            let dst = &mut front[at * SUB_ENTRY_LEN..(at + 1) * SUB_ENTRY_LEN];
            dst.copy_from_slice(&last[..SUB_ENTRY_LEN]);
        }
    }

    /// Call `f` with the peer of every subscription that is a prefix of `head` (a peer may be
    /// named more than once).
    pub(crate) fn matches(&self, head: &[u8], mut f: impl FnMut(u32)) {
        for e in self.used() {
            if is_prefix(e.topic(), head) {
                f(e.peer());
            }
        }
    }

    /// Call `f` once for every distinct topic.
    pub(crate) fn topics(&self, mut f: impl FnMut(&[u8])) {
        for (i, e) in self.used().enumerate() {
            if !self
                .used()
                .take(i)
                .any(|earlier| earlier.topic() == e.topic())
            {
                f(e.topic());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::vec::Vec;

    fn table(n: usize) -> Vec<u8> {
        std::vec![0; n * SUB_ENTRY_LEN]
    }

    #[test]
    fn first_and_last_per_topic() {
        let mut store = table(8);
        let mut t = SubTable::new(&mut store);
        assert_eq!(t.add(1, b"a"), Ok(true));
        assert_eq!(t.add(2, b"a"), Ok(false));
        assert_eq!(t.add(2, b"a"), Ok(false), "duplicates count");
        assert_eq!(t.remove(2, b"a"), Some(false));
        assert_eq!(t.remove(1, b"a"), Some(false));
        assert_eq!(t.remove(1, b"a"), None, "peer 1 has no more");
        assert_eq!(t.remove(2, b"a"), Some(true));
    }

    #[test]
    fn remove_peer_reports_orphaned_topics_once() {
        let mut store = table(8);
        let mut t = SubTable::new(&mut store);
        for (p, topic) in [(1, &b"x"[..]), (1, b"y"), (1, b"y"), (2, b"y"), (1, b"")] {
            t.add(p, topic).unwrap();
        }
        let mut gone = Vec::new();
        t.remove_peer(1, |topic| gone.push(topic.to_vec()));
        gone.sort();
        assert_eq!(gone, [b"".to_vec(), b"x".to_vec()]);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn prefix_matching_and_full_table() {
        let mut store = table(3);
        let mut t = SubTable::new(&mut store);
        t.add(1, b"weather/").unwrap();
        t.add(2, b"").unwrap();
        t.add(3, b"news").unwrap();
        assert_eq!(t.add(4, b"z"), Err(Full));
        let mut hit = Vec::new();
        t.matches(b"weather/paris 12C", |p| hit.push(p));
        hit.sort();
        assert_eq!(hit, [1, 2]);
    }

    #[test]
    fn long_topics_are_cut_consistently() {
        let mut store = table(4);
        let mut t = SubTable::new(&mut store);
        let long = [b'q'; MAX_TOPIC + 10];
        assert_eq!(t.add(1, &long), Ok(true));
        assert_eq!(t.remove(1, &long), Some(true));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Add(u32, u8),
        Remove(u32, u8),
        Drop(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..4u32, 0..4u8).prop_map(|(p, t)| Op::Add(p, t)),
            (0..4u32, 0..4u8).prop_map(|(p, t)| Op::Remove(p, t)),
            (0..4u32).prop_map(Op::Drop),
        ]
    }

    proptest! {
        /// Against a model (counts per (peer, topic)): the upstream view (first/last signals)
        /// always equals "topics with a non-zero total count".
        #[test]
        fn behaves_like_a_counted_model(ops in proptest::collection::vec(op(), 0..200)) {
            let topics: [&[u8]; 4] = [b"", b"a", b"ab", b"b"];
            let mut store = table(16);
            let mut t = SubTable::new(&mut store);
            let mut model: BTreeMap<(u32, u8), usize> = BTreeMap::new();
            let mut upstream: BTreeMap<Vec<u8>, ()> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Add(p, ti) => match t.add(p, topics[ti as usize]) {
                        Ok(first) => {
                            *model.entry((p, ti)).or_default() += 1;
                            prop_assert_eq!(first, upstream.insert(topics[ti as usize].to_vec(), ()).is_none());
                        }
                        Err(Full) => prop_assert_eq!(model.values().sum::<usize>(), 16),
                    },
                    Op::Remove(p, ti) => {
                        let had = model.get(&(p, ti)).copied().unwrap_or(0);
                        match t.remove(p, topics[ti as usize]) {
                            None => prop_assert_eq!(had, 0),
                            Some(last) => {
                                prop_assert!(had > 0);
                                *model.get_mut(&(p, ti)).unwrap() -= 1;
                                if last {
                                    upstream.remove(topics[ti as usize]);
                                }
                            }
                        }
                    }
                    Op::Drop(p) => {
                        t.remove_peer(p, |topic| { upstream.remove(topic); });
                        model.retain(|(mp, _), _| *mp != p);
                    }
                }
                let mut live: Vec<Vec<u8>> = model.iter().filter(|(_, n)| **n > 0)
                    .map(|((_, ti), _)| topics[*ti as usize].to_vec()).collect();
                live.sort();
                live.dedup();
                prop_assert_eq!(&live, &upstream.keys().cloned().collect::<Vec<_>>());
                let mut distinct = Vec::new();
                t.topics(|topic| distinct.push(topic.to_vec()));
                distinct.sort();
                prop_assert_eq!(&live, &distinct);
            }
        }
    }
}
