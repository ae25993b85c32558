//! The bytes a [`HeapQueue`](super::HeapQueue) copies in: a ring over one `Vec`'s
//! allocation, wrapping at its capacity, growing only when asked to.
//!
//! It replaced `VecDeque<u8>`, whose `extend` from a slice (a reserve, then a copy in up to
//! two parts, through the iterator machinery, called out of line) cost about 30 instructions
//! per push more than this one's (`tools/bench-callgrind forwarder`: a fan-out pushes each
//! small message into every subscriber's queue). Safe code only, and nothing zeroed: the
//! bytes below the `Vec`'s length have been written at least once, and a write at that
//! frontier extends it into the allocation's spare room. (A version over a zeroed boxed slice
//! spent 3 % of a forwarder's fan-out CPU in `memset`, the queues growing to a megabyte and
//! giving it back as they drained.)
//!
//! An empty ring starts again at the front of its buffer: a queue that keeps up is written
//! from one contiguous slice.

/// `dst.copy_from_slice(src)`, a short one (a small message's frame, into each subscriber's
/// queue) as two fixed-size copies that overlap in the middle: moves, not a call to `memcpy`
/// (whose call and size dispatch were most of `memmove`'s 9 % of a forwarder's fan-out CPU).
#[inline(always)]
fn copy(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    match n {
        8..=16 => {
            dst[..8].copy_from_slice(&src[..8]);
            dst[n - 8..n].copy_from_slice(&src[n - 8..]);
        }
        17..=32 => {
            dst[..16].copy_from_slice(&src[..16]);
            dst[n - 16..n].copy_from_slice(&src[n - 16..]);
        }
        _ => dst.copy_from_slice(src),
    }
}

/// A ring of bytes: `len` bytes from `head`, wrapping at the capacity of `buf`.
///
/// `buf.len()` is how far bytes have ever been written: everything the ring holds lies below
/// it, and once the ring has wrapped it is the whole capacity.
#[derive(Debug, Default)]
pub struct ByteRing {
    buf: Vec<u8>,
    head: usize,
    len: usize,
}

impl ByteRing {
    /// An empty ring; allocates nothing.
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Where the byte `i` places after the head is (`i` at most the capacity).
    #[inline]
    fn at(&self, i: usize) -> usize {
        let at = self.head + i;
        if at >= self.capacity() {
            at - self.capacity()
        } else {
            at
        }
    }

    /// The bytes held, oldest first, in up to two slices.
    #[inline]
    pub fn as_slices(&self) -> (&[u8], &[u8]) {
        let end = self.head + self.len;
        if end <= self.capacity() {
            (&self.buf[self.head..end], &[])
        } else {
            // Wrapped: written to the end of the allocation.
            (&self.buf[self.head..], &self.buf[..end - self.capacity()])
        }
    }

