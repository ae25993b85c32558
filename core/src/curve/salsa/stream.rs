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

/// One Salsa20 state word in [`Lanes::LANES`] blocks side by side, the blocks of a pass each
/// in a lane: the core's own is `wide`'s `u32x4` (SSE2, NEON, arrays elsewhere); the binary
/// gives a wider one where the CPU has it ([`super::set_wide`], [`super::xor_wide`]).
pub trait Lanes: Copy {
    /// Blocks side by side.
    const LANES: usize;
    /// `w` in every lane.
    fn splat(w: u32) -> Self;
    /// Lane `l` `f(l)`.
    fn from_fn(f: impl FnMut(usize) -> u32) -> Self;
    /// Lane by lane, wrapping.
    fn add(self, o: Self) -> Self;
    /// Lane by lane.
    fn xor(self, o: Self) -> Self;
    /// Each lane rotated left by `L` bits; `R` is `32 - L` (given, as a constant expression
    /// of `L` cannot be).
    fn rol<const L: i32, const R: i32>(self) -> Self;
    /// XOR `buf`, exactly `64 * LANES` bytes, with the blocks whose words are `x`: block `l`
    /// is lane `l` of each word, in order, little-endian.
    fn xor_blocks(x: &[Self; 16], buf: &mut [u8]);
}

impl Lanes for u32x4 {
    const LANES: usize = 4;
    #[inline(always)]
    fn splat(w: u32) -> Self {
        u32x4::splat(w)
    }
    #[inline(always)]
    fn from_fn(f: impl FnMut(usize) -> u32) -> Self {
        u32x4::new(core::array::from_fn(f))
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self + o
    }
    #[inline(always)]
    fn xor(self, o: Self) -> Self {
        self ^ o
    }
    #[inline(always)]
    fn rol<const L: i32, const R: i32>(self) -> Self {
        (self << L) | (self >> R)
    }
    #[inline(always)]
    fn xor_blocks(x: &[Self; 16], buf: &mut [u8]) {
        xor_blocks(core::slice::from_ref(x), buf);
    }
}

/// Blocks `counter` to `counter + S * LANES - 1` of `st`: set `s` the blocks from
/// `counter + s * LANES`, each word of a set a `V` of its blocks'.
#[inline(always)]
pub(super) fn blocks<V: Lanes, const S: usize>(st: &[u32; 16], counter: u64) -> [[V; 16]; S] {
    let mut x: [[V; 16]; S] = core::array::from_fn(|s| {
        let mut v: [V; 16] = core::array::from_fn(|w| V::splat(st[w]));
        let c = |l: usize| counter.wrapping_add((V::LANES * s + l) as u64);
        v[8] = V::from_fn(|l| c(l) as u32);
        v[9] = V::from_fn(|l| (c(l) >> 32) as u32);
        v
    });
    let start = x;
    macro_rules! qr {
        ($a:expr, $b:expr, $c:expr, $d:expr) => {
            for v in x.iter_mut() {
                v[$b] = v[$b].xor(v[$a].add(v[$d]).rol::<7, 25>());
            }
            for v in x.iter_mut() {
                v[$c] = v[$c].xor(v[$b].add(v[$a]).rol::<9, 23>());
            }
            for v in x.iter_mut() {
                v[$d] = v[$d].xor(v[$c].add(v[$b]).rol::<13, 19>());
            }
            for v in x.iter_mut() {
                v[$a] = v[$a].xor(v[$d].add(v[$c]).rol::<18, 14>());
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
            *w = w.add(*s);
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

/// XOR `buf` (at most 256 bytes a set) with the blocks `x` from [`blocks`]: each four words
/// of a set transposed into 16 bytes of each of its blocks.
#[inline(always)]
fn xor_blocks(x: &[[u32x4; 16]], buf: &mut [u8]) {
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

/// XOR `buf` with the keystream of `st` from block `counter` on: through the wider path the
/// binary gave ([`super::set_wide`]) if there is one and `buf` is long enough for it.
pub(super) fn xor_from(st: &[u32; 16], counter: u64, buf: &mut [u8]) {
    #[cfg(feature = "std")]
    if buf.len() >= WIDE_MIN {
        if let Some(wide) = super::WIDE.get() {
            return (wide.xor)(super::At { st, counter }, buf);
        }
    }
    xor_base(st, counter, buf);
}

/// The shortest keystream handed to the wider path: one set of its lanes (AVX2's eight
/// blocks), below which the core's own passes cost no more.
#[cfg(feature = "std")]
const WIDE_MIN: usize = 512;

/// [`xor_from`] in the core's own passes.
fn xor_base(st: &[u32; 16], mut counter: u64, buf: &mut [u8]) {
    let mut passes = buf.chunks_exact_mut(256 * SETS);
    for p in &mut passes {
        xor_blocks(&blocks::<u32x4, SETS>(st, counter), p);
        counter = counter.wrapping_add(4 * SETS as u64);
    }
    for part in passes.into_remainder().chunks_mut(256) {
        if part.len() > 128 {
            xor_blocks(&blocks::<u32x4, 1>(st, counter), part);
            counter = counter.wrapping_add(4);
        } else {
            for b in part.chunks_mut(64) {
                xor_bytes(b, &block(st, counter));
                counter = counter.wrapping_add(1);
            }
        }
    }
}

/// [`xor_from`] in passes of `S` sets of `V`'s lanes, then of one set, what is left after
/// them in the core's own passes.
#[inline(always)]
pub(super) fn xor_lanes<V: Lanes, const S: usize>(
    st: &[u32; 16],
    mut counter: u64,
    buf: &mut [u8],
) {
    let mut passes = buf.chunks_exact_mut(64 * V::LANES * S);
    for p in &mut passes {
        let x = blocks::<V, S>(st, counter);
        for (v, b) in x.iter().zip(p.chunks_exact_mut(64 * V::LANES)) {
            V::xor_blocks(v, b);
        }
        counter = counter.wrapping_add((V::LANES * S) as u64);
    }
    let mut sets = passes.into_remainder().chunks_exact_mut(64 * V::LANES);
    for b in &mut sets {
        let [x] = blocks::<V, 1>(st, counter);
        V::xor_blocks(&x, b);
        counter = counter.wrapping_add(V::LANES as u64);
    }
    xor_base(st, counter, sets.into_remainder());
}
