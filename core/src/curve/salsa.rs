//! XSalsa20 and Poly1305 as NaCl's `crypto_secretbox` combines them, without `unsafe`:
//! Salsa20 eight blocks a pass, two sets of four side by side in `wide`'s 4-lane vectors (SSE2,
//! NEON; `stream`), Poly1305 in 44-bit limbs four blocks at a time, 26-bit limbs on 32-bit
//! cores (`poly`). RustCrypto's `salsa20` computes one block at a time, and its `poly1305`
//! took its AVX2 path at run time, whose helpers the compiler does not inline (each vector
//! instruction a call): through them a 256-byte MESSAGE cost about twice, a 64 KiB one three
//! times, what it cost with this module's first version (`tools/bench --cases curve`). A
//! binary may give wider vectors for the same rounds and Poly1305 ([`Lanes`], [`PolyLanes`],
//! [`set_wide`]: zedge's AVX2 on x86_64). The tests check every byte against RustCrypto's
//! `crypto_secretbox` and `crypto_box`; `cargo bench -p zedge-core --features curve,std
//! --bench curve` times seal and open against libsodium's (`bench/sodium_box.c`).

mod poly;
mod stream;

use poly::Poly;
pub use poly::{poly1305, poly_wide, PolyLanes, Wide26};
pub use stream::{hsalsa20, Lanes};

/// Where a keystream starts, for a wider path ([`set_wide`]): the Salsa20 state and the block
/// counter, opaque.
#[derive(Clone, Copy)]
pub struct At<'a> {
    st: &'a [u32; 16],
    counter: u64,
}

impl core::fmt::Debug for At<'_> {
    /// Nothing of the key.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "At {{ counter: {} }}", self.counter)
    }
}

/// XOR `buf` with the keystream from `at` on, `S` sets of `V`'s lanes a pass (and the core's
/// own passes for the rest): the rounds are the core's, the vectors the caller's. Inlined into
/// the caller, a function compiled for the vectors `V` uses (the binary's AVX2 path), which
/// the core cannot ask for without `unsafe`.
#[inline(always)]
pub fn xor_wide<V: Lanes, const S: usize>(at: At<'_>, buf: &mut [u8]) {
    stream::xor_lanes::<V, S>(at.st, at.counter, buf);
}

