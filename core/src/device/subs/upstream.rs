//! What each publisher is owed of the topics' upstream states, coalesced per topic.
//!
//! A topic's upstream state is whether it has subscribers. Every change of it (its first
//! subscriber came, its last left) moves the topic to the end of the log, with the next
//! sequence number (`topics/log.rs`). Each publisher has a [`Cursor`]: it has been told the
//! state of every topic before it and is owed the topics from it on. The device writes a change at
//! once to a publisher that is owed nothing and can take it ([`Change::publisher`]); any other
//! publisher is owed the topic, and is sent its state as it is when its turn comes
//! ([`SubTable::owed`]). So a topic that changes a thousand times while a publisher cannot
//! take them costs that publisher one subscription or one cancellation, not a thousand; and a
//! publisher that joins is owed every topic, in the same way ([`SubTable::join`]).
//!
//! A publisher must not be sent a subscription it holds (an upstream that counts them would
//! then need two cancellations; a re-offer to another zedge, [`SubTable::reoffer_after`], is
//! the exception: it holds each topic once for a broker), so what each owed publisher was
//! last told of the topic matters. It is one of three things, and each topic keeps whether
//! every publisher that is owed it is known not to hold it (`CLEAN`): then it is sent a
//! subscription alone, or nothing for a cancelled topic. Otherwise it may hold it: it is sent
//! a cancellation, then the subscription if the topic has subscribers again (a cancellation
//! of a topic not held is ignored by libzmq and by us). Whether a publisher holds a topic is known at each change,
//! from where its cursor stands: owed the topic before (its state is what the topic knew),
//! told its state before the change (it holds it if the topic had subscribers), or joined after
//! the topic's last change (it was never told it).
//!
//! A topic without subscribers stays in the table, matching nothing, while some publisher is
//! owed its cancellation; the last publisher to pass it, or the sweep after a publisher that
//! leaves owing it ([`SubTable::forget`]), releases it.

use super::store::NIL;
use super::SubTable;

/// A publisher's place in the log: what it is owed. The device keeps one per publisher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// The first topic it is owed; `NIL` when it is owed nothing.
    next: u32,
    /// It joined after the change with this sequence number: of a topic whose last change is
    /// not later, it was never told anything.
    joined: u64,
    /// It is owed a re-offer ([`SubTable::reoffer_after`]) of the topics whose last change is
    /// later than this; 0 for none. Made once it owes nothing else.
    reoffer: u64,
    /// It was re-offered the topics from `next` on when it had been told every topic's state:
    /// of a topic whose last change is earlier than this, it holds what the topic holds (a
    /// subscription if it has subscribers, none if not; one it refused aside).
    told_until: u64,
}

impl Cursor {
    /// Owed nothing: a publisher that has been told everything, or a peer that is none.
    pub(crate) const NONE: Cursor = Cursor {
        next: NIL,
        joined: 0,
        reoffer: 0,
        told_until: 0,
    };

    pub(crate) fn owes_nothing(&self) -> bool {
        self.next == NIL
    }
}

/// What a publisher is owed of one topic, given what it may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owed {
    /// The topic has subscribers: a subscription, after a cancellation if the publisher may
    /// hold it already.
    Subscribe {
        /// The publisher may hold it: cancel it first.
        cancel_first: bool,
    },
    /// The topic has none, and the publisher may hold it.
    Cancel,
    /// The topic has none, and the publisher does not hold it.
    Nothing,
}

/// A topic's change being settled with each publisher: [`SubTable::changed`], then
/// [`Change::publisher`] for every publisher, then [`Change::finish`].
#[derive(Debug)]
#[must_use = "a change is settled with every publisher, then finished"]
pub(crate) struct Change {
    id: u32,
    live: bool,
    /// Before the change: its sequence number, whether it had subscribers, whether every
    /// publisher owed it was known not to hold it, and the topic after it in the log.
    old_seq: u64,
    was_live: bool,
    was_clean: bool,
    old_next: u32,
    /// Every publisher owed it now is known not to hold it.
    clean: bool,
    /// Some publisher is owed it now.
    owed: bool,
}

