//! Poly1305 in lanes: four blocks side by side in 26-bit limbs, over a binary's vectors
//! ([`PolyLanes`]: zedge's AVX2), going on from the core's own accumulator.

#[cfg(any(test, feature = "std"))]
use super::carry;

const M26: u64 = 0x3ff_ffff;

/// Four 64-bit lanes (or another count, at most four), for Poly1305 over blocks side by side
/// in 26-bit limbs: the binary gives AVX2's ([`set_wide`](crate::curve::salsa::set_wide), [`poly_wide`]).
pub trait PolyLanes: Copy {
    /// Blocks side by side, at most 4.
    const LANES: usize;
    /// `v` in every lane.
    fn splat(v: u64) -> Self;
    /// Lane `l` `f(l)`.
    fn from_fn(f: impl FnMut(usize) -> u64) -> Self;
    /// Lane by lane, wrapping.
    fn add(self, o: Self) -> Self;
    /// Lane by lane, the low 32 bits of each times the low 32 bits of the other's.
    fn mul32(self, o: Self) -> Self;
    /// Lane by lane.
    fn and(self, o: Self) -> Self;
    /// Each lane shifted right by `N` bits.
    fn shr<const N: i32>(self) -> Self;
    /// Each lane shifted left by `N` bits.
    fn shl<const N: i32>(self) -> Self;
    /// Lane `l`.
    fn lane(self, l: usize) -> u64;
    /// `m`, exactly `16 * LANES` bytes, as five 26-bit limbs: block `l`'s in lane `l`, with
    /// the bit after a whole block (2^128: bit 24 of the top limb).
    fn load(m: &[u8]) -> [Self; 5];
}

/// Poly1305's accumulator and r to r^4, each in five 26-bit limbs, for a wider path
/// ([`poly_wide`]) to go on from where the core's own 44-bit Poly1305 is.
#[derive(Clone)]
pub struct Wide26 {
    pub(super) h: [u64; 5],
    /// `r[k]` is r^(k + 1).
    pub(super) r: [[u64; 5]; 4],
}

impl core::fmt::Debug for Wide26 {
    /// Nothing of the key.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Wide26")
    }
}

/// A value in 44-bit limbs (as [`carry`] leaves them) in 26-bit ones: the same value, the
/// limbs at most a little over 26 bits.
#[cfg(any(test, feature = "std"))]
pub(super) fn to26(h: [u64; 3]) -> [u64; 5] {
    [
        h[0] & M26,
        (h[0] >> 26) + ((h[1] & 0xff) << 18),
        (h[1] >> 8) & M26,
        (h[1] >> 34) + ((h[2] & 0xffff) << 10),
        h[2] >> 16,
    ]
}

/// A value in 26-bit limbs of up to 2^28 back in 44-bit ones, carried.
#[cfg(any(test, feature = "std"))]
pub(super) fn from26(l: [u64; 5]) -> [u64; 3] {
    let h = [
        l[0] + ((l[1] & 0x3_ffff) << 26),
        (l[1] >> 18) + (l[2] << 8) + ((l[3] & 0x3ff) << 34),
        (l[3] >> 10) + (l[4] << 16),
    ];
    carry(h.map(u128::from))
}

/// A multiplier in lanes: its limbs, and the upper four times 5.
#[derive(Clone, Copy)]
struct Pow<V> {
    r: [V; 5],
    s: [V; 4],
}

impl<V: PolyLanes> Pow<V> {
    #[inline(always)]
    fn new(mut limb: impl FnMut(usize, usize) -> u64) -> Pow<V> {
        let r: [V; 5] = core::array::from_fn(|k| V::from_fn(|l| limb(l, k)));
        let s = core::array::from_fn(|k| r[k + 1].shl::<2>().add(r[k + 1]));
        Pow { r, s }
    }
}

/// `h * p` lane by lane, carried: limbs under 2^26, the second under 2^26 + 2^10.
#[inline(always)]
fn mul_lanes<V: PolyLanes>(h: [V; 5], p: &Pow<V>) -> [V; 5] {
    let [r0, r1, r2, r3, r4] = p.r;
    let [s1, s2, s3, s4] = p.s;
    let [h0, h1, h2, h3, h4] = h;
    let dot = |a: [V; 5], b: [V; 5]| {
        let mut d = a[0].mul32(b[0]);
        for k in 1..5 {
            d = d.add(a[k].mul32(b[k]));
        }
        d
    };
    let d0 = dot([h0, h1, h2, h3, h4], [r0, s4, s3, s2, s1]);
    let d1 = dot([h0, h1, h2, h3, h4], [r1, r0, s4, s3, s2]);
    let d2 = dot([h0, h1, h2, h3, h4], [r2, r1, r0, s4, s3]);
    let d3 = dot([h0, h1, h2, h3, h4], [r3, r2, r1, r0, s4]);
    let d4 = dot([h0, h1, h2, h3, h4], [r4, r3, r2, r1, r0]);
    let m = V::splat(M26);
    let d1 = d1.add(d0.shr::<26>());
    let d2 = d2.add(d1.shr::<26>());
    let d3 = d3.add(d2.shr::<26>());
    let d4 = d4.add(d3.shr::<26>());
    let c = d4.shr::<26>();
    let h0 = d0.and(m).add(c.shl::<2>().add(c));
    let h1 = d1.and(m).add(h0.shr::<26>());
    [h0.and(m), h1, d2.and(m), d3.and(m), d4.and(m)]
}

/// Poly1305 over `msg`'s whole groups of `16 * LANES` bytes from `st` on, `LANES` blocks side
/// by side (lane `l` blocks `l`, `l + LANES`, ..., times r^LANES a group, the last group times
/// r^(LANES - l)); the bytes taken, a multiple of the group (none if `LANES` is over 4).
/// Inlined into the caller, compiled for the vectors `V` uses (the binary's AVX2 path).
#[inline(always)]
pub fn poly_wide<V: PolyLanes>(st: &mut Wide26, msg: &[u8]) -> usize {
    let n = V::LANES;
    if n == 0 || n > 4 {
        return 0;
    }
    let groups = msg.len() / (16 * n);
    if groups == 0 {
        return 0;
    }
    let every = Pow::<V>::new(|_, k| st.r[n - 1][k]);
    let last = Pow::<V>::new(|l, k| st.r[n - 1 - l][k]);
    let mut acc: [V; 5] =
        core::array::from_fn(|k| V::from_fn(|l| if l == 0 { st.h[k] } else { 0 }));
    for (i, g) in msg.chunks_exact(16 * n).take(groups).enumerate() {
        let m = V::load(g);
        let sum: [V; 5] = core::array::from_fn(|k| acc[k].add(m[k]));
        acc = mul_lanes(sum, if i + 1 < groups { &every } else { &last });
    }
    st.h = core::array::from_fn(|k| (0..n).map(|l| acc[k].lane(l)).sum());
    groups * 16 * n
}