/// Wider paths for the keystream and Poly1305: [`xor_wide`] and [`poly_wide`] compiled for
/// vectors the machine has.
#[derive(Clone, Copy, Debug)]
pub struct Wide {
    /// The keystream from `At` XORed into the buffer, all of it.
    pub xor: fn(At<'_>, &mut [u8]),
    /// Poly1305 over the buffer's first whole groups of blocks: the bytes it took.
    pub poly: fn(&mut Wide26, &[u8]) -> usize,
}

#[cfg(feature = "std")]
static WIDE: std::sync::OnceLock<Wide> = std::sync::OnceLock::new();

/// Use `wide` for every keystream of at least 512 bytes (and a box of 97 to 480 bytes, whose
/// keystream fits one pass of eight blocks) and every run of at least 256 bytes of Poly1305
/// from now on, in place of the core's own (SSE2 lanes, 64-bit limbs on x86_64): the
/// binary's choice, made once at start after it has checked the CPU. It must compute the same
/// as [`xor_wide`] and [`poly_wide`] (the tests check that the binary's does). False if paths
/// were set already (they stay).
#[cfg(feature = "std")]
pub fn set_wide(wide: Wide) -> bool {
    WIDE.set(wide).is_ok()
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

/// XSalsa20's key for the nonces that start with the same 16 bytes: HSalsa20 of the key and
/// those bytes, made once for all of them. A CURVE MESSAGE's nonce is a fixed prefix per
/// direction and an 8-byte counter, and HSalsa20 is a quarter of a 256-byte box's cost.
#[derive(Clone)]
pub struct Subkey([u8; 32]);

impl core::fmt::Debug for Subkey {
    /// Nothing of the key.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Subkey")
    }
}

impl Subkey {
    /// The subkey of `key` for the nonces that start with `prefix`.
    pub fn new(key: &[u8; 32], prefix: &[u8; 16]) -> Subkey {
        Subkey(hsalsa20(key, prefix))
    }
}

/// A 24-byte nonce as its 16-byte prefix and the 8 bytes after it.
fn split_nonce(nonce: &[u8; 24]) -> ([u8; 16], [u8; 8]) {
    let (mut prefix, mut rest) = ([0u8; 16], [0u8; 8]);
    prefix.copy_from_slice(&nonce[..16]);
    rest.copy_from_slice(&nonce[16..]);
    (prefix, rest)
}

/// `crypto_secretbox` in NaCl's layout, in place: `buf[16..]` encrypted, its MAC in
/// `buf[..16]`. `buf` must hold at least the MAC.
pub fn seal(key: &[u8; 32], nonce: &[u8; 24], buf: &mut [u8]) -> bool {
    let (prefix, rest) = split_nonce(nonce);
    seal_with(&Subkey::new(key, &prefix), &rest, buf)
}

/// Open a box made by [`seal`] in place: `buf[16..]` decrypted if its MAC is right, and
/// nothing of it touched if not.
pub fn open(key: &[u8; 32], nonce: &[u8; 24], buf: &mut [u8]) -> bool {
    let (prefix, rest) = split_nonce(nonce);
    open_with(&Subkey::new(key, &prefix), &rest, buf)
}

/// [`seal`] with the nonce's subkey made already and its last 8 bytes.
pub fn seal_with(sub: &Subkey, nonce: &[u8; 8], buf: &mut [u8]) -> bool {
    if buf.len() < 16 {
        return false;
    }
    let (mac, body) = buf.split_at_mut(16);
    #[cfg(feature = "std")]
    if let Some(ks) = one_pass(sub, nonce, body.len()) {
        stream::xor_bytes(body, &ks[32..]);
        mac.copy_from_slice(&poly1305(&one_time_key(&ks), body));
        return true;
    }
    let (st, otk, first) = start(sub, nonce);
    xor_body(&st, &first, body);
    mac.copy_from_slice(&poly1305(&otk, body));
    true
}

/// [`open`] with the nonce's subkey made already and its last 8 bytes.
pub fn open_with(sub: &Subkey, nonce: &[u8; 8], buf: &mut [u8]) -> bool {
    if buf.len() < 16 {
        return false;
    }
    let (mac, body) = buf.split_at_mut(16);
    #[cfg(feature = "std")]
    if let Some(ks) = one_pass(sub, nonce, body.len()) {
        if !same_mac(&poly1305(&one_time_key(&ks), body), mac) {
            return false;
        }
        stream::xor_bytes(body, &ks[32..]);
        return true;
    }
    let (st, otk, first) = start(sub, nonce);
    if !same_mac(&poly1305(&otk, body), mac) {
        return false;
    }
    xor_body(&st, &first, body);
    true
}

/// Keystream bytes one pass of the wider path makes: AVX2's eight blocks.
#[cfg(feature = "std")]
const ONE_PASS: usize = 512;

/// The keystream of a body of `len` bytes that needs more than two blocks of it (block 0's
/// first 32 bytes are Poly1305's key) and fits one pass of the wider path, made in that pass:
/// blocks 0 to 7 at once, where the core's own makes block 0 alone and then the body's.
#[cfg(feature = "std")]
fn one_pass(sub: &Subkey, nonce: &[u8; 8], len: usize) -> Option<[u8; ONE_PASS]> {
    if !(128 - 32 < len && len <= ONE_PASS - 32) {
        return None;
    }
    let wide = WIDE.get()?;
    let st = stream::salsa20(&sub.0, nonce);
    let mut ks = [0u8; ONE_PASS];
    (wide.xor)(
        At {
            st: &st,
            counter: 0,
        },
        &mut ks,
    );
    Some(ks)
}

/// Poly1305's key: the keystream's first 32 bytes.
#[cfg(feature = "std")]
fn one_time_key(ks: &[u8; ONE_PASS]) -> [u8; 32] {
    let mut otk = [0u8; 32];
    otk.copy_from_slice(&ks[..32]);
    otk
}

/// The Salsa20 state of the subkey and the nonce's last 8 bytes, its block 0 alone: its first
/// 32 bytes Poly1305's one-time key, the other 32 the keystream of the body's first 32 bytes.
fn start(sub: &Subkey, nonce: &[u8; 8]) -> ([u32; 16], [u8; 32], [u8; 32]) {
    let st = stream::salsa20(&sub.0, nonce);
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

/// A `crypto_secretbox` made in pieces, for a plaintext too long to copy whole: its MAC in a
/// pass of the keystream over all of it ([`Sealer::mac`]), then its ciphertext a piece at a
/// time, in order ([`Sealer::xor`]), the same as [`seal`] makes. It holds the keystream's
/// state and where it is, whatever the length.
pub struct Sealer {
    st: [u32; 16],
    /// The keystream of the body's first 32 bytes (block 0's second half).
    first: [u8; 32],
    /// Bytes of the body XORed so far.
    at: u64,
}

impl core::fmt::Debug for Sealer {
    /// Nothing of the keystream.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Sealer {{ at: {} }}", self.at)
    }
}

/// Bytes of plaintext [`Sealer::mac`] encrypts at a time, on the stack (a multiple of the
/// pass of [`stream::xor_from`], 512 bytes).
const MAC_CHUNK: usize = 2048;

impl Sealer {
    /// The keystream of the subkey and the nonce's last 8 bytes, at the body's first byte.
    pub fn new(sub: &Subkey, nonce: &[u8; 8]) -> Sealer {
        let (st, _, first) = start(sub, nonce);
        Sealer { st, first, at: 0 }
    }