    /// Append `data`, growing to exactly what it needs if it does not fit.
    #[inline]
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        if data.len() > self.capacity() - self.len {
            self.reserve_exact(data.len());
        }
        let tail = self.at(self.len);
        if tail == self.buf.len() && data.len() <= self.capacity() - tail {
            // At the frontier, and it fits before the end: into the spare room.
            self.buf.extend_from_slice(data);
        } else if let Some(room) = self.buf.get_mut(tail..tail + data.len()) {
            // Over bytes written before and taken out since.
            copy(room, data);
        } else {
            self.write_across(tail, data);
        }
        self.len += data.len();
    }

    /// [`ByteRing::extend_from_slice`] past the frontier or across the end of the
    /// allocation: up to the end (what was written, then the spare room), the rest from the
    /// front (written before: it lies below the head).
    #[cold]
    #[inline(never)]
    fn write_across(&mut self, tail: usize, data: &[u8]) {
        let (a, b) = data.split_at(data.len().min(self.capacity() - tail));
        let (over, fresh) = a.split_at(a.len().min(self.buf.len() - tail));
        self.buf[tail..tail + over.len()].copy_from_slice(over);
        self.buf.extend_from_slice(fresh);
        self.buf[..b.len()].copy_from_slice(b);
    }

    /// Take `n` bytes (at most all) off the front.
    #[inline]
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.head = self.at(n);
        self.len -= n;
        if self.len == 0 {
            self.head = 0;
        }
    }

    /// Keep the first `keep` bytes, drop the rest.
    #[inline]
    pub fn truncate(&mut self, keep: usize) {
        if keep < self.len {
            self.len = keep;
        }
        if self.len == 0 {
            self.head = 0;
        }
    }

    /// Room for at least `additional` bytes more. The allocation grows in place as a `Vec`
    /// does (`realloc`: a large one is moved by remapping its pages, not copied); the bytes
    /// stay where they are, but for a wrapped ring's front part, copied to follow its back
    /// part. (A new allocation with everything copied over was 3 % of a forwarder's fan-out
    /// CPU: queues grow to a megabyte and give it back as they drain.) Nothing happens if
    /// there is room.
    #[cold]
    #[inline(never)]
    pub fn reserve_exact(&mut self, additional: usize) {
        let need = self.len.saturating_add(additional);
        let cap = self.capacity();
        if need <= cap {
            return;
        }
        let end = self.head + self.len;
        if end <= cap {
            // What lies past the bytes held was taken out: it need not be kept.
            self.buf.truncate(end);
            self.buf.reserve_exact(need - end);
        } else {
            // Wrapped: written up to the capacity. The front part goes after the back.
            let front = end - cap;
            self.buf.reserve_exact(need.max(end) - cap);
            self.buf.extend_from_within(..front);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ByteRing;

    fn contents(r: &ByteRing) -> Vec<u8> {
        let (a, b) = r.as_slices();
        [a, b].concat()
    }

    #[test]
    fn a_ring_wraps_grows_and_keeps_its_order() {
        let mut r = ByteRing::new();
        assert_eq!((r.len(), r.capacity()), (0, 0));
        r.reserve_exact(8);
        r.extend_from_slice(b"abcdef");
        r.consume(4);
        // "ef" at 4..6; "ghij" wraps: "gh" at 6..8, "ij" at 0..2.
        r.extend_from_slice(b"ghij");
        assert_eq!(r.capacity(), 8);
        assert!(!r.as_slices().1.is_empty());
        assert_eq!(contents(&r), b"efghij");
        // Growing copies the wrapped front part after the back part; the rest wraps again.
        r.extend_from_slice(b"klmnop");
        assert_eq!(r.capacity(), 12);
        assert_eq!(r.as_slices(), (&b"efghijkl"[..], &b"mnop"[..]));
        r.truncate(3);
        assert_eq!(contents(&r), b"efg");
        r.consume(10);
        assert!(r.is_empty());
        // Empty, it writes from the front again.
        r.extend_from_slice(b"q");
        assert_eq!(r.as_slices(), (&b"q"[..], &b""[..]));
    }

    #[test]
    fn a_ring_matches_a_deque_under_any_mix_of_calls() {
        use std::collections::VecDeque;
        let mut r = ByteRing::new();
        let mut d = VecDeque::new();
        // A fixed pseudo-random walk (xorshift): pushes of 0..40 bytes, consumes and
        // truncations, growth now and then.
        let mut x: u32 = 0x9e37_79b9;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for step in 0..20_000u32 {
            let n = (next() % 40) as usize;
            match next() % 7 {
                0..=3 => {
                    let data: Vec<u8> = (0..n).map(|i| (step as usize + i) as u8).collect();
                    if next() % 5 == 0 {
                        r.reserve_exact(n * 3);
                    }
                    r.extend_from_slice(&data);
                    d.extend(&data);
                }
                4 | 5 => {
                    r.consume(n);
                    d.drain(..n.min(d.len()));
                }
                _ => {
                    let keep = d.len().saturating_sub(n / 4);
                    r.truncate(keep);
                    d.truncate(keep);
                }
            }
            assert_eq!(r.len(), d.len());
            assert!(r.len() <= r.capacity());
            assert_eq!(contents(&r), d.iter().copied().collect::<Vec<u8>>());
        }
    }
}
