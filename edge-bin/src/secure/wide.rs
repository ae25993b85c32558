//! XSalsa20's keystream in AVX2's 256-bit vectors, where the CPU has them.
//!
//! The core computes Salsa20 in `wide`'s 4-lane SSE2 vectors, the widest every x86_64 has,
//! without `unsafe`. Here the same rounds (the core's [`salsa::xor_wide`]) run on [`Avx2`]'s
//! eight lanes, two sets a pass (16 blocks; about 5% quicker than one set, whose chains leave
//! the vector ports idle, though two spill out of the 16 registers), chosen once at start
//! ([`use_widest`]) if the CPU says it has AVX2. A 64 KiB box's keystream takes about half
//! the time (seal 90 -> 62 us here, Poly1305 28 of them: `cargo bench -p zedge-core
//! --features curve,std --bench curve -- --wide`), and CURVE's cost is mostly the keystream
//! and Poly1305. Elsewhere (aarch64, whose NEON lanes are the core's baseline) nothing
//! changes.
//!
//! The unsafe here is the intrinsics' and their loads and stores: [`Avx2`] values are made
//! only in [`xor_avx2`], which [`use_widest`] hands to the core only after
//! `is_x86_feature_detected!("avx2")`; the loads and stores are of 32 bytes inside the
//! 64-byte blocks [`Lanes::xor_blocks`] is given whole.

#[cfg(target_arch = "x86_64")]
use zedge_core::curve::salsa::{self, At, Lanes};

/// The keystream path the CPU allows beyond the core's own, handed to the core once: its
/// name for the start-up log, or `None` (none here, or one was set already).
pub fn use_widest() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && salsa::set_wide(avx2) {
        return Some("avx2");
    }
    None
}

/// [`xor_avx2`], for the core to call: set only once AVX2 was seen.
#[cfg(target_arch = "x86_64")]
fn avx2(at: At<'_>, buf: &mut [u8]) {
    // SAFETY: `use_widest` gives this to the core only where the CPU has AVX2.
    #[allow(unsafe_code)]
    unsafe {
        xor_avx2(at, buf);
    }
}

/// The core's keystream from `at` XORed into `buf`, two sets of eight AVX2 lanes a pass.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2")]
unsafe fn xor_avx2(at: At<'_>, buf: &mut [u8]) {
    salsa::xor_wide::<Avx2, 2>(at, buf);
}

/// One state word of eight blocks, lane `l` block `l`'s.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
pub struct Avx2(core::arch::x86_64::__m256i);

// SAFETY (every block below): an `Avx2` is made and used only inside `xor_avx2`, on a CPU with
// AVX2 (see the module's text); the pointers are to 32 bytes inside a block of `buf`.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
impl Lanes for Avx2 {
    const LANES: usize = 8;

    #[inline(always)]
    fn splat(w: u32) -> Self {
        use core::arch::x86_64::_mm256_set1_epi32;
        Avx2(unsafe { _mm256_set1_epi32(w as i32) })
    }

    #[inline(always)]
    fn from_fn(mut f: impl FnMut(usize) -> u32) -> Self {
        use core::arch::x86_64::_mm256_setr_epi32;
        let w: [i32; 8] = core::array::from_fn(|l| f(l) as i32);
        Avx2(unsafe { _mm256_setr_epi32(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]) })
    }

    #[inline(always)]
    fn add(self, o: Self) -> Self {
        use core::arch::x86_64::_mm256_add_epi32;
        Avx2(unsafe { _mm256_add_epi32(self.0, o.0) })
    }

    #[inline(always)]
    fn xor(self, o: Self) -> Self {
        use core::arch::x86_64::_mm256_xor_si256;
        Avx2(unsafe { _mm256_xor_si256(self.0, o.0) })
    }

    #[inline(always)]
    fn rol<const L: i32, const R: i32>(self) -> Self {
        use core::arch::x86_64::{_mm256_or_si256, _mm256_slli_epi32, _mm256_srli_epi32};
        Avx2(unsafe {
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
