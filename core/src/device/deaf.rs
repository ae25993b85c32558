//! A worker that holds its sender mid-message and does not read. A queue's or streamer's
//! message too large to store first is cut through to one worker, and its sender waits in the
//! middle of it whenever that worker's queue is at its mark
//! ([`Kind::waits_mid_message`](super::Kind::waits_mid_message)): a worker that stops reading
//! would hold the sender, and every other worker's share of its messages, for as long as it
//! stays connected (attacker round 7: a PULL worker that never reads beside a live one, a
//! producer of 4 MiB messages; the live worker got one message in 30 s).
//!
//! So a worker owes its waiting sender what a sender owes its receivers: its socket takes
//! [`PROGRESS_BYTES`] of its output each `progress_timeout`
//! ([`Peer::drained`](super::peer::Peer)), counted from when it was given the message at
//! the earliest. One that does not has its socket tried first, as a queue client about to be
//! closed for not reading is ([`Device::poll_probe`]; a socket's notice of room lags behind
//! a peer that reads slowly but steadily), and is closed if the socket passed on too little
//! ([`CloseReason::Deaf`]): the message is lost (`dropped.aborted`), and what its queue holds,
//! and the sender goes on with its next message to the workers that read.
//!
//! [`PROGRESS_BYTES`]: super::PROGRESS_BYTES
//! [`Device::poll_probe`]: super::Device::poll_probe

use super::peer::Peer;
use super::queue::PROBE_WAIT;
use super::{ByteQueue, CloseReason, Device, Side};
use crate::time::Instant;

impl<Q: ByteQueue> Device<'_, Q> {
    /// When `p`, a worker holding its sender in the middle of a message, is due to be tried
    /// for not reading: `None` unless its sender waits for its room, its queue holds bytes,
    /// and it is not being tried already (that has its own timer, [`PROBE_WAIT`]).
    pub(super) fn deaf_deadline(&self, p: &Peer<Q>) -> Option<Instant> {
        self.holds_sender_until(p).filter(|_| p.probed_at.is_none())
    }

    /// [`Device::deaf_deadline`], whether or not `p` is being tried.
    fn holds_sender_until(&self, p: &Peer<Q>) -> Option<Instant> {
        let timeout = self.cfg.progress_timeout;
        let held = p.held?;
        if p.side != Side::Backend
            || !self.cfg.kind.waits_for_destination()
            || timeout.is_zero()
            || p.queue.is_empty()
            || !p.is_live()
        {
            return None;
        }
        let src = self.peer(held.by)?;
        let waits = src.blocked && src.src.is_forwarding();
        (waits && self.cfg.kind.waits_mid_message(src.side)).then(|| p.drained.at + timeout)
    }

    /// Every worker past its [`Device::deaf_deadline`] at `now` is tried, or closed.
    pub(super) fn close_deaf_workers(&mut self, now: Instant) {
        if !self.cfg.kind.waits_for_destination() || self.held == 0 {
            return;
        }
        for w in 0..self.slots.len() as u32 {
            let due = self.peer(w).and_then(|p| self.deaf_deadline(p));
            if due.is_some_and(|t| t <= now) {
                self.close_deaf(w);
            }
        }
    }

    /// `w` is a worker past its [`Device::deaf_deadline`], or one whose socket was tried for
    /// it [`PROBE_WAIT`] ago. Tried first; closed if it still holds its sender, past its
    /// time, once the try found its socket passing on too little (one that passed enough on
    /// was told by [`Device::socket_took`], which moved its time on).
    pub(super) fn close_deaf(&mut self, w: u32) {
        let now = self.last_now;
        let Some(p) = self.peer(w) else { return };
        let due = self.holds_sender_until(p).is_some_and(|t| t <= now);
        match p.probed_at {
            _ if !due => {}
            None => {
                if let Some(p) = self.peer_mut(w) {
                    p.probed_at = Some(now);
                }
                self.request_probe(w);
            }
            Some(at) if at + PROBE_WAIT > now => {}
            Some(_) => {
                self.stats.unread += 1;
                self.request_close(w, CloseReason::Deaf);
            }
        }
    }
}
