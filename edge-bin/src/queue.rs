//! A peer's outbound queue on the heap, holding memory only while it holds bytes.
//!
//! The device bounds every queue by [`DeviceConfig::queue_capacity`], which is the high-water
//! mark plus a whole maximum-size message: megabytes. A fixed ring of that size per peer would
//! make 10,000 idle peers cost gigabytes, so this queue grows geometrically up to its hard
//! capacity as bytes arrive and gives a large buffer back once it drains. `VecDeque` supplies
//! the ring (two slices out, `memcpy` in, no zero-filling on growth); this type adds the hard
//! capacity and the growth and release policy.
//!
//! Growth past the first allocation (counted at start for every connection) draws from the
//! process's memory budget through the queue's [`Charge`]; a growth the budget refuses makes
//! the queue full for now ([`ByteQueue::reserve`] says no, a push is refused). An empty queue
//! may take a whole message's room (or a command's) from what its device keeps, and gives it
//! back as soon as it drains.
//!
//! [`DeviceConfig::queue_capacity`]: zedge_core::device::DeviceConfig::queue_capacity

use std::collections::VecDeque;

use zedge_core::device::ByteQueue;
use zedge_core::wire::Full;

use crate::budget::Charge;

/// First allocation: a greeting plus READY fit, and idle peers stay cheap. Counted at start
/// for every connection; the budget is asked only for growth past it.
pub const MIN_ALLOC: usize = 512;

/// An empty queue keeps a buffer up to this size and frees anything larger. Steady traffic of
/// messages up to about 100 KiB then reuses one buffer instead of allocating (and faulting in
/// fresh pages) for every message; a peer that never receives still allocates nothing, and
/// one that received a burst holds at most this much once drained.
const KEEP_WHEN_EMPTY: usize = 256 << 10;

#[derive(Debug)]
pub struct HeapQueue {
    buf: VecDeque<u8>,
    capacity: usize,
    /// What the buffer holds past [`MIN_ALLOC`].
    charge: Charge,
}

impl HeapQueue {
    /// An empty queue that will never hold more than `capacity` bytes, growing with what
    /// `charge` grants. Allocates nothing.
    pub fn new(capacity: usize, charge: Charge) -> Self {
        HeapQueue {
            buf: VecDeque::new(),
            capacity,
            charge,
        }
    }

    /// Bytes of heap the queue holds now, whatever its length.
    #[cfg(test)]
    pub fn allocated(&self) -> usize {
        self.buf.capacity()
    }

    fn release_if_drained(&mut self) {
        let large = self.buf.capacity() > KEEP_WHEN_EMPTY || self.charge.holds_kept();
        if self.buf.is_empty() && large {
            self.buf = VecDeque::new();
            self.charge.shrink_to(0);
        }
    }

    /// Grow to hold `need` bytes: double, but never past the hard capacity nor what the
    /// budget grants; when it grants no more than `need`, that; an empty queue takes `need`
    /// from what its device keeps. False if none of that is there. Off the message path: a
    /// queue grows by doubling, rarely.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, need: usize) -> bool {
        let doubled = need
            .max(self.buf.capacity().saturating_mul(2))
            .max(MIN_ALLOC)
            .min(self.capacity);
        let charged = |n: usize| n.saturating_sub(MIN_ALLOC);
        let target = if self.charge.grow_to(charged(doubled)) {
            doubled
        } else if self.charge.grow_to(charged(need))
            || (self.buf.is_empty() && self.charge.grow_kept_to(charged(need)))
        {
            need
        } else {
            self.charge.refused();
            return false;
        };
        self.buf.reserve_exact(target - self.buf.len());
        // The allocator may have given more than asked.
        self.charge.force_to(charged(self.buf.capacity()));
        true
    }
}

