//! XSalsa20 and Poly1305 as NaCl's `crypto_secretbox` combines them, without `unsafe`:
//! Salsa20 four blocks at a time in `wide`'s 4-lane vectors (SSE2, NEON), Poly1305 in 26-bit
//! limbs. RustCrypto's `salsa20` computes one block at a time, and its `poly1305` took its AVX2
//! path at run time, whose helpers the compiler does not inline (each vector instruction a
//! call): through them a 256-byte MESSAGE cost about twice, a 64 KiB one three times, what it
//! costs here (`tools/bench --cases curve`). The tests check every byte against RustCrypto's
//! `crypto_secretbox` and `crypto_box`.

mod poly;

pub use poly::poly1305;

use wide::u32x4;

/// Salsa20's "expand 32-byte k".
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

fn word(b: &[u8], i: usize) -> u32 {
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

/// Blocks a pass computes, side by side.
const LANES: usize = 4;
/// Bytes of keystream a pass computes.
const PASS: usize = 64 * LANES;

#[inline(always)]
fn rol<const L: u32>(v: u32x4) -> u32x4 {
    (v << L) | (v >> (32 - L))
}

/// Four consecutive Salsa20 blocks of `init` (its counter, words 8 and 9, the first's) as
/// keystream bytes, side by side: each state word a `u32x4` of the four blocks' (`wide`: SSE2
/// on x86_64, NEON on aarch64, plain arrays elsewhere). Three times one block at a time on
/// x86_64 (the compiler does not vectorize the lanes on its own).
fn four_blocks(init: &[u32; 16], out: &mut [u8; PASS]) {
    let mut x: [u32x4; 16] = core::array::from_fn(|w| u32x4::splat(init[w]));
    let counter = u64::from(init[8]) | (u64::from(init[9]) << 32);
    let (mut lo, mut hi) = ([0u32; LANES], [0u32; LANES]);
    for l in 0..LANES {
        let c = counter.wrapping_add(l as u64);
        (lo[l], hi[l]) = (c as u32, (c >> 32) as u32);
    }
    x[8] = u32x4::new(lo);
    x[9] = u32x4::new(hi);
    let start = x;
    macro_rules! qr {
        ($a:expr, $b:expr, $c:expr, $d:expr) => {
            x[$b] ^= rol::<7>(x[$a] + x[$d]);
            x[$c] ^= rol::<9>(x[$b] + x[$a]);
            x[$d] ^= rol::<13>(x[$c] + x[$b]);
            x[$a] ^= rol::<18>(x[$d] + x[$c]);
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
    for w in 0..16 {
        let v = (x[w] + start[w]).to_array();
        for (l, word) in v.iter().enumerate() {
            out[64 * l + 4 * w..64 * l + 4 * w + 4].copy_from_slice(&word.to_le_bytes());
        }
    }
}

/// An XSalsa20 keystream, a pass of four blocks at a time.
struct Stream {
    state: [u32; 16],
    ks: [u8; PASS],
    /// Keystream bytes of `ks` used.
    at: usize,
}

impl Stream {
    /// The keystream of `key` and the 24-byte `nonce`, its first pass computed.
    fn new(key: &[u8; 32], nonce: &[u8; 24]) -> Stream {
        let mut head = [0u8; 16];
        head.copy_from_slice(&nonce[..16]);
        let subkey = hsalsa20(key, &head);
        let mut input = [0u8; 16];
        input[..8].copy_from_slice(&nonce[16..]);
        let state = state(&subkey, &input);
        let mut ks = [0u8; PASS];
        four_blocks(&state, &mut ks);
        Stream { state, ks, at: 0 }
    }

    /// The next 32 bytes (the first: `crypto_secretbox`'s Poly1305 key).
    fn take32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.ks[self.at..self.at + 32]);
        self.at += 32;
        out
    }

    /// XOR `buf` with what follows.
    fn xor(&mut self, mut buf: &mut [u8]) {
        loop {
            let n = buf.len().min(PASS - self.at);
            let (now, later) = buf.split_at_mut(n);
            for (b, k) in now.iter_mut().zip(&self.ks[self.at..self.at + n]) {
                *b ^= k;
            }
            self.at += n;
            buf = later;
            if buf.is_empty() {
                return;
            }
            let st = &mut self.state;
            let counter = (u64::from(st[8]) | (u64::from(st[9]) << 32)).wrapping_add(LANES as u64);
            st[8] = counter as u32;
            st[9] = (counter >> 32) as u32;
            four_blocks(st, &mut self.ks);
            self.at = 0;
        }
    }
}

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
    let mut stream = Stream::new(key, nonce);
    let otk = stream.take32();
    stream.xor(body);
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
    let mut stream = Stream::new(key, nonce);
    let otk = stream.take32();
    if !same_mac(&poly1305(&otk, body), mac) {
        return false;
    }
    stream.xor(body);
    true
}

#[cfg(test)]
mod tests;
