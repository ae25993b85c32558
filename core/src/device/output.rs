//! What the device hands its caller: each peer's bytes to write, and the peers to wake or
//! close.

use super::slots::ListKind;
use super::{ByteQueue, CloseReason, Device, PeerId};

impl<Q: ByteQueue> Device<'_, Q> {
    /// Bytes waiting to be written to the peer's socket, oldest first.
    pub fn output(&self, id: PeerId) -> (&[u8], &[u8]) {
        match self.index(id).and_then(|i| self.peer(i)) {
            Some(p) => p.queue.front(),
            None => (&[], &[]),
        }
    }

    /// `n` bytes of [`Device::output`] were written to the socket.
    pub fn consume_output(&mut self, id: PeerId, n: usize) {
        let Some(idx) = self.index(id) else { return };
        let hwm = self.cfg.queue_hwm;
        let Some(peer) = self.peer_mut(idx) else {
            return;
        };
        let was_above = peer.queue.len() >= hwm;
        let n = n.min(peer.queue.len());
        peer.queue.consume(n);
        peer.written += n as u64;
        let now_below = peer.queue.len() < hwm;
        // A publisher owed topics takes more once its queue is empty.
        let owed = !peer.upstream.owes_nothing() && peer.queue.is_empty();
        // A receiver draining a message cut through to it is progress for its sender.
        let holder = peer.held.map(|h| h.by).filter(|_| n > 0);
        let now = self.last_now;
        if let Some(src) = holder.and_then(|s| self.peer_mut(s)) {
            src.progressed(n as u64, now);
        }
        if was_above && now_below {
            self.wake_blocked();
        }
        if owed {
            self.work = true;
        }
    }

    /// Next peer with new output, or able to take input again, since the last call.
    pub fn poll_wake(&mut self) -> Option<PeerId> {
        self.pop_live(ListKind::Wake)
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
