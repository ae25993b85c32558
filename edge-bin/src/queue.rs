//! A peer's outbound queue on the heap, holding memory only while it holds bytes.
//!
//! The device bounds every queue by [`DeviceConfig::queue_capacity`], which is the high-water
//! mark plus a whole maximum-size message: megabytes. A fixed ring of that size per peer would
//! make 10,000 idle peers cost gigabytes, so this queue grows geometrically up to its hard
//! capacity as bytes arrive and gives a large buffer back once it drains. `VecDeque` supplies
//! the ring (two slices out, `memcpy` in, no zero-filling on growth); this type adds the hard
//! capacity and the growth and release policy.
//!
//! Large bodies fanned out to several peers are not copied in: the device stores such a piece
//! once ([`ByteQueue::share`], an `Arc<[u8]>`) and each queue holds a reference to it, in
//! order between its copied bytes. A piece is freed when the last queue holding it has
//! written it (or taken it back). It counts in [`ByteQueue::len`] like copied bytes, so the
//! high-water mark and the capacity mean the same either way. A queue holding no pieces works
//! as it did before there were any: one check more per call. Its list of pieces is boxed,
//! allocated with the first piece and kept for the next ones while it is small.
//!
//! A device and its queues live on one thread, but the peer table (empty slots of this type)
//! is allocated on the main thread and moved to the device's, so the queue must be `Send`:
//! hence `Arc`, not `Rc`. Its counts are touched once per piece and queue (a few KiB at
//! least, see [`SHARE_MIN`](zedge_core::device::SHARE_MIN)), never per small message.
//!
//! [`DeviceConfig::queue_capacity`]: zedge_core::device::DeviceConfig::queue_capacity

use std::collections::{vec_deque, VecDeque};
use std::sync::Arc;

use zedge_core::device::ByteQueue;
use zedge_core::wire::Full;

/// First allocation: a greeting plus READY fit, and idle peers stay cheap.
const MIN_ALLOC: usize = 512;

/// An empty queue keeps a buffer up to this size and frees anything larger. Steady traffic of
/// messages up to about 100 KiB then reuses one buffer instead of allocating (and faulting in
/// fresh pages) for every message; a peer that never receives still allocates nothing, and
/// one that received a burst holds at most this much once drained.
const KEEP_WHEN_EMPTY: usize = 256 << 10;

/// A queue whose pieces are all written keeps their list for the next ones if it has room for
/// this many (about 700 bytes), and frees a larger one: steady fan-out of large messages then
/// allocates nothing but the pieces themselves.
const KEEP_PIECES: usize = 16;

#[derive(Debug)]
pub struct HeapQueue {
    /// The bytes copied in, in order; the pieces sit between them.
    buf: VecDeque<u8>,
    /// What `buf` may hold: the capacity less what the pieces hold.
    copy_room: usize,
    /// Bytes the pieces hold.
    shared: usize,
    /// The shared pieces, once there have been any (none while `shared` is 0): boxed, so
    /// that a queue that never holds one (every queue of a queue or streamer) is a word larger
    /// than one that could not share, and its copied bytes take the path they took before.
    pieces: Option<Box<Pieces>>,
}

/// A queue's shared pieces, oldest first.
#[derive(Debug, Default)]
struct Pieces {
    list: VecDeque<Piece>,
    /// Bytes of `buf` ahead of the newest piece: the sum of their gaps.
    ahead_of_last: usize,
}

/// A shared piece in a queue: `data[start..end]` is queued, after `gap` bytes of the queue's
/// copied bytes that come after the piece ahead of it (or from the front).
#[derive(Debug)]
struct Piece {
    gap: usize,
    data: Arc<[u8]>,
    start: usize,
    end: usize,
}

impl Piece {
    fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }
}

impl HeapQueue {
    /// An empty queue that will never hold more than `capacity` bytes. Allocates nothing.
    pub fn new(capacity: usize) -> Self {
        HeapQueue {
            buf: VecDeque::new(),
            copy_room: capacity,
            shared: 0,
            pieces: None,
        }
    }

    /// Bytes of heap the queue holds now, whatever its length (the pieces it shares not
    /// counted).
    #[cfg(test)]
    pub fn allocated(&self) -> usize {
        self.buf.capacity()
    }