impl Change {
    /// The topic.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// Whether the topic has subscribers now: a subscription to write, or a cancellation.
    pub(crate) fn live(&self) -> bool {
        self.live
    }

    /// The sequence number of the topic's change before this one.
    pub(crate) fn old_seq(&self) -> u64 {
        self.old_seq
    }

    /// A publisher is owed the topic by a re-offer ([`SubTable::reoffer_after`]) made since
    /// [`Change::publisher`]: it stays in the table until that publisher passes it.
    pub(crate) fn owed_anyway(&mut self) {
        self.owed = true;
    }

    /// Settle the change with one publisher, at `cursor`: true if the caller is to write it
    /// now (the publisher is owed nothing and `ready` for it); otherwise it is owed the topic.
    pub(crate) fn publisher(&mut self, t: &SubTable<'_>, cursor: &mut Cursor, ready: bool) -> bool {
        // What it holds of the topic before the change: `None` when that is not known.
        let held = if cursor.next == NIL {
            if ready {
                return true;
            }
            cursor.next = self.id;
            Some(self.was_live)
        } else {
            let owed_before = cursor.next == self.id || t.topics.seq(cursor.next) <= self.old_seq;
            if cursor.next == self.id && self.old_next != NIL {
                // The topic moved to the end: the cursor stays at the next one it is owed.
                cursor.next = self.old_next;
            }
            // Owed as a re-offer: it was told the state the topic had.
            if !owed_before || self.old_seq < cursor.told_until {
                Some(self.was_live)
            } else if self.was_clean || self.old_seq <= cursor.joined {
                Some(false)
            } else {
                None
            }
        };
        self.owed = true;
        self.clean &= held == Some(false);
        false
    }

    /// Every publisher has had it: a topic without subscribers that no publisher is owed is
    /// released.
    pub(crate) fn finish(self, t: &mut SubTable<'_>) {
        if !self.live && !self.owed {
            t.release(self.id);
        } else {
            t.topics.set_clean(self.id, self.clean);
        }
    }
}

