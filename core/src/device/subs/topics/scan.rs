//! Matching by scan: the topics that are prefixes of a message's head, found by comparing each
//! topic in turn, the way [`SubTable::matches`](crate::device::subs::SubTable::matches) takes
//! while there are only a few.

use super::{Topics, BYTES};
use crate::device::subs::store::{INLINE, NIL};

impl Topics<'_> {
    /// Call `f` with every topic that is a prefix of `head`, comparing each topic in turn:
    /// O(topics), cheaper than hashing prefixes while there are only a few
    /// ([`SCAN_TOPICS`](crate::device::subs::SCAN_TOPICS)). A topic's first 16 bytes are
    /// compared as one word.
    #[inline]
    pub(in crate::device::subs) fn each_prefix_by_scan(&self, head: &[u8], mut f: impl FnMut(u32)) {
        let mut first = [0u8; INLINE];
        let n = head.len().min(INLINE);
        first[..n].copy_from_slice(&head[..n]);
        let first = u128::from_le_bytes(first);
        let mut id = self.first;
        while id != NIL {
            let len = self.topic_len(id);
            if len <= head.len() {
                // The topic's inline bytes (little-endian: its first byte lowest), masked to
                // its length; what lies beyond it in the record is not cleared.
                let mask = u128::MAX
                    .checked_shr(128 - 8 * len.min(INLINE) as u32)
                    .unwrap_or(0);
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
