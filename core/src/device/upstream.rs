//! Subscriptions upstream, and the work the forwarder does a bounded amount of at a time.
//!
//! A topic's first subscription and the cancellation of its last go to every publisher: at
//! once to a publisher that is owed nothing else, whose queue is empty and whose allowance
//! of subscription bytes is not spent (`pace.rs`), otherwise through the table's log
//! (`subs/upstream.rs`), which owes each publisher every topic's latest state once, not every
//! change: a subscriber that subscribes and cancels one topic as fast as it can costs a
//! publisher that does not keep up, or that has had its allowance, one state of that topic per
//! drained queue or refill, never a queue that grows until the publisher is closed, and never
//! more bytes a second than [`UpstreamPace::rate`](super::UpstreamPace) (a libzmq PUB takes
//! them in on its application's thread, and stops publishing while they keep coming). A
//! publisher that (re)connects is owed every topic the same way, and is sent them as its queue
//! drains and its allowance lets it.
//!
//! What waits for [`Device::handle_timeout`] ([`Device::has_work`]), at most [`MAX_STEPS`]
//! units per call: topics owed to publishers whose queues are empty, up to [`UPSTREAM_BATCH`]
//! bytes each per drain and as their allowances let them (a publisher that waits for its
//! allowance to refill is a deadline of [`Device::poll_timeout`], not work); the subscriptions of subscribers that left (a subscriber leaving with
//! 100,000 of them stalls nobody; it matches nothing from the moment it is removed, and its
//! slot is not reused until they are out); and the sweep of topics owed only to publishers
//! that left.

use core::mem;

use super::pace::Allowance;
use super::peer::Peer;
use super::subs::{Cursor, Owed, PeerSubs, Topic};
use super::{ByteQueue, CloseReason, Device, Slot, MAX_STEPS};
use crate::time::Instant;
use crate::wire::command::MAX_SUBSCRIPTION_HEAD;
use crate::wire::Writer;

/// What a publisher owed topics is sent of them per drained queue: its queue is refilled only
/// once empty, so what waits for a publisher that does not keep up is at most this and one
/// subscription, however its subscriptions churn.
pub const UPSTREAM_BATCH: usize = 64 << 10;

