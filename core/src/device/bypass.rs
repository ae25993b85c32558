//! Bodies the caller moves itself: a caller that can move bytes between sockets without
//! reading them (Linux splice(2)) may take the rest of a large frame body past the device,
//! from the source's socket straight to its one destination's.

use super::{ByteQueue, Device, PeerId};
use crate::time::Instant;

impl<Q: ByteQueue> Device<'_, Q> {
    /// How many bytes of the message at the start of `id`'s input are still to come, when the
    /// last [`Device::handle_input_ahead`] left it there to wait for all of it (store and
    /// forward); `None` if it did not, or if that is not known yet (a later frame's head has
    /// not come). A caller that can wait until its socket holds them without reading them
    /// (a receive low-water mark) may do so and then offer them as `ahead`: the message is
    /// routed and its body can go past the device ([`Device::bypass_target`]) rather than be
    /// read and copied.
    pub fn awaits(&self, id: PeerId) -> Option<u64> {
        let p = self.peer(self.index(id)?)?;
        (p.awaits > 0).then_some(p.awaits)
    }

    /// Where the rest of the frame body `id` is sending may go past the device, if it may:
    /// the destination, and the body bytes still to come. Only in a device whose sources wait
    /// for their destination anyway ([`Kind::bypasses`](super::Kind::bypasses)), and only
    /// for a body going to one live destination.
    ///
    /// Before moving anything the caller must feed every byte of `id` it has already read and
    /// take everything [`Device::output`] holds for the destination (writing it, or keeping it
    /// to write ahead of the body: taken counts as written, so a sender that dies from then
    /// on resets the destination). Then it reports what it moved with [`Device::bypassed`];
    /// bytes it took and lost, with [`Device::fail_peer`].
    pub fn bypass_target(&self, id: PeerId) -> Option<(PeerId, u64)> {
        if !self.cfg.kind.bypasses() {
            return None;
        }
        let src = self.peer(self.index(id)?)?;
        let left = src.session.body_left();
        if left == 0 || src.blocked || !src.src.is_forwarding() {
            return None;
        }
        let d = src.src.dests()?;
        let dest = self.peer(d)?;
        // The spool's sink has no socket: what goes to it is read and queued.
        if self.next_dest(d).is_some() || !dest.is_live() || self.is_spool(d) {
            return None;
        }
        Some((self.id(d), left))
    }

    /// `n` body bytes of the frame [`Device::bypass_target`] named went from `id`'s socket to
    /// the destination's socket.
    pub fn bypassed(&mut self, id: PeerId, n: u64, now: Instant) {
        let Some(idx) = self.index(id) else { return };
        let Some(src) = self.peer_mut(idx) else {
            return;
        };
        let n = n.min(src.session.body_left());
        let done = src.session.skip_body(n, now);
        src.progressed(n, now);
        let last = src.src.last_frame();
        if let Some(dest) = src.src.dests().and_then(|d| self.peer_mut(d)) {
            // Written, not queued: a message cut short from here on resets the destination.
            dest.pushed += n;
            dest.written += n;
            // Its socket took them: it reads (`queue.rs`, `close_unread`).
            if n > 0 {
                dest.took(now);
                dest.drained(n, false, now);
            }
            dest.facts.traffic.bytes_out += n;
            let side = dest.side;
            self.side_stats(side).bytes_out += n;
        }
        if done && last {
            self.end_message(idx);
        }
    }
}
