//! The forwarder (XSUB frontend, XPUB backend; SUB/PUB when classic): each publication goes
//! to every subscriber whose subscriptions match it and that has room; a subscriber above its
//! high-water mark loses it (counted), never the others and never the publisher. Subscriptions
//! travel upstream: the first subscriber to a topic sends it to every publisher, the last to
//! leave cancels it, and a publisher that (re)connects learns them all.

use super::peer::{Held, Peer, Src};
use super::pump::Route;
use super::subs::cut;
use super::{ByteQueue, CloseReason, Device, Side, MAX_TOPIC};
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
        self.subs.matches(cut(prefix), |p| {
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
        let (epoch, hwm) = (self.epoch, self.cfg.queue_hwm);
        let Device {
            slots,
            subs,
            stats,
            held,
            ..
        } = self;
        let mut dests = None;
        subs.matches(cut(prefix), |p| {
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
        if let Some(src) = self.peer_mut(idx) {
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
            let mut ok = true;
            if forwards {
                subs.topics(|topic| ok &= send_subscription(p, true, topic));
            } else {
                ok = send_subscription(p, true, b"");
            }
            if !ok {
                p.close.get_or_insert(CloseReason::Overflow);
            }
        }
        self.after_upstream(idx);
    }

    /// A subscriber subscribed or cancelled.
    pub(super) fn on_subscription(&mut self, idx: u32, topic: &[u8], subscribe: bool) {
        if topic.len() > MAX_TOPIC {
            self.stats.topics_cut += 1;
        }
        let upstream = self.cfg.kind.forwards_subscriptions();
        if subscribe {
            match self.subs.add(idx, topic) {
                Ok(true) if upstream => self.send_upstream(true, cut(topic)),
                Ok(_) => {}
                Err(_) => self.stats.dropped.subscriptions += 1,
            }
        } else if self.subs.remove(idx, topic) == Some(true) && upstream {
            self.send_upstream(false, cut(topic));
        }
    }

    fn send_upstream(&mut self, subscribe: bool, topic: &[u8]) {
        for idx in 0..self.slots.len() as u32 {
            let Some(p) = self.peer_mut(idx) else {
                continue;
            };
            if p.side == Side::Frontend
                && p.session.is_ready()
                && !send_subscription(p, subscribe, topic)
            {
                p.close.get_or_insert(CloseReason::Overflow);
            }
            self.after_upstream(idx);
        }
    }

    /// A subscriber left: cancel upstream every topic no one else wants.
    pub(super) fn drop_subscriptions(&mut self, idx: u32) {
        let upstream = self.cfg.kind.forwards_subscriptions();
        let Device { slots, subs, .. } = self;
        subs.remove_peer(idx, |topic| {
            if !upstream {
                return;
            }
            for slot in slots.iter_mut() {
                let Some(p) = slot.peer.as_mut() else {
                    continue;
                };
                if p.side == Side::Frontend
                    && p.session.is_ready()
                    && !send_subscription(p, false, topic)
                {
                    p.close.get_or_insert(CloseReason::Overflow);
                }
            }
        });
        if upstream {
            for i in 0..self.slots.len() as u32 {
                self.after_upstream(i);
            }
        }
    }

    /// Wake an upstream peer that was sent subscriptions, or close it if its queue overflowed.
    fn after_upstream(&mut self, idx: u32) {
        let Some(p) = self.peer(idx) else { return };
        if p.side != Side::Frontend {
            return;
        }
        match p.close {
            Some(reason) => self.request_close(idx, reason),
            None if !p.queue.is_empty() => self.request_wake(idx),
            None => {}
        }
    }
}

/// Queue a subscription (or cancellation) to an upstream peer, in the form its ZMTP version
/// calls for. False if its queue is full.
fn send_subscription<Q: ByteQueue>(peer: &mut Peer<Q>, subscribe: bool, topic: &[u8]) -> bool {
    let mut buf = [0u8; MAX_TOPIC + 16];
    let mut w = Writer::new(&mut buf);
    if peer
        .session
        .write_subscription(&mut w, subscribe, topic)
        .is_err()
    {
        return false;
    }
    let n = w.len();
    if peer.queue.push(&buf[..n]).is_err() {
        return false;
    }
    peer.pushed += n as u64;
    true
}
