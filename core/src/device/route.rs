//! Routing: which messages go where, frame by frame, for the three devices.

use super::peer::{Peer, Src};
use super::subs::cut;
use super::{ByteQueue, CloseReason, Device, Kind, PeerId, Side, MAX_TOPIC};
use crate::conn::{Event, SessionError};
use crate::time::Instant;
use crate::wire::frame::{holds_message, FrameHead};
use crate::wire::Writer;

/// A message whose first frame is at least a quarter of the input buffer is cut through
/// without waiting to have all of it: large partial messages are not kept between reads.
const CUT_THROUGH_DIVISOR: usize = 4;

/// Fanned-out frames up to this long, head included, go into each queue in one push.
const JOIN_MAX: usize = 256;

/// Length of the routing frame a queue puts before each request: 0x00, slot, generation.
const ROUTING_ID_LEN: usize = 9;

enum Route {
    /// Destinations are held; copy the message.
    Go,
    /// No destination has room: take no input until woken.
    Blocked,
    /// Read the message and drop it (counted by the router).
    Discard,
}

impl<Q: ByteQueue> Device<'_, Q> {
    /// One unit of progress on a peer's input: a command, a frame, part of a frame, or none
    /// (0) when more input or more room is needed. `fresh`: this is the first step of a
    /// `handle_input` call; `full`: the caller's buffer is full and cannot grow.
    pub(super) fn step(
        &mut self,
        idx: u32,
        rest: &[u8],
        fresh: bool,
        full: bool,
        now: Instant,
    ) -> Result<usize, SessionError> {
        let peer = self.peer(idx).ok_or(SessionError::Closed)?;
        if peer.blocked {
            return Ok(0);
        }
        if peer.src != Src::Idle {
            // A message cut through across calls waits for its destination to drain.
            if fresh && self.dest_above_hwm(peer) {
                self.block(idx);
                return Ok(0);
            }
            return self.feed(idx, rest, now);
        }
        if !peer.ready || !self.routes_from(peer.side) {
            return self.feed(idx, rest, now);
        }
        let (head, head_len) = match FrameHead::decode(rest) {
            Ok(Some((head, used))) if !head.command => (head, used),
            _ => return self.feed(idx, rest, now),
        };
        // Whole messages are routed at once. Those that cannot fit in the buffer, or whose
        // first frame is large, are cut through as they arrive, once the first frame's head
        // bytes (what a forwarder matches topics on) are here.
        let body = &rest[head_len..];
        let prefix = &body[..(body.len() as u64).min(head.len) as usize];
        let head_ready = prefix.len() as u64 >= head.len.min(self.cfg.limits.head_bytes as u64);
        let large = head.len >= (self.cfg.input_capacity / CUT_THROUGH_DIVISOR) as u64;
        if !holds_message(rest) && !(head_ready && (full || large)) {
            return Ok(0);
        }
        let next = match self.route(idx, head, prefix) {
            Route::Blocked => {
                self.block(idx);
                return Ok(0);
            }
            Route::Go => Src::Forwarding { first: true },
            Route::Discard => Src::Discarding,
        };
        if let Some(peer) = self.peer_mut(idx) {
            peer.src = next;
        }
        self.feed(idx, rest, now)
    }

    fn feed(&mut self, idx: u32, rest: &[u8], now: Instant) -> Result<usize, SessionError> {
        let peer = self.peer_mut(idx).ok_or(SessionError::Closed)?;
        let input = peer.session.handle_input(rest, now)?;
        match input.event {
            None => {}
            Some(Event::Ready(_)) => self.on_ready(idx),
            Some(Event::Subscribe(topic)) => self.on_subscription(idx, topic, true),
            Some(Event::Cancel(topic)) => self.on_subscription(idx, topic, false),
            Some(Event::Frame(f)) => {
                let whole = f.is_whole();
                self.on_frame(idx, FrameHead::data(f.len, f.more), f.chunk, whole);
            }
            Some(Event::Body { chunk, done }) => self.on_body(idx, chunk, done),
        }
        Ok(input.consumed)
    }

    /// Sides whose messages are routed; the others' data is read and dropped.
    fn routes_from(&self, side: Side) -> bool {
        match self.cfg.kind {
            Kind::Queue => true,
            Kind::Forwarder { .. } | Kind::Streamer => side == Side::Frontend,
        }
    }

    fn dest_above_hwm(&self, peer: &Peer<Q>) -> bool {
        // A forwarder never makes a publisher wait; its subscribers' overshoot is bounded by
        // one message.
        if matches!(self.cfg.kind, Kind::Forwarder { .. }) {
            return false;
        }
        let dest = peer.dests.and_then(|d| self.peer(d));
        dest.is_some_and(|d| d.queue.len() >= self.cfg.queue_hwm)
    }

    fn route(&mut self, idx: u32, head: FrameHead, prefix: &[u8]) -> Route {
        let Some(side) = self.peer(idx).map(|p| p.side) else {
            return Route::Discard;
        };
        match (self.cfg.kind, side) {
            (Kind::Streamer | Kind::Queue, Side::Frontend) => {
                let Some(worker) = self.pick_worker() else {
                    return Route::Blocked;
                };
                self.hold(idx, worker);
                if self.cfg.kind == Kind::Queue {
                    let id = self.id(idx);
                    let mut frame = [0u8; 2 + ROUTING_ID_LEN];
                    frame[..2].copy_from_slice(
                        FrameHead::data(ROUTING_ID_LEN as u64, true)
                            .encode()
                            .as_slice(),
                    );
                    frame[3..7].copy_from_slice(&id.index.to_be_bytes());
                    frame[7..].copy_from_slice(&id.generation.to_be_bytes());
                    if self.push_to(worker, &frame) {
                        self.stats.backend.bytes_out += ROUTING_ID_LEN as u64;
                    }
                }
                Route::Go
            }
            (Kind::Queue, Side::Backend) => {
                let Some(client) = self.reply_target(head, prefix) else {
                    self.stats.dropped.unroutable += 1;
                    return Route::Discard;
                };
                let hwm = self.cfg.queue_hwm;
                if self
                    .peer(client)
                    .is_some_and(|c| c.held_by.is_some() || c.queue.len() >= hwm)
                {
                    return Route::Blocked;
                }
                self.hold(idx, client);
                Route::Go
            }
            (Kind::Forwarder { .. }, Side::Frontend) => {
                // A subscriber taking another publisher's large message (cut through as it
                // arrives) gets this one after it: the wait lasts while that message arrives,
                // since a forwarder never makes a publisher wait mid-message.
                if self.held > 0 && self.subscriber_held(prefix) {
                    return Route::Blocked;
                }
                self.fan_out(idx, prefix);
                Route::Go
            }
            _ => Route::Discard,
        }
    }

    /// The client a worker's reply names in its routing frame, if it is still here.
    fn reply_target(&self, head: FrameHead, prefix: &[u8]) -> Option<u32> {
        if !head.more
            || head.len != ROUTING_ID_LEN as u64
            || prefix.len() != ROUTING_ID_LEN
            || prefix[0] != 0
        {
            return None;
        }
        let index = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]);
        let generation = u32::from_be_bytes([prefix[5], prefix[6], prefix[7], prefix[8]]);
        let idx = self.index(PeerId { index, generation })?;
        let client = self.peer(idx)?;
        (client.side == Side::Frontend && client.ready && client.close.is_none()).then_some(idx)
    }

    /// Whether a subscriber that `prefix` reaches is held by a message in progress.
    fn subscriber_held(&self, prefix: &[u8]) -> bool {
        let mut held = false;
        self.subs
            .matches(&prefix[..prefix.len().min(MAX_TOPIC)], |p| {
                let sub = self.slots.get(p as usize).and_then(|s| s.peer.as_ref());
                held |= sub.is_some_and(|s| s.held_by.is_some() && s.ready && s.close.is_none());
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
        subs.matches(&prefix[..prefix.len().min(MAX_TOPIC)], |p| {
            let Some(sub) = slots.get_mut(p as usize).and_then(|s| s.peer.as_mut()) else {
                return;
            };
            if sub.epoch == epoch || !sub.ready || sub.close.is_some() {
                return;
            }
            sub.epoch = epoch;
            if sub.held_by.is_some() {
                stats.dropped.busy += 1;
            } else if sub.queue.len() >= hwm {
                stats.dropped.hwm += 1;
            } else {
                *held += 1;
                sub.held_by = Some(idx);
                sub.mark = sub.pushed;
                sub.next_dest = dests;
                dests = Some(p);
            }
        });
        if let Some(src) = self.peer_mut(idx) {
            src.dests = dests;
        }
    }

    fn hold(&mut self, src: u32, dest: u32) {
        let prev = self.peer(src).and_then(|s| s.dests);
        let Some(d) = self.peer_mut(dest) else { return };
        d.held_by = Some(src);
        d.mark = d.pushed;
        d.next_dest = prev;
        self.held += 1;
        if let Some(s) = self.peer_mut(src) {
            s.dests = Some(dest);
        }
    }

    fn on_frame(&mut self, idx: u32, head: FrameHead, chunk: &[u8], whole: bool) {
        let kind = self.cfg.kind;
        let Some(peer) = self.peer_mut(idx) else {
            return;
        };
        let side = peer.side;
        peer.last_frame = !head.more;
        match peer.src {
            Src::Forwarding { first } => {
                peer.src = Src::Forwarding { first: false };
                // A reply's routing frame was used to route it; the client never sees it.
                if !(first && kind == Kind::Queue && side == Side::Backend) {
                    self.copy_to_dests(idx, Some(head), chunk);
                }
            }
            Src::Discarding => {}
            Src::Idle => {
                // Data from a side whose messages go nowhere (subscribers, PULL workers).
                if head.more || !whole {
                    peer.src = Src::Discarding;
                }
                self.stats.dropped.upstream_data += 1;
            }
        }
        let side_stats = self.side_stats(side);
        side_stats.bytes_in += head.len;
        if !head.more {
            side_stats.msgs_in += 1;
            if whole {
                self.end_message(idx);
            }
        }
    }

    fn on_body(&mut self, idx: u32, chunk: &[u8], done: bool) {
        let Some(peer) = self.peer(idx) else { return };
        let last = peer.last_frame;
        if matches!(peer.src, Src::Forwarding { .. }) {
            self.copy_to_dests(idx, None, chunk);
        }
        if done && last {
            self.end_message(idx);
        }
    }

    /// The frame body `id` is sending, when its caller may move the rest of it from `id`'s
    /// socket straight to the destination's, bypassing the device: the destination and the
    /// body bytes still to come. Only in a queue or streamer, whose sources wait for their
    /// destination anyway (a forwarder never makes a publisher wait), and only for a body going
    /// to one live destination. The caller must first feed every byte of `id` it has already
    /// read and take everything [`Device::output`] holds for the destination (writing it, or
    /// keeping it to write ahead of the body: taken counts as written, so a sender that dies
    /// from here on resets the destination), then report what it moved with
    /// [`Device::bypassed`]. Bytes it took and lost: [`Device::fail_peer`].
    pub fn bypass(&self, id: PeerId) -> Option<(PeerId, u64)> {
        if matches!(self.cfg.kind, Kind::Forwarder { .. }) {
            return None;
        }
        let src = self.peer(self.index(id)?)?;
        let left = src.session.body_left();
        if left == 0 || src.blocked || !matches!(src.src, Src::Forwarding { .. }) {
            return None;
        }
        let d = src.dests?;
        let dest = self.peer(d)?;
        if dest.next_dest.is_some() || !dest.ready || dest.close.is_some() {
            return None;
        }
        Some((self.id(d), left))
    }

    /// `n` body bytes of the frame [`Device::bypass`] named went from `id`'s socket to the
    /// destination's socket.
    pub fn bypassed(&mut self, id: PeerId, n: u64, now: Instant) {
        let Some(idx) = self.index(id) else { return };
        let Some(src) = self.peer_mut(idx) else {
            return;
        };
        let n = n.min(src.session.body_left());
        let done = src.session.skip_body(n, now);
        let last = src.last_frame;
        if let Some(dest) = src.dests.and_then(|d| self.peer_mut(d)) {
            // Written, not queued: a message cut short from here on resets the destination.
            dest.pushed += n;
            dest.written += n;
            let side = dest.side;
            self.side_stats(side).bytes_out += n;
        }
        if done && last {
            self.end_message(idx);
        }
    }

    /// Append a frame header (if any) and body bytes to every destination `idx` holds.
    fn copy_to_dests(&mut self, idx: u32, head: Option<FrameHead>, chunk: &[u8]) {
        let head = head.map(|h| h.encode());
        let head = head.as_ref().map_or(&[][..], |h| h.as_slice());
        let first = self.peer(idx).and_then(|p| p.dests);
        let several = first
            .and_then(|d| self.peer(d))
            .is_some_and(|p| p.next_dest.is_some());
        let len = head.len() + chunk.len();
        if several && !head.is_empty() && len <= JOIN_MAX {
            // Fanned out, a small frame is joined to its head first: one push per
            // destination, not two.
            let mut joined = [0u8; JOIN_MAX];
            joined[..head.len()].copy_from_slice(head);
            joined[head.len()..len].copy_from_slice(chunk);
            self.push_to_dests(first, &joined[..len], &[], chunk.len());
        } else {
            self.push_to_dests(first, head, chunk, chunk.len());
        }
    }

    /// Push `a` then `b` to the destination list starting at `first`; `body` bytes of them
    /// count as data out.
    fn push_to_dests(&mut self, first: Option<u32>, a: &[u8], b: &[u8], body: usize) {
        let mut cur = first;
        while let Some(d) = cur {
            cur = self.peer(d).and_then(|p| p.next_dest);
            if self.push_to(d, a) && self.push_to(d, b) {
                if let Some(side) = self.peer(d).map(|p| p.side) {
                    self.side_stats(side).bytes_out += body as u64;
                }
            }
        }
    }

    /// Push to a peer's queue; a queue that cannot take it has its peer closed.
    fn push_to(&mut self, idx: u32, bytes: &[u8]) -> bool {
        let Some(peer) = self.peer_mut(idx) else {
            return false;
        };
        if bytes.is_empty() {
            return true;
        }
        if peer.queue.push(bytes).is_err() {
            self.request_close(idx, CloseReason::Overflow);
            return false;
        }
        peer.pushed += bytes.len() as u64;
        self.request_wake(idx);
        true
    }

    /// The message from `idx` is complete: release its destinations.
    fn end_message(&mut self, idx: u32) {
        let Some(peer) = self.peer_mut(idx) else {
            return;
        };
        peer.src = Src::Idle;
        let mut cur = peer.dests.take();
        while let Some(d) = cur {
            let Some(dest) = self.peer_mut(d) else { break };
            cur = dest.next_dest.take();
            dest.held_by = None;
            let side = dest.side;
            self.held -= 1;
            self.side_stats(side).msgs_out += 1;
            self.flush_control(d);
        }
        if self.blocked.head.is_some() {
            self.wake_blocked();
        }
    }

    /// The source `idx` will never finish its message: take it back out of every destination
    /// that has not started writing it, reset the others.
    pub(super) fn abort_message(&mut self, idx: u32) {
        let Some(peer) = self.peer_mut(idx) else {
            return;
        };
        let was_forwarding = matches!(peer.src, Src::Forwarding { .. });
        peer.src = Src::Idle;
        let mut cur = peer.dests.take();
        if was_forwarding {
            self.stats.dropped.aborted += 1;
        }
        while let Some(d) = cur {
            let Some(dest) = self.peer_mut(d) else { break };
            cur = dest.next_dest.take();
            dest.held_by = None;
            let clean = dest.written <= dest.mark;
            if clean {
                dest.queue.truncate_back((dest.pushed - dest.mark) as usize);
                dest.pushed = dest.mark;
            }
            self.held -= 1;
            if clean {
                self.flush_control(d);
            } else {
                self.stats.resets += 1;
                self.request_close(d, CloseReason::SenderAborted);
            }
        }
        self.wake_blocked();
    }

    /// `idx` is going away while a source copies a message into it: the source lets go.
    pub(super) fn leave_holder(&mut self, idx: u32) {
        let Some(src) = self.peer_mut(idx).and_then(|p| p.held_by.take()) else {
            return;
        };
        self.held -= 1;
        // A source moving a body to us itself (see `bypass`) must learn that we are gone.
        self.request_wake(src);
        let next = self.peer(idx).and_then(|p| p.next_dest);
        let mut prev: Option<u32> = None;
        let mut cur = self.peer(src).and_then(|s| s.dests);
        while let Some(c) = cur {
            if c == idx {
                match prev.and_then(|p| self.peer_mut(p)) {
                    Some(p) => p.next_dest = next,
                    None => {
                        if let Some(s) = self.peer_mut(src) {
                            s.dests = next;
                        }
                    }
                }
                break;
            }
            prev = Some(c);
            cur = self.peer(c).and_then(|p| p.next_dest);
        }
        let single_dest = !matches!(self.cfg.kind, Kind::Forwarder { .. });
        let Some(s) = self.peer_mut(src) else { return };
        if single_dest && s.dests.is_none() && matches!(s.src, Src::Forwarding { .. }) {
            s.src = Src::Discarding;
            let reply = s.side == Side::Backend;
            if reply {
                self.stats.dropped.unroutable += 1;
            } else {
                self.stats.dropped.aborted += 1;
            }
        }
    }

    // ---- workers (queue and streamer backends) ----

    /// The next ready worker, round-robin, that is free and below its high-water mark.
    fn pick_worker(&mut self) -> Option<u32> {
        let start = self.workers?;
        let hwm = self.cfg.queue_hwm;
        let mut w = start;
        loop {
            let p = self.peer(w)?;
            let (next, _) = p.worker?;
            if p.held_by.is_none() && p.queue.len() < hwm && p.close.is_none() {
                self.workers = Some(next);
                return Some(w);
            }
            w = next;
            if w == start {
                return None;
            }
        }
    }

    fn link_worker(&mut self, idx: u32) {
        let Some(cursor) = self.workers else {
            if let Some(p) = self.peer_mut(idx) {
                p.worker = Some((idx, idx));
            }
            self.workers = Some(idx);
            return;
        };
        // Insert just before the cursor: the newcomer is the last to be tried in this round.
        let Some((_, prev)) = self.peer(cursor).and_then(|c| c.worker) else {
            return;
        };
        if let Some(p) = self.peer_mut(idx) {
            p.worker = Some((cursor, prev));
        }
        if let Some(p) = self.peer_mut(prev) {
            p.worker = p.worker.map(|(_, pp)| (idx, pp));
        }
        if let Some(c) = self.peer_mut(cursor) {
            c.worker = c.worker.map(|(n, _)| (n, idx));
        }
    }

    pub(super) fn unlink_worker(&mut self, idx: u32) {
        let Some((next, prev)) = self.peer_mut(idx).and_then(|p| p.worker.take()) else {
            return;
        };
        if next == idx {
            self.workers = None;
            return;
        }
        if let Some(p) = self.peer_mut(prev) {
            p.worker = p.worker.map(|(_, pp)| (next, pp));
        }
        if let Some(n) = self.peer_mut(next) {
            n.worker = n.worker.map(|(nn, _)| (nn, prev));
        }
        if self.workers == Some(idx) {
            self.workers = Some(next);
        }
    }

    // ---- handshakes and subscriptions ----

    fn on_ready(&mut self, idx: u32) {
        // Our READY (owed since the peer's greeting) must precede any subscription we send.
        self.flush_control(idx);
        let kind = self.cfg.kind;
        let Some(peer) = self.peer_mut(idx) else {
            return;
        };
        peer.ready = true;
        match (kind, peer.side) {
            (Kind::Forwarder { classic: false }, Side::Frontend) => {
                // A publisher (or upstream broker) that (re)connects learns every topic.
                let Device { slots, subs, .. } = self;
                if let Some(p) = slots[idx as usize].peer.as_mut() {
                    let mut ok = true;
                    subs.topics(|topic| ok &= send_subscription(p, true, topic));
                    if !ok {
                        p.close.get_or_insert(CloseReason::Overflow);
                    }
                }
                self.after_upstream(idx);
            }
            (Kind::Forwarder { classic: true }, Side::Frontend) => {
                if !send_subscription(peer, true, b"") {
                    peer.close.get_or_insert(CloseReason::Overflow);
                }
                self.after_upstream(idx);
            }
            (Kind::Queue | Kind::Streamer, Side::Backend) => {
                self.link_worker(idx);
                self.wake_blocked();
            }
            _ => {}
        }
    }

    fn on_subscription(&mut self, idx: u32, topic: &[u8], subscribe: bool) {
        if topic.len() > MAX_TOPIC {
            self.stats.topics_cut += 1;
        }
        let upstream = self.cfg.kind == (Kind::Forwarder { classic: false });
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
            if p.side == Side::Frontend && p.ready && !send_subscription(p, subscribe, topic) {
                p.close.get_or_insert(CloseReason::Overflow);
            }
            self.after_upstream(idx);
        }
    }

    /// A subscriber left: cancel upstream every topic no one else wants.
    pub(super) fn drop_subscriptions(&mut self, idx: u32) {
        let upstream = self.cfg.kind == (Kind::Forwarder { classic: false });
        let Device { slots, subs, .. } = self;
        subs.remove_peer(idx, |topic| {
            if !upstream {
                return;
            }
            for slot in slots.iter_mut() {
                let Some(p) = slot.peer.as_mut() else {
                    continue;
                };
                if p.side == Side::Frontend && p.ready && !send_subscription(p, false, topic) {
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
