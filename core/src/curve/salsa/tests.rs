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
