//! The forwarder (XSUB frontend, XPUB backend; SUB/PUB when classic): each publication goes
//! to every subscriber whose subscriptions match it and that has room; a subscriber above its
//! high-water mark loses it (counted), never the others and never the publisher. Subscriptions
//! travel upstream: the first subscriber to a topic sends it to every publisher, the last to
//! leave cancels it, and a publisher that (re)connects learns them all.

use core::mem;

use super::peer::{Held, Peer, Src};
use super::pump::Route;
use super::subs::{PeerSubs, Refusal, Topic};
use super::{ByteQueue, CloseReason, Device, Slot};
use crate::wire::command::MAX_SUBSCRIPTION_HEAD;
use crate::wire::Writer;

impl<Q: ByteQueue> Device<'_, Q> {
    /// A publication: to every matching subscriber with room.
    pub(super) fn route_publication(&mut self, idx: u32, prefix: &[u8]) -> Route {
        // A subscriber taking another publisher's large message (cut through as it arrives)
        // gets this one after it: the wait lasts while that message arrives, since a
        // forwarder never makes a publisher wait mid-message.
        if self.held > 0 && self.subscriber_held(prefix) {
            return Route::Blocked;
        }
        self.fan_out(idx, prefix);
        Route::Go
    }

    /// Whether a subscriber that `prefix` reaches is held by a message in progress.
    fn subscriber_held(&self, prefix: &[u8]) -> bool {
        let mut held = false;
        self.subs.matches(prefix, |p| {
            let sub = self.slots.get(p as usize).and_then(|s| s.peer.as_ref());
            held |= sub.is_some_and(|s| s.held.is_some() && s.is_live());
        });
        held
    }

    /// Hold every subscriber whose subscriptions match `prefix` and that has room.
    fn fan_out(&mut self, idx: u32, prefix: &[u8]) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // Stamps from 2^32 messages ago could read as fresh: clear them.
            for slot in self.slots.iter_mut() {
                if let Some(p) = slot.peer.as_mut() {
                    p.epoch = 0;
                }
            }
            self.epoch = 1;
        }
        let (epoch, hwm, need) = (self.epoch, self.cfg.queue_hwm, self.need);
        let Device {
            slots,
            subs,
            stats,
            held,
            ..
        } = self;
        let mut dests = None;
        subs.matches(prefix, |p| {
            let Some(sub) = slots.get_mut(p as usize).and_then(|s| s.peer.as_mut()) else {
                return;
            };
            if sub.epoch == epoch || !sub.is_live() {
                return;
            }
            sub.epoch = epoch;
            if sub.held.is_some() {
                stats.dropped.busy += 1;
            } else if sub.queue.len() >= hwm {
                stats.dropped.hwm += 1;
            } else if !sub.queue.reserve(need) {
                stats.dropped.memory += 1;
            } else {
                *held += 1;
                sub.held = Some(Held {
                    by: idx,
                    mark: sub.pushed,
                    next_dest: dests,
                });
                dests = Some(p);
            }
        });
        let now = self.last_now;
        if let Some(src) = self.peer_mut(idx) {
            src.start_progress(now);
            src.src = Src::Forwarding {
                first: true,
                last: false,
                dests,
            };
        }
    }

    /// A publisher (or upstream broker) finished its handshake: it learns every topic, or
    /// (classic) one subscription to everything.
    pub(super) fn on_publisher_ready(&mut self, idx: u32) {
        let forwards = self.cfg.kind.forwards_subscriptions();
        let Device { slots, subs, .. } = self;
        if let Some(p) = slots[idx as usize].peer.as_mut() {
            if forwards {
                subs.topics(|topic| send_or_close(p, true, topic));
            } else {
                send_or_close(p, true, Topic::from(&b""[..]));
            }
        }
        self.after_upstream(idx);
    }

    /// A subscriber subscribed or cancelled.
    pub(super) fn on_subscription(&mut self, idx: u32, topic: &[u8], subscribe: bool) {
        let upstream = self.cfg.kind.forwards_subscriptions();
        let Device { slots, subs, .. } = self;
        let Some(peer) = slots.get_mut(idx as usize).and_then(|s| s.peer.as_mut()) else {
            return;
        };
        if subscribe {
            match subs.add(&mut peer.subs, topic) {
                Ok(true) if upstream => self.send_upstream(true, topic.into()),
                Ok(_) => {}
                Err(refusal) => self.refused(refusal),
            }
        } else if subs.remove(&mut peer.subs, topic) == Some(true) && upstream {
            self.send_upstream(false, topic.into());
        }
    }

    /// A subscription with a topic over [`MAX_TOPIC`](super::MAX_TOPIC), whose bytes the
    /// session skipped.
    pub(super) fn on_topic_too_long(&mut self, subscribe: bool) {
        // A cancellation of it matches nothing held: nothing was refused.
        if subscribe {
            self.refused(Refusal::TooLong);
        }
    }

    fn refused(&mut self, refusal: Refusal) {
        self.stats.dropped.subscriptions += 1;
        let by_cause = &mut self.stats.refused_subscriptions;
        *match refusal {
            Refusal::TableFull => &mut by_cause.table_full,
            Refusal::TopicBytesFull => &mut by_cause.topic_bytes_full,
            Refusal::PeerShare => &mut by_cause.peer_share,
            Refusal::TooLong => &mut by_cause.too_long,
        } += 1;
    }

    /// Every ready publisher gets the subscription (or cancellation).
    fn send_upstream(&mut self, subscribe: bool, topic: Topic<'_>) {
        let Device { slots, workers, .. } = self;
        each_publisher(slots, *workers, |p| send_or_close(p, subscribe, topic));
        self.after_upstream_all();
    }

    /// A subscriber left: cancel upstream every topic no one else wants. Costs O(its
    /// subscriptions x publishers), whatever the table holds.
    pub(super) fn drop_subscriptions(&mut self, idx: u32) {
        let upstream = self.cfg.kind.forwards_subscriptions();
        let Some(mut mine) = self
            .peer_mut(idx)
            .map(|p| mem::replace(&mut p.subs, PeerSubs::new(idx)))
        else {
            return;
        };
        let Device {
            slots,
            subs,
            workers,
            ..
        } = self;
        subs.remove_peer(&mut mine, |topic| {
            if upstream {
                each_publisher(slots, *workers, |p| send_or_close(p, false, topic));
            }
        });
        if upstream {
            self.after_upstream_all();
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

/// [`send_subscription`], or the publisher is put up for closing: it does not read what it
/// is sent.
fn send_or_close<Q: ByteQueue>(p: &mut Peer<Q>, subscribe: bool, topic: Topic<'_>) {
    if !send_subscription(p, subscribe, topic) {
        p.close.get_or_insert(CloseReason::Overflow);
    }
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
