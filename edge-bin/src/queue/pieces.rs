//! The shared pieces a [`HeapQueue`] holds between its copied bytes: where each sits, and
//! writing, consuming and taking back across them.

use std::collections::{vec_deque, VecDeque};
use std::sync::Arc;

use super::HeapQueue;
use crate::budget::Charge;

/// A queue whose pieces are all written keeps their list for the next ones if it has room for
/// this many (about 700 bytes), and frees a larger one: steady fan-out of large messages then
/// allocates nothing but the pieces themselves.
const KEEP_PIECES: usize = 16;

/// Bytes stored once for several queues ([`ByteQueue::share`](zedge_core::device::ByteQueue)),
/// charged to the memory budget once, for as long as a queue holds them.
#[derive(Debug)]
pub struct Stored {
    bytes: Box<[u8]>,
    /// Stored beyond the share of buffers that wait on a peer.
    spare: bool,
    _charge: Charge,
}

impl Stored {
    /// `data` stored, charged to `charge` (its length and what the allocator and the
    /// reference counts take beside it); `None` if the budget does not have that.
    pub fn new(data: &[u8], mut charge: Charge) -> Option<Stored> {
        // Pieces are held by the slowest subscribers longest: they take from the share that
        // buffers which wait on a peer may hold first. Beyond it, from the rest of the budget,
        // the one for the subscribers that keep up: such a piece goes only to queues that do
        // not lag (`HeapQueue::reserve_shared`), as a copy would. A copy instead costs that rest
        // once per subscriber: a forwarder with a spent share copied each 60 KB message to
        // 48 CURVE subscribers, their queues held the budget with copies, the publishers
        // waited for memory to read, and a flow to one subscriber beside them lost 97 % of
        // its messages at its publisher (attacker round 14, F2).
        let n = data.len().saturating_add(STORED_EXTRA);
        let spare = if charge.grow_behind_to(n) {
            false
        } else if charge.grow_to(n) {
            true
        } else {
            return None;
        };
        Some(Stored {
            bytes: data.into(),
            spare,
            _charge: charge,
        })
    }

    /// Whether it was stored from the budget's rest, beyond the share of buffers that wait
    /// on a peer ([`Stored::new`]).
    pub fn is_spare(&self) -> bool {
        self.spare
    }
}

impl std::ops::Deref for Stored {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// What a stored piece takes beside its bytes: the `Arc`'s counts, the `Stored` and the
/// allocator's headers of both allocations.
const STORED_EXTRA: usize = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<Stored>() + 32;

/// A queue's shared pieces, oldest first.
#[derive(Debug)]
pub(super) struct Pieces {
    list: VecDeque<Piece>,
    /// Bytes of `buf` ahead of the newest piece: the sum of their gaps.
    ahead_of_last: usize,
    /// What the list takes of the budget (each piece's entry, as it grows).
    charge: Charge,
}

impl Pieces {
    pub(super) fn new(charge: Charge) -> Pieces {
        Pieces {
            list: VecDeque::new(),
            ahead_of_last: 0,
            charge,
        }
    }

    /// `data` goes after the `copied` bytes the queue holds now. The entry is here to stay
    /// (the device asked for room before it pushed): its memory is counted, whatever the
    /// budget says.
    pub(super) fn push(&mut self, copied: usize, data: Arc<Stored>) {
        let end = data.len();
        let before = self.list.capacity();
        self.list.push_back(Piece {
            gap: copied - self.ahead_of_last,
            data,
            start: 0,
            end,
        });
        self.ahead_of_last = copied;
        if self.list.capacity() != before {
            let bytes = self.list.capacity() * std::mem::size_of::<Piece>();
            self.charge.force_to(bytes + std::mem::size_of::<Pieces>());
        }
    }
}

/// Frees a list of pieces that is empty and larger than [`KEEP_PIECES`].
pub(super) fn release_if_spent(pieces: &mut Option<Box<Pieces>>) {
    let spent = |p: &Pieces| p.list.is_empty() && p.list.capacity() > KEEP_PIECES;
    if pieces.as_deref().is_some_and(spent) {
        *pieces = None;
    }
}

/// A shared piece in a queue: `data[start..end]` is queued, after `gap` bytes of the queue's
/// copied bytes that come after the piece ahead of it (or from the front).
#[derive(Debug)]
struct Piece {
    gap: usize,
    data: Arc<Stored>,
    start: usize,
    end: usize,
}

impl Piece {
    fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }
}

impl HeapQueue {
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

    #[cold]
    pub(super) fn front_with_pieces(&self) -> (&[u8], &[u8]) {
        let mut all = self.slices();
        let first = all.next().unwrap_or_default();
        (first, all.next().unwrap_or_default())
    }

    #[cold]
    pub(super) fn consume_with_pieces(&mut self, mut n: usize) {
        while let Some(p) = self.pieces.as_deref_mut().filter(|_| n > 0) {
            let Some(first) = p.list.front_mut() else {
                break;
            };
            if first.gap > 0 {
                let k = n.min(first.gap);
                first.gap -= k;
                p.ahead_of_last -= k;
                self.buf.consume(k);
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
        self.buf.consume(n);
        self.release_if_drained();
    }

    #[cold]
    pub(super) fn truncate_with_pieces(&mut self, mut n: usize) {
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
