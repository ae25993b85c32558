//! A peer's outbound queue on the heap, holding memory only while it holds bytes.
//!
//! The device bounds every queue by [`DeviceConfig::queue_capacity`], which is the high-water
//! mark plus a whole maximum-size message: megabytes. A fixed ring of that size per peer would
//! make 10,000 idle peers cost gigabytes, so this queue grows geometrically up to its hard
//! capacity as bytes arrive and gives a large buffer back once it drains. [`ByteRing`]
//! (`ring.rs`) supplies the ring (two slices out, `memcpy` in); this type adds the hard
//! capacity and the growth and release policy.
//!
//! Growth past the first allocation (counted at start for every connection) draws from the
//! process's memory budget through the queue's [`Charge`]; a growth the budget refuses makes
//! the queue full for now ([`ByteQueue::reserve`] says no, a push is refused). An empty queue
//! may take a whole message's room (or a command's) from what its device keeps, and gives it
//! back as soon as it drains.
//!
//! Large bodies fanned out to several peers are not copied in: the device stores such a piece
//! once ([`ByteQueue::share`], a [`Stored`] behind an `Arc`) and each queue holds a reference
//! to it, in order between its copied bytes (`pieces.rs`). A piece is charged to the budget
//! once, when it is stored, and given back when the last queue holding it has written it (or
//! taken it back); a piece the budget refuses is not made, and the device copies instead. It
//! counts in [`ByteQueue::len`] like copied bytes, so the high-water mark and the capacity mean
//! the same either way. A queue holding no pieces works as it did before there were any: one
//! check more per call.
//!
//! A device and its queues live on one thread, but the peer table (empty slots of this type)
//! is allocated on the main thread and moved to the device's, so the queue must be `Send`:
//! hence `Arc`, not `Rc`. Its counts are touched once per piece and queue (a few KiB at
//! least, see [`SHARE_MIN`](zedge_core::device::SHARE_MIN)), never per small message.
//!
//! [`DeviceConfig::queue_capacity`]: zedge_core::device::DeviceConfig::queue_capacity

mod pieces;
mod ring;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use zedge_core::device::ByteQueue;
use zedge_core::wire::Full;

use crate::budget::{Charge, BEHIND_AFTER_MS};
use pieces::Pieces;
pub use pieces::Stored;
use ring::ByteRing;

/// A queue holding this part of the budget or more is behind, however recently it was empty:
/// its peer reads less than comes. A subscriber that keeps up holds a message or two, which
/// may be large (a 640 KiB message beside 16 MiB of `memory_max` is about a part in 18).
const BEHIND_PART: usize = 8;

/// While the budget is tight (buffers that are behind hold their whole share), a queue that
/// is not behind grows by no more than this part of the budget at a time, or what its next
/// message needs: the last quarter is for the peers that keep up, and a queue that has
/// started to lag but is not behind yet (it has held bytes for less than [`BEHIND_AFTER_MS`])
/// takes of it what it holds, not twice that. Doubling, the stalled and the slow subscriber
/// of a tight forwarder took the whole last quarter in the second before they were behind,
/// and kept it: a CURVE publisher of 64 KB messages beside 120 senders part-way through
/// frames (which held the rest) then waited for memory for good
/// (`curve_flows_of_1_kb_and_64_kb_get_through_beside_120_partial_frame_holders`, one run
/// in ten). Being behind is not told by this part: a subscriber that keeps up with large
/// messages holds one whole while it writes it, and the next comes.
const BEHIND_PART_TIGHT: usize = 32;

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
    /// The bytes copied in, in order; the pieces sit between them.
    buf: ByteRing,
    /// What `buf` may hold: the capacity less what the pieces hold.
    copy_room: usize,
    /// Bytes the pieces hold.
    shared: usize,
    /// The shared pieces, once there have been any (none while `shared` is 0): boxed, so
    /// that a queue that never holds one (every queue of a queue or streamer) is a word larger
    /// than one that could not share, and its copied bytes take the path they took before.
    pieces: Option<Box<Pieces>>,
    /// What `buf` holds past [`MIN_ALLOC`].
    charge: Charge,
    /// Messages held back until the one going in now is all in
    /// ([`ByteQueue::push_later`]); allocated with the first.
    later: Option<Box<Later>>,
    /// When it last took a byte while empty, by its device's coarse clock
    /// ([`Account::now_ms`]): while it holds any, its peer has owed them since.
    ///
    /// [`Account::now_ms`]: crate::budget::Account::now_ms
    filled_at: u64,
    /// For a peer with a CURVE layer, which seals what the queue gives it into a buffer of
    /// its own: since when (its device's clock + 1; 0: not) that buffer has held bytes its
    /// peer takes none of ([`Secure::report_owed`](crate::secure::Secure::report_owed)).
    downstream: Option<Arc<AtomicU64>>,
}