impl<Q: ByteQueue> Device<'_, Q> {
    /// Whether work waits for [`Device::handle_timeout`] (and [`Device::poll_timeout`] says
    /// now): subscriptions of subscribers that left to take out, topics owed to publishers
    /// ready to take them. After any call, a caller that sleeps until the next deadline asks
    /// this first.
    pub fn has_work(&self) -> bool {
        self.work
    }

    /// A publisher (or upstream broker) finished its handshake: it is owed every topic, or
    /// (classic) sent one subscription to everything.
    pub(super) fn on_publisher_ready(&mut self, idx: u32) {
        let forwards = self.cfg.kind.forwards_subscriptions();
        let stores = self.cache_stores();
        let Device { slots, subs, .. } = self;
        let Some(p) = slots[idx as usize].peer.as_mut() else {
            return;
        };
        if forwards {
            p.upstream = subs.join();
            p.pace = Allowance::full(&self.cfg.upstream, self.last_now);
            self.work |= !p.upstream.owes_nothing() && p.queue.is_empty();
        } else {
            send_or_close(p, true, Topic::from(&b""[..]));
            p.asked_at = Some((self.last_now, stores));
        }
        self.after_upstream(idx);
    }

    /// A publisher leaves the ring: topics without subscribers that only it was owed are
    /// swept.
    pub(super) fn forget_upstream(&mut self, idx: u32) {
        let Device { slots, subs, .. } = self;
        let Some(p) = slots.get_mut(idx as usize).and_then(|s| s.peer.as_mut()) else {
            return;
        };
        if !p.upstream.owes_nothing() {
            subs.forget(&p.upstream);
            p.upstream = Cursor::NONE;
            self.work = true;
        }
    }

    /// Topic `id`'s upstream state changed (it has subscribers now, `new` to the table, or
    /// none): settled with every ready publisher. Returns how many there were, the work done.
    #[inline(never)]
    pub(super) fn settle(&mut self, id: u32, new: bool) -> usize {
        let stores = self.cache_stores();
        let Device {
            slots,
            subs,
            workers,
            work,
            cfg,
            last_now,
            ..
        } = self;
        let (pace, now) = (&cfg.upstream, *last_now);
        let mut ch = subs.changed(id, new);
        let mut n = 0;
        each_publisher(slots, *workers, |p| {
            n += 1;
            let ready = p.queue.is_empty() && p.close.is_none();
            // Spent: owed it, it goes when the allowance refills (`poll_timeout`).
            let paced = ready && p.pace.allows(pace, now);
            if ch.publisher(subs, &mut p.upstream, paced) {
                let before = p.pushed;
                send_or_close(p, ch.live(), subs.topic(ch.id()));
                p.pace.spend(pace, now, p.pushed - before);
                p.asked_at = Some((now, stores));
            } else if paced {
                // Owed something else first (a replay, say): taken in turn.
                *work = true;
            }
            // Another broker may have refused topics for want of the room this frees.
            if !ch.live() && p.zedge {
                subs.reoffer_after(&mut p.upstream, ch.old_seq());
                if subs.owes(&p.upstream, ch.id()) {
                    ch.owed_anyway();
                }
                *work |= paced && !p.upstream.owes_nothing();
            }
        });
        ch.finish(subs);
        self.after_upstream_all();
        n
    }

    /// A subscriber left: its subscriptions are taken out a bounded number at a time
    /// ([`Device::handle_timeout`]); it matches nothing meanwhile, being gone.
    pub(super) fn drop_subscriptions(&mut self, idx: u32) {
        let Some(slot) = self.slots.get_mut(idx as usize) else {
            return;
        };
        let Some(p) = slot.peer.as_mut() else { return };
        if p.subs.is_empty() {
            return;
        }
        slot.leaving = mem::replace(&mut p.subs, PeerSubs::new(idx));
        self.leaving += 1;
        self.work = true;
    }

    /// At most [`MAX_STEPS`] units of the waiting work: topics to publishers, subscriptions of
    /// subscribers that left, the sweep.
    pub(super) fn do_work(&mut self) {
        let mut budget = MAX_STEPS;
        if self.cfg.kind.forwards_subscriptions() {
            self.send_owed(&mut budget);
        }
        self.take_out_leaving(&mut budget);
        while budget > 0 && self.subs.sweeping() {
            let Device {
                slots,
                subs,
                workers,
                ..
            } = self;
            let mut n = 1;
            subs.sweep_one(|t, id| {
                any_publisher(slots, *workers, |p| {
                    n += 1;
                    t.owes(&p.upstream, id)
                })
            });
            budget = budget.saturating_sub(n);
        }
        self.work = self.leaving > 0 || self.subs.sweeping() || self.owed_ready();
    }

    /// Whether a publisher that is owed topics can take them now.
    fn owed_ready(&self) -> bool {
        if !self.cfg.kind.forwards_subscriptions() {
            return false;
        }
        let (pace, now) = (&self.cfg.upstream, self.last_now);
        any_publisher(self.slots, self.workers, |p| {
            !p.upstream.owes_nothing()
                && p.queue.is_empty()
                && p.close.is_none()
                && p.pace.allows(pace, now)
        })
    }

    /// When a publisher owed topics that waits only for its allowance to refill may be sent
    /// them ([`Device::poll_timeout`]).
    pub(super) fn pace_deadline(&self) -> Option<Instant> {
        if !self.cfg.kind.forwards_subscriptions() || self.cfg.upstream.is_off() {
            return None;
        }
        let pace = &self.cfg.upstream;
        let mut first: Option<Instant> = None;
        any_publisher(self.slots, self.workers, |p| {
            if !p.upstream.owes_nothing() && p.queue.is_empty() && p.close.is_none() {
                if let Some(t) = p.pace.refilled_at(pace) {
                    first = Some(first.map_or(t, |f| f.min(t)));
                }
            }
            false
        });
        first
    }

    /// A timer fired: a publisher owed topics whose allowance has refilled makes work.
    pub(super) fn pace_refilled(&mut self) {
        self.work |= self.owed_ready();
    }

    /// Each publisher whose queue is empty is sent up to [`UPSTREAM_BATCH`] of what it is
    /// owed, within the budget, starting where the last call stopped.
    fn send_owed(&mut self, budget: &mut usize) {
        let Some(start) = self.workers else { return };
        let mut idx = start;
        loop {
            self.send_owed_to(idx, budget);
            self.after_upstream(idx);
            let next = self
                .peer(idx)
                .and_then(|p| p.worker)
                .map_or(start, |l| l.next);
            if *budget == 0 {
                // The next call starts with the one after.
                self.workers = Some(next);
                return;
            }
            idx = next;
            if idx == start {
                return;
            }
        }
    }

    fn send_owed_to(&mut self, idx: u32, budget: &mut usize) {
        let stores = self.cache_stores();
        let Device {
            slots,
            subs,
            workers,
            cfg,
            last_now,
            ..
        } = self;
        let (pace, now) = (&cfg.upstream, *last_now);
        if ready(slots, idx).is_none_or(|p| !p.queue.is_empty()) {
            return;
        }
        while *budget > 0 {
            let Some(p) = ready(slots, idx) else { return };
            if !p.pace.allows(pace, now) {
                // The rest when it refills (`Device::pace_deadline`).
                return;
            }
            let Some((id, owed)) = subs.owed(&p.upstream) else {
                return;
            };
            let topic = subs.topic(id);
            let before = p.pushed;
            let sent = match owed {
                Owed::Subscribe { cancel_first } => send_owed(p, cancel_first, topic),
                Owed::Cancel => send_subscription(p, false, topic),
                Owed::Nothing => true,
            };
            if !sent {
                if p.queue.is_empty() {
                    // It can never take it.
                    p.close.get_or_insert(CloseReason::Overflow);
                }
                return;
            }
            p.pace.spend(pace, now, p.pushed - before);
            p.asked_at = Some((now, stores));
            *budget -= 1;
            let Some(gone) = subs.pass(&mut p.upstream) else {
                continue;
            };
            // A topic without subscribers: released once the last publisher owed it passed.
            let mut n = 0;
            let owed = any_publisher(slots, *workers, |q| {
                n += 1;
                subs.owes(&q.upstream, gone)
            });
            *budget = budget.saturating_sub(n);
            if !owed {
                subs.release(gone);
            }
        }
    }

    /// Take subscriptions of subscribers that left out of the table, within the budget; a
    /// topic whose last subscription goes is settled with the publishers.
    fn take_out_leaving(&mut self, budget: &mut usize) {
        let upstream = self.cfg.kind.forwards_subscriptions();
        while *budget > 0 && self.leaving > 0 {
            let Some(at) = self.slots.iter().position(|s| !s.leaving.is_empty()) else {
                self.leaving = 0;
                return;
            };
            let mut mine = self.slots[at].leaving;
            let done = loop {
                if *budget == 0 {
                    break false;
                }
                let Some((id, last)) = self.subs.leave_one(&mut mine) else {
                    break true;
                };
                *budget -= 1;
                if !last {
                    continue;
                }
                if upstream {
                    self.passed_up(self.subs.topic(id).len());
                    let n = self.settle(id, false);
                    *budget = budget.saturating_sub(n);
                } else {
                    self.subs.release(id);
                }
            };
            self.slots[at].leaving = mine;
            if done {
                self.leaving -= 1;
            }
        }
    }

    /// Wake every publisher that was sent subscriptions, or close it if its queue overflowed.
    fn after_upstream_all(&mut self) {
        let Some(start) = self.workers else { return };
        let mut idx = start;
        loop {
            self.after_upstream(idx);
            idx = self
                .peer(idx)
                .and_then(|p| p.worker)
                .map_or(start, |l| l.next);
            if idx == start {
                return;
            }
        }
    }

    /// Wake an upstream peer that was sent subscriptions, or close it if its queue overflowed.
    fn after_upstream(&mut self, idx: u32) {
        let Some(p) = self.peer(idx) else { return };
        match p.close {
            Some(reason) => self.request_close(idx, reason),
            None if !p.queue.is_empty() => self.request_wake(idx),
            None => {}
        }
    }
}

