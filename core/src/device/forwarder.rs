//! The forwarder (XSUB frontend, XPUB backend; SUB/PUB when classic): each publication goes
//! to every subscriber whose subscriptions match it and that has room; a subscriber above its
//! high-water mark loses it (counted), never the others and never the publisher. Subscriptions
//! travel upstream (`upstream.rs`): the first subscriber to a topic sends it to every
//! publisher, the last to leave cancels it, and a publisher that (re)connects learns them all.

use super::later;
use super::peer::Src;
use super::pump::Route;
use super::spool::Live;
use super::subs::Refusal;
use super::{ByteQueue, Device};
use crate::wire::metadata::SocketType;

impl<Q: ByteQueue> Device<'_, Q> {
    /// A publication: to every matching subscriber with room. `whole`: all of it, when it is
    /// all here.
    pub(super) fn route_publication(
        &mut self,
        idx: u32,
        prefix: &[u8],
        whole: Option<&[u8]>,
    ) -> Route {
        // A subscriber taking another publisher's large message (cut through as it arrives)
        // gets this one after it. Where its queue can hold messages back, this one is held
        // back for it (`later.rs`) and goes to the others now; else the publisher waits while
        // that message arrives (a forwarder never makes a publisher wait mid-message, so
        // nothing else can hold it).
        let whole = whole.filter(|_| Q::DEFERS);
        if self.held > 0 && whole.is_none() && self.subscriber_held(prefix) {
            return Route::Blocked;
        }
        // With a spool: the sink takes it instead of the uplinks, or nothing (`spool.rs`);
        // a sink at its mark is waited for while the caller's disk takes what it holds.
        let spool = self.spill(idx);
        if let Some((sink, true, _)) = spool.as_ref() {
            if let Some(msg) = whole {
                self.sink_holds_back(*sink, msg);
            }
            if self.sink_waits(*sink) {
                return Route::Blocked;
            }
        }
        self.fan_out(idx, prefix, whole, spool);
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

    /// Hold every subscriber whose subscriptions match `prefix` and that has room; one held
    /// by another message gets `whole` held back, if given.
    fn fan_out(
        &mut self,
        idx: u32,
        prefix: &[u8],
        whole: Option<&[u8]>,
        spool: Option<(u32, bool, Live)>,
    ) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // Stamps from 2^32 messages ago could read as fresh: clear them.
            for slot in self.slots.iter_mut() {
                if let Some(p) = slot.peer.as_mut() {
                    p.epoch = 0;
                    p.missed = 0;
                }
            }
            self.epoch = 1;
        }
        // Room for what each copies: shared bodies are stored once (`room.rs`).
        let (epoch, hwm, need) = (self.epoch, self.cfg.queue_hwm, self.need - self.need_shared);
        let mark = self.cfg.mark_for(self.need);
        let max_size = self.cfg.limits.max_message_size;
        let at = self.last_now;
        let Device {
            slots,
            subs,
            stats,
            held,
            ..
        } = self;
        let mut dests = None;
        // A subscriber that keeps up and found no memory (`room.rs`, `close_lagging`).
        let mut starved = None;
        subs.matches(prefix, |p| {
            if let Some((sink, spill, passed)) = &spool {
                // The sink takes only what spills; the uplinks of the lanes that spool none
                // of it.
                let skip = if p == *sink { !spill } else { passed.has(p) };
                if skip {
                    return;
                }
            }
            let Some(sub) = slots.get_mut(p as usize).and_then(|s| s.peer.as_mut()) else {
                return;
            };
            if sub.epoch == epoch || !sub.is_live() {
                return;
            }
            sub.epoch = epoch;
            if let Some(h) = sub.held {
                // Lost by the subscriber busy with another message: counted as its own loss
                // too (it showed 0 in `zedge peers` while losing most of a flow so).
                // The spool's sink holds back as much as memory allows (`spool.rs`).
                let sink = spool.as_ref().is_some_and(|s| s.0 == p);
                let limit = if sink { usize::MAX } else { hwm };
                let lost = match whole {
                    Some(msg) => match later::hold_back(sub, msg, (limit, max_size)) {
                        Ok(()) => None,
                        Err(later::Lost::Hwm) => Some(&mut stats.dropped.hwm),
                        Err(later::Lost::Memory) => {
                            // As one refused room below: see `refan`.
                            sub.missed = epoch;
                            if starved.is_none() && !sub.lags() {
                                starved = Some(p);
                            }
                            Some(&mut stats.dropped.memory)
                        }
                    },
                    None => Some(&mut stats.dropped.busy),
                };
                if let Some(count) = lost {
                    *count += 1;
                    sub.dropped += 1;
                }
                // Its holder keeps this message waiting (or lost): what it cuts through is
                // owed within a patience from now on.
                if let Some(holder) = slots.get_mut(h.by as usize).and_then(|s| s.peer.as_mut()) {
                    let left = holder.session.body_left();
                    holder.contend(at, left);
                }
            } else if sub.queue.len() >= mark {
                stats.dropped.hwm += 1;
                sub.dropped += 1;
            } else if !sub.queue.reserve_beside(need, sub.one_message()) {
                stats.dropped.memory += 1;
                sub.dropped += 1;
                if starved.is_none() && !sub.lags() {
                    starved = Some(p);
                }
            } else {
                *held += 1;
                sub.hold_for(idx, dests, at);
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
        if let Some(keeper) = starved {
            self.refan(idx, keeper, prefix, whole);
        }
        if self.need_shared > 0 {
            let dests = self.peer(idx).and_then(|p| p.src.dests());
            let alone = self.alone_copies(dests);
            self.set_dests(idx, alone);
        }
    }

    /// Subscribers that keep up found no memory for the message `idx` is routing: if closing
    /// those that lag gave some back ([`Device::close_lagging`]), each subscriber refused for
    /// memory (matched, held by nothing, below its mark) tries again, and holds the message
    /// if it has room now (its drop taken back); so does each that could not hold `whole`
    /// back while it took another message. Before, only the first were: a subscriber taking a
    /// 4 MiB message while deaf subscribers held the budget lost the ticks of another
    /// publisher that came meanwhile, and nobody was closed.
    #[cold]
    #[inline(never)]
    fn refan(&mut self, idx: u32, keeper: u32, prefix: &[u8], whole: Option<&[u8]>) {
        if !self.close_lagging(keeper) {
            return;
        }
        let (epoch, need) = (self.epoch, self.need - self.need_shared);
        let mark = self.cfg.mark_for(self.need);
        let limits = (self.cfg.queue_hwm, self.cfg.limits.max_message_size);
        let mut dests = self.peer(idx).and_then(|p| p.src.dests());
        let at = self.last_now;
        let Device {
            slots,
            subs,
            stats,
            held,
            ..
        } = self;
        subs.matches(prefix, |p| {
            let Some(sub) = slots.get_mut(p as usize).and_then(|s| s.peer.as_mut()) else {
                return;
            };
            if sub.epoch != epoch || !sub.is_live() {
                return;
            }
            if sub.held.is_some() {
                let again = sub.missed == epoch
                    && whole.is_some_and(|m| later::hold_back(sub, m, limits).is_ok());
                if again {
                    sub.missed = 0;
                    stats.dropped.memory -= 1;
                    sub.dropped -= 1;
                }
                return;
            }
            if sub.queue.len() < mark && sub.queue.reserve_beside(need, sub.one_message()) {
                stats.dropped.memory -= 1;
                sub.dropped -= 1;
                *held += 1;
                sub.hold_for(idx, dests, at);
                dests = Some(p);
            }
        });
        self.set_dests(idx, dests);
    }

    /// The destination list of the message `idx` is routing starts at `dests` now.
    fn set_dests(&mut self, idx: u32, dests: Option<u32>) {
        if let Some(Src::Forwarding { dests: d, .. }) = self.peer_mut(idx).map(|p| &mut p.src) {
            *d = dests;
        }
    }

    /// A message whose large bodies would be shared, held by one subscriber alone: that one
    /// gets copies, and needs room for all of it. Without, it loses the message (counted).
    #[cold]
    fn alone_copies(&mut self, dests: Option<u32>) -> Option<u32> {
        let d = dests?;
        if self.next_dest(d).is_some() {
            return dests;
        }
        let need = self.need;
        if self.peer_mut(d)?.queue.reserve(need)
            || (self.close_lagging(d) && self.peer_mut(d)?.queue.reserve(need))
        {
            return dests;
        }
        let sub = self.peer_mut(d)?;
        sub.held = None;
        sub.dropped += 1;
        self.held -= 1;
        self.memory_blocked = true;
        self.stats.dropped.memory += 1;
        None
    }

    /// A subscriber subscribed or cancelled. Kept out of the message path's code, which it
    /// would crowd out of the inliner's reach.
    #[inline(never)]
    pub(super) fn on_subscription(&mut self, idx: u32, topic: &[u8], subscribe: bool) {
        if self.is_capture(idx) {
            return self.on_capture_subscription(idx, subscribe);
        }
        let upstream = self.cfg.kind.forwards_subscriptions();
        let Device { slots, subs, .. } = self;
        let Some(peer) = slots.get_mut(idx as usize).and_then(|s| s.peer.as_mut()) else {
            return;
        };
        if subscribe {
            let proxy = peer.facts.ready.is_some_and(|r| r.0 == SocketType::XSub);
            let again = self.last.is_some() && subs.holds(&peer.subs, topic);
            match subs.subscribe(&mut peer.subs, topic, proxy) {
                Ok(Some((id, new))) if upstream => {
                    self.passed_up(topic.len());
                    self.extra_steps += self.settle(id, new);
                    self.prime(idx, topic, again || self.spools_for(idx));
                }
                Ok(_) => self.prime(idx, topic, again || self.spools_for(idx)),
                Err(refusal) => self.refused(idx, refusal),
            }
            // The spool's source may wait for an uplink's first subscription.
            if self.spools_for(idx) {
                self.wake_all_blocked();
            }
        } else {
            match subs.unsubscribe(&mut peer.subs, topic) {
                Some(Some(id)) if upstream => {
                    self.passed_up(topic.len());
                    self.extra_steps += self.settle(id, false);
                }
                Some(Some(id)) => subs.release(id),
                Some(None) | None => {}
            }
        }
    }

    /// A subscription or cancellation of a `topic_len`-byte topic goes upstream: libzmq's
    /// XPUB would hand it to its proxy (non-verbose: the first subscription to a topic, the
    /// last cancellation), as a message of a byte more than the topic.
    pub(super) fn passed_up(&mut self, topic_len: usize) {
        self.stats.proxy_view.up.add(topic_len as u64 + 1);
    }

    /// A subscription with a topic over [`MAX_TOPIC`](super::MAX_TOPIC), whose bytes the
    /// session skipped.
    pub(super) fn on_topic_too_long(&mut self, idx: u32, subscribe: bool) {
        if self.is_capture(idx) {
            return self.on_capture_subscription(idx, subscribe);
        }
        // A cancellation of it matches nothing held: nothing was refused.
        if subscribe {
            self.refused(idx, Refusal::TooLong);
        }
    }

    fn refused(&mut self, idx: u32, refusal: Refusal) {
        self.last_refused[refusal as usize] = Some(self.id(idx));
        self.stats.dropped.subscriptions += 1;
        let by_cause = &mut self.stats.refused_subscriptions;
        *match refusal {
            Refusal::TableFull => &mut by_cause.table_full,
            Refusal::TopicBytesFull => &mut by_cause.topic_bytes_full,
            Refusal::PeerShare => &mut by_cause.peer_share,
            Refusal::TooLong => &mut by_cause.too_long,
        } += 1;
    }
}