/// Bytes held back, and what they hold of the budget.
#[derive(Debug)]
struct Later {
    bytes: Vec<u8>,
    charge: Charge,
}

impl HeapQueue {
    /// An empty queue that will never hold more than `capacity` bytes, growing with what
    /// `charge` grants. Allocates nothing.
    pub fn new(capacity: usize, charge: Charge) -> Self {
        HeapQueue {
            buf: ByteRing::new(),
            copy_room: capacity,
            shared: 0,
            pieces: None,
            later: None,
            filled_at: charge.account().now_ms(),
            charge,
            downstream: None,
        }
    }

    /// The queue of a peer whose output goes through a layer that holds some of it
    /// (`owed`, see [`HeapQueue::downstream`]): the queue is behind while that layer has
    /// been, as if it held those bytes itself.
    pub fn with_downstream(mut self, owed: Arc<AtomicU64>) -> Self {
        self.downstream = Some(owed);
        self
    }

    /// Bytes of heap the queue holds now, whatever its length (the pieces it shares not
    /// counted).
    #[cfg(test)]
    pub fn allocated(&self) -> usize {
        self.buf.capacity()
    }

    /// The whole messages held back behind the one going in now ([`ByteQueue::push_later`]),
    /// as they will be queued: a caller whose peer left before that one ended takes them.
    pub fn held_back(&self) -> &[u8] {
        self.later.as_ref().map_or(&[], |l| &l.bytes)
    }

    /// Whether the queue holds shared pieces (then [`ByteQueue::front`] may not show all of
    /// it).
    pub fn has_pieces(&self) -> bool {
        self.shared != 0
    }

    /// Whether it holds a [`BEHIND_PART`] of the budget or more, or its peer has not emptied it for
    /// [`BEHIND_AFTER_MS`]: it is among the slowest, and when the budget is tight it is
    /// refused first.
    fn is_behind(&self) -> bool {
        self.is_behind_beside(0)
    }

    /// [`HeapQueue::is_behind`], `own` bytes of it (one message's, [`ByteQueue::lags_beside`])
    /// not counted for its length.
    fn is_behind_beside(&self, own: usize) -> bool {
        let len = self.len();
        let now = self.charge.account().now_ms();
        len.saturating_sub(own) >= self.charge.account().budget().total() / BEHIND_PART
            || (len > 0 && now.saturating_sub(self.filled_at) >= BEHIND_AFTER_MS)
            || self.downstream_behind(now)
    }

    /// Its peer's CURVE layer has held output the peer has not read for [`BEHIND_AFTER_MS`]:
    /// the queue drains into that layer's buffer, so it is empty while its peer reads
    /// nothing. Counted as behind, a subscriber that never reads is closed for a keeper as
    /// one whose queue holds its bytes is; before, 100 such CURVE subscribers held 64 KiB
    /// each in sealed output, their queues empty and never behind, and a subscriber that
    /// kept up got half of its messages (attacker round 15, F1).
    #[cold]
    fn downstream_behind(&self, now: u64) -> bool {
        self.downstream.as_ref().is_some_and(|d| {
            let since = d.load(Relaxed);
            since != 0 && now.saturating_sub(since - 1) >= BEHIND_AFTER_MS
        })
    }

    /// Bytes go into the queue: if it was empty, its peer owes nothing older than now. When it
    /// counted from the queue's last drain instead, one that sat empty for a second was behind
    /// from the first byte of its next message (attacker round 6: a subscriber of a quiet
    /// topic, reading at full speed, lost messages 2 and 3 of each burst, and subscribers of a
    /// large message every 2 s got none under a tight budget).
    #[inline]
    fn filling(&mut self) {
        if self.is_empty() {
            self.filled_at = self.charge.account().now_ms();
        }
    }

