//! Matching by scan: the topics that are prefixes of a message's head, found by comparing each
//! topic in turn, the way [`SubTable::matches`](crate::device::subs::SubTable::matches) takes
//! while there are only a few.

use super::{Topics, BYTES};
use crate::device::subs::store::{INLINE, NIL};

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

impl Topics<'_> {
    /// Call `f` with every topic that is a prefix of `head`, comparing each topic in turn:
    /// O(topics), cheaper than hashing prefixes while there are only a few
    /// ([`SCAN_TOPICS`](crate::device::subs::SCAN_TOPICS)). A topic's first 16 bytes are
    /// compared as one word.
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
        let mut id = self.first;
        while id != NIL {
            let len = self.topic_len(id);
            if len <= head.len() {
                // The topic's inline bytes (little-endian: its first byte lowest), masked to
                // its length; what lies beyond it in the record is not cleared.
                let mask = PREFIX_MASKS[len.min(INLINE)];
                if (self.recs.get128(id, BYTES) ^ first) & mask == 0
                    && (len <= INLINE || self.equals(id, &head[..len]))
                {
                    f(id);
                }
            }
            id = self.next(id);
        }
    }
}
