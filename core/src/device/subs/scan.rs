//! Matching by scan, while the table holds at most [`SCAN_TOPICS`] topics: the topics and
//! their subscribers side by side in one small array ([`ScanSet`]), refilled whenever a topic
//! or a topic's list of subscribers changes (rare beside the messages matched).
//!
//! Matching read the same from the table's records before: each topic's length, first bytes
//! and successor in the log, then each subscription entry's peer and successor, fields of
//! records scattered over the caller's storage, every load waiting on the one before. In a
//! forwarder's fan-out (tools/bench-probe fanout, `perf annotate`) that walk was most of
//! `route`, a sixth of zedge's CPU.

use super::entries::List;
use super::store::{INLINE, NIL};
use super::topics::head_word;
use super::SubTable;

/// Up to this many distinct topics, matching compares the message head with each topic instead
/// of hashing its prefixes: a prefix hash and lookup cost about 100 instructions, comparing a
/// topic of up to 16 bytes about 12 (`tools/bench-callgrind forwarder`, 5 topics of 0 and 2
/// bytes). The bound keeps the scan's cost as small as one or two lookups, whatever the topics.
pub(super) const SCAN_TOPICS: usize = 8;

/// Subscriptions the scan set lists by their peer; a topic whose subscribers do not fit in
/// what is left has its list walked in the table instead.
const SCAN_PEERS: usize = 32;

/// A topic's subscribers are not in [`ScanSet::peers`]: walk its list.
const WALK: u8 = u8::MAX;

/// The topics a scan compares: per topic its first bytes masked to its length, the mask, its
/// length and id, and where its subscribers' peers are in `peers`.
#[derive(Debug)]
pub(super) struct ScanSet {
    n: usize,
    words: [u128; SCAN_TOPICS],
    masks: [u128; SCAN_TOPICS],
    lens: [u32; SCAN_TOPICS],
    ids: [u32; SCAN_TOPICS],
    starts: [u8; SCAN_TOPICS],
    /// How many of `peers` from `starts` are the topic's, or [`WALK`].
    counts: [u8; SCAN_TOPICS],
    peers: [u32; SCAN_PEERS],
}

impl ScanSet {
    pub(super) const fn new() -> Self {
        ScanSet {
            n: 0,
            words: [0; SCAN_TOPICS],
            masks: [0; SCAN_TOPICS],
            lens: [0; SCAN_TOPICS],
            ids: [NIL; SCAN_TOPICS],
            starts: [0; SCAN_TOPICS],
            counts: [0; SCAN_TOPICS],
            peers: [NIL; SCAN_PEERS],
        }
    }
}

impl SubTable<'_> {
    /// Refill the scan set, if there are few enough topics to scan (with more, matching
    /// hashes and the set is left as it is). Called after every change to the topics or to a
    /// topic's subscribers: O([`SCAN_TOPICS`] + [`SCAN_PEERS`]).
    pub(super) fn rescan(&mut self) {
        if self.topics.len() > SCAN_TOPICS {
            return;
        }
        let mut set = ScanSet::new();
        let mut used = 0;
        let mut id = self.topics.first();
        while id != NIL && set.n < SCAN_TOPICS {
            let i = set.n;
            (set.words[i], set.masks[i]) = self.topics.scan_word(id);
            set.lens[i] = self.topics.topic_len(id) as u32;
            set.ids[i] = id;
            let start = used;
            let mut e = self.topics.subscribers(id);
            while e != NIL && used < SCAN_PEERS {
                set.peers[used] = self.entries.peer(e);
                used += 1;
                e = self.entries.next(List::Topic, e);
            }
            if e == NIL {
                (set.starts[i], set.counts[i]) = (start as u8, (used - start) as u8);
            } else {
                // Too many to list: walked, and the room goes to the topics after it.
                (set.counts[i], used) = (WALK, start);
            }
            set.n += 1;
            id = self.topics.next(id);
        }
        self.scan = set;
    }

    /// [`SubTable::matches`] over at most [`SCAN_TOPICS`] topics: each compared in turn,
    /// a topic's first 16 bytes as one word.
    #[inline]
    pub(super) fn matches_by_scan(&self, head: &[u8], mut f: impl FnMut(u32)) {
        let first = head_word(head);
        let set = &self.scan;
        for i in 0..set.n.min(SCAN_TOPICS) {
            let len = set.lens[i] as usize;
            if len > head.len()
                || first & set.masks[i] != set.words[i]
                || (len > INLINE && !self.topics.equals(set.ids[i], &head[..len]))
            {
                continue;
            }
            let (start, count) = (set.starts[i] as usize, set.counts[i]);
            if count == WALK {
                let mut e = self.topics.subscribers(set.ids[i]);
                while e != NIL {
                    f(self.entries.peer(e));
                    e = self.entries.next(List::Topic, e);
                }
            } else {
                for &p in set
                    .peers
                    .get(start..start + count as usize)
                    .unwrap_or_default()
                {
                    f(p);
                }
            }
        }
    }
}
