//! What the device hands its caller: each peer's bytes to write, and the peers to wake or
//! close.

use super::slots::ListKind;
use super::{ByteQueue, CloseReason, Device, PeerId};

impl<Q: ByteQueue> Device<'_, Q> {
    /// Bytes waiting to be written to the peer's socket, oldest first: all of them, or the
    /// first ones if its queue holds shared pieces ([`ByteQueue::front`]); empty only when
    /// nothing waits.
    pub fn output(&self, id: PeerId) -> (&[u8], &[u8]) {
        match self.index(id).and_then(|i| self.peer(i)) {
            Some(p) => p.queue.front(),
            None => (&[], &[]),
        }
    }

    /// The peer's outbound queue, to read: its length, or all of its bytes where
    /// [`Device::output`] shows the first ones. Report what was written from it with
    /// [`Device::consume_output`], as for [`Device::output`].
    pub fn queue(&self, id: PeerId) -> Option<&Q> {
        self.index(id).and_then(|i| self.peer(i)).map(|p| &p.queue)
    }

    /// Bytes queued for the peers of each side (by [`Side::index`](super::Side::index)), not
    /// yet written, those held back behind a message in progress included: a walk over every
    /// slot, for a report, not the message path.
    pub fn queued(&self) -> [u64; 3] {
        let mut q = [0; 3];
        for p in self.slots.iter().filter_map(|s| s.peer.as_ref()) {
            // What is held back behind a message in progress is queued too.
            q[p.side.index()] += (p.queue.len() + p.queue.later_len()) as u64;
        }
        q
    }

    /// `n` messages queued for a peer reset because the sender of a message in progress
    /// left (`CloseReason::SenderAborted`) were lost with its connection: counted as aborted.
    pub fn count_reset_loss(&mut self, n: u64) {
        self.stats.dropped.aborted += n;
    }

    /// Each live peer that has lost messages (a subscriber's publications, a client's
    /// replies, dropped at its high-water mark or for want of memory), with how many in all:
    /// for a caller's warning about slow readers. A walk over every slot.
    pub fn each_lossy(&self, mut f: impl FnMut(PeerId, u64)) {
        for (idx, slot) in self.slots.iter().enumerate() {
            if let Some(p) = slot.peer.as_ref().filter(|p| p.dropped > 0 && p.is_live()) {
                f(self.id(idx as u32), p.dropped);
            }
        }
    }

    /// The peer's socket passed on enough of what was written to it before, though it did
    /// not read as writable ([`Device::poll_probe`]): its peer reads.
    pub fn socket_took(&mut self, id: PeerId) {
        let now = self.last_now;
        if let Some(p) = self.index(id).and_then(|i| self.peer_mut(i)) {
            p.took(now);
            // As good as draining at the pace a worker holding its sender owes (`deaf.rs`).
            p.drained(0, true, now);
        }
    }

    /// `n` bytes of [`Device::output`] were written to the socket.
    pub fn consume_output(&mut self, id: PeerId, n: usize) {
        let Some(idx) = self.index(id) else { return };
        let (hwm, now) = (self.cfg.queue_hwm, self.last_now);
        let Some(peer) = self.peer_mut(idx) else {
            return;
        };
        let was_above = peer.queue.len() >= hwm;
        let n = n.min(peer.queue.len());
        peer.queue.consume(n);
        peer.written += n as u64;
        if n > 0 {
            peer.took(now);
        }
        peer.drained(n as u64, peer.queue.is_empty(), now);
        if peer.queue.is_empty() {
            // Caught up: its time behind starts again.
            peer.stall_from = now;
        }
        let pong_written = peer.pong_end != 0 && peer.written >= peer.pong_end;
        let now_below = peer.queue.len() < hwm;
        // A publisher owed topics takes more once its queue is empty.
        let owed = !peer.upstream.owes_nothing() && peer.queue.is_empty();
        // A receiver draining a message cut through to it is progress for its sender.
        let holder = peer.held.map(|h| h.by).filter(|_| n > 0);
        if let Some(src) = holder.and_then(|s| self.peer_mut(s)) {
            src.progressed(n as u64, now);
        }
        if pong_written {
            self.pong_written(idx);
        }
        // A queue that could not grow may now have room in what it holds.
        if (was_above && now_below) || (self.memory_blocked && n > 0) {
            self.retry_blocked();
        }
        if owed {
            self.work = true;
        }
    }

    /// `bytes`, the first of [`Device::output`] that the caller took out for the socket and
    /// that the socket did not take, come back to be written first. Only into an empty queue
    /// (whatever came after them would otherwise go first): `false`, and nothing done, if the
    /// queue holds bytes or cannot take them.
    pub fn return_output(&mut self, id: PeerId, bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return true;
        }
        let Some(peer) = self.index(id).and_then(|i| self.peer_mut(i)) else {
            return false;
        };
        if !peer.queue.is_empty() || peer.queue.push(bytes).is_err() {
            return false;
        }
        peer.written = peer.written.saturating_sub(bytes.len() as u64);
        true
    }

    /// Next peer with new output, or able to take input again, since the last call. Run them
    /// in this order: sources woken from waiting for room take turns in it (one that found
    /// none again before getting a message in keeps its place ahead of those that did).
    pub fn poll_wake(&mut self) -> Option<PeerId> {
        self.pop_live(ListKind::Wake)
    }

    /// Next peer whose socket the device wants tried now, though it did not read as writable:
    /// before the next call, tell it whether the socket passed on enough of what it held
    /// since a write last found it full ([`Device::socket_took`]; the caller says how much is
    /// enough), and if so write its output. The device is about to close it for taking none
    /// of its output (a queue's client behind on its replies while memory is short), and a
    /// socket's notice of room comes late: a TCP socket reads as writable only once a third
    /// of its buffer is free (or below its TCP_NOTSENT_LOWAT), a Unix one three quarters,
    /// which a peer reading slowly but steadily can take longer to free than it is given.
    /// One found reading is kept; the others are closed a millisecond later.
    pub fn poll_probe(&mut self) -> Option<PeerId> {
        // One put up for closing meanwhile gets nothing more.
        loop {
            let id = self.pop_live(ListKind::Probe)?;
            if self.peer(id.index).is_some_and(|p| p.is_live()) {
                return Some(id);
            }
        }
    }

    /// Bytes ever handed to the peer's socket: written from its queue or moved past it.
    pub fn written(&self, id: PeerId) -> u64 {
        self.index(id)
            .and_then(|i| self.peer(i))
            .map_or(0, |p| p.written)
    }

    /// Next peer the device wants closed, and why. Write what output it has if that is quick,
    /// close it, and call [`Device::remove_peer`].
    pub fn poll_close(&mut self) -> Option<(PeerId, CloseReason)> {
        // An entry whose slot was reused by a peer nobody wants closed is skipped.
        loop {
            let id = self.pop_live(ListKind::Close)?;
            if let Some(reason) = self.peer(id.index).and_then(|p| p.close) {
                return Some((id, reason));
            }
        }
    }
}