/// Publisher `idx`, if it is sent more of what it is owed: not closing, and its queue below
/// [`UPSTREAM_BATCH`].
fn ready<Q: ByteQueue>(slots: &mut [Slot<Q>], idx: u32) -> Option<&mut Peer<Q>> {
    let p = slots.get_mut(idx as usize)?.peer.as_mut()?;
    (p.close.is_none() && p.queue.len() < UPSTREAM_BATCH).then_some(p)
}

/// Call `f` with each ready publisher: the ring of them from `start` (the device's
/// `workers`, which in a forwarder links publishers).
fn each_publisher<Q>(slots: &mut [Slot<Q>], start: Option<u32>, mut f: impl FnMut(&mut Peer<Q>)) {
    let Some(start) = start else { return };
    let mut idx = start;
    loop {
        let Some(p) = slots.get_mut(idx as usize).and_then(|s| s.peer.as_mut()) else {
            return;
        };
        f(p);
        idx = p.worker.map_or(start, |l| l.next);
        if idx == start {
            return;
        }
    }
}

/// Whether `f` holds for some ready publisher.
fn any_publisher<Q>(
    slots: &[Slot<Q>],
    start: Option<u32>,
    mut f: impl FnMut(&Peer<Q>) -> bool,
) -> bool {
    let Some(start) = start else { return false };
    let mut idx = start;
    loop {
        let Some(p) = slots.get(idx as usize).and_then(|s| s.peer.as_ref()) else {
            return false;
        };
        if f(p) {
            return true;
        }
        idx = p.worker.map_or(start, |l| l.next);
        if idx == start {
            return false;
        }
    }
}

