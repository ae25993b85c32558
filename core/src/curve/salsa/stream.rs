//! XSalsa20: HSalsa20 for the subkey, then Salsa20 blocks in passes of four side by side in
//! `wide`'s 4-lane vectors (SSE2 on x86_64, NEON on aarch64, plain arrays elsewhere), each
//! state word a `u32x4` of the four blocks'; two such sets a pass on x86_64 and aarch64. A
//! pass's output is transposed back to blocks and XORed into the buffer 16 bytes at a time; a
//! tail of at most two blocks is computed one block at a time, which costs less than a pass.

use wide::u32x4;

/// Salsa20's "expand 32-byte k".
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

pub(super) fn word(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
}

/// The initial state for `key`, the 16 bytes `input` (nonce and counter, or HSalsa20's).
fn state(key: &[u8; 32], input: &[u8; 16]) -> [u32; 16] {
    [
        SIGMA[0],
        word(key, 0),
        word(key, 1),
        word(key, 2),
        word(key, 3),
        SIGMA[1],
        word(input, 0),
        word(input, 1),
        word(input, 2),
        word(input, 3),
        SIGMA[2],
        word(key, 4),
        word(key, 5),
        word(key, 6),
        word(key, 7),
        SIGMA[3],
    ]
}

/// The 20 rounds on one state.
#[inline(always)]
fn rounds(x: &mut [u32; 16]) {
    fn qr(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
        x[b] ^= x[a].wrapping_add(x[d]).rotate_left(7);
        x[c] ^= x[b].wrapping_add(x[a]).rotate_left(9);
        x[d] ^= x[c].wrapping_add(x[b]).rotate_left(13);
        x[a] ^= x[d].wrapping_add(x[c]).rotate_left(18);
    }
    for _ in 0..10 {
        qr(x, 0, 4, 8, 12);
        qr(x, 5, 9, 13, 1);
        qr(x, 10, 14, 2, 6);
        qr(x, 15, 3, 7, 11);
        qr(x, 0, 1, 2, 3);
        qr(x, 5, 6, 7, 4);
        qr(x, 10, 11, 8, 9);
        qr(x, 15, 12, 13, 14);
    }
}

/// HSalsa20: the subkey XSalsa20 derives from `key` and the first 16 bytes of its nonce (and
/// `crypto_box_beforenm` from the X25519 secret and zeros).
pub fn hsalsa20(key: &[u8; 32], input: &[u8; 16]) -> [u8; 32] {
    let mut x = state(key, input);
    rounds(&mut x);
    let mut out = [0u8; 32];
    for (i, w) in [0, 5, 10, 15, 6, 7, 8, 9].into_iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&x[w].to_le_bytes());
    }
    out
}

/// Salsa20's state for `key` (XSalsa20's subkey) and the 8-byte `nonce` (the last 8 bytes of
/// XSalsa20's), at block 0.
pub(super) fn salsa20(key: &[u8; 32], nonce: &[u8; 8]) -> [u32; 16] {
    let mut input = [0u8; 16];
    input[..8].copy_from_slice(nonce);
    state(key, &input)
}

/// Block `counter` of `st`, one block alone (plain `u32`s).
pub(super) fn block(st: &[u32; 16], counter: u64) -> [u8; 64] {
    let mut x = *st;
    x[8] = counter as u32;
    x[9] = (counter >> 32) as u32;
    let start = x;
    rounds(&mut x);
    let mut out = [0u8; 64];
    for (o, (w, s)) in out.chunks_exact_mut(4).zip(x.iter().zip(&start)) {
        o.copy_from_slice(&w.wrapping_add(*s).to_le_bytes());
    }
    out
}

pub(super) fn xor_bytes(buf: &mut [u8], ks: &[u8]) {
    for (b, k) in buf.iter_mut().zip(ks) {
        *b ^= k;
    }
}

/// Sets of four blocks a pass computes side by side, their steps interleaved: two on x86_64
/// and aarch64. On x86_64 one set's 16 words already spill out of SSE2's 16 registers, and the
/// spills' store-to-load latency lengthens its chains: a second, independent set keeps the
/// vector ports busy meanwhile (64 KiB about 10% quicker here; four sets no better than two).
/// NEON's 32 registers hold one set and nearly two; its shift pipe is latency-bound with one
/// set (not measured on aarch64 hardware). One set elsewhere: plain arrays, and a smaller stack
/// on microcontrollers.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(super) const SETS: usize = 2;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(super) const SETS: usize = 1;

