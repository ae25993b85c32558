//! Capture: a tap on everything a device forwards, either way, as libzmq's proxy gives its
//! capture socket, for readers that connect to the device's capture side (SUB sockets: the
//! device plays PUB there).
//!
//! A reader gets a copy of every message routed from either side from its first
//! subscription on (any topic: the copies are not filtered here; libzmq's, pyzmq's and
//! zmq.rs's SUB sockets filter what they receive themselves), whole and in order per source,
//! as the destination gets it: a queue's requests with the routing frame that names their
//! client, and its replies with the routing frame they came with (which the client does not
//! get). Messages that go nowhere (a reply to a client that left, data from a side that is
//! not routed) are not copied.
//!
//! Unlike libzmq's capture socket (a blocking send: a slow reader stalls the whole proxy), a
//! reader never slows the device. It is a destination the message does not wait for: one
//! above its high-water mark, out of memory, or still taking a large message from another
//! source (cut through) when a message starts loses that copy; one whose queue cannot take the
//! rest of a message it is receiving lets it go (taken back if none of it was written, reset
//! otherwise). Each lost copy is counted in [`Drops::capture`](super::Drops::capture). A
//! reader that loses a copy when its queue has not been empty, and its socket has taken
//! nothing, for the progress timeout is closed ([`CloseReason::ReaderStalled`]), so that one
//! that stalls (a ZMTP 3.0 peer is never pinged) does not keep its slot from a reader that
//! reads.
//!
//! At most [`MAX_CAPTURE_READERS`] readers at once: each costs a copy of all the traffic.

use super::later;
use super::peer::Held;
use super::{ByteQueue, CloseReason, Device, Kind, Side};
use crate::wire::frame::{FrameHead, MAX_HEAD_LEN};

/// The most capture readers a device serves at once; its caller admits no more.
pub const MAX_CAPTURE_READERS: usize = 4;

