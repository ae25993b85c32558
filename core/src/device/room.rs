//! Room in the destinations' queues before a message (or more of one) goes to them.
//!
//! A queue may refuse to grow below its capacity ([`ByteQueue::reserve`]): the caller rations
//! memory (edge-bin's process budget). Room is therefore asked for before anything is copied,
//! never found missing half-way through a push: for a message stored whole, all of it when
//! it is routed; for one cut through, what the caller holds of it at the start of each call.
//! A queue that has no room is full, whatever its length:
//!
//! - a forwarder drops the message for that subscriber (counted, `Drops::memory`); one whose
//!   queue cannot take the rest of a message it is already receiving lets it go, taken back if
//!   none of it was written, reset otherwise;
//! - a queue or streamer waits for room as it does above the high-water mark, and is woken
//!   when a queue drains or [`Device::retry_blocked`] says memory was given back.

use super::{ByteQueue, CloseReason, Device, PeerId};
use crate::conn::TRANSMIT_BUFFER;

/// Room asked beyond a message's own bytes: a queue's routing frame, and the commands a
/// session may owe once the message ends.
const SLACK: usize = TRANSMIT_BUFFER + 16;

/// What a message of which the caller holds `held` bytes needs in each queue it goes to: all
/// of it when it is all here, else everything the caller holds, which is all of this
/// message's ([`message_extent`](crate::wire::frame::message_extent)).
#[inline]
pub(super) fn need(held: usize) -> usize {
    // `held` is at most an input buffer's length: no overflow.
    held + SLACK
}

/// Whether `queue` has room for `need` more bytes, or for all its capacity leaves if that is
/// less (a message that started below the high-water mark fits the capacity whole:
/// `DeviceConfig::queue_capacity`).
#[inline]
pub(super) fn room<Q: ByteQueue>(queue: &mut Q, need: usize) -> bool {
    let left = queue.capacity().saturating_sub(queue.len());
    queue.reserve(need.min(left))
}

impl<Q: ByteQueue> Device<'_, Q> {
    /// Whether `idx`'s queue, below its high-water mark, has room for the message being
    /// routed ([`need`]); a refusal is remembered, so that draining queues wake the sources it
    /// blocks.
    #[inline]
    pub(super) fn has_room(&mut self, idx: u32) -> bool {
        let need = self.need;
        let has = self.peer_mut(idx).is_some_and(|p| p.queue.reserve(need));
        self.memory_blocked |= !has;
        has
    }

    /// Before `n` more bytes of the message in progress from `idx` are fed: room for them in
    /// every destination it holds. False if its source must wait (queue, streamer); a
    /// forwarder lets go of each subscriber that has none, and goes on.
    pub(super) fn room_for_more(&mut self, idx: u32, n: usize) -> bool {
        self.need = n.saturating_add(SLACK);
        let need = self.need;
        let mut cur = self.peer(idx).and_then(|p| p.src.dests());
        while let Some(d) = cur {
            cur = self.next_dest(d);
            // Past its high-water mark, a forwarder's subscriber may hold the start of it.
            if self.peer_mut(d).is_some_and(|p| room(&mut p.queue, need)) {
                continue;
            }
            self.memory_blocked = true;
            if self.cfg.kind.waits_for_destination() {
                return false;
            }
            self.shed(d);
        }
        true
    }

    /// A subscriber whose queue cannot take the rest of the message it is receiving lets it
    /// go: taken back if none of it was written (the subscriber lost that message, counted),
    /// else the subscriber is reset.
    fn shed(&mut self, dest: u32) {
        let Some(d) = self.peer(dest) else { return };
        let Some(held) = d.held else { return };
        let clean = d.written <= held.mark;
        self.leave_holder(dest);
        let Some(d) = self.peer_mut(dest) else { return };
        if clean {
            d.queue.truncate_back((d.pushed - held.mark) as usize);
            d.pushed = held.mark;
            self.stats.dropped.memory += 1;
            self.flush_control(dest);
        } else {
            self.stats.resets += 1;
            self.request_close(dest, CloseReason::OutOfMemory);
        }
    }

    /// The caller's memory was given back: every source waiting for room tries again.
    pub fn retry_blocked(&mut self) {
        self.memory_blocked = false;
        self.wake_blocked();
    }

    /// The caller closes a sender whose message, held in memory that others wait for while
    /// it arrives, stopped moving for the progress timeout: counted as stalled, and put up
    /// for closing with [`CloseReason::Stalled`].
    pub fn stall_peer(&mut self, id: PeerId) {
        let Some(idx) = self.index(id) else { return };
        self.stats.stalled += 1;
        self.let_go(idx);
        self.request_close(idx, CloseReason::Stalled);
    }
}
