//! The input pump: a peer's bytes, one unit at a time, through its session and on to the
//! device's routing. A message is routed once all of it is here (store and forward), or, when
//! it cannot all be here (larger than the input buffer), once its first frame's head bytes
//! are: it is then cut through. Its frames go to the destinations it holds until its last
//! frame ends.

use super::peer::Src;
use super::{ByteQueue, Device, Input, Side};
use crate::conn::{Event, SessionError};
use crate::time::Instant;
use crate::wire::frame::{message_extent, FrameHead, MessageScan};

/// Where the message that starts now goes.
pub(super) enum Route {
    /// Destinations are held (the source is forwarding); copy the message.
    Go,
    /// No destination has room: take no input until woken.
    Blocked,
    /// Read the message and drop it (counted by the router).
    Discard,
}

impl<Q: ByteQueue> Device<'_, Q> {
    /// One unit of progress on a peer's input: a command, a frame, part of a frame, or none
    /// (0) when more input or more room is needed.
    pub(super) fn step(
        &mut self,
        input: Input<'_>,
        idx: u32,
        now: Instant,
    ) -> Result<usize, SessionError> {
        let Input {
            rest,
            fresh,
            full,
            ahead,
        } = input;
        let peer = self.peer(idx).ok_or(SessionError::Closed)?;
        // One put up for closing starts no new message.
        if peer.blocked || (peer.close.is_some() && peer.src == Src::Idle) {
            return Ok(0);
        }
        if peer.src != Src::Idle {
            // A message cut through across calls waits for its destination to drain.
            if fresh && (self.dest_above_hwm(idx) || !self.room_for_more(idx, rest.len())) {
                self.block(idx);
                return Ok(0);
            }
            return self.feed(idx, rest, None, now);
        }
        // Where the scan for this message's end stood, if this call starts at it.
        let scanned = if fresh { peer.scan } else { 0 };
        if !peer.session.is_ready() || !self.cfg.kind.routes_from(peer.side) {
            return self.feed(idx, rest, None, now);
        }
        let (head, head_len) = match FrameHead::decode(rest) {
            Ok(Some((head, used))) if !head.command => (head, used),
            Ok(Some(command)) => return self.feed(idx, rest, Some(command), now),
            _ => return self.feed(idx, rest, None, now),
        };
        if self.paused {
            self.block(idx);
            return Ok(0);
        }
        // Store and forward: a message is routed once all of it is here, so a sender that
        // is slow or stalls holds no destination meanwhile. One that cannot all be here (the
        // buffer is full, or its first frame alone is larger) is cut through once the first
        // frame's head bytes (what a forwarder matches topics on) are here; so is one whose
        // missing bytes the caller has ready to move past the device.
        let body = &rest[head_len..];
        let prefix = &body[..(body.len() as u64).min(head.len) as usize];
        let (missing, held) = self.message_missing(idx, rest, (head, head_len), scanned);
        if missing != Some(0) {
            let head_ready = prefix.len() as u64 >= head.len.min(self.cfg.limits.head_bytes as u64);
            let too_large =
                (head_len as u64).saturating_add(head.len) > self.cfg.input_capacity as u64;
            let all_ahead = missing.is_some_and(|m| m <= ahead);
            if !(head_ready && (full || too_large || all_ahead)) {
                if let (Some(m), Some(p)) = (missing, self.peer_mut(idx)) {
                    p.awaits = m;
                }
                return Ok(0);
            }
        }
        self.set_need(rest, held, missing);
        self.cutting = missing != Some(0);
        let whole = (missing == Some(0)).then(|| &rest[..held]);
        match self.route(idx, head, prefix, whole) {
            Route::Go => {
                if !self.taps.is_empty() {
                    self.tap(idx, head, prefix, whole);
                }
                self.took_turn(idx);
            }
            Route::Blocked => {
                self.contend(idx);
                self.block(idx);
                return Ok(0);
            }
            Route::Discard => {
                if let Some(peer) = self.peer_mut(idx) {
                    peer.src = Src::Discarding { last: false };
                }
            }
        }
        self.feed(idx, rest, Some((head, head_len)), now)
    }

    /// How much of the message at the start of `rest` (its first frame's head decoded) is still
    /// to come, and how many bytes of `rest` are the message's ([`message_extent`]).
    #[inline]
    fn message_missing(
        &mut self,
        idx: u32,
        rest: &[u8],
        (head, head_len): (FrameHead, usize),
        scanned: usize,
    ) -> (Option<u64>, usize) {
        if scanned == 0 {
            let extent = message_extent(rest, head, head_len);
            if extent.0 == Some(0) {
                return extent;
            }
        }
        self.keep_scanning(idx, rest, (head, head_len), scanned)
    }

    /// [`Device::message_missing`] of a message that is not all here (or was not at the last
    /// call): where the scan stands is kept with the peer, and the next call that starts at
    /// the same message (`scanned`: nothing consumed since) goes on from there, so a message of
    /// many small frames arriving in pieces is walked once in all (twice at its first piece).
    #[cold]
    #[inline(never)]
    fn keep_scanning(
        &mut self,
        idx: u32,
        rest: &[u8],
        (head, head_len): (FrameHead, usize),
        scanned: usize,
    ) -> (Option<u64>, usize) {
        let fresh = MessageScan::new(head, head_len);
        let mut scan = match scanned {
            0 => fresh,
            at => MessageScan::resume(rest, at).unwrap_or(fresh),
        };
        let missing = scan.missing(rest);
        let whole = missing == Some(0);
        if let Some(p) = self.peer_mut(idx) {
            p.scan = if whole { 0 } else { scan.position() };
        }
        #[cfg(test)]
        {
            self.scanned += u64::from(scan.frames());
        }
        let held = if whole { scan.end() } else { rest.len() };
        (missing, held)
    }

    /// Whether the destination of a message in progress from `idx` is above its high-water
    /// mark, where the source must wait.
    fn dest_above_hwm(&self, idx: u32) -> bool {
        let Some(src) = self.peer(idx) else {
            return false;
        };
        if !self.cfg.kind.waits_mid_message(src.side) {
            // The destination's overshoot is bounded by one message.
            return false;
        }
        // A message that could be stored whole (at most the input buffer) always finishes:
        // a destination that stopped reading must not hold its sender mid-message. One cut
        // through waits once its destination holds that much beyond its mark.
        let mark = self.cfg.queue_hwm.saturating_add(self.cfg.input_capacity);
        let dest = src.src.dests().and_then(|d| self.peer(d));
        dest.is_some_and(|d| d.queue.len() >= mark)
    }

    /// The session's next unit of input (`decoded`: the frame head at the start of `rest`,
    /// if the caller has decoded it already), and what the device does with it.
    fn feed(
        &mut self,
        idx: u32,
        rest: &[u8],
        decoded: Option<(FrameHead, usize)>,
        now: Instant,
    ) -> Result<usize, SessionError> {
        let peer = self.peer_mut(idx).ok_or(SessionError::Closed)?;
        let input = match decoded {
            Some((head, used)) => peer.session.handle_frame(rest, head, used, now)?,
            None => peer.session.handle_input(rest, now)?,
        };
        match input.event {
            None => {}
            Some(Event::Ready(r)) => self.on_ready(idx, &r),
            Some(Event::Subscribe(topic)) => self.on_subscription(idx, topic, true),
            Some(Event::Cancel(topic)) => self.on_subscription(idx, topic, false),
            Some(Event::TopicTooLong { subscribe, .. }) => self.on_topic_too_long(idx, subscribe),
            Some(Event::Frame(f)) => {
                let whole = f.is_whole();
                self.on_frame(idx, FrameHead::data(f.len, f.more), f.chunk, whole);
            }
            Some(Event::Body { chunk, done }) => self.on_body(idx, chunk, done),
        }
        Ok(input.consumed)
    }

    fn on_frame(&mut self, idx: u32, head: FrameHead, chunk: &[u8], whole: bool) {
        let kind = self.cfg.kind;
        let Some(peer) = self.peer_mut(idx) else {
            return;
        };
        let side = peer.side;
        let last_frame = !head.more;
        // Counted as the side's are, below.
        peer.facts.traffic.bytes_in += head.len;
        peer.facts.traffic.msgs_in += u64::from(last_frame);
        let mut copy = false;
        // Data libzmq's proxy would never see (from a side it does not read).
        let mut unseen = false;
        match &mut peer.src {
            Src::Forwarding { first, last, .. } => {
                // A reply's routing frame was used to route it; the client never sees it.
                copy = !(*first && Self::strips_routing_frame(kind, side));
                *first = false;
                *last = last_frame;
            }
            Src::Discarding { last } => {
                *last = last_frame;
                unseen = !kind.routes_from(side);
            }
            Src::Idle => {
                unseen = true;
                // Data from a side whose messages go nowhere (subscribers, PULL workers).
                if head.more || !whole {
                    peer.src = Src::Discarding { last: last_frame };
                }
                self.stats.dropped.upstream_data += 1;
            }
        }
        if copy {
            self.copy_to_dests(idx, Some(head), chunk);
        }
        if unseen {
            self.stats.proxy_view.unseen(side).add(head.len);
        }
        let side_stats = self.counts_of(idx, side);
        side_stats.frames_in += 1;
        side_stats.bytes_in += head.len;
        if last_frame {
            side_stats.msgs_in += 1;
            if whole {
                self.end_message(idx);
            }
        }
    }

    fn on_body(&mut self, idx: u32, chunk: &[u8], done: bool) {
        let Some(peer) = self.peer(idx) else { return };
        let last = peer.src.last_frame();
        if peer.src.is_forwarding() {
            self.copy_to_dests(idx, None, chunk);
        }
        if done && last {
            self.end_message(idx);
        }
    }

    /// Which device routes a message that starts from `idx` now, and where; `whole`: all of
    /// it, when it is all here.
    fn route(&mut self, idx: u32, head: FrameHead, prefix: &[u8], whole: Option<&[u8]>) -> Route {
        use super::Kind::{Forwarder, Queue, Streamer};
        let Some(side) = self.peer(idx).map(|p| p.side) else {
            return Route::Discard;
        };
        match (self.cfg.kind, side) {
            (Streamer, Side::Frontend) => self.route_work(idx),
            (Queue, Side::Frontend) => self.route_request(idx),
            (Queue, Side::Backend) => self.route_reply(idx, head, prefix, whole),
            (Forwarder { .. }, Side::Frontend) => {
                // The spool's messages go to its uplinks alone, and are older than what the
                // cache keeps.
                if let Some(s) = self.spool_from(idx) {
                    return self.route_unspooled(idx, prefix, s);
                }
                if self.remember(idx, head, prefix, whole) {
                    return Route::Discard;
                }
                self.route_publication(idx, prefix, whole)
            }
            (Streamer | Forwarder { .. }, Side::Backend) | (_, Side::Capture) => Route::Discard,
        }
    }
}