impl SubTable<'_> {
    /// A publisher that joins now: owed every topic, of which it holds none.
    pub(crate) fn join(&self) -> Cursor {
        Cursor {
            next: self.topics.first(),
            joined: self.topics.last_seq(),
            ..Cursor::NONE
        }
    }

    /// The publisher at `cursor`, another broker, was sent (or is owed) the cancellation of a
    /// topic whose last change before it had sequence number `old_seq`: that topic's place in
    /// its table is free, and the topics that changed after it took their places then, when
    /// the table may have been full. A broker refuses subscriptions past its limits and ZMTP
    /// tells nobody: a topic refused there stayed lost for good, even once room freed up
    /// (attacker round 7, chained forwarders). So the publisher is owed those topics again,
    /// once it owes nothing else (after the cancellation): each that has subscribers goes as a
    /// subscription, which a broker that holds it already takes as none (libzmq's XPUB keeps
    /// a set per peer; ours does for an XSUB peer). Re-offers asked meanwhile are made as one.
    pub(crate) fn reoffer_after(&self, cursor: &mut Cursor, old_seq: u64) {
        cursor.reoffer = match cursor.reoffer {
            0 => old_seq,
            r => r.min(old_seq),
        };
        if cursor.next == NIL {
            self.reoffer_now(cursor);
        }
    }

    /// The re-offer `cursor` is owed, if any, starts now (it owes nothing else): from the first
    /// topic whose last change came after it, found from the end of the log in as many steps
    /// as topics it re-offers.
    fn reoffer_now(&self, cursor: &mut Cursor) {
        let after = core::mem::take(&mut cursor.reoffer);
        if after == 0 {
            return;
        }
        let mut first = NIL;
        let mut t = self.topics.last();
        while t != NIL && self.topics.seq(t) > after {
            first = t;
            t = self.topics.prev(t);
        }
        if first != NIL {
            cursor.next = first;
            cursor.told_until = self.topics.last_seq() + 1;
        }
    }

    /// Topic `id`'s upstream state changed: it has subscribers now (its first came; `new` if
    /// it was not in the table) or none (its last left). It moves to the end of the log; settle
    /// the change with every publisher.
    pub(crate) fn changed(&mut self, id: u32, new: bool) -> Change {
        let live = self.topics.is_live(id);
        if new {
            // Inserted at the end of the log already; no publisher can hold it.
            return Change {
                id,
                live,
                old_seq: 0,
                was_live: false,
                was_clean: true,
                old_next: NIL,
                clean: true,
                owed: false,
            };
        }
        let old_next = self.topics.next(id);
        let change = Change {
            id,
            live,
            old_seq: self.topics.seq(id),
            was_live: !live,
            was_clean: self.topics.is_clean(id),
            old_next,
            clean: true,
            owed: false,
        };
        if self.sweep == id && old_next != NIL {
            self.sweep = old_next;
        }
        self.topics.touch(id);
        change
    }

    /// What the publisher at `cursor` is owed first, and of which topic; `None` when owed
    /// nothing. It stays owed until [`SubTable::pass`].
    pub(crate) fn owed(&self, cursor: &Cursor) -> Option<(u32, Owed)> {
        let id = cursor.next;
        if id == NIL {
            return None;
        }
        let live = self.topics.is_live(id);
        if self.topics.seq(id) < cursor.told_until {
            // Re-offered: it holds the topic if the topic has subscribers (or refused it).
            let owed = match live {
                true => Owed::Subscribe {
                    cancel_first: false,
                },
                false => Owed::Nothing,
            };
            return Some((id, owed));
        }
        let held_not = self.topics.is_clean(id) || self.topics.seq(id) <= cursor.joined;
        let owed = match (live, held_not) {
            (true, held_not) => Owed::Subscribe {
                cancel_first: !held_not,
            },
            (false, false) => Owed::Cancel,
            (false, true) => Owed::Nothing,
        };
        Some((id, owed))
    }

    /// The publisher at `cursor` took what it was owed first: the cursor moves on. Returns
    /// that topic if it has no subscribers: release it unless another publisher is owed it
    /// ([`SubTable::owes`]).
    pub(crate) fn pass(&mut self, cursor: &mut Cursor) -> Option<u32> {
        let id = cursor.next;
        if id == NIL {
            return None;
        }
        cursor.next = self.topics.next(id);
        if cursor.next == NIL {
            self.reoffer_now(cursor);
        }
        (!self.topics.is_live(id)).then_some(id)
    }

    /// Whether the publisher at `cursor` is owed topic `id`.
    pub(crate) fn owes(&self, cursor: &Cursor, id: u32) -> bool {
        cursor.next != NIL
            && (cursor.next == id || self.topics.seq(cursor.next) <= self.topics.seq(id))
    }

    /// A publisher left while owed what `cursor` says: the topics without subscribers that
    /// only it was owed are found and released by the sweep ([`SubTable::sweep_one`]).
    pub(crate) fn forget(&mut self, cursor: &Cursor) {
        if cursor.next == NIL {
            return;
        }
        if self.sweep == NIL || self.topics.seq(cursor.next) < self.topics.seq(self.sweep) {
            self.sweep = cursor.next;
        }
    }

    /// Whether the sweep has topics left to look at.
    pub(crate) fn sweeping(&self) -> bool {
        self.sweep != NIL
    }

    /// The sweep looks at one topic: released if it has no subscribers and `owed` (whether
    /// some publisher is owed it) says no.
    pub(crate) fn sweep_one(&mut self, owed: impl FnOnce(&Self, u32) -> bool) {
        let id = self.sweep;
        if id == NIL {
            return;
        }
        if !self.topics.is_live(id) && !owed(self, id) {
            // Moves the sweep on.
            self.release(id);
        } else {
            self.sweep = self.topics.next(id);
        }
    }

    /// A topic is being released: the sweep does not stay on it.
    pub(super) fn upstream_released(&mut self, id: u32) {
        if self.sweep == id {
            self.sweep = self.topics.next(id);
        }
    }
}