    fn release_if_drained(&mut self) {
        let large = self.buf.capacity() > KEEP_WHEN_EMPTY || self.charge.holds_kept();
        if self.buf.is_empty() && large {
            self.buf = ByteRing::new();
            self.charge.shrink_to(0);
        }
        pieces::release_if_spent(&mut self.pieces);
    }

    /// `n` bytes of the pieces were written or taken back.
    fn unshare(&mut self, n: usize) {
        self.shared -= n;
        self.copy_room += n;
    }

    /// [`ByteQueue::reserve_beside`] when the budget is tight or the queue must grow. A queue
    /// behind (`own` bytes of one message not counted for its length) while the budget is
    /// tight takes nothing more, even into room it holds: what it would pin (shared pieces,
    /// its buffer) is for those that keep up.
    #[cold]
    #[inline(never)]
    fn reserve_slow(&mut self, n: usize, own: usize) -> bool {
        let behind = self.is_behind_beside(own);
        if behind && self.charge.account().budget().is_tight() {
            self.charge.refused();
            return false;
        }
        let len = self.buf.len();
        n <= self.buf.capacity() - len
            || (n <= self.copy_room.saturating_sub(len) && self.grow(len + n, behind))
    }

    /// [`ByteQueue::release_later`] when something was held back.
    #[cold]
    #[inline(never)]
    fn release_later_slow(&mut self) -> usize {
        let Some(later) = self.later.take() else {
            return 0;
        };
        let n = later.bytes.len();
        if n > 0 {
            self.filling();
            // They are here already: the queue's own charge takes them over, before the
            // charge that held them goes back with `later`.
            self.buf.reserve_exact(n);
            self.charge
                .force_to(self.buf.capacity().saturating_sub(MIN_ALLOC));
            self.buf.extend_from_slice(&later.bytes);
        }
        n
    }

    /// Grow to hold `need` bytes: double, but never past the hard capacity nor what the
    /// budget grants (nor, while it is tight, past [`BEHIND_PART_TIGHT`] of it); when it
    /// grants no more than `need`, that; an empty queue takes `need` from what its device
    /// keeps. False if none of that is there. A queue `behind` grows only into the share of
    /// the budget for those behind. Off the message path: a queue grows by doubling, rarely.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, need: usize, behind: bool) -> bool {
        let mut doubled = need
            .max(self.buf.capacity().saturating_mul(2))
            .max(MIN_ALLOC)
            .min(self.copy_room);
        let budget = self.charge.account().budget();
        if budget.is_tight() {
            doubled = doubled.min(need.max(budget.total() / BEHIND_PART_TIGHT));
        }
        let charged = |n: usize| n.saturating_sub(MIN_ALLOC);
        let grow = |charge: &mut Charge, n: usize| {
            if behind {
                charge.grow_behind_to(n)
            } else {
                charge.grow_to(n)
            }
        };
        let target = if grow(&mut self.charge, charged(doubled)) {
            doubled
        } else if grow(&mut self.charge, charged(need))
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
    type Shared = Arc<Stored>;
    const SHARES: bool = true;
    const DEFERS: bool = true;

    fn len(&self) -> usize {
        self.buf.len() + self.shared
    }

    fn capacity(&self) -> usize {
        self.copy_room + self.shared
    }

