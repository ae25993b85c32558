//! Per-peer outbound byte queues: encoded ZMTP frames waiting for the socket.
//!
//! The device writes whole encoded frames into a peer's queue and the caller drains it to the
//! socket. Storage is behind [`ByteQueue`] so a board can use a fixed array ([`Ring`]) and a
//! hosted broker a buffer that only takes memory while it holds bytes; both enforce the same
//! limits, so behaviour does not depend on the choice.
//!
//! A queue may also hold [shared pieces](ByteQueue::Shared): bytes stored once that several
//! queues hold at the same time, so a large body fanned out to N subscribers costs its size
//! once, not N times. Whether a queue kind shares is its own choice ([`Ring`] copies); a
//! shared piece counts in each queue's [`len`](ByteQueue::len) like copied bytes, so the
//! limits are the same either way.

use core::convert::Infallible;

use crate::wire::Full;

/// A FIFO of bytes with a hard capacity.
pub trait ByteQueue {
    /// Bytes stored once and held by several queues: see [`ByteQueue::share`]. A kind that
    /// never shares names an uninhabited type (`core::convert::Infallible`).
    type Shared;

    /// Whether [`ByteQueue::share`] can ever make a piece. The device then gathers the bytes
    /// of a large message it fans out into pieces worth sharing before it passes them on.
    const SHARES: bool = false;

    /// Bytes queued, shared pieces included.
    fn len(&self) -> usize;

    /// Nothing is waiting for the socket.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Most bytes the queue can ever hold.
    fn capacity(&self) -> usize;

    /// Append all of `data`, or nothing.
    fn push(&mut self, data: &[u8]) -> Result<(), Full>;

    /// Make room for `n` more bytes, so that pushing up to `n` bytes cannot fail; false if
    /// there is none now. A queue whose memory is rationed may refuse below its capacity: the
    /// device then treats it as full.
    fn reserve(&mut self, n: usize) -> bool {
        self.capacity().saturating_sub(self.len()) >= n
    }

    /// [`ByteQueue::reserve`] for more of a message the queue has started taking, from a
    /// source that cannot let it go part-way (a streamer's or a queue's): a queue whose memory
    /// is rationed grants room it holds already, whatever it would say to a new message, so
    /// that a message given room for all of it when it was routed always ends.
    fn reserve_rest(&mut self, n: usize) -> bool {
        self.reserve(n)
    }

    /// Whether the caller's rationing counts this queue among the slowest (its peer has not
    /// kept up). When memory is spent and a forwarder's subscriber that does not lag finds no
    /// room, the subscribers whose queues lag are closed to give it back.
    fn lags(&self) -> bool {
        false
    }

    /// [`ByteQueue::reserve`] for a queue of which `own` bytes belong to one message alone
    /// (the one being cut through to it, or the last large one still being written): a queue
    /// whose memory is rationed does not count those as being behind. A subscriber that
    /// keeps up with messages larger than its share holds one whole while it writes it;
    /// counted behind for that, it was refused the rest of a 4 MiB message (and reset), then
    /// the messages after it, once the kernel no longer took most of it (`kernel_send_max`).
    fn reserve_beside(&mut self, n: usize, own: usize) -> bool {
        let _ = own;
        self.reserve(n)
    }

    /// [`ByteQueue::lags`] of a queue of which `own` bytes belong to one message alone, as
    /// [`ByteQueue::reserve_beside`] counts them.
    fn lags_beside(&self, own: usize) -> bool {
        let _ = own;
        self.lags()
    }

    /// Store `data` once, for this queue and others of its kind to hold with
    /// [`ByteQueue::push_shared`]. `None` when this kind of queue copies instead (or cannot
    /// take the memory now): the device then pushes copies.
    fn share(&self, data: &[u8]) -> Option<Self::Shared>;

    /// Whether this queue takes `piece` now, as [`ByteQueue::reserve`] is asked before a copy.
    /// A queue whose memory is rationed refuses a piece stored from the memory meant for the
    /// peers that keep up while it lags ([`ByteQueue::lags`]), as it would refuse a copy: the
    /// device lets the message go for it.
    fn reserve_shared(&mut self, _piece: &Self::Shared) -> bool {
        true
    }

    /// [`ByteQueue::reserve_shared`] for a queue of which `own` bytes belong to one message
    /// alone, as [`ByteQueue::reserve_beside`] counts them: a subscriber that keeps up holds
    /// the start of the large message whose pieces it is taking. Counted behind for it, it was
    /// refused a piece of that message and reset, while subscribers that read in bursts, each
    /// holding one whole message, were not behind (attacker round 17, F1).
    fn reserve_shared_beside(&mut self, piece: &Self::Shared, own: usize) -> bool {
        let _ = own;
        self.reserve_shared(piece)
    }

    /// The bytes of a shared piece (a forwarder's last-value cache keeps whole messages as
    /// pieces, and matches subscriptions on them).
    fn piece_bytes(piece: &Self::Shared) -> &[u8];

