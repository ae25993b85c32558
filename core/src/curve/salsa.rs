//! XSalsa20 and Poly1305 as NaCl's `crypto_secretbox` combines them, without `unsafe`:
//! Salsa20 four blocks at a time in `wide`'s 4-lane vectors (SSE2, NEON), Poly1305 in 26-bit
//! limbs. RustCrypto's `salsa20` computes one block at a time, and its `poly1305` took its AVX2
//! path at run time, whose helpers the compiler does not inline (each vector instruction a
//! call): through them a 256-byte MESSAGE cost about twice, a 64 KiB one three times, what it
//! costs here (`tools/bench --cases curve`). The tests check every byte against RustCrypto's
//! `crypto_secretbox` and `crypto_box`.

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

/// Poly1305 of `msg` under the one-time `key`: 44-bit limbs and 128-bit products
/// ("poly1305-donna-64") on a 64-bit core, 26-bit limbs elsewhere.
pub fn poly1305(key: &[u8; 32], msg: &[u8]) -> [u8; 16] {
    if cfg!(target_pointer_width = "64") {
        poly1305_64(key, msg)
    } else {
        poly1305_32(key, msg)
    }
}

fn le64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// [`poly1305`] in three limbs of 44, 44 and 42 bits.
fn poly1305_64(key: &[u8; 32], msg: &[u8]) -> [u8; 16] {
    const M44: u64 = 0xfff_ffff_ffff;
    const M42: u64 = 0x3ff_ffff_ffff;
    let (t0, t1) = (le64(&key[0..]), le64(&key[8..]));
    let r0 = t0 & 0xffc_0fff_ffff;
    let r1 = ((t0 >> 44) | (t1 << 20)) & 0xfff_ffc0_ffff;
    let r2 = (t1 >> 24) & 0x00f_ffff_fc0f;
    let (s1, s2) = (r1 * 20, r2 * 20);
    let (mut h0, mut h1, mut h2) = (0u64, 0u64, 0u64);
    let mut block = |m: &[u8], hibit: u64| {
        let (t0, t1) = (le64(m), le64(&m[8..]));
        h0 += t0 & M44;
        h1 += ((t0 >> 44) | (t1 << 20)) & M44;
        h2 += ((t1 >> 24) & M42) | hibit;
        let mul = |a: u64, b: u64| u128::from(a) * u128::from(b);
        let d0 = mul(h0, r0) + mul(h1, s2) + mul(h2, s1);
        let mut d1 = mul(h0, r1) + mul(h1, r0) + mul(h2, s2);
        let mut d2 = mul(h0, r2) + mul(h1, r1) + mul(h2, r0);
        let mut c = (d0 >> 44) as u64;
        h0 = d0 as u64 & M44;
        d1 += u128::from(c);
        c = (d1 >> 44) as u64;
        h1 = d1 as u64 & M44;
        d2 += u128::from(c);
        c = (d2 >> 42) as u64;
        h2 = d2 as u64 & M42;
        h0 += c * 5;
        c = h0 >> 44;
        h0 &= M44;
        h1 += c;
    };
    let mut chunks = msg.chunks_exact(16);
    for m in &mut chunks {
        block(m, 1 << 40);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut b = [0u8; 16];
        b[..tail.len()].copy_from_slice(tail);
        b[tail.len()] = 1;
        block(&b, 0);
    }
    let mut c = h1 >> 44;
    h1 &= M44;
    h2 += c;
    c = h2 >> 42;
    h2 &= M42;
    h0 += c * 5;
    c = h0 >> 44;
    h0 &= M44;
    h1 += c;
    c = h1 >> 44;
    h1 &= M44;
    h2 += c;
    c = h2 >> 42;
    h2 &= M42;
    h0 += c * 5;
    c = h0 >> 44;
    h0 &= M44;
    h1 += c;
    // g = h + 5 - 2^130; take it if it did not go negative (constant time).
    let mut g0 = h0 + 5;
    c = g0 >> 44;
    g0 &= M44;
    let mut g1 = h1 + c;
    c = g1 >> 44;
    g1 &= M44;
    let mut g2 = (h2 + c).wrapping_sub(1 << 42);
    let take = (g2 >> 63).wrapping_sub(1);
    g0 &= take;
    g1 &= take;
    g2 &= take;
    let keep = !take;
    h0 = (h0 & keep) | g0;
    h1 = (h1 & keep) | g1;
    h2 = (h2 & keep) | g2;
    let (t0, t1) = (le64(&key[16..]), le64(&key[24..]));
    h0 += t0 & M44;
    c = h0 >> 44;
    h0 &= M44;
    h1 += (((t0 >> 44) | (t1 << 20)) & M44) + c;
    c = h1 >> 44;
    h1 &= M44;
    h2 += ((t1 >> 24) & M42) + c;
    h2 &= M42;
    let lo = h0 | (h1 << 44);
    let hi = (h1 >> 20) | (h2 << 24);
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&lo.to_le_bytes());
    out[8..].copy_from_slice(&hi.to_le_bytes());
    out
}

