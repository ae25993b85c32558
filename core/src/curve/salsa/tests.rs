//! Our XSalsa20-Poly1305 and box key against RustCrypto's `crypto_secretbox` and `crypto_box`,
//! the reference: the same bytes for any key, nonce and length (every length across the
//! four-block passes, and past them), and each opens the other's.

use proptest::prelude::*;
use std::vec::Vec;

use crypto_box::aead::generic_array::GenericArray;
use crypto_box::aead::{AeadInPlace, KeyInit};
use crypto_secretbox::XSalsa20Poly1305;

use super::poly::{poly1305_32, poly1305_64};
use super::*;

/// The reference `crypto_secretbox`, in NaCl's layout.
fn reference_seal(key: &[u8; 32], nonce: &[u8; 24], plain: &[u8]) -> Vec<u8> {
    let aead = XSalsa20Poly1305::new(GenericArray::from_slice(key));
    let mut body = plain.to_vec();
    let tag = aead
        .encrypt_in_place_detached(GenericArray::from_slice(nonce), b"", &mut body)
        .expect("seal");
    [tag.as_slice(), &body].concat()
}

fn ours(key: &[u8; 32], nonce: &[u8; 24], plain: &[u8]) -> Vec<u8> {
    let mut buf = [&[0u8; 16][..], plain].concat();
    assert!(seal(key, nonce, &mut buf));
    buf
}

#[test]
fn every_length_across_the_passes_matches_the_reference() {
    let key = [0x42; 32];
    let nonce: [u8; 24] = core::array::from_fn(|i| i as u8);
    for len in (0..=1100).chain([4095, 4096, 4097, 65536, 65537]) {
        let plain: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let sealed = ours(&key, &nonce, &plain);
        assert_eq!(sealed, reference_seal(&key, &nonce, &plain), "length {len}");
        let mut back = sealed.clone();
        assert!(open(&key, &nonce, &mut back), "length {len}");
        assert_eq!(&back[16..], &plain[..]);
    }
}

#[test]
fn a_box_at_any_alignment_matches_the_reference() {
    let key = [0x17; 32];
    let nonce = [0x29; 24];
    for len in [31, 32, 33, 223, 224, 225, 479, 480, 481, 5000] {
        let plain: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
        let expected = reference_seal(&key, &nonce, &plain);
        for at in 1..8 {
            let mut space = std::vec![0u8; at + 16 + len];
            space[at + 16..].copy_from_slice(&plain);
            assert!(seal(&key, &nonce, &mut space[at..]));
            assert_eq!(space[at..], expected[..], "length {len} at {at}");
            assert!(open(&key, &nonce, &mut space[at..]));
            assert_eq!(space[at + 16..], plain[..], "length {len} at {at}");
        }
    }
}

/// The passes of four and eight blocks (x86_64's and aarch64's) are the blocks one at a time, at any
/// counter, across the low word's wrap too.
#[test]
fn passes_are_consecutive_blocks() {
    let st = stream::salsa20(&[7; 32], &[3; 8]);
    for counter in [0u64, 1, 5, u64::from(u32::MAX) - 5, u64::MAX - 2] {
        let one = stream::blocks::<wide::u32x4, 1>(&st, counter);
        let two = stream::blocks::<wide::u32x4, 2>(&st, counter);
        for b in 0..8 {
            let alone = stream::block(&st, counter.wrapping_add(b as u64));
            for w in 0..16 {
                let word = stream::word(&alone, w);
                assert_eq!(two[b / 4][w].to_array()[b % 4], word, "{counter} {b} {w}");
                if b < 4 {
                    assert_eq!(one[0][w].to_array()[b], word, "{counter} {b} {w}");
                }
            }
        }
    }
}

#[test]
fn a_changed_byte_does_not_open_and_leaves_the_box_as_it_was() {
    let key = [1; 32];
    let nonce = [2; 24];
    let sealed = ours(&key, &nonce, b"attack at dawn, from the north side");
    for at in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[at] ^= 0x80;
        let copy = bad.clone();
        assert!(!open(&key, &nonce, &mut bad), "byte {at}");
        assert_eq!(bad, copy, "a box that does not open is not touched");
    }
    assert!(!open(&key, &nonce, &mut [0u8; 15]));
}

