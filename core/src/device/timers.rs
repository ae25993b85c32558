//! The device's timers: each peer's session timers (handshake, heartbeats) and the progress
//! deadline of a message being cut through.

use super::queue::PROBE_WAIT;
use super::{ByteQueue, CloseReason, Device, Expired, Kind, Side};
use crate::time::Instant;

impl<Q: ByteQueue> Device<'_, Q> {
    /// The earliest timer: any peer's (its session's, the progress deadline of a message it
    /// cuts through, the close of a client waiting for its request to get through, the look
    /// at a client whose socket was tried before closing it for not reading), a retry
    /// of replies waiting, the recheck of sources waiting for room, or the refill of the
    /// allowance of a publisher owed subscriptions (`pace.rs`).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let progress = self.cfg.progress_timeout;
        let timers = self
            .slots
            .iter()
            .filter_map(|s| s.peer.as_ref())
            .flat_map(|p| {
                [
                    p.session.poll_timeout(),
                    p.progress_deadline(progress),
                    p.close_after,
                    p.probed_at.map(|t| t + PROBE_WAIT),
                    self.deaf_deadline(p),
                ]
            })
            .chain([
                self.reply_retry,
                self.recheck_at,
                self.pace_deadline(),
                self.last_value_deadline(),
            ])
            .flatten()
            .min();
        match timers {
            _ if !self.work => timers,
            Some(t) => Some(t.min(self.last_now)),
            None => Some(self.last_now),
        }
    }

    /// Fire every peer timer due at `now`: PINGs go out, dead peers are put up for closing,
    /// and so are senders of a message cut through that stopped moving (the message is
    /// aborted: taken back out of the receivers that have not started writing it, and those
    /// that have are reset). Then a bounded part of the work waiting ([`Device::has_work`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
        // Before the sources waiting are woken below: workers that hold one of them in the
        // middle of a message and read too little of it (`deaf.rs`).
        self.close_deaf_workers(now);
        self.expire_last_values(now);
        // Before any of them is woken below: the sources whose input waits, PONGs and all,
        // for room at their destinations, a worker, or RESUME are no dead peers. (Closed,
        // what they had sent would be lost, uncounted: the attacker session's 5261 of 12000
        // messages with no worker for 50 s.)
        self.hold_input_of_blocked(now);
        if self.reply_retry.is_some_and(|t| t <= now) {
            self.reply_retry = None;
            if self.memory_starved && self.cfg.kind == Kind::Queue {
                self.shed_behind();
            }
            self.wake_blocked();
        }
        if self.recheck_at.is_some_and(|t| t <= now) {
            self.wake_all_blocked();
        }
        let progress = self.cfg.progress_timeout;
        for idx in 0..self.slots.len() as u32 {
            let Some(peer) = self.peer_mut(idx) else {
                continue;
            };
            if peer.close_after.is_some_and(|t| t <= now) {
                peer.close_after = None;
                // A client closed for not reading whose request did not get through in time:
                // cut short, it resets the worker it was going to.
                self.request_close(idx, CloseReason::Unread);
                continue;
            }
            if peer.probed_at.is_some_and(|t| t + PROBE_WAIT <= now) {
                // Its socket, tried before closing it for not reading, took nothing: a
                // client's (`queue.rs`), or a worker's that holds its sender (`deaf.rs`).
                match peer.side {
                    Side::Backend => self.close_deaf(idx),
                    Side::Frontend | Side::Capture => self.close_unread(idx),
                }
                if let Some(p) = self.peer_mut(idx) {
                    p.probed_at = None;
                }
                continue;
            }
            if let Some(why) = peer.check_progress(now, progress) {
                self.stats.stalled += 1;
                self.abort_message(idx);
                self.request_close(idx, why);
                continue;
            }
            if peer.session.poll_timeout().is_none_or(|t| t > now) {
                continue;
            }
            if peer.blocked || peer.turn_due || peer.reads_output(now, progress) {
                // Waiting, or woken from the line and not yet in (as above); or taking what it
                // is sent, ahead of our PING (a worker on a slow link, a large message: found
                // by attacker round 8, closed for heartbeats after 40 s at 8-50 KB/s, its
                // message lost).
                peer.session.input_held(now);
            }
            match peer.session.handle_timeout(now) {
                Ok(()) => self.flush_control(idx),
                Err(e) => {
                    self.on_session_end(idx, e);
                    self.request_close(idx, CloseReason::Session(Expired::of(e)));
                }
            }
        }
        if !self.work {
            self.pace_refilled();
        }
        if self.work {
            self.do_work();
        }
    }
}