impl ByteQueue for HeapQueue {
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
        if need > self.buf.capacity() && !self.grow(need) {
            return Err(Full);
        }
        self.buf.extend(data);
        Ok(())
    }

    fn reserve(&mut self, n: usize) -> bool {
        // Room in what it holds (never more than its capacity) is the message path's case.
        let len = self.buf.len();
        n <= self.buf.capacity() - len || (n <= self.capacity - len && self.grow(len + n))
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
    use std::sync::Arc;

    use crate::budget::{Account, Budget};

    fn queue(capacity: usize) -> HeapQueue {
        HeapQueue::new(capacity, Charge::new(Account::unlimited()))
    }

    /// A queue of a device with `budget` bytes to share and `kept` of its own.
    fn budgeted(budget: usize, kept: usize) -> (HeapQueue, Arc<Account>) {
        let account = Arc::new(Account::new(Arc::new(Budget::new(budget)), 0, kept));
        (
            HeapQueue::new(1 << 20, Charge::new(account.clone())),
            account,
        )
    }

    fn contents(q: &HeapQueue) -> Vec<u8> {
        let (a, b) = q.front();
        [a, b].concat()
    }

    #[test]
    fn starts_without_memory() {
        let q = queue(1 << 20);
        assert_eq!(q.allocated(), 0);
        assert!(q.is_empty());
        assert_eq!(q.capacity(), 1 << 20);
    }

    #[test]
    fn wraps_and_keeps_order() {
        let mut q = queue(1 << 20);
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
        let mut q = queue(64);
        q.push(b"hello").unwrap();
        q.push(b"partial").unwrap();
        q.truncate_back(7);
        assert_eq!(contents(&q), b"hello");
        q.truncate_back(100);
        assert!(q.is_empty());
    }

    #[test]
    fn refuses_what_does_not_fit_and_keeps_what_it_had() {
        let mut q = queue(10);
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
        let mut q = queue(cap);
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
        let mut q = queue(1 << 20);
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

    #[test]
    fn growth_past_the_first_allocation_draws_from_the_budget_and_goes_back() {
        let (mut q, account) = budgeted(1 << 20, 0);
        q.push(&[1; 100]).unwrap();
        assert_eq!(
            account.budget().used(),
            0,
            "the first allocation is counted at start"
        );
        q.push(&[1; 400 << 10]).unwrap();
        assert_eq!(account.budget().used(), q.allocated() - MIN_ALLOC);
        q.consume(q.len());
        assert_eq!((q.allocated(), account.budget().used()), (0, 0));
        q.push(&[1; 100 << 10]).unwrap();
        assert!(account.budget().used() > 0);
        drop(q);
        assert_eq!(
            account.budget().used(),
            0,
            "a queue dropped gives it all back"
        );
    }

    #[test]
    fn a_queue_the_budget_cannot_grow_is_full_and_keeps_what_it_holds() {
        let (mut q, account) = budgeted(10_000, 0);
        q.push(&[1; 9_000]).unwrap();
        assert!(
            !q.reserve(5_000),
            "no room: 14,000 would need more than the budget"
        );
        assert_eq!(q.push(&[2; 5_000]), Err(Full));
        assert_eq!(contents(&q), vec![1; 9_000]);
        assert!(
            q.reserve(q.allocated() - q.len()),
            "what it holds is still its own"
        );
        assert!(account.refused() > 0);
        q.consume(9_000);
        assert!(q.reserve(5_000), "drained, it has room again");
        q.push(&[2; 5_000]).unwrap();
        assert!(account.budget().used() <= 10_000);
    }

    #[test]
    fn an_empty_queue_takes_a_message_from_what_the_device_keeps_and_gives_it_back() {
        let (mut q, account) = budgeted(0, 100_000);
        assert!(!q.reserve(150_000), "more than is kept");
        assert!(q.reserve(80_000));
        q.push(&[3; 80_000]).unwrap();
        assert!(!q.reserve(80_000), "only an empty queue may");
        let mut other = HeapQueue::new(1 << 20, Charge::new(account.clone()));
        assert!(!other.reserve(80_000), "one message's room at a time");
        q.consume(80_000);
        assert_eq!(q.allocated(), 0, "kept room goes back as soon as it drains");
        assert!(other.reserve(80_000));
    }

    #[test]
    fn a_command_to_an_empty_queue_is_queued_when_the_budget_is_spent() {
        // A long SUBSCRIBE to a publisher whose queue is empty: not closed for want of memory.
        let (mut q, account) = budgeted(0, 100_000);
        q.push(&[4; 20_000]).unwrap();
        assert_eq!(account.budget().used(), 0);
        assert_eq!(
            q.push(&[4; 100_000]),
            Err(Full),
            "not empty: the budget alone"
        );
        assert!(account.refused() > 0);
        q.consume(20_000);
        assert_eq!(q.allocated(), 0, "the kept room goes back");
    }
}
