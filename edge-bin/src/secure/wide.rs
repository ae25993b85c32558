//! XSalsa20's keystream and Poly1305 in AVX2's 256-bit vectors, where the CPU has them.
//!
//! The core computes Salsa20 in `wide`'s 4-lane SSE2 vectors, the widest every x86_64 has,
//! and Poly1305 in 64-bit limbs, without `unsafe`. Here the same rounds (the core's
//! [`salsa::xor_wide`]) run on [`U32x8`]'s eight lanes, two sets a pass (16 blocks; about 5%
//! quicker than one set, whose chains leave the vector ports idle, though two spill out of
//! the 16 registers), and the core's four-lane Poly1305 ([`salsa::poly_wide`], 26-bit limbs)
//! on [`U64x4`]; both chosen once at start ([`use_widest`]) if the CPU says it has AVX2. A
//! 64 KiB box takes about half the time (seal 88 -> 46 us here, Poly1305 28 -> 14 of them,
//! libsodium's 56: `cargo bench -p zedge-core --features curve,std --bench curve -- --wide`
//! against `bench/sodium_box.c`), and CURVE's cost is mostly these two. Elsewhere (aarch64,
//! whose NEON lanes are the core's baseline) nothing changes.
//!
//! The unsafe here is the intrinsics' and their loads and stores: [`U32x8`] and [`U64x4`]
//! values are made only in [`xor_avx2`] and [`poly_avx2`], which [`use_widest`] hands to the
//! core only after `is_x86_feature_detected!("avx2")`; the loads and stores are of 32 bytes
//! inside the blocks [`Lanes::xor_blocks`] and [`PolyLanes::load`] are given whole.

#[cfg(target_arch = "x86_64")]
use zedge_core::curve::salsa::{self, At, Lanes, PolyLanes, Wide, Wide26};

/// The keystream and Poly1305 paths the CPU allows beyond the core's own, handed to the core
/// once: their name for the start-up log, or `None` (none here, or they were set already).
pub fn use_widest() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = Wide {
            xor: avx2_xor,
            poly: avx2_poly,
        };
        if std::is_x86_feature_detected!("avx2") && salsa::set_wide(avx2) {
            return Some("avx2");
        }
    }
    None
}

/// [`xor_avx2`], for the core to call: set only once AVX2 was seen.
#[cfg(target_arch = "x86_64")]
fn avx2_xor(at: At<'_>, buf: &mut [u8]) {
    // SAFETY: `use_widest` gives this to the core only where the CPU has AVX2.
    #[allow(unsafe_code)]
    unsafe {
        xor_avx2(at, buf);
    }
}

/// [`poly_avx2`], for the core to call: set only once AVX2 was seen.
#[cfg(target_arch = "x86_64")]
fn avx2_poly(st: &mut Wide26, msg: &[u8]) -> usize {
    // SAFETY: `use_widest` gives this to the core only where the CPU has AVX2.
    #[allow(unsafe_code)]
    unsafe {
        poly_avx2(st, msg)
    }
}

/// The core's Poly1305 over `msg`'s whole groups of four blocks, in AVX2's four 64-bit lanes.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2")]
unsafe fn poly_avx2(st: &mut Wide26, msg: &[u8]) -> usize {
    salsa::poly_wide::<U64x4>(st, msg)
}

/// The core's keystream from `at` XORed into `buf`, two sets of eight AVX2 lanes a pass.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2")]
unsafe fn xor_avx2(at: At<'_>, buf: &mut [u8]) {
    salsa::xor_wide::<U32x8, 2>(at, buf);
}

/// One state word of eight blocks, lane `l` block `l`'s.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
pub struct U32x8(core::arch::x86_64::__m256i);

// SAFETY (every block below): an `U32x8` is made and used only inside `xor_avx2`, on a CPU with
// AVX2 (see the module's text); the pointers are to 32 bytes inside a block of `buf`.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
impl Lanes for U32x8 {
    const LANES: usize = 8;

