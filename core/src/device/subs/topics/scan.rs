//! Matching by scan: the topics that are prefixes of a message's head, found by comparing each
//! topic in turn, the way [`SubTable::matches`](crate::device::subs::SubTable::matches) takes
//! while there are only a few.

use super::{Topics, BYTES};
use crate::device::subs::store::{INLINE, NIL};
use crate::device::subs::SCAN_TOPICS;

/// For each length up to [`INLINE`], the mask of a topic's first bytes in a little-endian
/// word: a load where a 128-bit shift took a dozen instructions per topic scanned.
const PREFIX_MASKS: [u128; INLINE + 1] = {
    let mut masks = [0u128; INLINE + 1];
    let mut len = 1;
    while len <= INLINE {
        masks[len] = u128::MAX >> (128 - 8 * len);
        len += 1;
    }
    masks
};

/// The topics a scan compares, side by side: while there are at most [`SCAN_TOPICS`], each
/// one's first bytes masked to its length, the mask, its length and its id, refilled from the
/// log whenever a topic comes or goes ([`Topics::insert`], [`Topics::release`]: rare beside
/// the messages matched). Walking the log instead read three fields of each topic's record,
/// scattered over the table, and the comparison waited on them: route was a sixth of the
/// forwarder's fan-out CPU, most of it there (`perf annotate`, tools/bench-probe fanout).
#[derive(Debug)]
pub(super) struct ScanSet {
    n: usize,
    words: [u128; SCAN_TOPICS],
    masks: [u128; SCAN_TOPICS],
    lens: [u32; SCAN_TOPICS],
    ids: [u32; SCAN_TOPICS],
}

impl ScanSet {
    pub(super) const fn new() -> Self {
        ScanSet {
            n: 0,
            words: [0; SCAN_TOPICS],
            masks: [0; SCAN_TOPICS],
            lens: [0; SCAN_TOPICS],
            ids: [NIL; SCAN_TOPICS],
        }
    }
}

impl Topics<'_> {
    /// Refill the scan set from the log, if there are few enough topics to scan (with more,
    /// matching hashes and the set is left as it is).
    pub(super) fn rescan(&mut self) {
        if self.len > SCAN_TOPICS {
            return;
        }
        let mut set = ScanSet::new();
        let mut id = self.first;
        while id != NIL && set.n < SCAN_TOPICS {
            let len = self.topic_len(id);
            let mask = PREFIX_MASKS[len.min(INLINE)];
            set.words[set.n] = self.recs.get128(id, BYTES) & mask;
            set.masks[set.n] = mask;
            set.lens[set.n] = len as u32;
            set.ids[set.n] = id;
            set.n += 1;
            id = self.next(id);
        }
        self.scan = set;
    }

    /// Call `f` with every topic that is a prefix of `head`, comparing each topic in turn:
    /// O(topics), cheaper than hashing prefixes while there are only a few
    /// ([`SCAN_TOPICS`]). A topic's first 16 bytes are compared as one word.
    #[inline]
    pub(in crate::device::subs) fn each_prefix_by_scan(&self, head: &[u8], mut f: impl FnMut(u32)) {
        let first = match head.first_chunk::<INLINE>() {
            // A fixed-size load; a head shorter than a word is copied into one.
            Some(word) => u128::from_le_bytes(*word),
            None => {
                let mut word = [0u8; INLINE];
                word[..head.len()].copy_from_slice(head);
                u128::from_le_bytes(word)
            }
        };
        let set = &self.scan;
        let n = set.n.min(SCAN_TOPICS);
        for i in 0..n {
            let len = set.lens[i] as usize;
            if len <= head.len()
                && first & set.masks[i] == set.words[i]
                && (len <= INLINE || self.equals(set.ids[i], &head[..len]))
            {
                f(set.ids[i]);
            }
        }
    }
}
