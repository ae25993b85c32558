//! A peer's outbound queue on the heap, holding memory only while it holds bytes.
//!
//! The device bounds every queue by [`DeviceConfig::queue_capacity`], which is the high-water
//! mark plus a whole maximum-size message: megabytes. A fixed ring of that size per peer would
//! make 10,000 idle peers cost gigabytes, so this queue grows geometrically up to its hard
//! capacity as bytes arrive and gives a large buffer back once it drains. `VecDeque` supplies
//! the ring (two slices out, `memcpy` in, no zero-filling on growth); this type adds the hard
//! capacity and the growth and release policy.
//!
//! [`DeviceConfig::queue_capacity`]: zedge_core::device::DeviceConfig::queue_capacity

use std::collections::VecDeque;
use std::convert::Infallible;

use zedge_core::device::ByteQueue;
use zedge_core::wire::Full;

/// First allocation: a greeting plus READY fit, and idle peers stay cheap.
const MIN_ALLOC: usize = 512;

/// An empty queue keeps a buffer up to this size and frees anything larger. Steady traffic of
/// messages up to about 100 KiB then reuses one buffer instead of allocating (and faulting in
/// fresh pages) for every message; a peer that never receives still allocates nothing, and
/// one that received a burst holds at most this much once drained.
const KEEP_WHEN_EMPTY: usize = 256 << 10;

#[derive(Debug)]
pub struct HeapQueue {
    buf: VecDeque<u8>,
    capacity: usize,
}

impl HeapQueue {
    /// An empty queue that will never hold more than `capacity` bytes. Allocates nothing.
    pub fn new(capacity: usize) -> Self {
        HeapQueue {
            buf: VecDeque::new(),
            capacity,
        }
    }

    /// Bytes of heap the queue holds now, whatever its length.
    #[cfg(test)]
    pub fn allocated(&self) -> usize {
        self.buf.capacity()
    }

    fn release_if_drained(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > KEEP_WHEN_EMPTY {
            self.buf = VecDeque::new();
        }
    }
}

impl ByteQueue for HeapQueue {
    type Shared = Infallible;

    fn len(&self) -> usize {
        self.buf.len()
    }

    fn capacity(&self) -> usize {
        self.capacity
    }

    fn push(&mut self, data: &[u8]) -> Result<(), Full> {
        let len = self.buf.len();
        if self.capacity - len < data.len() {
            return Err(Full);
        }
        let need = len + data.len();
        if need > self.buf.capacity() {
            // Double, but never allocate past the hard capacity.
            let target = need
                .max(self.buf.capacity().saturating_mul(2))
                .max(MIN_ALLOC)
                .min(self.capacity);
            self.buf.reserve_exact(target - len);
        }
        self.buf.extend(data);
        Ok(())
    }

    fn share(&self, _: &[u8]) -> Option<Infallible> {
        None
    }

    fn push_shared(&mut self, piece: &Infallible) -> Result<(), Full> {
        match *piece {}
    }

    fn front(&self) -> (&[u8], &[u8]) {
        self.buf.as_slices()
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
        self.release_if_drained();
    }

    fn truncate_back(&mut self, n: usize) {
        let keep = self.buf.len().saturating_sub(n);
        self.buf.truncate(keep);
        self.release_if_drained();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(q: &HeapQueue) -> Vec<u8> {
        let (a, b) = q.front();
        [a, b].concat()
    }

    #[test]
    fn starts_without_memory() {
        let q = HeapQueue::new(1 << 20);
        assert_eq!(q.allocated(), 0);
        assert!(q.is_empty());
        assert_eq!(q.capacity(), 1 << 20);
    }

    #[test]
    fn wraps_and_keeps_order() {
        let mut q = HeapQueue::new(1 << 20);
        q.push(&[1; 400]).unwrap();
        let alloc = q.allocated();
        assert_eq!(alloc, MIN_ALLOC);
        q.consume(350);
        // Fills the space freed at the front without growing: the data wraps.
        q.push(&[2; 200]).unwrap();
        assert_eq!(q.allocated(), alloc);
        let (a, b) = q.front();
        assert!(!b.is_empty(), "expected a wrapped ring");
        assert_eq!(a.len() + b.len(), 250);
        let mut want = vec![1; 50];
        want.extend_from_slice(&[2; 200]);
        assert_eq!(contents(&q), want);
    }

    #[test]
    fn truncate_back_drops_newest() {
        let mut q = HeapQueue::new(64);
        q.push(b"hello").unwrap();
        q.push(b"partial").unwrap();
        q.truncate_back(7);
        assert_eq!(contents(&q), b"hello");
        q.truncate_back(100);
        assert!(q.is_empty());
    }

    #[test]
    fn refuses_what_does_not_fit_and_keeps_what_it_had() {
        let mut q = HeapQueue::new(10);
        q.push(b"abcdef").unwrap();
        assert_eq!(q.push(b"ghijk"), Err(Full));
        assert_eq!(contents(&q), b"abcdef");
        q.push(b"ghij").unwrap();
        assert_eq!(q.len(), 10);
        assert_eq!(q.push(b""), Ok(()));
        assert_eq!(q.push(b"x"), Err(Full));
    }

    #[test]
    fn never_allocates_past_capacity() {
        let cap = 100_000;
        let mut q = HeapQueue::new(cap);
        for _ in 0..99 {
            q.push(&[7; 1000]).unwrap();
        }
        assert!(
            q.allocated() <= cap.next_power_of_two(),
            "{}",
            q.allocated()
        );
        q.push(&[7; 1000]).unwrap();
        assert_eq!(q.len(), cap);
        assert_eq!(q.push(&[7]), Err(Full));
    }

    #[test]
    fn large_buffer_is_released_when_drained_small_one_kept() {
        let mut q = HeapQueue::new(1 << 20);
        q.push(&[0; 400 << 10]).unwrap();
        assert!(q.allocated() >= 400 << 10);
        q.consume(200 << 10);
        assert!(q.allocated() >= 400 << 10);
        q.consume(200 << 10);
        assert_eq!(q.allocated(), 0, "a burst's buffer goes back once drained");

        // A 64 KiB message (and its header) reuses one buffer message after message.
        q.push(&[0; (64 << 10) + 9]).unwrap();
        q.consume((64 << 10) + 9);
        let kept = q.allocated();
        assert!(kept > 64 << 10, "{kept}");
        q.push(&[0; (64 << 10) + 9]).unwrap();
        assert_eq!(q.allocated(), kept);
    }
}
