//! Subscriptions: one entry per (subscriber, topic) with a count, found by the pair through a
//! hash table of its own, and on two doubly linked lists: the topic's subscribers (what
//! matching walks) and the subscriber's topics (what its leaving walks). Either list gives an
//! entry up in O(1).

use super::sip::Sip13;
use super::store::{Layout, Records, ENTRY_REC, NIL};

// Entry record fields (`ENTRY_REC` bytes): topic, subscriber, count, then the links of the
// two lists. A free record links the next free one through `T_NEXT`.
const TOPIC: usize = 0;
const PEER: usize = 4;
const COUNT: usize = 8;
const T_PREV: usize = 12;
const T_NEXT: usize = 16;
const P_PREV: usize = 20;
const P_NEXT: usize = 24;

/// Which of an entry's two lists.
#[derive(Clone, Copy, Debug)]
pub(super) enum List {
    /// The topic's subscribers.
    Topic,
    /// The subscriber's topics.
    Peer,
}

impl List {
    const fn fields(self) -> (usize, usize) {
        match self {
            List::Topic => (T_PREV, T_NEXT),
            List::Peer => (P_PREV, P_NEXT),
        }
    }
}

#[derive(Debug)]
pub(super) struct Entries<'s> {
    keyed: Sip13,
    slots: Records<'s>,
    recs: Records<'s>,
    mask: usize,
    len: usize,
    bump: u32,
    free: u32,
    /// Records visited changing the table.
    pub(super) visited: u64,
}

impl<'s> Entries<'s> {
    pub(super) fn new(rest: &mut &'s mut [u8], layout: &Layout, keyed: Sip13) -> Self {
        Entries {
            keyed,
            slots: Records::take(rest, layout.slots, 4),
            recs: Records::take(rest, layout.entries, ENTRY_REC),
            mask: layout.slots.wrapping_sub(1),
            len: 0,
            bump: 0,
            free: NIL,
            visited: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn capacity(&self) -> usize {
        self.recs.len()
    }

    pub(super) fn topic(&self, e: u32) -> u32 {
        self.recs.get(e, TOPIC)
    }

    #[inline]
    pub(super) fn peer(&self, e: u32) -> u32 {
        self.recs.get(e, PEER)
    }

    pub(super) fn count(&self, e: u32) -> u32 {
        self.recs.get(e, COUNT)
    }

    pub(super) fn set_count(&mut self, e: u32, n: u32) {
        self.recs.set(e, COUNT, n);
    }

    #[inline]
    pub(super) fn next(&self, list: List, e: u32) -> u32 {
        self.recs.get(e, list.fields().1)
    }

    fn home(&self, topic: u32, peer: u32) -> usize {
        let mut sip = self.keyed;
        sip.word(u64::from(topic) | u64::from(peer) << 32);
        sip.finish(&[], 8) as usize & self.mask
    }

    pub(super) fn find(&self, topic: u32, peer: u32) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let mut at = self.home(topic, peer);
        loop {
            let e = self.slots.get(at as u32, 0).checked_sub(1)?;
            if self.topic(e) == topic && self.peer(e) == peer {
                return Some(e);
            }
            at = (at + 1) & self.mask;
        }
    }

    /// A new entry with a count of one, on no list yet. The caller checked there is room.
    pub(super) fn insert(&mut self, topic: u32, peer: u32) -> u32 {
        let e = match self.free {
            NIL => {
                self.bump += 1;
                self.bump - 1
            }
            e => {
                self.free = self.recs.get(e, T_NEXT);
                e
            }
        };
        self.recs.set(e, TOPIC, topic);
        self.recs.set(e, PEER, peer);
        self.recs.set(e, COUNT, 1);
        let mut at = self.home(topic, peer);
        while self.slots.get(at as u32, 0) != 0 {
            self.visited += 1;
            at = (at + 1) & self.mask;
        }
        self.slots.set(at as u32, 0, e + 1);
        self.len += 1;
        e
    }

    /// Forget an entry that is on no list any more.
    pub(super) fn release(&mut self, e: u32) {
        let mut hole = self.home(self.topic(e), self.peer(e));
        while self.slots.get(hole as u32, 0) != e + 1 {
            self.visited += 1;
            hole = (hole + 1) & self.mask;
        }
        let mut at = hole;
        loop {
            at = (at + 1) & self.mask;
            let v = self.slots.get(at as u32, 0);
            let Some(other) = v.checked_sub(1) else { break };
            self.visited += 1;
            let from_home = at.wrapping_sub(self.home(self.topic(other), self.peer(other)));
            if from_home & self.mask >= at.wrapping_sub(hole) & self.mask {
                self.slots.set(hole as u32, 0, v);
                hole = at;
            }
        }
        self.slots.set(hole as u32, 0, 0);
        self.recs.set(e, T_NEXT, self.free);
        self.free = e;
        self.len -= 1;
    }

    /// Put `e` first on a list that starts at `head`.
    pub(super) fn push(&mut self, list: List, e: u32, head: &mut u32) {
        let (prev, next) = list.fields();
        self.recs.set(e, prev, NIL);
        self.recs.set(e, next, *head);
        if *head != NIL {
            self.recs.set(*head, prev, e);
        }
        *head = e;
    }

    /// Take `e` off a list that starts at `head`.
    pub(super) fn unlink(&mut self, list: List, e: u32, head: &mut u32) {
        self.visited += 1;
        let (prev, next) = list.fields();
        let (p, n) = (self.recs.get(e, prev), self.recs.get(e, next));
        match p {
            NIL => *head = n,
            p => self.recs.set(p, next, n),
        }
        if n != NIL {
            self.recs.set(n, prev, p);
        }
    }
}