    /// Everything queued, oldest first, as contiguous slices: the copied bytes in up to two
    /// slices between pieces, each piece in one. None is empty.
    pub fn slices(&self) -> Slices<'_> {
        let (a, b) = self.buf.as_slices();
        let mut pieces = self.pieces.as_deref().map(|p| p.list.iter());
        let next = pieces.as_mut().and_then(Iterator::next);
        Slices {
            copied: [a, b],
            gap: next.map_or(usize::MAX, |p| p.gap),
            next,
            pieces,
        }
    }

    /// Whether the queue holds shared pieces (then [`ByteQueue::front`] may not show all of
    /// it).
    pub fn has_pieces(&self) -> bool {
        self.shared != 0
    }

    fn release_if_drained(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > KEEP_WHEN_EMPTY {
            self.buf = VecDeque::new();
        }
        let spent = |p: &Pieces| p.list.is_empty() && p.list.capacity() > KEEP_PIECES;
        if self.pieces.as_deref().is_some_and(spent) {
            self.pieces = None;
        }
    }

    /// `n` bytes of the pieces were written or taken back.
    fn unshare(&mut self, n: usize) {
        self.shared -= n;
        self.copy_room += n;
    }

    #[cold]
    fn front_with_pieces(&self) -> (&[u8], &[u8]) {
        let mut all = self.slices();
        let first = all.next().unwrap_or_default();
        (first, all.next().unwrap_or_default())
    }

    #[cold]
    fn consume_with_pieces(&mut self, mut n: usize) {
        while let Some(p) = self.pieces.as_deref_mut().filter(|_| n > 0) {
            let Some(first) = p.list.front_mut() else {
                break;
            };
            if first.gap > 0 {
                let k = n.min(first.gap);
                first.gap -= k;
                p.ahead_of_last -= k;
                self.buf.drain(..k);
                n -= k;
                continue;
            }
            let k = n.min(first.end - first.start);
            first.start += k;
            n -= k;
            if first.start == first.end {
                p.list.pop_front();
            }
            self.unshare(k);
        }
        // The copied bytes after the last piece.
        self.buf.drain(..n.min(self.buf.len()));
        self.release_if_drained();
    }

    #[cold]
    fn truncate_with_pieces(&mut self, mut n: usize) {
        while let Some(p) = self.pieces.as_deref_mut().filter(|_| n > 0) {
            let behind_last = self.buf.len() - p.ahead_of_last;
            if behind_last > 0 {
                let k = n.min(behind_last);
                self.buf.truncate(self.buf.len() - k);
                n -= k;
                continue;
            }
            let Some(last) = p.list.back_mut() else {
                break;
            };
            let k = n.min(last.end - last.start);
            last.end -= k;
            n -= k;
            if last.start == last.end {
                p.ahead_of_last -= last.gap;
                p.list.pop_back();
            }
            self.unshare(k);
        }
        // With no piece left, all of `buf` is behind the last one there was.
        let keep = self.buf.len().saturating_sub(n);
        self.buf.truncate(keep);
        self.release_if_drained();
    }
}

impl ByteQueue for HeapQueue {
    type Shared = Arc<[u8]>;
    const SHARES: bool = true;

    fn len(&self) -> usize {
        self.buf.len() + self.shared
    }

    fn capacity(&self) -> usize {
        self.copy_room + self.shared
    }

    fn push(&mut self, data: &[u8]) -> Result<(), Full> {
        let len = self.buf.len();
        if self.copy_room - len < data.len() {
            return Err(Full);
        }
        let need = len + data.len();
        if need > self.buf.capacity() {
            // Double, but never allocate past the hard capacity.
            let target = need
                .max(self.buf.capacity().saturating_mul(2))
                .max(MIN_ALLOC)
                .min(self.copy_room);
            self.buf.reserve_exact(target - len);
        }
        self.buf.extend(data);
        Ok(())
    }

    fn share(&self, data: &[u8]) -> Option<Arc<[u8]>> {
        Some(Arc::from(data))
    }

    fn push_shared(&mut self, piece: &Arc<[u8]>) -> Result<(), Full> {
        if self.copy_room - self.buf.len() < piece.len() {
            return Err(Full);
        }
        if piece.is_empty() {
            return Ok(());
        }
        let len = self.buf.len();
        let p = self.pieces.get_or_insert_with(Box::default);
        p.list.push_back(Piece {
            gap: len - p.ahead_of_last,
            data: piece.clone(),
            start: 0,
            end: piece.len(),
        });
        p.ahead_of_last = len;
        self.shared += piece.len();
        self.copy_room -= piece.len();
        Ok(())
    }

    fn front(&self) -> (&[u8], &[u8]) {
        if self.shared != 0 {
            return self.front_with_pieces();
        }
        self.buf.as_slices()
    }

    fn consume(&mut self, n: usize) {
        if self.shared != 0 {
            return self.consume_with_pieces(n.min(self.len()));
        }
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
        self.release_if_drained();
    }

    fn truncate_back(&mut self, n: usize) {
        if self.shared != 0 {
            return self.truncate_with_pieces(n.min(self.len()));
        }
        let keep = self.buf.len().saturating_sub(n);
        self.buf.truncate(keep);
        self.release_if_drained();
    }
}

