//! The peer table: slots in caller storage, handles into it, and the intrusive lists that
//! link slots without any storage of their own (peers to wake, to close, waiting for room).

use super::peer::Peer;
use super::subs::PeerSubs;
use super::{ByteQueue, CloseReason, Device, PeerId, Side, SideStats};

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
        }
    }
}

impl<Q> Slot<Q> {
    fn link_mut(&mut self, kind: ListKind) -> &mut Link {
        match kind {
            ListKind::Wake => &mut self.wake,
            ListKind::Close => &mut self.close,
            ListKind::Blocked => &mut self.blocked,
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
        match side {
            Side::Frontend => &mut self.stats.frontend,
            Side::Backend => &mut self.stats.backend,
        }
    }

    fn list(&mut self, kind: ListKind) -> &mut List {
        match kind {
            ListKind::Wake => &mut self.wake,
            ListKind::Close => &mut self.close,
            ListKind::Blocked => &mut self.blocked,
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

    pub(super) fn request_close(&mut self, idx: u32, reason: CloseReason) {
        if let Some(peer) = self.peer_mut(idx) {
            peer.close.get_or_insert(reason);
            self.push_list(ListKind::Close, idx);
        }
    }

    /// Every blocked source gets another try, in the order they have been waiting (the
    /// caller runs woken peers in that order). The time it waited does not count against the
    /// progress its message owes: it waited for room, not for its sender.
    pub(super) fn wake_blocked(&mut self) {
        let now = self.last_now;
        self.line_front = None;
        while let Some(idx) = self.pop_list(ListKind::Blocked) {
            if let Some(peer) = self.peer_mut(idx) {
                peer.blocked = false;
                peer.turn_due = true;
                peer.progress_at = peer.progress_at.max(now);
                self.request_wake(idx);
            }
        }
    }

    /// `idx` waits for room. One woken from the line that has found none before getting a
    /// message in goes back to the front (behind others like it, in their order); any other
    /// goes to the back. So sources take turns: one that always has input ready and runs
    /// first after every wake cannot take each bit of room that frees up while another waits.
    pub(super) fn block(&mut self, idx: u32) {
        let Some(peer) = self.peer_mut(idx) else {
            return;
        };
        peer.blocked = true;
        if !peer.turn_due {
            self.push_list(ListKind::Blocked, idx);
            return;
        }
        let link = self.slots[idx as usize].link_mut(ListKind::Blocked);
        if link.queued {
            return;
        }
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

    /// `idx` got a message (or part of one) in: its turn is taken.
    pub(super) fn took_turn(&mut self, idx: u32) {
        if let Some(peer) = self.peer_mut(idx) {
            peer.turn_due = false;
        }
    }
}