/// [`poly1305`] in five 26-bit limbs with 64-bit products ("poly1305-donna-32"): no u128, so
/// as quick on 32-bit cores.
fn poly1305_32(key: &[u8; 32], msg: &[u8]) -> [u8; 16] {
    let le = |i: usize| word(key, i);
    let r0 = le(0) & 0x3ff_ffff;
    let r1 = (le(0) >> 26 | le(1) << 6) & 0x3ff_ff03;
    let r2 = (le(1) >> 20 | le(2) << 12) & 0x3ff_c0ff;
    let r3 = (le(2) >> 14 | le(3) << 18) & 0x3f0_3fff;
    let r4 = (le(3) >> 8) & 0x00f_ffff;
    let (r0, r1, r2, r3, r4) = (
        u64::from(r0),
        u64::from(r1),
        u64::from(r2),
        u64::from(r3),
        u64::from(r4),
    );
    let (s1, s2, s3, s4) = (r1 * 5, r2 * 5, r3 * 5, r4 * 5);
    let (mut h0, mut h1, mut h2, mut h3, mut h4) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut block = |m: &[u8; 16], hibit: u64| {
        let w = |i: usize| u64::from(word(m, i));
        h0 += w(0) & 0x3ff_ffff;
        h1 += (w(0) >> 26 | w(1) << 6) & 0x3ff_ffff;
        h2 += (w(1) >> 20 | w(2) << 12) & 0x3ff_ffff;
        h3 += (w(2) >> 14 | w(3) << 18) & 0x3ff_ffff;
        h4 += (w(3) >> 8) | hibit;
        let d0 = h0 * r0 + h1 * s4 + h2 * s3 + h3 * s2 + h4 * s1;
        let mut d1 = h0 * r1 + h1 * r0 + h2 * s4 + h3 * s3 + h4 * s2;
        let mut d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s4 + h4 * s3;
        let mut d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s4;
        let mut d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0;
        let mut c = d0 >> 26;
        h0 = d0 & 0x3ff_ffff;
        d1 += c;
        c = d1 >> 26;
        h1 = d1 & 0x3ff_ffff;
        d2 += c;
        c = d2 >> 26;
        h2 = d2 & 0x3ff_ffff;
        d3 += c;
        c = d3 >> 26;
        h3 = d3 & 0x3ff_ffff;
        d4 += c;
        c = d4 >> 26;
        h4 = d4 & 0x3ff_ffff;
        h0 += c * 5;
        c = h0 >> 26;
        h0 &= 0x3ff_ffff;
        h1 += c;
    };
    let mut chunks = msg.chunks_exact(16);
    for m in &mut chunks {
        let mut b = [0u8; 16];
        b.copy_from_slice(m);
        block(&b, 1 << 24);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut b = [0u8; 16];
        b[..tail.len()].copy_from_slice(tail);
        b[tail.len()] = 1;
        block(&b, 0);
    }
    // Full carry, then h mod 2^130 - 5.
    let mut c = h1 >> 26;
    h1 &= 0x3ff_ffff;
    h2 += c;
    c = h2 >> 26;
    h2 &= 0x3ff_ffff;
    h3 += c;
    c = h3 >> 26;
    h3 &= 0x3ff_ffff;
    h4 += c;
    c = h4 >> 26;
    h4 &= 0x3ff_ffff;
    h0 += c * 5;
    c = h0 >> 26;
    h0 &= 0x3ff_ffff;
    h1 += c;
    // g = h + 5 - 2^130; take it if it did not go negative (constant time).
    let mut g0 = h0 + 5;
    c = g0 >> 26;
    g0 &= 0x3ff_ffff;
    let mut g1 = h1 + c;
    c = g1 >> 26;
    g1 &= 0x3ff_ffff;
    let mut g2 = h2 + c;
    c = g2 >> 26;
    g2 &= 0x3ff_ffff;
    let mut g3 = h3 + c;
    c = g3 >> 26;
    g3 &= 0x3ff_ffff;
    let g4 = (h4 + c).wrapping_sub(1 << 26);
    let mask = (g4 >> 63).wrapping_sub(1); // all ones if g4 did not borrow
    let keep = !mask;
    h0 = (h0 & keep) | (g0 & mask);
    h1 = (h1 & keep) | (g1 & mask);
    h2 = (h2 & keep) | (g2 & mask);
    h3 = (h3 & keep) | (g3 & mask);
    h4 = (h4 & keep) | (g4 & mask & 0x3ff_ffff);
    // h as 128 bits, plus s.
    let h0_ = (h0 | h1 << 26) & 0xffff_ffff;
    let h1_ = (h1 >> 6 | h2 << 20) & 0xffff_ffff;
    let h2_ = (h2 >> 12 | h3 << 14) & 0xffff_ffff;
    let h3_ = (h3 >> 18 | h4 << 8) & 0xffff_ffff;
    let mut f = h0_ + u64::from(le(4));
    let mut out = [0u8; 16];
    out[0..4].copy_from_slice(&(f as u32).to_le_bytes());
    f = h1_ + u64::from(le(5)) + (f >> 32);
    out[4..8].copy_from_slice(&(f as u32).to_le_bytes());
    f = h2_ + u64::from(le(6)) + (f >> 32);
    out[8..12].copy_from_slice(&(f as u32).to_le_bytes());
    f = h3_ + u64::from(le(7)) + (f >> 32);
    out[12..16].copy_from_slice(&(f as u32).to_le_bytes());
    out
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