/// [`send_subscription`], or the publisher is put up for closing: it does not read what it
/// is sent.
fn send_or_close<Q: ByteQueue>(p: &mut Peer<Q>, subscribe: bool, topic: Topic<'_>) {
    if !send_subscription(p, subscribe, topic) {
        p.close.get_or_insert(CloseReason::Overflow);
    }
}

/// A subscription owed, after a cancellation when the publisher may hold it already: both or
/// neither.
fn send_owed<Q: ByteQueue>(p: &mut Peer<Q>, cancel_first: bool, topic: Topic<'_>) -> bool {
    if !cancel_first {
        return send_subscription(p, true, topic);
    }
    let room = p.queue.capacity().saturating_sub(p.queue.len());
    let one = subscription_len(p, topic);
    if one.is_none_or(|n| room < 2 * n) {
        return false;
    }
    send_subscription(p, false, topic) && send_subscription(p, true, topic)
}

/// Bytes a subscription (or cancellation) of `topic` takes in the form the peer needs.
fn subscription_len<Q>(peer: &Peer<Q>, topic: Topic<'_>) -> Option<usize> {
    let mut head = [0u8; MAX_SUBSCRIPTION_HEAD];
    let mut w = Writer::new(&mut head);
    peer.session
        .write_subscription_head(&mut w, true, topic.len())
        .ok()?;
    Some(w.len() + topic.len())
}

/// Queue a subscription (or cancellation) to an upstream peer, in the form its ZMTP version
/// calls for, all of it or nothing: its head from a small buffer, then the topic's pieces.
/// False if its queue has no room for it.
fn send_subscription<Q: ByteQueue>(peer: &mut Peer<Q>, subscribe: bool, topic: Topic<'_>) -> bool {
    let mut head = [0u8; MAX_SUBSCRIPTION_HEAD];
    let mut w = Writer::new(&mut head);
    if peer
        .session
        .write_subscription_head(&mut w, subscribe, topic.len())
        .is_err()
    {
        return false;
    }
    let n = w.len();
    let total = n + topic.len();
    if peer.queue.capacity().saturating_sub(peer.queue.len()) < total {
        return false;
    }
    let mut pushed = 0;
    for part in core::iter::once(&head[..n]).chain(topic.pieces()) {
        if peer.queue.push(part).is_err() {
            peer.queue.truncate_back(pushed);
            return false;
        }
        pushed += part.len();
    }
    peer.pushed += total as u64;
    true
}