    // Always inlined: out of line, its call cost a forwarder 17 instructions per message and
    // subscriber (tools/bench-callgrind forwarder).
    #[inline(always)]
    fn push(&mut self, data: &[u8]) -> Result<(), Full> {
        self.filling();
        let len = self.buf.len();
        // Bytes held back and let in may have taken it past its capacity for a while.
        if self.copy_room.saturating_sub(len) < data.len() {
            return Err(Full);
        }
        let need = len + data.len();
        if need > self.buf.capacity() && !self.grow(need, self.is_behind()) {
            return Err(Full);
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    #[inline]
    fn reserve(&mut self, n: usize) -> bool {
        self.reserve_beside(n, 0)
    }

    fn reserve_rest(&mut self, n: usize) -> bool {
        // Room it holds costs the budget nothing more: a queue behind while the budget is
        // tight is refused only growth here. Refused the rest of a message, a streamer's
        // producer waited for it mid-message for good, and no other worker got anything
        // (tests/tests/attack_budget.rs a_streamer_with_a_stalled_worker_...).
        n <= self.buf.capacity() - self.buf.len() || self.reserve_slow(n, 0)
    }

    fn lags(&self) -> bool {
        self.is_behind()
    }

    #[inline]
    fn reserve_beside(&mut self, n: usize, own: usize) -> bool {
        // Room in what it holds (never more than its capacity), the budget not tight, is the
        // message path's case.
        let len = self.buf.len();
        if n <= self.buf.capacity() - len && !self.charge.account().budget().is_tight() {
            return true;
        }
        self.reserve_slow(n, own)
    }

    fn lags_beside(&self, own: usize) -> bool {
        self.is_behind_beside(own)
    }

    fn share(&self, data: &[u8]) -> Option<Arc<Stored>> {
        Stored::new(data, self.charge.fresh()).map(Arc::new)
    }

    fn reserve_shared(&mut self, piece: &Arc<Stored>) -> bool {
        self.reserve_shared_beside(piece, 0)
    }

    fn reserve_shared_beside(&mut self, piece: &Arc<Stored>, own: usize) -> bool {
        if piece.is_spare() && self.is_behind_beside(own) {
            self.charge.refused();
            return false;
        }
        true
    }

    fn piece_bytes(piece: &Arc<Stored>) -> &[u8] {
        piece
    }

    fn push_shared(&mut self, piece: &Arc<Stored>) -> Result<(), Full> {
        let n = piece.len();
        if self.copy_room.saturating_sub(self.buf.len()) < n {
            return Err(Full);
        }
        if n == 0 {
            return Ok(());
        }
        self.filling();
        let len = self.buf.len();
        let charge = &self.charge;
        self.pieces
            .get_or_insert_with(|| Box::new(Pieces::new(charge.fresh())))
            .push(len, piece.clone());
        self.shared += n;
        self.copy_room -= n;
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
        self.buf.consume(n);
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

    fn reserve_later(&mut self, n: usize) -> bool {
        let capacity = self.capacity();
        let charge = &self.charge;
        let later = self.later.get_or_insert_with(|| {
            Box::new(Later {
                bytes: Vec::new(),
                charge: charge.fresh(),
            })
        });
        let need = later.bytes.len().saturating_add(n);
        if need <= later.bytes.capacity() {
            return true;
        }
        if need > capacity {
            return false;
        }
        let doubled = need.max(later.bytes.capacity() * 2).min(capacity);
        let target = if later.charge.grow_to(doubled) {
            doubled
        } else if later.charge.grow_to(need) {
            need
        } else {
            later.charge.refused();
            return false;
        };
        later.bytes.reserve_exact(target - later.bytes.len());
        later.charge.force_to(later.bytes.capacity());
        true
    }

    fn push_later(&mut self, data: &[u8]) {
        if let Some(later) = self.later.as_deref_mut() {
            later.bytes.extend_from_slice(data);
            // Within what was reserved, unless the caller did not ask.
            later.charge.force_to(later.bytes.capacity());
        }
    }

    fn later_len(&self) -> usize {
        self.later.as_ref().map_or(0, |l| l.bytes.len())
    }

    #[inline]
    fn release_later(&mut self) -> usize {
        if self.later.is_none() {
            return 0;
        }
        self.release_later_slow()
    }

    /// The buffer an empty queue keeps (up to [`KEEP_WHEN_EMPTY`]) goes back to the budget.
    /// Kept by a hundred clients that each took one 60 KB reply, it was the whole budget, and
    /// every other connection waited for memory that nothing would give back (attacker round
    /// 15, F2).
    fn release_idle(&mut self) {
        if self.is_empty() && self.later.is_none() && self.buf.capacity() > MIN_ALLOC {
            self.buf = ByteRing::new();
            self.charge.shrink_to(0);
            pieces::release_if_spent(&mut self.pieces);
        }
    }
}