#[inline(always)]
fn rol<const L: u32>(v: u32x4) -> u32x4 {
    (v << L) | (v >> (32 - L))
}

/// Blocks `counter` to `counter + 4 * S - 1` of `st`, set `s` blocks `4s` to `4s + 3`, each
/// word of a set a `u32x4` of its four blocks'.
#[inline(always)]
pub(super) fn blocks<const S: usize>(st: &[u32; 16], counter: u64) -> [[u32x4; 16]; S] {
    let mut x: [[u32x4; 16]; S] = core::array::from_fn(|s| {
        let mut v: [u32x4; 16] = core::array::from_fn(|w| u32x4::splat(st[w]));
        let c: [u64; 4] = core::array::from_fn(|l| counter.wrapping_add((4 * s + l) as u64));
        v[8] = u32x4::new(c.map(|c| c as u32));
        v[9] = u32x4::new(c.map(|c| (c >> 32) as u32));
        v
    });
    let start = x;
    macro_rules! qr {
        ($a:expr, $b:expr, $c:expr, $d:expr) => {
            for v in x.iter_mut() {
                v[$b] ^= rol::<7>(v[$a] + v[$d]);
            }
            for v in x.iter_mut() {
                v[$c] ^= rol::<9>(v[$b] + v[$a]);
            }
            for v in x.iter_mut() {
                v[$d] ^= rol::<13>(v[$c] + v[$b]);
            }
            for v in x.iter_mut() {
                v[$a] ^= rol::<18>(v[$d] + v[$c]);
            }
        };
    }
    for _ in 0..10 {
        qr!(0, 4, 8, 12);
        qr!(5, 9, 13, 1);
        qr!(10, 14, 2, 6);
        qr!(15, 3, 7, 11);
        qr!(0, 1, 2, 3);
        qr!(5, 6, 7, 4);
        qr!(10, 11, 8, 9);
        qr!(15, 12, 13, 14);
    }
    for (v, s) in x.iter_mut().zip(&start) {
        for (w, s) in v.iter_mut().zip(s) {
            *w += *s;
        }
    }
    x
}

/// XOR the 16 bytes `dst` (or fewer, the end of the buffer) with `k`'s.
#[inline(always)]
fn xor16(dst: &mut [u8], k: u32x4) {
    if dst.len() == 16 {
        let m = u32x4::new(core::array::from_fn(|i| word(dst, i))) ^ k;
        for (d, w) in dst.chunks_exact_mut(4).zip(m.to_array()) {
            d.copy_from_slice(&w.to_le_bytes());
        }
    } else {
        let mut ks = [0u8; 16];
        for (d, w) in ks.chunks_exact_mut(4).zip(k.to_array()) {
            d.copy_from_slice(&w.to_le_bytes());
        }
        xor_bytes(dst, &ks);
    }
}

/// XOR `buf` (at most `256 * S` bytes) with the blocks `x` from [`blocks`]: each four words
/// of a set transposed into 16 bytes of each of its blocks.
#[inline(always)]
fn xor_blocks<const S: usize>(x: &[[u32x4; 16]; S], buf: &mut [u8]) {
    for (s, v) in x.iter().enumerate() {
        for g in 0..4 {
            let rows = u32x4::transpose([v[4 * g], v[4 * g + 1], v[4 * g + 2], v[4 * g + 3]]);
            for (l, k) in rows.into_iter().enumerate() {
                let at = 256 * s + 64 * l + 16 * g;
                if at < buf.len() {
                    let end = buf.len().min(at + 16);
                    xor16(&mut buf[at..end], k);
                }
            }
        }
    }
}

/// XOR `buf` with the keystream of `st` from block `counter` on.
pub(super) fn xor_from(st: &[u32; 16], mut counter: u64, buf: &mut [u8]) {
    let mut passes = buf.chunks_exact_mut(256 * SETS);
    for p in &mut passes {
        xor_blocks::<SETS>(&blocks::<SETS>(st, counter), p);
        counter = counter.wrapping_add(4 * SETS as u64);
    }
    for part in passes.into_remainder().chunks_mut(256) {
        if part.len() > 128 {
            xor_blocks::<1>(&blocks::<1>(st, counter), part);
            counter = counter.wrapping_add(4);
        } else {
            for b in part.chunks_mut(64) {
                xor_bytes(b, &block(st, counter));
                counter = counter.wrapping_add(1);
            }
        }
    }
}
