//! SipHash-1-3 (Aumasson and Bernstein), keyed with the device's seed. Peers choose topics:
//! with an unkeyed hash one could choose topics that all land in one slot and make every
//! lookup walk them. Prefixes of one message head are hashed incrementally: whole 8-byte
//! words are absorbed once, and each prefix length asked for costs one finishing block.

/// SipHash state after whole words; `C` compression and `D` finishing rounds.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sip<const C: usize, const D: usize> {
    v: [u64; 4],
}

/// The variant the index uses: fast on the short inputs topics are.
pub(super) type Sip13 = Sip<1, 3>;

impl<const C: usize, const D: usize> Sip<C, D> {
    pub(super) fn new(key: [u64; 2]) -> Self {
        Sip {
            v: [
                key[0] ^ 0x736f_6d65_7073_6575,
                key[1] ^ 0x646f_7261_6e64_6f6d,
                key[0] ^ 0x6c79_6765_6e65_7261,
                key[1] ^ 0x7465_6462_7974_6573,
            ],
        }
    }

    #[inline]
    fn round(&mut self) {
        let [mut v0, mut v1, mut v2, mut v3] = self.v;
        v0 = v0.wrapping_add(v1);
        v1 = v1.rotate_left(13) ^ v0;
        v0 = v0.rotate_left(32);
        v2 = v2.wrapping_add(v3);
        v3 = v3.rotate_left(16) ^ v2;
        v0 = v0.wrapping_add(v3);
        v3 = v3.rotate_left(21) ^ v0;
        v2 = v2.wrapping_add(v1);
        v1 = v1.rotate_left(17) ^ v2;
        v2 = v2.rotate_left(32);
        self.v = [v0, v1, v2, v3];
    }

    /// Absorb the next 8 input bytes, as a little-endian word.
    #[inline]
    pub(super) fn word(&mut self, m: u64) {
        self.v[3] ^= m;
        for _ in 0..C {
            self.round();
        }
        self.v[0] ^= m;
    }

    /// The hash of an input of `len` bytes whose whole words were absorbed and whose last
    /// `len % 8` bytes are `tail`.
    #[inline]
    pub(super) fn finish(mut self, tail: &[u8], len: usize) -> u64 {
        let mut last = (len as u64) << 56;
        for (i, &b) in tail.iter().enumerate() {
            last |= u64::from(b) << (8 * i);
        }
        self.word(last);
        self.v[2] ^= 0xff;
        for _ in 0..D {
            self.round();
        }
        self.v[0] ^ self.v[1] ^ self.v[2] ^ self.v[3]
    }

    /// The hash of `bytes`, from this (fresh, keyed) state.
    pub(super) fn hash(mut self, bytes: &[u8]) -> u64 {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.word(le64(w));
        }
        self.finish(words.remainder(), bytes.len())
    }
}

#[inline]
fn le64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    u64::from_le_bytes(w)
}

/// The hashes of a message head's prefixes, asked for shortest first.
#[derive(Debug)]
pub(super) struct Prefixes<'h> {
    sip: Sip13,
    head: &'h [u8],
    absorbed: usize,
}

impl<'h> Prefixes<'h> {
    /// `keyed`: the fresh state of the key.
    pub(super) fn new(keyed: Sip13, head: &'h [u8]) -> Self {
        Prefixes {
            sip: keyed,
            head,
            absorbed: 0,
        }
    }

    /// The hash of `head[..len]`; `len` no shorter than last time, and within the head.
    #[inline]
    pub(super) fn hash(&mut self, len: usize) -> u64 {
        while self.absorbed + 8 <= len {
            self.sip
                .word(le64(&self.head[self.absorbed..self.absorbed + 8]));
            self.absorbed += 8;
        }
        self.sip.finish(&self.head[self.absorbed..len], len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::hash::Hasher;
    use proptest::prelude::*;
    use std::vec::Vec;

    proptest! {
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// The rounds and the key schedule are SipHash's: with 2 and 4 rounds the result is
        /// the reference implementation's (core's deprecated `SipHasher` is SipHash-2-4).
        #[test]
        fn is_siphash_2_4_with_2_and_4_rounds(k0: u64, k1: u64, bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            #[allow(deprecated)]
            let mut reference = core::hash::SipHasher::new_with_keys(k0, k1);
            reference.write(&bytes);
            prop_assert_eq!(Sip::<2, 4>::new([k0, k1]).hash(&bytes), reference.finish());
        }

        /// Hashing prefixes incrementally gives each prefix's own hash.
        #[test]
        fn prefixes_hash_as_wholes(k0: u64, k1: u64, head in proptest::collection::vec(any::<u8>(), 0..80), cuts in proptest::collection::vec(0usize..81, 0..10)) {
            let mut lens: Vec<usize> = cuts.into_iter().filter(|&n| n <= head.len()).collect();
            lens.sort();
            let keyed = Sip13::new([k0, k1]);
            let mut p = Prefixes::new(keyed, &head);
            for len in lens {
                prop_assert_eq!(p.hash(len), keyed.hash(&head[..len]));
            }
        }
    }

    /// SipHash-1-3 as the standard library's default hasher computes it (keys zero).
    #[test]
    fn is_siphash_1_3() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len as u8).collect();
            let mut std_hasher = std::hash::DefaultHasher::new();
            std_hasher.write(&bytes);
            assert_eq!(
                Sip13::new([0, 0]).hash(&bytes),
                std_hasher.finish(),
                "{len} bytes"
            );
        }
    }
}
