//! The cryptography CurveZMQ is made of: X25519 key pairs, NaCl's `crypto_box`
//! (XSalsa20Poly1305 with a key agreed by X25519) and `crypto_secretbox` (the same with a
//! secret key), in NaCl's wire layout (the 16-byte MAC, then the ciphertext), and the 24-byte
//! nonces the commands build from a prefix and a counter or random bytes.

use curve25519_dalek::montgomery::MontgomeryPoint;

use super::salsa;
use super::CurveError;

/// Bytes of a key, public or secret.
pub const KEY_LEN: usize = 32;
/// Bytes a box adds to what it holds: its MAC.
pub const MAC_LEN: usize = 16;
/// Bytes of a nonce.
pub const NONCE_LEN: usize = 24;

/// A key pair: a long-term one (a certificate's) or a connection's transient one.
#[derive(Clone)]
pub struct KeyPair {
    /// The public key.
    pub public: [u8; KEY_LEN],
    secret: [u8; KEY_LEN],
}

impl KeyPair {
    /// The pair of a secret key (32 random bytes for a new one: X25519 clamps them).
    pub fn from_secret(secret: [u8; KEY_LEN]) -> KeyPair {
        let public = MontgomeryPoint::mul_base_clamped(secret).to_bytes();
        KeyPair { public, secret }
    }

    /// The secret key.
    pub fn secret(&self) -> &[u8; KEY_LEN] {
        &self.secret
    }
}

impl core::fmt::Debug for KeyPair {
    /// The public key only: a secret never goes to a log.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// Whether `public` has small order: X25519 with it gives all zeros whatever the secret (for
/// any clamped scalar, a multiple of the cofactor), so a box made with it would have a key
/// an attacker knows. libsodium's `crypto_box_beforenm` refuses these; so do we.
pub fn low_order(public: &[u8; KEY_LEN]) -> bool {
    // Any clamped scalar: the product is the identity exactly for the points of small order.
    let one = [1u8; KEY_LEN];
    MontgomeryPoint(*public).mul_clamped(one) == MontgomeryPoint([0; KEY_LEN])
}

/// A `crypto_box` between our secret key and a peer's public key, its shared key computed
/// once (`crypto_box_beforenm`: HSalsa20 of the X25519 secret); each box is then a
/// `crypto_secretbox` under it ([`salsa`]).
pub struct CryptoBox([u8; KEY_LEN]);

impl core::fmt::Debug for CryptoBox {
    /// Nothing of the key.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CryptoBox")
    }
}

impl CryptoBox {
    /// The box between `their_public` and `our_secret`; a public key of small order is
    /// refused.
    pub fn new(
        their_public: &[u8; KEY_LEN],
        our_secret: &[u8; KEY_LEN],
    ) -> Result<Self, CurveError> {
        let shared = MontgomeryPoint(*their_public)
            .mul_clamped(*our_secret)
            .to_bytes();
        // All zeros exactly for a public key of small order (any clamped scalar is a multiple
        // of the cofactor): refused, as libsodium refuses it, at no cost beyond the X25519.
        if shared.iter().fold(0u8, |acc, b| acc | b) == 0 {
            return Err(CurveError::LowOrderKey);
        }
        Ok(CryptoBox(salsa::hsalsa20(&shared, &[0; 16])))
    }

    /// Seal `buf[MAC_LEN..]` in place and put its MAC in `buf[..MAC_LEN]`.
    pub fn seal(&self, nonce: &[u8; NONCE_LEN], buf: &mut [u8]) -> Result<(), CurveError> {
        seal(&self.0, nonce, buf)
    }

    /// Its key (the X25519 secret through HSalsa20), for a box sealed in pieces.
    pub(crate) fn key(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Open a box made by [`CryptoBox::seal`] (or NaCl's `crypto_box`) in place: the
    /// plaintext is `buf[MAC_LEN..]` once it returns `Ok`.
    pub fn open(&self, nonce: &[u8; NONCE_LEN], buf: &mut [u8]) -> Result<(), CurveError> {
        open(&self.0, nonce, buf)
    }
}

/// A `crypto_secretbox` under a secret key: a cookie's.
pub struct SecretBox([u8; KEY_LEN]);

impl core::fmt::Debug for SecretBox {
    /// Nothing of the key.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SecretBox")
    }
}

impl SecretBox {
    /// The box under `key`.
    pub fn new(key: &[u8; KEY_LEN]) -> SecretBox {
        SecretBox(*key)
    }