#[test]
fn the_box_key_is_crypto_box_beforenm() {
    use crypto_box::{PublicKey, SalsaBox, SecretKey};
    let a = crate::curve::crypto::KeyPair::from_secret([5; 32]);
    let b = crate::curve::crypto::KeyPair::from_secret([6; 32]);
    assert_eq!(
        a.public,
        *SecretKey::from([5u8; 32]).public_key().as_bytes()
    );
    let reference = SalsaBox::new(&PublicKey::from(b.public), &SecretKey::from([5u8; 32]));
    let ours = crate::curve::crypto::CryptoBox::new(&b.public, a.secret()).expect("box");
    let nonce = [9u8; 24];
    let mut buf = [0u8; 16 + 300];
    buf[16..].fill(0x33);
    ours.seal(&nonce, &mut buf).expect("seal");
    let mut body = [0x33u8; 300];
    let tag = reference
        .encrypt_in_place_detached(GenericArray::from_slice(&nonce), b"", &mut body)
        .expect("reference seal");
    assert_eq!(&buf[..16], tag.as_slice());
    assert_eq!(&buf[16..], &body[..]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_key_nonce_and_message_match_the_reference(
        key in any::<[u8; 32]>(),
        nonce in any::<[u8; 24]>(),
        plain in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        prop_assert_eq!(ours(&key, &nonce, &plain), reference_seal(&key, &nonce, &plain));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Both Poly1305s agree (the 32-bit one runs on microcontrollers; the reference test above
    /// checks the one this machine uses).
    #[test]
    fn both_poly1305s_agree(
        key in any::<[u8; 32]>(),
        msg in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        prop_assert_eq!(poly1305_64(&key, &msg), poly1305_32(&key, &msg));
    }
}

/// Lanes in plain arrays, for the wider paths' generic parts: the rounds and passes over
/// `Lanes` with eight lanes, Poly1305 over `PolyLanes` with `N` (the binary's AVX2 has 8 and
/// 4).
#[derive(Clone, Copy)]
struct Arr<const N: usize, T>([T; N]);

impl<const N: usize> Lanes for Arr<N, u32> {
    const LANES: usize = N;
    fn splat(w: u32) -> Self {
        Arr([w; N])
    }
    fn from_fn(f: impl FnMut(usize) -> u32) -> Self {
        Arr(core::array::from_fn(f))
    }
    fn add(self, o: Self) -> Self {
        Arr(core::array::from_fn(|l| self.0[l].wrapping_add(o.0[l])))
    }
    fn xor(self, o: Self) -> Self {
        Arr(core::array::from_fn(|l| self.0[l] ^ o.0[l]))
    }
    fn rol<const L: i32, const R: i32>(self) -> Self {
        Arr(self.0.map(|w| w.rotate_left(L as u32)))
    }
    fn xor_blocks(x: &[Self; 16], buf: &mut [u8]) {
        for (l, b) in buf.chunks_exact_mut(64).enumerate() {
            for (k, w) in b.chunks_exact_mut(4).zip(x) {
                for (d, s) in k.iter_mut().zip(w.0[l].to_le_bytes()) {
                    *d ^= s;
                }
            }
        }
    }
}

impl<const N: usize> PolyLanes for Arr<N, u64> {
    const LANES: usize = N;
    fn splat(v: u64) -> Self {
        Arr([v; N])
    }
    fn from_fn(f: impl FnMut(usize) -> u64) -> Self {
        Arr(core::array::from_fn(f))
    }
    fn add(self, o: Self) -> Self {
        Arr(core::array::from_fn(|l| self.0[l].wrapping_add(o.0[l])))
    }
    fn mul32(self, o: Self) -> Self {
        Arr(core::array::from_fn(|l| {
            (self.0[l] & 0xffff_ffff) * (o.0[l] & 0xffff_ffff)
        }))
    }
    fn and(self, o: Self) -> Self {
        Arr(core::array::from_fn(|l| self.0[l] & o.0[l]))
    }
    fn shr<const S: i32>(self) -> Self {
        Arr(self.0.map(|v| v >> S))
    }
    fn shl<const S: i32>(self) -> Self {
        Arr(self.0.map(|v| v << S))
    }
    fn lane(self, l: usize) -> u64 {
        self.0[l]
    }
    fn load(m: &[u8]) -> [Self; 5] {
        let w = |l: usize, i: usize| u64::from(stream::word(&m[16 * l..], i));
        [
            Arr(core::array::from_fn(|l| w(l, 0) & 0x3ff_ffff)),
            Arr(core::array::from_fn(|l| {
                (w(l, 0) >> 26 | w(l, 1) << 6) & 0x3ff_ffff
            })),
            Arr(core::array::from_fn(|l| {
                (w(l, 1) >> 20 | w(l, 2) << 12) & 0x3ff_ffff
            })),
            Arr(core::array::from_fn(|l| {
                (w(l, 2) >> 14 | w(l, 3) << 18) & 0x3ff_ffff
            })),
            Arr(core::array::from_fn(|l| w(l, 3) >> 8 | 1 << 24)),
        ]
    }
}

/// Poly1305 of `msg` with its blocks through `poly_wide` over `N` lanes.
fn poly_through<const N: usize>(key: &[u8; 32], msg: &[u8]) -> [u8; 16] {
    let whole = msg.len() & !15;
    let mut p = poly::P64::new(key);
    p.blocks_via(&msg[..whole], poly_wide::<Arr<N, u64>>);
    p.finish(&msg[whole..])
}

/// The keystream's passes over eight-lane arrays in one and two sets are the core's own, at
/// any length and counter (across the low word's wrap too).
#[test]
fn wider_passes_are_the_cores_keystream() {
    let st = stream::salsa20(&[9; 32], &[4; 8]);
    for counter in [1u64, u64::from(u32::MAX) - 9] {
        for len in [0, 63, 64, 511, 512, 513, 1024, 1100, 2048, 3000] {
            let mut want = std::vec![0x5au8; len];
            stream::xor_from(&st, counter, &mut want);
            let at = At { st: &st, counter };
            let mut one = std::vec![0x5au8; len];
            xor_wide::<Arr<8, u32>, 1>(at, &mut one);
            let mut two = std::vec![0x5au8; len];
            xor_wide::<Arr<8, u32>, 2>(at, &mut two);
            assert_eq!(one, want, "one set, {len} from {counter}");
            assert_eq!(two, want, "two sets, {len} from {counter}");
        }
    }
}

/// Limbs at their largest: all-ones blocks under the largest r the clamp allows.
#[test]
fn wider_poly1305_at_the_limbs_largest() {
    let mut key = [0xff; 32];
    key[16..].fill(0x11);
    for len in [256, 1024, 4096, 4096 + 15] {
        let msg = std::vec![0xff; len];
        let want = poly1305_32(&key, &msg);
        assert_eq!(poly_through::<4>(&key, &msg), want, "{len}");
        assert_eq!(poly_through::<2>(&key, &msg), want, "{len}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Poly1305 through `poly_wide`, four and two lanes and the core's own after it, is the
    /// 26-bit one's, for any key and length, and from any accumulator (blocks before it).
    #[test]
    fn wider_poly1305_is_the_cores(
        key in any::<[u8; 32]>(),
        msg in proptest::collection::vec(any::<u8>(), 0..1500),
        before in 0usize..5,
    ) {
        let want = poly1305_32(&key, &msg);
        prop_assert_eq!(poly_through::<4>(&key, &msg), want);
        prop_assert_eq!(poly_through::<2>(&key, &msg), want);
        // A few blocks the core's own way first: the wide path starts from that accumulator.
        let head = (16 * before).min(msg.len() & !15);
        let whole = msg.len() & !15;
        let mut p = poly::P64::new(&key);
        p.blocks(&msg[..head]);
        p.blocks_via(&msg[head..whole], poly_wide::<Arr<4, u64>>);
        prop_assert_eq!(p.finish(&msg[whole..]), want);
    }
}
