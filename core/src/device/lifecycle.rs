//! A peer's life in the device: added (our greeting queued), ready (a worker or publisher
//! joins its ring), its owed commands moved into its queue between messages, its session
//! ended, let go of, failed, removed.

use super::peer::Peer;
use super::{ByteQueue, CloseReason, Device, Kind, PeerId, PeerTableFull, Side};
use crate::conn::{PeerReady, Session, SessionError, TRANSMIT_BUFFER};
use crate::time::Instant;

impl<Q: ByteQueue> Device<'_, Q> {
    /// Take a new connection. Our greeting is queued at once.
    pub fn add_peer(
        &mut self,
        side: Side,
        queue: Q,
        now: Instant,
    ) -> Result<PeerId, PeerTableFull> {
        let session = Session::new(self.cfg.session_config(side), now);
        let id = self.place(session, queue, side, now)?;
        let index = id.index as usize;
        let side_stats = self.side_stats(side);
        side_stats.peers += 1;
        side_stats.connections += 1;
        self.flush_control(index as u32);
        Ok(id)
    }

    /// A peer over `session` and `queue` in the first free slot.
    pub(super) fn place(
        &mut self,
        session: Session,
        queue: Q,
        side: Side,
        now: Instant,
    ) -> Result<PeerId, PeerTableFull> {
        let index = self
            .slots
            .iter()
            .position(|s| s.peer.is_none() && s.leaving.is_empty())
            .ok_or(PeerTableFull)?;
        let slot = &mut self.slots[index];
        slot.peer = Some(Peer::new(session, queue, side, index as u32, now));
        Ok(PeerId {
            index: index as u32,
            generation: slot.generation,
        })
    }

    /// Forget a connection that is gone. A message it was sending is taken back out of the
    /// queues it went to (or their peers are reset); one it was receiving is abandoned.
    pub fn remove_peer(&mut self, id: PeerId) {
        let Some(idx) = self.index(id) else { return };
        self.let_go(idx);
        match self.peer(idx).map(|p| p.side) {
            Some(Side::Backend) => self.drop_subscriptions(idx),
            Some(Side::Capture) => self.forget_tap(idx),
            Some(Side::Frontend) | None => {}
        }
        let slot = &mut self.slots[idx as usize];
        if let Some(peer) = slot.peer.take() {
            slot.generation = slot.generation.wrapping_add(1);
            let s = self.side_stats(peer.side);
            s.peers -= 1;
            // Gone before its handshake was done, and not for an error its bytes made
            // (those are counted by their reason).
            if !peer.session.handshaken() && !peer.session.is_closed() {
                s.handshake_failures.closed += 1;
            }
        }
        self.wake_blocked();
    }

    /// The peer's address held others up lately (one of its connections was closed as
    /// [`CloseReason::Deaf`] or [`CloseReason::Overdue`], say): until `until`, as a queue's or
    /// streamer's worker, it gets a message cut through only when no other worker can take
    /// it, and as a sender it has one progress timeout to finish a message it cuts through
    /// once another source waits for its receivers ([`OVERDUE_AFTER`](super::OVERDUE_AFTER)).
    pub fn strike(&mut self, id: PeerId, until: Instant) {
        if let Some(p) = self.index(id).and_then(|i| self.peer_mut(i)) {
            p.struck_until = Some(until);
        }
    }

    /// The caller lost bytes the device had handed it for this peer (taken from
    /// [`Device::output`] and never written): nothing more goes to it, a message it was
    /// receiving lets its source go, and it is put up for closing with
    /// [`CloseReason::Lost`]. Close it without writing what its queue still holds.
    pub fn fail_peer(&mut self, id: PeerId) {
        let Some(idx) = self.index(id) else { return };
        self.let_go(idx);
        self.stats.resets += 1;
        self.request_close(idx, CloseReason::Lost);
    }

    /// The peer's handshake finished.
    pub(super) fn on_ready(&mut self, idx: u32, r: &PeerReady<'_>) {
        if let (Some(p), Ok(len @ 1..)) = (self.peer_mut(idx), u8::try_from(r.identity.len())) {
            p.id_len = len;
        }
        self.note_ready(idx, r);
        // Our READY (owed since the peer's greeting) must precede any subscription we send.
        self.flush_control(idx);
        let Some(side) = self.peer(idx).map(|p| p.side) else {
            return;
        };
        match (self.cfg.kind, side) {
            (Kind::Forwarder { .. }, Side::Frontend) => {
                self.link_worker(idx);
                self.on_publisher_ready(idx);
            }
            (Kind::Queue | Kind::Streamer, Side::Backend) => {
                self.link_worker(idx);
                self.wake_blocked();
            }
            (Kind::Forwarder { .. }, Side::Backend)
            | (Kind::Queue | Kind::Streamer, _)
            | (_, Side::Capture) => {}
        }
    }

    /// Move owed commands (greeting, READY, PONG, PING, ERROR) into the peer's queue, unless a
    /// message is being copied into it: commands wait for the message boundary. A PONG also
    /// waits while the last one is queued ([`Session::hold_pongs`]).
    pub(super) fn flush_control(&mut self, idx: u32) {
        let Some(peer) = self.peer_mut(idx) else {
            return;
        };
        if peer.held.is_some() || !peer.session.wants_transmit() {
            return;
        }
        let pong = peer.session.pong_due();
        let mut buf = [0u8; TRANSMIT_BUFFER];
        let n = peer.session.poll_transmit(&mut buf);
        if peer.queue.push(&buf[..n]).is_err() {
            self.request_close(idx, CloseReason::Overflow);
            return;
        }
        peer.pushed += n as u64;
        if pong {
            // A peer that pings and does not read gets one PONG until it reads it.
            peer.pong_end = peer.pushed;
            peer.session.hold_pongs(true);
        }
        self.request_wake(idx);
    }

    /// Our last PONG to `idx` was written: a PING since is answered now.
    pub(super) fn pong_written(&mut self, idx: u32) {
        if let Some(peer) = self.peer_mut(idx) {
            peer.pong_end = 0;
            peer.session.hold_pongs(false);
        }
        self.flush_control(idx);
    }

    /// `id`'s session did not take the peer's greeting (yet, or it refused it).
    pub fn in_greeting(&self, id: PeerId) -> bool {
        self.index(id)
            .and_then(|idx| self.peer(idx))
            .is_some_and(|p| p.session.in_greeting())
    }

    /// What `id`'s hanging up (its connection ended before its handshake) says, if it tells
    /// of a refusal ([`Session::hang_up_reason`](crate::conn::Session::hang_up_reason)).
    pub fn hang_up_reason(&self, id: PeerId) -> Option<SessionError> {
        self.peer(self.index(id)?)?.session.hang_up_reason()
    }

    /// The connection of `id` failed below its session (a security layer between the socket
    /// and it refused the peer, or a MESSAGE did not open), or its hanging up told of a
    /// refusal: counted as the session's own errors are, and nothing more is routed to or
    /// from it. The caller closes it.
    pub fn fail_session(&mut self, id: PeerId, e: SessionError) {
        if let Some(idx) = self.index(id) {
            // Ended already by its own bytes, and counted then: once is enough.
            if self.peer(idx).is_some_and(|p| p.session.is_closed()) {
                return;
            }
            self.on_session_end(idx, e);
            if let Some(p) = self.peer_mut(idx) {
                p.session.fail();
            }
        }
    }

    pub(super) fn on_session_end(&mut self, idx: u32, e: SessionError) {
        let Some((side, ready)) = self.peer(idx).map(|p| (p.side, p.session.handshaken())) else {
            return;
        };
        // Heartbeat timeouts only end sessions that finished their handshake; every other
        // error is a refusal.
        if !matches!(e, SessionError::HeartbeatTimeout | SessionError::TtlExpired) {
            let s = self.side_stats(side);
            s.refused += 1;
            if !ready {
                s.handshake_failures.count(&e);
            }
        }
        // Nothing more is routed to or from a peer whose session ended, even before the
        // caller removes it.
        self.let_go(idx);
    }

    /// Nothing more is routed to or from `idx`: a message it was sending is aborted, one it
    /// was receiving lets its source go, and it leaves the worker ring.
    pub(super) fn let_go(&mut self, idx: u32) {
        self.abort_message(idx);
        self.leave_holder(idx);
        self.forget_upstream(idx);
        self.unlink_worker(idx);
    }
}
