//! The peer table: slots in caller storage, handles into it, and the intrusive lists that
//! link slots without any storage of their own (peers to wake, to close, waiting for room,
//! whose sockets to try).

use core::mem;

use super::peer::{Peer, Src};
use super::subs::PeerSubs;
use super::{ByteQueue, CloseReason, Device, PeerId, Side, SideStats};
use crate::time::{Duration, Instant};

/// How often, while sources wait for room, every one of them gets a try whatever woke them:
/// a turn is given to one at a time, and one given to a peer that never ran (its caller had
/// nothing to give the device), or not passed on when room was left that suited another,
/// would otherwise keep the others waiting until room frees up again.
pub(super) const RECHECK: Duration = Duration::from_millis(50);

/// Storage for one peer; the device's capacity is the length of the caller's slot slice.
#[derive(Debug)]
pub struct Slot<Q> {
    /// Bumped each time the slot is reused, so stale [`PeerId`]s miss.
    pub(crate) generation: u32,
    pub(crate) peer: Option<Peer<Q>>,
    /// The subscriptions of a subscriber that left, still to be taken out of the table (empty
    /// when none): the table names subscribers by slot, so the slot is not reused until they
    /// are.
    pub(crate) leaving: PeerSubs,
    wake: Link,
    close: Link,
    blocked: Link,
    probe: Link,
}

impl<Q> Default for Slot<Q> {
    fn default() -> Self {
        Slot {
            generation: 0,
            peer: None,
            leaving: PeerSubs::new(0),
            wake: Link::default(),
            close: Link::default(),
            blocked: Link::default(),
            probe: Link::default(),
        }
    }
}

impl<Q> Slot<Q> {
    fn link_mut(&mut self, kind: ListKind) -> &mut Link {
        match kind {
            ListKind::Wake => &mut self.wake,
            ListKind::Close => &mut self.close,
            ListKind::Blocked => &mut self.blocked,
            ListKind::Probe => &mut self.probe,
        }
    }
}

/// A slot's place on one of the device's lists.
#[derive(Clone, Copy, Debug, Default)]
struct Link {
    queued: bool,
    next: Option<u32>,
}

/// A list of slot indices, linked through [`Slot`]s.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct List {
    head: Option<u32>,
    tail: Option<u32>,
}

impl List {
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListKind {
    /// New output, or able to take input again.
    Wake,
    /// Put up for closing.
    Close,
    /// Waiting for room before taking more input.
    Blocked,
    /// Its socket to be tried for room now (`Device::poll_probe`).
    Probe,
}

impl<Q: ByteQueue> Device<'_, Q> {
    pub(super) fn index(&self, id: PeerId) -> Option<u32> {
        let slot = self.slots.get(id.index as usize)?;
        (slot.generation == id.generation && slot.peer.is_some()).then_some(id.index)
    }

    pub(super) fn id(&self, idx: u32) -> PeerId {
        PeerId {
            index: idx,
            generation: self.slots[idx as usize].generation,
        }
    }

    pub(super) fn peer(&self, idx: u32) -> Option<&Peer<Q>> {
        self.slots.get(idx as usize)?.peer.as_ref()
    }

    pub(super) fn peer_mut(&mut self, idx: u32) -> Option<&mut Peer<Q>> {
        self.slots.get_mut(idx as usize)?.peer.as_mut()
    }

    pub(super) fn side_stats(&mut self, side: Side) -> &mut SideStats {
        &mut self.stats.sides[side.index()]
    }

    fn list(&mut self, kind: ListKind) -> &mut List {
        match kind {
            ListKind::Wake => &mut self.wake,
            ListKind::Close => &mut self.close,
            ListKind::Blocked => &mut self.blocked,
            ListKind::Probe => &mut self.probe,
        }
    }

