//! Poly1305: 44-bit limbs and 128-bit products ("poly1305-donna-64") on a 64-bit core, four
//! blocks at a time with r^4, r^3, r^2 and r (one carry chain per four blocks, not one per
//! block: the chain, not the multiplier, bounds one block at a time); five 26-bit limbs
//! ("poly1305-donna-32") elsewhere. A binary may take runs of blocks to a wider path
//! ([`poly_wide`] over its [`PolyLanes`]: four blocks side by side in 26-bit limbs, each lane
//! times r^4 a group, the last group times r^4 to r), which goes on from [`P64`]'s
//! accumulator and hands it back.

mod wide;

#[cfg(any(test, feature = "std"))]
use wide::{from26, to26};
pub use wide::{poly_wide, PolyLanes, Wide26};

/// Poly1305 of `msg` under the one-time `key`.
pub fn poly1305(key: &[u8; 32], msg: &[u8]) -> [u8; 16] {
    if cfg!(target_pointer_width = "64") {
        poly1305_64(key, msg)
    } else {
        poly1305_32(key, msg)
    }
}

/// Poly1305 of a message given in pieces ([`Poly::blocks`], whole 16-byte blocks, then
/// [`Poly::finish`] with what is left), in the limbs that suit the core.
#[cfg(target_pointer_width = "64")]
pub type Poly = P64;
/// As on a 64-bit core, in 26-bit limbs.
#[cfg(not(target_pointer_width = "64"))]
pub type Poly = P32;

/// [`poly1305`] in 44-bit limbs, at once.
pub(super) fn poly1305_64(key: &[u8; 32], msg: &[u8]) -> [u8; 16] {
    let whole = msg.len() & !15;
    let mut p = P64::new(key);
    p.blocks(&msg[..whole]);
    p.finish(&msg[whole..])
}

/// [`poly1305`] in 26-bit limbs, at once.
pub(super) fn poly1305_32(key: &[u8; 32], msg: &[u8]) -> [u8; 16] {
    let whole = msg.len() & !15;
    let mut p = P32::new(key);
    p.blocks(&msg[..whole]);
    p.finish(&msg[whole..])
}

/// A message's last bytes (fewer than 16, at least one) as a block: a 1 after them, no high
/// bit.
fn last_block(tail: &[u8]) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..tail.len()].copy_from_slice(tail);
    b[tail.len()] = 1;
    b
}

const M44: u64 = 0xfff_ffff_ffff;
const M42: u64 = 0x3ff_ffff_ffff;
/// 2^128 in the top limb: the bit after a whole block.
const HIBIT: u64 = 1 << 40;

fn le64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// A multiplier (r or a power of it) in limbs of 44, 44 and 42 bits, with its two upper limbs
/// times 20 (2^130 = 5 mod p, and 44 + 44 + 44 = 132 bits: 5 * 4).
#[derive(Clone, Copy)]
struct Mul {
    r: [u64; 3],
    s1: u64,
    s2: u64,
}

impl Mul {
    fn new(r: [u64; 3]) -> Mul {
        Mul {
            r,
            s1: r[1] * 20,
            s2: r[2] * 20,
        }
    }
}

/// The shortest run of blocks handed to the wider path: below it the conversions to and from
/// its limbs cost more than it saves.
#[cfg(feature = "std")]
const WIDE_MIN: usize = 256;

/// `h * m`, not carried: each product under 2^92.3 for `h` as a block leaves it plus a message
/// block (limbs under 2^45, 2^45.01, 2^42.6) and `m` as `carry` leaves it; four such sums stay
/// well inside 128 bits.
#[inline(always)]
fn mul(h: [u64; 3], m: &Mul) -> [u128; 3] {
    let p = |a: u64, b: u64| u128::from(a) * u128::from(b);
    let [r0, r1, r2] = m.r;
    [
        p(h[0], r0) + p(h[1], m.s2) + p(h[2], m.s1),
        p(h[0], r1) + p(h[1], r0) + p(h[2], m.s2),
        p(h[0], r2) + p(h[1], r1) + p(h[2], r0),
    ]
}