    #[inline(always)]
    fn splat(w: u32) -> Self {
        use core::arch::x86_64::_mm256_set1_epi32;
        U32x8(unsafe { _mm256_set1_epi32(w as i32) })
    }

    #[inline(always)]
    fn from_fn(mut f: impl FnMut(usize) -> u32) -> Self {
        use core::arch::x86_64::_mm256_setr_epi32;
        let w: [i32; 8] = core::array::from_fn(|l| f(l) as i32);
        U32x8(unsafe { _mm256_setr_epi32(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]) })
    }

    #[inline(always)]
    fn add(self, o: Self) -> Self {
        use core::arch::x86_64::_mm256_add_epi32;
        U32x8(unsafe { _mm256_add_epi32(self.0, o.0) })
    }

    #[inline(always)]
    fn xor(self, o: Self) -> Self {
        use core::arch::x86_64::_mm256_xor_si256;
        U32x8(unsafe { _mm256_xor_si256(self.0, o.0) })
    }

    #[inline(always)]
    fn rol<const L: i32, const R: i32>(self) -> Self {
        use core::arch::x86_64::{_mm256_or_si256, _mm256_slli_epi32, _mm256_srli_epi32};
        U32x8(unsafe {
            _mm256_or_si256(
                _mm256_slli_epi32::<L>(self.0),
                _mm256_srli_epi32::<R>(self.0),
            )
        })
    }

    /// Words 0-7 and 8-15 each an 8x8 transpose (pairs of 32-bit lanes, then of 64-bit
    /// ones, then halves across): eight rows of 32 bytes, one per block.
    #[inline(always)]
    fn xor_blocks(x: &[Self; 16], buf: &mut [u8]) {
        use core::arch::x86_64::{
            __m256i, _mm256_loadu_si256, _mm256_permute2x128_si256, _mm256_storeu_si256,
            _mm256_unpackhi_epi32, _mm256_unpackhi_epi64, _mm256_unpacklo_epi32,
            _mm256_unpacklo_epi64, _mm256_xor_si256,
        };
        for (half, w) in x.chunks_exact(8).enumerate() {
            let r: [__m256i; 8] = core::array::from_fn(|i| w[i].0);
            let rows: [__m256i; 8] = unsafe {
                let t: [__m256i; 8] = core::array::from_fn(|i| {
                    let (a, b) = (r[i & !1], r[i | 1]);
                    if i & 1 == 0 {
                        _mm256_unpacklo_epi32(a, b)
                    } else {
                        _mm256_unpackhi_epi32(a, b)
                    }
                });
                // u[4g + k]: lanes k and k + 4 of words 4g to 4g + 3.
                let u: [__m256i; 8] = core::array::from_fn(|i| {
                    let (g, k) = (i / 4, i % 4);
                    let (a, b) = (t[4 * g + (k >> 1)], t[4 * g + 2 + (k >> 1)]);
                    if k & 1 == 0 {
                        _mm256_unpacklo_epi64(a, b)
                    } else {
                        _mm256_unpackhi_epi64(a, b)
                    }
                });
                core::array::from_fn(|l| {
                    let (a, b) = (u[l % 4], u[4 + l % 4]);
                    if l < 4 {
                        _mm256_permute2x128_si256::<0x20>(a, b)
                    } else {
                        _mm256_permute2x128_si256::<0x31>(a, b)
                    }
                })
            };
            for (l, row) in rows.into_iter().enumerate() {
                let at = 64 * l + 32 * half;
                let dst = &mut buf[at..at + 32];
                let p = dst.as_mut_ptr().cast::<__m256i>();
                unsafe { _mm256_storeu_si256(p, _mm256_xor_si256(_mm256_loadu_si256(p), row)) };
            }
        }
    }
}

/// Poly1305's limbs of four blocks, lane `l` block `l`'s.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
pub struct U64x4(core::arch::x86_64::__m256i);