impl<Q: ByteQueue> Device<'_, Q> {
    /// A capture reader subscribed (`subscribe`) or cancelled: from its first subscription on
    /// it gets every copy. A cancellation changes nothing (its SUB socket filters).
    pub(super) fn on_capture_subscription(&mut self, idx: u32, subscribe: bool) {
        if subscribe && !self.taps.contains(&idx) {
            // The caller admits at most `MAX_CAPTURE_READERS`: there is room.
            let _ = self.taps.push(idx);
        }
    }

    /// A capture reader left.
    pub(super) fn forget_tap(&mut self, idx: u32) {
        self.taps.retain(|&t| t != idx);
    }

    /// Whether `idx` is a capture reader.
    pub(super) fn is_capture(&self, idx: u32) -> bool {
        self.peer(idx).is_some_and(|p| p.side == Side::Capture)
    }

    /// The message `idx` starts now was routed: every capture reader with room takes a copy,
    /// after the message's own destinations. `head` and `prefix`: its first frame's head and
    /// what is here of its body; `whole`: all of it, when it is all here.
    #[cold]
    #[inline(never)]
    pub(super) fn tap(&mut self, idx: u32, head: FrameHead, prefix: &[u8], whole: Option<&[u8]>) {
        let Some(side) = self.peer(idx).map(|p| p.side) else {
            return;
        };
        // What readers get before the message's frames: a request's routing frame, made
        // here as the worker got it; a reply's is its first frame, which is copied to no
        // destination (the client does not get it).
        let mut front = [0u8; MAX_HEAD_LEN + super::queue::ROUTING_ID_LEN];
        let front: &[u8] = match (self.cfg.kind, side) {
            (Kind::Queue, Side::Frontend) => {
                let frame = self.routing_frame_of(idx);
                front[..frame.len()].copy_from_slice(&frame);
                &front[..frame.len()]
            }
            (Kind::Queue, Side::Backend) => {
                let h = head.encode();
                let (at, n) = (h.as_slice().len(), prefix.len());
                // A reply is routed only by a routing frame of ours, all of it here.
                if n > super::queue::ROUTING_ID_LEN {
                    return;
                }
                front[..at].copy_from_slice(h.as_slice());
                front[at..at + n].copy_from_slice(prefix);
                &front[..at + n]
            }
            _ => &[],
        };
        let front_body = if front.is_empty() {
            0
        } else {
            prefix_body(front)
        };
        // A request's routing frame is not in `whole`: such a message is not held back.
        let request = self.cfg.kind == Kind::Queue && side == Side::Frontend;
        let whole = whole.filter(|_| Q::DEFERS && !request);
        let limits = (self.cfg.queue_hwm, self.cfg.limits.max_message_size);
        let (need, now, patience) = (self.need, self.last_now, self.cfg.progress_timeout);
        let mark = self.cfg.mark_for(need);
        let taps = self.taps.clone();
        for &t in &taps {
            let Some(reader) = self.peer_mut(t) else {
                continue;
            };
            if !reader.is_live() {
                continue;
            }
            if reader.held.is_some() {
                let kept = whole.is_some_and(|msg| later::hold_back(reader, msg, limits).is_ok());
                if !kept {
                    self.lost_copy(t);
                }
                continue;
            }
            if reader.queue.len() >= mark || !reader.queue.reserve(need) {
                // Behind since its queue was last empty, and its socket took nothing since
                // then either: a reader that was quiet and is sent a burst in one call is
                // not (its queue was empty when the burst began).
                let since = reader.stall_from.max(reader.took_at);
                let stalled = since + patience <= now;
                self.lost_copy(t);
                if stalled {
                    self.forget_tap(t);
                    self.request_close(t, CloseReason::ReaderStalled);
                }
                continue;
            }
            if reader.queue.is_empty() {
                // Behind from now on, if at all.
                reader.stall_from = now;
            }
            self.join_after_first(idx, t);
            if !front.is_empty() && self.push_to(t, front) {
                self.side_stats(Side::Capture).bytes_out += front_body;
                if let Some(r) = self.peer_mut(t) {
                    r.facts.traffic.bytes_out += front_body;
                }
            }
        }
    }

    /// The capture reader `t` lost a copy.
    fn lost_copy(&mut self, t: u32) {
        self.stats.dropped.capture += 1;
        if let Some(r) = self.peer_mut(t) {
            r.dropped += 1;
        }
    }

    /// `reader` joins the destinations of the message `idx` is routing, after the first: a
    /// queue's or streamer's one destination stays first, where the pump looks for it.
    fn join_after_first(&mut self, idx: u32, reader: u32) {
        let first = self.peer(idx).and_then(|p| p.src.dests());
        let after = first.and_then(|f| self.next_dest(f));
        if let Some(r) = self.peer_mut(reader) {
            r.held = Some(Held {
                by: idx,
                mark: r.pushed,
                next_dest: if first.is_some() { after } else { None },
            });
        }
        self.held += 1;
        match first
            .and_then(|f| self.peer_mut(f))
            .and_then(|f| f.held.as_mut())
        {
            Some(h) => h.next_dest = Some(reader),
            None => {
                if let Some(super::peer::Src::Forwarding { dests, .. }) =
                    self.peer_mut(idx).map(|p| &mut p.src)
                {
                    *dests = Some(reader);
                }
            }
        }
    }

    /// The one destination of a queue's or streamer's message in progress from `src` left:
    /// the capture readers taking it let it go too (the message goes nowhere now).
    pub(super) fn shed_readers(&mut self, src: u32) {
        let mut cur = self.peer(src).and_then(|p| p.src.dests());
        while let Some(d) = cur {
            cur = self.next_dest(d);
            self.shed(d);
        }
    }
}

/// The body length a frame `frame` (head and all of its body) carries.
fn prefix_body(frame: &[u8]) -> u64 {
    match FrameHead::decode(frame) {
        Ok(Some((head, _))) => head.len,
        _ => 0,
    }
}