    /// Append a shared piece, all of it or nothing. It counts in [`ByteQueue::len`] and
    /// against the capacity for its whole length, as copied bytes do.
    fn push_shared(&mut self, piece: &Self::Shared) -> Result<(), Full>;

    /// The oldest queued bytes, in order, as up to two slices: all of them in a ring (which
    /// wraps), maybe only the first in a queue holding shared pieces (each piece is a slice
    /// of its own). Both are empty only when the queue is.
    fn front(&self) -> (&[u8], &[u8]);

    /// Drop the `n` oldest bytes (they were written to the socket).
    fn consume(&mut self, n: usize);

    /// Drop the `n` newest bytes (a message that will never be completed).
    fn truncate_back(&mut self, n: usize);

    /// Whether the queue can hold messages back ([`ByteQueue::push_later`]) while another
    /// message is still going into it. A forwarder's subscriber taking a message cut through
    /// from one publisher then gets the other publishers' messages after it, instead of
    /// making them wait for it.
    const DEFERS: bool = false;

    /// Make room to hold `n` more bytes back, so that [`ByteQueue::push_later`] of up to `n`
    /// bytes cannot fail; false if there is none (always, in a queue that does not defer).
    fn reserve_later(&mut self, n: usize) -> bool {
        n == 0
    }

    /// Hold `data` back until [`ByteQueue::release_later`], after a
    /// [`ByteQueue::reserve_later`] that covers it. Held-back bytes are neither in
    /// [`ByteQueue::len`] nor in [`ByteQueue::front`].
    fn push_later(&mut self, data: &[u8]) {
        let _ = data;
    }

    /// Bytes held back.
    fn later_len(&self) -> usize {
        0
    }

    /// Append what was held back to the queue, in order: how many bytes. They go in even past
    /// the capacity (by at most what [`ByteQueue::reserve_later`] let in).
    fn release_later(&mut self) -> usize {
        0
    }

    /// Memory is short: an empty queue lets go of what it keeps for the next message (a
    /// fixed queue has nothing to let go of).
    fn release_idle(&mut self) {}
}

/// A fixed ring of `N` bytes.
#[derive(Debug)]
pub struct Ring<const N: usize> {
    buf: [u8; N],
    head: usize,
    len: usize,
}

impl<const N: usize> Ring<N> {
    /// An empty ring; `const`, so it can initialise a `static`.
    pub const fn new() -> Self {
        Ring {
            buf: [0; N],
            head: 0,
            len: 0,
        }
    }
}

impl<const N: usize> Default for Ring<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ByteQueue for Ring<N> {
    /// A ring copies: its bytes are its own.
    type Shared = Infallible;

    fn len(&self) -> usize {
        self.len
    }

    fn capacity(&self) -> usize {
        N
    }

    fn push(&mut self, data: &[u8]) -> Result<(), Full> {
        if N - self.len < data.len() {
            return Err(Full);
        }
        let tail = (self.head + self.len) % N.max(1);
        let first = data.len().min(N - tail);
        self.buf[tail..tail + first].copy_from_slice(&data[..first]);
        self.buf[..data.len() - first].copy_from_slice(&data[first..]);
        self.len += data.len();
        Ok(())
    }

    fn share(&self, _: &[u8]) -> Option<Infallible> {
        None
    }

    fn piece_bytes(piece: &Infallible) -> &[u8] {
        match *piece {}
    }

    fn push_shared(&mut self, piece: &Infallible) -> Result<(), Full> {
        match *piece {}
    }

    fn front(&self) -> (&[u8], &[u8]) {
        let first = self.len.min(N - self.head);
        (
            &self.buf[self.head..self.head + first],
            &self.buf[..self.len - first],
        )
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.head = (self.head + n) % N.max(1);
        self.len -= n;
        if self.len == 0 {
            self.head = 0;
        }
    }

    fn truncate_back(&mut self, n: usize) {
        self.len -= n.min(self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn drain<Q: ByteQueue>(q: &mut Q) -> Vec<u8> {
        let (a, b) = q.front();
        let out = [a, b].concat();
        q.consume(out.len());
        out
    }

    #[test]
    fn ring_wraps_and_refuses_what_does_not_fit() {
        let mut q = Ring::<8>::new();
        q.push(b"abcdef").unwrap();
        q.consume(4);
        q.push(b"ghijkl").unwrap();
        assert_eq!(q.push(b"x"), Err(Full));
        assert_eq!(q.front(), (&b"efgh"[..], &b"ijkl"[..]));
        q.truncate_back(2);
        assert_eq!(drain(&mut q), b"efghij");
        assert!(q.is_empty());
    }

    #[test]
    fn a_ring_copies_instead_of_sharing() {
        let q = Ring::<8>::new();
        const { assert!(!<Ring<8> as ByteQueue>::SHARES) };
        assert!(q.share(b"abc").is_none());
    }
}