// SAFETY (every block below): as for `U32x8`, inside `poly_avx2` only; the loads are of the
// two halves of the 64 bytes `load` is given.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
impl PolyLanes for U64x4 {
    const LANES: usize = 4;

    #[inline(always)]
    fn splat(v: u64) -> Self {
        use core::arch::x86_64::_mm256_set1_epi64x;
        U64x4(unsafe { _mm256_set1_epi64x(v as i64) })
    }

    #[inline(always)]
    fn from_fn(mut f: impl FnMut(usize) -> u64) -> Self {
        use core::arch::x86_64::_mm256_setr_epi64x;
        let v: [i64; 4] = core::array::from_fn(|l| f(l) as i64);
        U64x4(unsafe { _mm256_setr_epi64x(v[0], v[1], v[2], v[3]) })
    }

    #[inline(always)]
    fn add(self, o: Self) -> Self {
        use core::arch::x86_64::_mm256_add_epi64;
        U64x4(unsafe { _mm256_add_epi64(self.0, o.0) })
    }

    #[inline(always)]
    fn mul32(self, o: Self) -> Self {
        use core::arch::x86_64::_mm256_mul_epu32;
        U64x4(unsafe { _mm256_mul_epu32(self.0, o.0) })
    }

    #[inline(always)]
    fn and(self, o: Self) -> Self {
        use core::arch::x86_64::_mm256_and_si256;
        U64x4(unsafe { _mm256_and_si256(self.0, o.0) })
    }

    #[inline(always)]
    fn shr<const N: i32>(self) -> Self {
        use core::arch::x86_64::_mm256_srli_epi64;
        U64x4(unsafe { _mm256_srli_epi64::<N>(self.0) })
    }

    #[inline(always)]
    fn shl<const N: i32>(self) -> Self {
        use core::arch::x86_64::_mm256_slli_epi64;
        U64x4(unsafe { _mm256_slli_epi64::<N>(self.0) })
    }

    #[inline(always)]
    fn lane(self, l: usize) -> u64 {
        use core::arch::x86_64::{__m256i, _mm256_storeu_si256};
        let mut out = [0u64; 4];
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast::<__m256i>(), self.0) };
        out[l % 4]
    }

    /// Blocks 0-1 and 2-3 loaded, their low and high halves gathered in block order, and
    /// the 128 bits cut into limbs at bits 26, 52, 78 and 104.
    #[inline(always)]
    fn load(m: &[u8]) -> [Self; 5] {
        use core::arch::x86_64::{
            __m256i, _mm256_and_si256, _mm256_loadu_si256, _mm256_or_si256,
            _mm256_permute4x64_epi64, _mm256_set1_epi64x, _mm256_slli_epi64, _mm256_srli_epi64,
            _mm256_unpackhi_epi64, _mm256_unpacklo_epi64,
        };
        let (a, b) = (&m[..32], &m[32..64]);
        unsafe {
            let a = _mm256_loadu_si256(a.as_ptr().cast::<__m256i>());
            let b = _mm256_loadu_si256(b.as_ptr().cast::<__m256i>());
            let lo = _mm256_permute4x64_epi64::<0xd8>(_mm256_unpacklo_epi64(a, b));
            let hi = _mm256_permute4x64_epi64::<0xd8>(_mm256_unpackhi_epi64(a, b));
            let m26 = _mm256_set1_epi64x(0x3ff_ffff);
            [
                U64x4(_mm256_and_si256(lo, m26)),
                U64x4(_mm256_and_si256(_mm256_srli_epi64::<26>(lo), m26)),
                U64x4(_mm256_and_si256(
                    _mm256_or_si256(_mm256_srli_epi64::<52>(lo), _mm256_slli_epi64::<12>(hi)),
                    m26,
                )),
                U64x4(_mm256_and_si256(_mm256_srli_epi64::<14>(hi), m26)),
                U64x4(_mm256_or_si256(
                    _mm256_srli_epi64::<40>(hi),
                    _mm256_set1_epi64x(1 << 24),
                )),
            ]
        }
    }
}
