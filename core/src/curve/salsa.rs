//! XSalsa20 and Poly1305 as NaCl's `crypto_secretbox` combines them, without `unsafe`:
//! Salsa20 eight blocks a pass, two sets of four side by side in `wide`'s 4-lane vectors (SSE2,
//! NEON; [`stream`]), Poly1305 in 44-bit limbs four blocks at a time, 26-bit limbs on 32-bit
//! cores ([`poly`]). RustCrypto's `salsa20` computes one block at a time, and its `poly1305`
//! took its AVX2 path at run time, whose helpers the compiler does not inline (each vector
//! instruction a call): through them a 256-byte MESSAGE cost about twice, a 64 KiB one three
//! times, what it cost with this module's first version (`tools/bench --cases curve`). The
//! tests check every byte against RustCrypto's `crypto_secretbox` and `crypto_box`; `cargo
//! bench -p zedge-core --features curve --bench curve` times seal and open against libsodium's
//! (`bench/sodium_box.c`).

mod poly;
mod stream;

pub use poly::poly1305;
pub use stream::hsalsa20;

/// Constant-time equality of two MACs.
pub fn same_mac(a: &[u8; 16], b: &[u8]) -> bool {
    if b.len() != 16 {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    diff == 0
}

/// `crypto_secretbox` in NaCl's layout, in place: `buf[16..]` encrypted, its MAC in
/// `buf[..16]`. `buf` must hold at least the MAC.
pub fn seal(key: &[u8; 32], nonce: &[u8; 24], buf: &mut [u8]) -> bool {
    if buf.len() < 16 {
        return false;
    }
    let (mac, body) = buf.split_at_mut(16);
    let (st, otk, first) = start(key, nonce);
    xor_body(&st, &first, body);
    mac.copy_from_slice(&poly1305(&otk, body));
    true
}

/// Open a box made by [`seal`] in place: `buf[16..]` decrypted if its MAC is right, and
/// nothing of it touched if not.
pub fn open(key: &[u8; 32], nonce: &[u8; 24], buf: &mut [u8]) -> bool {
    if buf.len() < 16 {
        return false;
    }
    let (mac, body) = buf.split_at_mut(16);
    let (st, otk, first) = start(key, nonce);
    if !same_mac(&poly1305(&otk, body), mac) {
        return false;
    }
    xor_body(&st, &first, body);
    true
}

/// The XSalsa20 state of `key` and `nonce`, its block 0 alone: its first 32 bytes Poly1305's
/// one-time key, the other 32 the keystream of the body's first 32 bytes.
fn start(key: &[u8; 32], nonce: &[u8; 24]) -> ([u32; 16], [u8; 32], [u8; 32]) {
    let st = stream::xsalsa20(key, nonce);
    let b0 = stream::block(&st, 0);
    let (mut otk, mut first) = ([0u8; 32], [0u8; 32]);
    otk.copy_from_slice(&b0[..32]);
    first.copy_from_slice(&b0[32..]);
    (st, otk, first)
}

/// XOR the body with the keystream from byte 32 of block 0 on: `first`, then block 1 on.
fn xor_body(st: &[u32; 16], first: &[u8; 32], body: &mut [u8]) {
    let (head, rest) = body.split_at_mut(body.len().min(32));
    stream::xor_bytes(head, first);
    stream::xor_from(st, 1, rest);
}

#[cfg(test)]
mod tests;