    /// As [`CryptoBox::seal`].
    pub fn seal(&self, nonce: &[u8; NONCE_LEN], buf: &mut [u8]) -> Result<(), CurveError> {
        seal(&self.0, nonce, buf)
    }

    /// As [`CryptoBox::open`].
    pub fn open(&self, nonce: &[u8; NONCE_LEN], buf: &mut [u8]) -> Result<(), CurveError> {
        open(&self.0, nonce, buf)
    }
}

fn seal(key: &[u8; KEY_LEN], nonce: &[u8; NONCE_LEN], buf: &mut [u8]) -> Result<(), CurveError> {
    if salsa::seal(key, nonce, buf) {
        Ok(())
    } else {
        Err(CurveError::Malformed)
    }
}

fn open(key: &[u8; KEY_LEN], nonce: &[u8; NONCE_LEN], buf: &mut [u8]) -> Result<(), CurveError> {
    if buf.len() < MAC_LEN {
        return Err(CurveError::Malformed);
    }
    if salsa::open(key, nonce, buf) {
        Ok(())
    } else {
        Err(CurveError::Box)
    }
}

/// A nonce of a 16-byte prefix and a big-endian 64-bit counter (a short nonce).
pub fn short_nonce(prefix: &[u8; 16], n: u64) -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[..16].copy_from_slice(prefix);
    nonce[16..].copy_from_slice(&n.to_be_bytes());
    nonce
}

/// A nonce of an 8-byte prefix and 16 random bytes (a long nonce).
pub fn long_nonce(prefix: &[u8; 8], random: &[u8; 16]) -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[..8].copy_from_slice(prefix);
    nonce[8..].copy_from_slice(random);
    nonce
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_opens_with_the_other_side_s_keys_and_not_once_changed() {
        let (a, b) = (KeyPair::from_secret([7; 32]), KeyPair::from_secret([9; 32]));
        let nonce = short_nonce(b"CurveZMQMESSAGEC", 1);
        let mut buf = [0u8; MAC_LEN + 5];
        buf[MAC_LEN..].copy_from_slice(b"hello");
        CryptoBox::new(&b.public, a.secret())
            .unwrap()
            .seal(&nonce, &mut buf)
            .unwrap();
        assert_ne!(&buf[MAC_LEN..], b"hello");
        let theirs = CryptoBox::new(&a.public, b.secret()).unwrap();
        let mut copy = buf;
        theirs.open(&nonce, &mut copy).unwrap();
        assert_eq!(&copy[MAC_LEN..], b"hello");
        for at in [0, MAC_LEN, buf.len() - 1] {
            let mut bad = buf;
            bad[at] ^= 1;
            assert_eq!(
                theirs.open(&nonce, &mut bad),
                Err(CurveError::Box),
                "byte {at}"
            );
        }
        let mut wrong_nonce = buf;
        let other = short_nonce(b"CurveZMQMESSAGEC", 2);
        assert_eq!(theirs.open(&other, &mut wrong_nonce), Err(CurveError::Box));
        assert_eq!(
            theirs.open(&nonce, &mut [0u8; 15]),
            Err(CurveError::Malformed)
        );
    }

    #[test]
    fn small_order_public_keys_are_refused() {
        // The identity (0), and the point of order 2 (u = -1 = p - 1), canonical and not.
        let mut minus_one = [0xff; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        let mut one_plus_p = [0xff; 32];
        one_plus_p[0] = 0xee;
        one_plus_p[31] = 0x7f;
        for k in [[0u8; 32], minus_one, one_plus_p] {
            assert!(low_order(&k), "{k:?}");
            assert!(CryptoBox::new(&k, &[5; 32]).is_err());
        }
        assert!(!low_order(&KeyPair::from_secret([3; 32]).public));
    }

    #[test]
    fn secret_boxes_round_trip() {
        let k = SecretBox::new(&[1; 32]);
        let nonce = long_nonce(b"COOKIE--", &[2; 16]);
        let mut buf = [0u8; MAC_LEN + 64];
        buf[MAC_LEN..].copy_from_slice(&[3; 64]);
        k.seal(&nonce, &mut buf).unwrap();
        k.open(&nonce, &mut buf).unwrap();
        assert_eq!(buf[MAC_LEN..], [3; 64]);
        assert_eq!(
            SecretBox::new(&[2; 32]).open(&nonce, &mut buf),
            Err(CurveError::Box)
        );
    }
}