/// A product back into limbs: under 2^44, 2^44 + 2^12 and 2^42.
#[inline(always)]
fn carry(d: [u128; 3]) -> [u64; 3] {
    let [d0, mut d1, mut d2] = d;
    let mut c = (d0 >> 44) as u64;
    let mut h0 = d0 as u64 & M44;
    d1 += u128::from(c);
    c = (d1 >> 44) as u64;
    let h1 = d1 as u64 & M44;
    d2 += u128::from(c);
    c = (d2 >> 42) as u64;
    let h2 = d2 as u64 & M42;
    h0 += c * 5;
    c = h0 >> 44;
    [h0 & M44, h1 + c, h2]
}

/// The 16 bytes of `m` in limbs, plus `hibit`.
#[inline(always)]
fn limbs(m: &[u8], hibit: u64) -> [u64; 3] {
    let (t0, t1) = (le64(m), le64(&m[8..]));
    [
        t0 & M44,
        ((t0 >> 44) | (t1 << 20)) & M44,
        ((t1 >> 24) & M42) | hibit,
    ]
}

#[inline(always)]
fn add(a: [u64; 3], b: [u64; 3]) -> [u64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

#[inline(always)]
fn add3(a: [u128; 3], b: [u128; 3]) -> [u128; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// [`Poly`] in three limbs of 44, 44 and 42 bits: h = (h + m1) r^4 + m2 r^3 + m3 r^2 + m4 r
/// over each 64 bytes, then h = (h + m) r a block at a time.
pub struct P64 {
    r1: Mul,
    r2: Mul,
    r3: Mul,
    r4: Mul,
    h: [u64; 3],
    /// The key's second half, added at the end.
    s: [u8; 16],
}

impl P64 {
    pub fn new(key: &[u8; 32]) -> P64 {
        let (t0, t1) = (le64(&key[0..]), le64(&key[8..]));
        let r = [
            t0 & 0xffc_0fff_ffff,
            ((t0 >> 44) | (t1 << 20)) & 0xfff_ffc0_ffff,
            (t1 >> 24) & 0x00f_ffff_fc0f,
        ];
        let r1 = Mul::new(r);
        let r2 = Mul::new(carry(mul(r, &r1)));
        let r3 = Mul::new(carry(mul(r2.r, &r1)));
        let r4 = Mul::new(carry(mul(r3.r, &r1)));
        let mut s = [0u8; 16];
        s.copy_from_slice(&key[16..]);
        P64 {
            r1,
            r2,
            r3,
            r4,
            h: [0; 3],
            s,
        }
    }

    /// Take `msg`'s whole 16-byte blocks (a length that is not a multiple of 16 leaves its
    /// last bytes out: give them to [`P64::finish`]): through the wider path the binary gave
    /// ([`super::set_wide`]) if there is one and `msg` is long enough for it.
    pub fn blocks(&mut self, msg: &[u8]) {
        #[cfg(feature = "std")]
        if msg.len() >= WIDE_MIN {
            if let Some(wide) = super::WIDE.get() {
                return self.blocks_via(msg, wide.poly);
            }
        }
        self.blocks_here(msg);
    }

    /// [`P64::blocks`], as many as `wide` takes through it ([`poly_wide`]), the rest here.
    #[cfg(any(test, feature = "std"))]
    pub(super) fn blocks_via(&mut self, msg: &[u8], wide: fn(&mut Wide26, &[u8]) -> usize) {
        let mut st = Wide26 {
            h: to26(self.h),
            r: [self.r1.r, self.r2.r, self.r3.r, self.r4.r].map(to26),
        };
        let took = wide(&mut st, msg).min(msg.len()) & !15;
        self.h = from26(st.h);
        self.blocks_here(&msg[took..]);
    }

    /// [`P64::blocks`] here, four blocks at a time.
    fn blocks_here(&mut self, msg: &[u8]) {
        let (r1, mut h) = (self.r1, self.h);
        let mut quads = msg.chunks_exact(64);
        for q in &mut quads {
            let a = mul(add(h, limbs(q, HIBIT)), &self.r4);
            let b = mul(limbs(&q[16..], HIBIT), &self.r3);
            let c = mul(limbs(&q[32..], HIBIT), &self.r2);
            let d = mul(limbs(&q[48..], HIBIT), &r1);
            h = carry(add3(add3(a, b), add3(c, d)));
        }
        for m in quads.remainder().chunks_exact(16) {
            h = carry(mul(add(h, limbs(m, HIBIT)), &r1));
        }
        self.h = h;
    }

    /// The MAC, once the message's last bytes (fewer than 16) are in.
    pub fn finish(self, tail: &[u8]) -> [u8; 16] {
        let mut h = self.h;
        if !tail.is_empty() {
            h = carry(mul(add(h, limbs(&last_block(tail), 0)), &self.r1));
        }
        let [mut h0, mut h1, mut h2] = h;
        let mut c;
        // Carried all the way round twice.
        for _ in 0..2 {
            c = h1 >> 44;
            h1 &= M44;
            h2 += c;
            c = h2 >> 42;
            h2 &= M42;
            h0 += c * 5;
            c = h0 >> 44;
            h0 &= M44;
            h1 += c;
        }
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
        let (t0, t1) = (le64(&self.s), le64(&self.s[8..]));
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
}

/// [`Poly`] in five 26-bit limbs with 64-bit products ("poly1305-donna-32"): no u128, so as
/// quick on 32-bit cores.
pub struct P32 {
    r: [u64; 5],
    /// r1 to r4 times 5.
    s: [u64; 4],
    h: [u64; 5],
    /// The key's second half, added at the end.
    pad: [u8; 16],
}

impl P32 {
    pub fn new(key: &[u8; 32]) -> P32 {
        let le = |i: usize| u64::from(super::stream::word(key, i));
        let r = [
            le(0) & 0x3ff_ffff,
            (le(0) >> 26 | le(1) << 6) & 0x3ff_ff03,
            (le(1) >> 20 | le(2) << 12) & 0x3ff_c0ff,
            (le(2) >> 14 | le(3) << 18) & 0x3f0_3fff,
            (le(3) >> 8) & 0x00f_ffff,
        ];
        let mut pad = [0u8; 16];
        pad.copy_from_slice(&key[16..]);
        P32 {
            r,
            s: [r[1] * 5, r[2] * 5, r[3] * 5, r[4] * 5],
            h: [0; 5],
            pad,
        }
    }

    fn block(&mut self, m: &[u8], hibit: u64) {
        let w = |i: usize| u64::from(super::stream::word(m, i));
        let [r0, r1, r2, r3, r4] = self.r;
        let [s1, s2, s3, s4] = self.s;
        let [mut h0, mut h1, mut h2, mut h3, mut h4] = self.h;
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
        self.h = [h0, h1, h2, h3, h4];
    }

    /// As [`P64::blocks`].
    pub fn blocks(&mut self, msg: &[u8]) {
        for m in msg.chunks_exact(16) {
            self.block(m, 1 << 24);
        }
    }

    /// As [`P64::finish`].
    pub fn finish(mut self, tail: &[u8]) -> [u8; 16] {
        if !tail.is_empty() {
            self.block(&last_block(tail), 0);
        }
        let le = |i: usize| super::stream::word(&self.pad, i);
        let [mut h0, mut h1, mut h2, mut h3, mut h4] = self.h;
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
        let mut f = h0_ + u64::from(le(0));
        let mut out = [0u8; 16];
        out[0..4].copy_from_slice(&(f as u32).to_le_bytes());
        f = h1_ + u64::from(le(1)) + (f >> 32);
        out[4..8].copy_from_slice(&(f as u32).to_le_bytes());
        f = h2_ + u64::from(le(2)) + (f >> 32);
        out[8..12].copy_from_slice(&(f as u32).to_le_bytes());
        f = h3_ + u64::from(le(3)) + (f >> 32);
        out[12..16].copy_from_slice(&(f as u32).to_le_bytes());
        out
    }
}