/// [`HeapQueue::slices`].
#[derive(Clone, Debug)]
pub struct Slices<'a> {
    /// The copied bytes not yet shown, as the ring's two slices.
    copied: [&'a [u8]; 2],
    /// Copied bytes to show before `next` (all that are left after the last piece).
    gap: usize,
    next: Option<&'a Piece>,
    pieces: Option<vec_deque::Iter<'a, Piece>>,
}

impl<'a> Iterator for Slices<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.gap > 0 {
            let from = self.copied.iter_mut().find(|s| !s.is_empty());
            if let Some(from) = from {
                let (run, rest) = from.split_at(self.gap.min(from.len()));
                *from = rest;
                self.gap -= run.len();
                return Some(run);
            }
        }
        let piece = self.next.take()?;
        self.next = self.pieces.as_mut().and_then(Iterator::next);
        self.gap = self.next.map_or(usize::MAX, |p| p.gap);
        Some(piece.bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(q: &HeapQueue) -> Vec<u8> {
        let (a, b) = q.front();
        [a, b].concat()
    }

    fn all(q: &HeapQueue) -> Vec<u8> {
        q.slices().collect::<Vec<_>>().concat()
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

    /// Copied bytes and pieces in turn, the ring wrapped under them: heads `h`, bodies shared.
    fn mixed() -> (HeapQueue, Vec<u8>, Arc<[u8]>) {
        let mut q = HeapQueue::new(1 << 20);
        q.push(&[b'x'; 300]).unwrap();
        q.consume(290);
        let body: Arc<[u8]> = (0..5_000).map(|i| i as u8).collect::<Vec<u8>>().into();
        let mut want = vec![b'x'; 10];
        for head in [&b"h1"[..], b"h2", b""] {
            q.push(head).unwrap();
            q.push_shared(&body).unwrap();
            want.extend_from_slice(head);
            want.extend_from_slice(&body);
        }
        q.push(&[b't'; 500]).unwrap();
        want.extend_from_slice(&[b't'; 500]);
        (q, want, body)
    }

    #[test]
    fn pieces_come_out_in_order_and_count_in_the_length() {
        let (q, want, body) = mixed();
        assert_eq!(q.len(), want.len());
        assert_eq!(all(&q), want);
        assert!(q.slices().all(|s| !s.is_empty()));
        assert_eq!(Arc::strong_count(&body), 4, "held three times, not copied");
        // The front is the first bytes, then the first piece: a head and its body in one
        // write.
        let (a, b) = q.front();
        assert_eq!([a, b].concat(), want[..12 + 5_000]);
    }

    #[test]
    fn consume_goes_across_pieces_whatever_the_steps() {
        for step in [1, 7, 12, 999, 5_002, 20_000] {
            let (mut q, want, body) = mixed();
            let mut out = Vec::new();
            while !q.is_empty() {
                let (a, b) = q.front();
                assert!(!a.is_empty(), "an empty front with {} queued", q.len());
                let front = [a, b].concat();
                let n = step.min(front.len());
                out.extend_from_slice(&front[..n]);
                q.consume(n);
                assert_eq!(q.len(), want.len() - out.len());
                assert_eq!(all(&q), want[out.len()..], "step {step}");
            }
            assert_eq!(out, want, "step {step}");
            assert_eq!(Arc::strong_count(&body), 1, "let go once written");
            assert!(!q.has_pieces());
            q.push(b"more").unwrap();
            assert_eq!(contents(&q), b"more");
        }
    }

    #[test]
    fn truncate_back_goes_across_pieces() {
        let (_, want, _) = mixed();
        let total = want.len();
        for n in [
            1,
            500,
            501,
            3_000,
            5_500,
            5_502,
            10_502,
            total - 10,
            total,
            total + 5,
        ] {
            let (mut q, _, body) = mixed();
            q.truncate_back(n);
            let left = total.saturating_sub(n);
            assert_eq!(q.len(), left);
            assert_eq!(all(&q), want[..left], "truncated {n}");
            // What comes after lands after what is left.
            q.push(b"next").unwrap();
            q.push_shared(&body).unwrap();
            let mut after = want[..left].to_vec();
            after.extend_from_slice(b"next");
            after.extend_from_slice(&body);
            assert_eq!(all(&q), after, "truncated {n}");
            q.consume(q.len());
            assert!(q.is_empty());
        }
    }

    #[test]
    fn pieces_obey_the_capacity() {
        let mut q = HeapQueue::new(10_000);
        let body: Arc<[u8]> = vec![1; 6_000].into();
        q.push(&[0; 3_000]).unwrap();
        q.push_shared(&body).unwrap();
        assert_eq!(q.len(), 9_000);
        assert_eq!(q.push_shared(&body), Err(Full));
        assert_eq!(q.push(&[0; 1_001]), Err(Full));
        q.push(&[0; 1_000]).unwrap();
        assert_eq!(q.len(), q.capacity());
        assert_eq!(
            Arc::strong_count(&body),
            2,
            "the refused push holds nothing"
        );
    }
}