    /// Append a slot to a list unless it is on it already. Entries outlive their peer: a
    /// popped entry whose peer is gone is skipped, one whose slot was reused wakes it for
    /// nothing, which is harmless.
    fn push_list(&mut self, kind: ListKind, idx: u32) {
        let slot = &mut self.slots[idx as usize];
        let link = slot.link_mut(kind);
        if link.queued {
            return;
        }
        link.queued = true;
        link.next = None;
        let list = *self.list(kind);
        match list.tail {
            Some(tail) => self.slots[tail as usize].link_mut(kind).next = Some(idx),
            None => self.list(kind).head = Some(idx),
        }
        self.list(kind).tail = Some(idx);
    }

    fn pop_list(&mut self, kind: ListKind) -> Option<u32> {
        let idx = self.list(kind).head?;
        let link = self.slots[idx as usize].link_mut(kind);
        let next = link.next.take();
        link.queued = false;
        let list = self.list(kind);
        list.head = next;
        if next.is_none() {
            list.tail = None;
        }
        Some(idx)
    }

    pub(super) fn pop_live(&mut self, kind: ListKind) -> Option<PeerId> {
        while let Some(idx) = self.pop_list(kind) {
            if self.peer(idx).is_some() {
                return Some(self.id(idx));
            }
        }
        None
    }

    pub(super) fn request_wake(&mut self, idx: u32) {
        self.push_list(ListKind::Wake, idx);
    }

    pub(super) fn request_probe(&mut self, idx: u32) {
        self.push_list(ListKind::Probe, idx);
    }

    pub(super) fn request_close(&mut self, idx: u32, reason: CloseReason) {
        if self.is_spool(idx) {
            return;
        }
        if let Some(peer) = self.peer_mut(idx) {
            peer.close.get_or_insert(reason);
            self.push_list(ListKind::Close, idx);
        }
    }

    /// Room freed up: the first source in line gets a try (a new round of turns). It passes
    /// its turn on to the next ([`Device::pass_turn`]) if it finds no room, or if it leaves
    /// some (it ran out of input); one that gets a message in and then finds no more room has
    /// used what freed up, and the others sleep on. So a reply that frees one place at a worker
    /// wakes one of the clients waiting for it, not all of them.
    pub(super) fn wake_blocked(&mut self) {
        self.wake_round = self.wake_round.wrapping_add(1);
        self.line_front = None;
        self.wake_next();
    }

    /// Every blocked source gets another try, in the order they have been waiting (the
    /// caller runs woken peers in that order): the recheck ([`RECHECK`]) that makes up for a
    /// turn a woken peer did not pass on.
    pub(super) fn wake_all_blocked(&mut self) {
        self.wake_round = self.wake_round.wrapping_add(1);
        self.line_front = None;
        self.recheck_at = None;
        while self.wake_next() {}
    }

    /// Every source waiting on the line: its input is held back, not missing
    /// ([`Session::input_held`](crate::conn::Session::input_held)).
    pub(super) fn hold_input_of_blocked(&mut self, now: Instant) {
        let mut cur = self.blocked.head;
        while let Some(idx) = cur {
            cur = self.slots[idx as usize].blocked.next;
            if let Some(peer) = self.peer_mut(idx) {
                peer.session.input_held(now);
            }
        }
    }

    /// Every source waiting in the middle of a message gets a try, out of turn.
    pub(super) fn wake_senders_mid_message(&mut self) {
        let now = self.last_now;
        let mut prev = None;
        let mut cur = self.blocked.head;
        while let Some(idx) = cur {
            let next = self.slots[idx as usize].blocked.next;
            let mid = self.peer(idx).is_some_and(|p| p.src != Src::Idle);
            if mid {
                self.unlink_after(prev, idx);
                if self.line_front == Some(idx) {
                    self.line_front = prev;
                }
                if let Some(peer) = self.peer_mut(idx) {
                    peer.blocked = false;
                    peer.progress.not_before(now);
                }
                self.request_wake(idx);
            } else {
                prev = Some(idx);
            }
            cur = next;
        }
    }

