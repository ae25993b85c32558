//! What matching by scan compares of a topic (see the parent's `scan.rs`): its first bytes
//! as one little-endian word, masked to its length.

use super::{Topics, BYTES};
use crate::device::subs::store::INLINE;

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

/// A message head's first bytes as the word [`Topics::scan_word`] compares: a head shorter
/// than a word is padded with zeroes.
#[inline]
pub(in crate::device::subs) fn head_word(head: &[u8]) -> u128 {
    match head.first_chunk::<INLINE>() {
        // A fixed-size load; a head shorter than a word is copied into one.
        Some(word) => u128::from_le_bytes(*word),
        None => {
            let mut word = [0u8; INLINE];
            word[..head.len()].copy_from_slice(head);
            u128::from_le_bytes(word)
        }
    }
}

impl Topics<'_> {
    /// The topic's first bytes masked to its length, and the mask: a head whose
    /// [`head_word`] masked equals the word starts with those bytes.
    pub(in crate::device::subs) fn scan_word(&self, id: u32) -> (u128, u128) {
        let mask = PREFIX_MASKS[self.topic_len(id).min(INLINE)];
        // The topic's inline bytes (little-endian: its first byte lowest), masked to its
        // length; what lies beyond it in the record is not cleared.
        (self.recs.get128(id, BYTES) & mask, mask)
    }
}