    /// The MAC of the box of `plain` (its pieces, in order), as [`seal`] would put it in the
    /// box's first 16 bytes; nothing is written.
    pub fn mac<'a>(
        sub: &Subkey,
        nonce: &[u8; 8],
        plain: impl Iterator<Item = &'a [u8]>,
    ) -> [u8; 16] {
        let (st, otk, first) = start(sub, nonce);
        let mut stream = Sealer { st, first, at: 0 };
        let mut poly = Poly::new(&otk);
        // The first chunk takes block 0's 32 bytes more, so that the others start on a
        // block of their own.
        let mut chunk = [0u8; MAC_CHUNK + 32];
        let (mut n, mut size) = (0, MAC_CHUNK + 32);
        for mut piece in plain {
            while !piece.is_empty() {
                let k = (size - n).min(piece.len());
                chunk[n..n + k].copy_from_slice(&piece[..k]);
                (n, piece) = (n + k, &piece[k..]);
                if n == size {
                    stream.xor(&mut chunk[..n]);
                    poly.blocks(&chunk[..n]);
                    (n, size) = (0, MAC_CHUNK);
                }
            }
        }
        let rest = &mut chunk[..n];
        stream.xor(rest);
        let whole = n & !15;
        poly.blocks(&rest[..whole]);
        poly.finish(&rest[whole..])
    }

    /// XOR the next `buf.len()` bytes of the body with the keystream.
    pub fn xor(&mut self, mut buf: &mut [u8]) {
        let len = buf.len() as u64;
        let mut at = self.at;
        if at < 32 {
            let from = at as usize;
            let k = (32 - from).min(buf.len());
            let (now, later) = buf.split_at_mut(k);
            stream::xor_bytes(now, &self.first[from..from + k]);
            (buf, at) = (later, at + k as u64);
        }
        if !buf.is_empty() {
            // Block 1 starts at the body's byte 32.
            let (block, off) = (1 + (at - 32) / 64, ((at - 32) % 64) as usize);
            if off == 0 {
                stream::xor_from(&self.st, block, buf);
            } else {
                let k = (64 - off).min(buf.len());
                let (now, later) = buf.split_at_mut(k);
                stream::xor_bytes(now, &stream::block(&self.st, block)[off..off + k]);
                stream::xor_from(&self.st, block + 1, later);
            }
        }
        self.at += len;
    }
}

#[cfg(test)]
mod tests;