    /// Wake the first source in line that has not had a try in this round; false if there
    /// is none. The time it waited does not count against the progress its message owes: it
    /// waited for room, not for its sender.
    fn wake_next(&mut self) -> bool {
        let (now, round) = (self.last_now, self.wake_round);
        loop {
            // Those that had a try this round and found no room wait at the front, up to
            // `line_front`; the first after them is next.
            let prev = self.line_front;
            let next = match prev {
                Some(f) => self.slots[f as usize].blocked.next,
                None => self.blocked.head,
            };
            let Some(idx) = next else { return false };
            if self.peer(idx).is_some_and(|p| p.round == round) {
                // Back at one that got a message in this round: everyone had a try.
                return false;
            }
            self.unlink_after(prev, idx);
            if let Some(peer) = self.peer_mut(idx) {
                peer.blocked = false;
                peer.turn_due = true;
                peer.baton = true;
                peer.round = round;
                peer.progress.not_before(now);
                self.request_wake(idx);
                return true;
            }
        }
    }

    /// Take `idx`, which follows `prev` (or is the head), off the blocked list.
    fn unlink_after(&mut self, prev: Option<u32>, idx: u32) {
        let link = self.slots[idx as usize].link_mut(ListKind::Blocked);
        let next = link.next.take();
        link.queued = false;
        match prev {
            Some(p) => self.slots[p as usize].blocked.next = next,
            None => self.blocked.head = next,
        }
        if next.is_none() {
            self.blocked.tail = prev;
        }
    }

    /// `idx`, woken to take its turn, is done with it without using up the room that freed
    /// (its input ran out, or it went away): the next in line gets the turn.
    pub(super) fn pass_turn(&mut self, idx: u32) {
        let passed = self
            .peer_mut(idx)
            .is_some_and(|p| !p.blocked && mem::take(&mut p.baton));
        if !passed {
            return;
        }
        // A client or producer that got its messages in leaves room only if a worker has
        // some; a single request each must not walk the whole line at every reply. Whoever
        // else might have used what it left gets a try at the next recheck at the latest.
        let side = self.peer(idx).map(|p| p.side);
        let takes_workers =
            side.is_some_and(|s| self.cfg.kind.waits_for_destination() && s == Side::Frontend);
        if !takes_workers || self.a_worker_has_room() {
            self.wake_next();
        }
    }

    /// `idx` waits for room. One woken from the line that has found none before getting a
    /// message in goes back to the front (behind others like it, in their order) and passes
    /// its turn on; any other goes to the back. So sources take turns: one that always has
    /// input ready and runs first after every wake cannot take each bit of room that frees up
    /// while another waits.
    pub(super) fn block(&mut self, idx: u32) {
        let now = self.last_now;
        let Some(peer) = self.peer_mut(idx) else {
            return;
        };
        peer.blocked = true;
        // Waiting for its destinations, it is not what others wait for: once they take more,
        // another source that wants them starts its patience afresh.
        peer.contended_at = None;
        let baton = mem::take(&mut peer.baton);
        let front = peer.turn_due;
        // Paused, no source can take a turn: RESUME wakes them all.
        let paused = self.paused;
        if !paused {
            self.recheck_at.get_or_insert(now + RECHECK);
        }
        if !front {
            self.push_list(ListKind::Blocked, idx);
            return;
        }
        let link = self.slots[idx as usize].link_mut(ListKind::Blocked);
        if !link.queued {
            link.queued = true;
            let after = self.line_front.replace(idx);
            let next = match after {
                Some(a) => self.slots[a as usize]
                    .link_mut(ListKind::Blocked)
                    .next
                    .replace(idx),
                None => self.blocked.head.replace(idx),
            };
            self.slots[idx as usize].link_mut(ListKind::Blocked).next = next;
            if next.is_none() {
                self.blocked.tail = Some(idx);
            }
        }
        if baton && !paused {
            self.wake_next();
        }
    }

    /// `idx` got a message (or part of one) in: its turn is taken.
    pub(super) fn took_turn(&mut self, idx: u32) {
        if let Some(peer) = self.peer_mut(idx) {
            peer.turn_due = false;
        }
    }
}
