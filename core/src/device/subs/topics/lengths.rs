//! Which topic lengths exist: per length, how many topics have it, and a bitmap of those
//! above zero, so that matching hashes only prefixes of those lengths.

use crate::conn::MAX_TOPIC;
use crate::device::subs::store::{Records, LENGTH_BITS_BYTES};

#[derive(Debug)]
pub(super) struct Lengths<'s> {
    counts: Records<'s>,
    bits: Records<'s>,
    /// The longest length any topic has.
    longest: usize,
}

impl<'s> Lengths<'s> {
    /// Take the counts and the bitmap off the front of `rest`; none of either unless `on`.
    pub(super) fn new(rest: &mut &'s mut [u8], on: bool) -> Self {
        Lengths {
            counts: Records::take(rest, if on { MAX_TOPIC + 1 } else { 0 }, 4),
            bits: Records::take(rest, if on { LENGTH_BITS_BYTES / 8 } else { 0 }, 8),
            longest: 0,
        }
    }

    /// Call `f` with every length (ascending) up to `max` that some topic has. Only while
    /// there is a topic: a table with no storage has no bitmap to read.
    #[inline]
    pub(super) fn each_length(&self, max: usize, mut f: impl FnMut(usize)) {
        let max = max.min(self.longest);
        let last = max / 64;
        for w in 0..=last {
            let mut bits = self.bits.get64(w as u32);
            if w == last {
                bits &= u64::MAX >> (63 - max % 64);
            }
            while bits != 0 {
                f(w * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
    }

    /// One topic more (`up`) or one fewer has length `len`.
    pub(super) fn count_length(&mut self, len: usize, up: bool) {
        let n = self.counts.get(len as u32, 0);
        let n = if up { n + 1 } else { n - 1 };
        self.counts.set(len as u32, 0, n);
        let (word, bit) = ((len / 64) as u32, 1u64 << (len % 64));
        if up && n == 1 {
            self.bits.set64(word, self.bits.get64(word) | bit);
        } else if n == 0 {
            self.bits.set64(word, self.bits.get64(word) & !bit);
        }
        if up {
            self.longest = self.longest.max(len);
        } else if n == 0 && len == self.longest {
            self.longest = self.highest_length_below(len);
        }
    }

    /// The longest length some topic has, below `len`; 0 if none.
    fn highest_length_below(&self, len: usize) -> usize {
        (0..=len / 64)
            .rev()
            .map(|w| (w, self.bits.get64(w as u32)))
            .find(|&(_, bits)| bits != 0)
            .map_or(0, |(w, bits)| w * 64 + 63 - bits.leading_zeros() as usize)
    }
}
