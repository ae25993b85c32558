//! A message in flight: a source holds its destinations from the first frame to the last,
//! copies each frame into their queues, and lets them go at the end, or takes a message it
//! cannot finish back out of them.
//!
//! A body piece of [`SHARE_MIN`] bytes or more going to several destinations is stored once
//! ([`ByteQueue::share`]) and each queue holds a reference to it; frame heads and smaller
//! pieces are copied into each queue.
//!
//! Each destination records where the message started in its queue ([`Held::mark`]), so an
//! aborted message is truncated away as long as none of it has been written; a destination
//! that has started writing it is reset instead, never sent a spliced stream.

use super::peer::{Held, Moved, Src};
use super::{ByteQueue, CloseReason, Device, Side};
use crate::wire::frame::{FrameHead, MAX_HEAD_LEN};

/// Frames up to this long, head included, go into each queue in one push: joined on the
/// stack first, one copy more of a few bytes, one push less per destination.
const JOIN_MAX: usize = 256;

/// Body pieces at least this long that go to several destinations are stored once and
/// shared by their queues, when the queues can share ([`ByteQueue::SHARES`]); shorter ones
/// are copied into each. Measured with edge-bin's queue (`HeapQueue`, see
/// docs/isolation.md): a shared piece costs about as much as a copy of 1-2 KiB per
/// destination (a reference and its count, an entry in the queue, a slice in the write) and
/// one allocation; from 4 KiB on, sharing is cheaper at every fan-out measured, and memory
/// (N x M for N destinations of M bytes) is what matters from there on. It is also the size
/// a large message's pieces are gathered to before they are fanned out: well under
/// [`PROGRESS_BYTES`](super::PROGRESS_BYTES), so the wait never decides whether a slow
/// message counts as moving.
pub const SHARE_MIN: usize = 4 << 10;

impl<Q: ByteQueue> Device<'_, Q> {
    /// The source cutting a message through to `dest`, if one is, keeps another source
    /// waiting from now on (if it did not already): all of its message is owed within
    /// [`OVERDUE_AFTER`](super::OVERDUE_AFTER) progress timeouts.
    pub(super) fn contend_holder(&mut self, dest: u32) {
        let now = self.last_now;
        let Some(by) = self.peer(dest).and_then(|d| d.held).map(|h| h.by) else {
            return;
        };
        if let Some(s) = self.peer_mut(by) {
            let left = s.session.body_left();
            s.contend(now, left);
        }
    }

    /// `idx` found no destination for its message: the sources cutting messages through to
    /// the peers of the side it sends to keep it waiting ([`Device::contend_holder`]).
    pub(super) fn contend(&mut self, idx: u32) {
        if self.held == 0 {
            return;
        }
        let Some(side) = self.peer(idx).map(|p| p.side) else {
            return;
        };
        for dest in 0..self.slots.len() as u32 {
            let other = self
                .peer(dest)
                .filter(|d| d.side != side && d.side != Side::Capture)
                .and_then(|d| d.held)
                .is_some_and(|h| h.by != idx);
            if other {
                self.contend_holder(dest);
            }
        }
    }

    /// `src` starts (or goes on) forwarding its message to `dest` too.
    pub(super) fn hold(&mut self, src: u32, dest: u32) {
        let prev = self.peer(src).and_then(|s| s.src.dests());
        let now = self.last_now;
        let Some(d) = self.peer_mut(dest) else { return };
        d.held = Some(Held {
            by: src,
            mark: d.pushed,
            next_dest: prev,
        });
        // Its time to take some of the message counts from now at the earliest (`deaf.rs`).
        d.drained = Moved::since(now);
        self.held += 1;
        if let Some(s) = self.peer_mut(src) {
            if !s.src.is_forwarding() {
                s.start_progress(now);
            }
            s.src = match s.src {
                Src::Forwarding { first, last, .. } => Src::Forwarding {
                    first,
                    last,
                    dests: Some(dest),
                },
                Src::Idle | Src::Discarding { .. } => Src::Forwarding {
                    first: true,
                    last: false,
                    dests: Some(dest),
                },
            };
        }
    }

    /// The destination after `idx` in its source's list.
    pub(super) fn next_dest(&self, idx: u32) -> Option<u32> {
        self.peer(idx)?.held?.next_dest
    }

    /// Append a frame header (if any) and body bytes to every destination `idx` holds.
    pub(super) fn copy_to_dests(&mut self, idx: u32, head: Option<FrameHead>, chunk: &[u8]) {
        let first = self.peer(idx).and_then(|p| p.src.dests());
        if first.is_none() {
            // Nobody to copy to (a message every subscriber dropped: what an overloaded
            // forwarder does most).
            return;
        }
        let encoded = head.map(|h| h.encode());
        if let Some(h) = &encoded {
            let (at, len) = (h.as_slice().len(), h.as_slice().len() + chunk.len());
            if len <= JOIN_MAX {
                // A small frame is joined to its head first: one push per destination, not
                // two.
                let mut joined = [0u8; JOIN_MAX];
                joined[..MAX_HEAD_LEN].copy_from_slice(h.padded());
                joined[at..len].copy_from_slice(chunk);
                return self.push_to_dests(first, &joined[..len], &[], chunk.len());
            }
        }
        let head = encoded.as_ref().map_or(&[][..], |h| h.as_slice());
        let len = head.len() + chunk.len();
        if Q::SHARES && chunk.len() >= SHARE_MIN && first.and_then(|d| self.next_dest(d)).is_some()
        {
            if self.share_to_dests(first, head, chunk) {
                return;
            }
            // No memory for the piece: subscribers that lag give theirs back, and it is tried
            // again (copies for each would need more still: attacker round 18, C1).
            if self.free_for_keepers(idx) {
                let first = self.peer(idx).and_then(|p| p.src.dests());
                if first.is_none() || self.share_to_dests(first, head, chunk) {
                    return;
                }
            }
            // Copied instead, to those with room for it.
            self.copies_instead(idx, len);
            let first = self.peer(idx).and_then(|p| p.src.dests());
            return self.push_to_dests(first, head, chunk, chunk.len());
        }
        self.push_to_dests(first, head, chunk, chunk.len());
    }

    /// [`Device::push_to_dests`] for a large body piece: stored once, each destination
    /// holds it after its own copy of `head`. False if the queues cannot share it now: it is
    /// to be copied.
    // Cold, not inlined: the path of small messages stays as it was without it.
    #[cold]
    #[inline(never)]
    fn share_to_dests(&mut self, first: Option<u32>, head: &[u8], chunk: &[u8]) -> bool {
        let shared = first
            .and_then(|d| self.peer(d))
            .and_then(|p| p.queue.share(chunk));
        let Some(piece) = shared else {
            return false;
        };
        let mut cur = first;
        let mut tried = false;
        while let Some(d) = cur {
            cur = self.next_dest(d);
            let room = |dev: &mut Self| {
                dev.peer_mut(d).is_some_and(|p| {
                    let own = p.one_message();
                    p.queue.reserve_shared_beside(&piece, own)
                })
            };
            // Refused, those that lag give way once a message ([`Device::close_lagging`]).
            let has = room(self) || (self.close_lagging_once(d, &mut tried) && room(self));
            if !has {
                // As a copy it would be refused: the message goes without it.
                self.memory_blocked = true;
                self.shed(d);
                continue;
            }
            if self.push_to(d, head) && self.push_shared_to(d, &piece, chunk.len()) {
                if let Some(p) = self.peer_mut(d) {
                    p.facts.traffic.bytes_out += chunk.len() as u64;
                    let side = p.side;
                    self.counts_of(d, side).bytes_out += chunk.len() as u64;
                }
            }
        }
        true
    }

    /// Whether the message `idx` is cutting through should wait for more of its body before
    /// the next piece goes out: a piece for several destinations that would be too short to
    /// share (see [`SHARE_MIN`]), while more of the body is to come and the caller's buffer
    /// has room for it. Asked once a call, before its first step (a body's first piece
    /// after its frame head, in the middle of a call, goes as it is).
    // Not inlined: the pump's loop stays as it was without it.
    #[inline(never)]
    pub(super) fn gathers(&self, idx: u32, here: usize, full: bool) -> bool {
        if !Q::SHARES || full || here >= SHARE_MIN {
            return false;
        }
        let Some(src) = self.peer(idx) else {
            return false;
        };
        let several = src.src.dests().and_then(|d| self.next_dest(d)).is_some();
        several && src.session.body_left() > here as u64
    }

    /// Push `a` then `b` to the destination list starting at `first`; `body` bytes of them
    /// count as data out.
    /// One look-up of each destination: this runs once per frame and destination.
    // Always inlined, as it was before sharing gave its caller a call more (a forwarder's
    // small messages took 4 instructions more each, tools/bench-callgrind forwarder).
    #[inline(always)]
    fn push_to_dests(&mut self, first: Option<u32>, a: &[u8], b: &[u8], body: usize) {
        let n = a.len() + b.len();
        let mut cur = first;
        while let Some(d) = cur {
            let Some(peer) = self.peer_mut(d) else { break };
            cur = peer.held.as_ref().and_then(|h| h.next_dest);
            if n == 0 {
                continue;
            }
            let q = &mut peer.queue;
            let pushed = (a.is_empty() || q.push(a).is_ok()) && (b.is_empty() || q.push(b).is_ok());
            if !pushed {
                self.request_close(d, CloseReason::Overflow);
                continue;
            }
            peer.pushed += n as u64;
            peer.facts.traffic.bytes_out += body as u64;
            let side = peer.side;
            self.counts_of(d, side).bytes_out += body as u64;
            self.request_wake(d);
        }
    }

    /// Push to a peer's queue; a queue that cannot take it has its peer closed.
    pub(super) fn push_to(&mut self, idx: u32, bytes: &[u8]) -> bool {
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

    /// [`Device::push_to`] for a shared piece of `len` bytes.
    fn push_shared_to(&mut self, idx: u32, piece: &Q::Shared, len: usize) -> bool {
        let Some(peer) = self.peer_mut(idx) else {
            return false;
        };
        if peer.queue.push_shared(piece).is_err() {
            self.request_close(idx, CloseReason::Overflow);
            return false;
        }
        peer.pushed += len as u64;
        self.request_wake(idx);
        true
    }

    /// The message from `idx` is complete: release its destinations.
    pub(super) fn end_message(&mut self, idx: u32) {
        // Only a forwarder's subscribers, a queue's clients and capture readers have messages
        // held back for them (`later.rs`).
        let fans_out = !self.cfg.kind.waits_for_destination();
        let Some(peer) = self.peer_mut(idx) else {
            return;
        };
        let mut cur = peer.src.dests();
        peer.src = Src::Idle;
        // Only a message that was in progress between calls held its destinations where
        // another source could find them busy and wait.
        let spanned = core::mem::take(&mut peer.spanned);
        // A client closed for not reading while its request was on its way goes now.
        if peer.close_after.take().is_some() {
            self.request_close(idx, CloseReason::Unread);
        }
        while let Some(d) = cur {
            let Some(dest) = self.peer_mut(d) else { break };
            let Some(held) = dest.held.take() else { break };
            cur = held.next_dest;
            if dest.pushed - held.mark >= super::peer::LARGE {
                dest.last_large = (held.mark, dest.pushed);
            }
            dest.facts.traffic.msgs_out += 1;
            let side = dest.side;
            let owes = dest.session.wants_transmit();
            // What was held back for it goes in after the message (`later.rs`).
            let before = dest.pushed;
            let later = if Q::DEFERS && (fans_out || side != super::Side::Backend) {
                dest.queue.release_later()
            } else {
                0
            };
            if later > 0 {
                self.later_released(d, later);
            }
            if self.spool_sink() == Some(d) {
                self.sink_released(before);
            }
            self.held -= 1;
            self.counts_of(d, side).msgs_out += 1;
            if owes {
                self.flush_control(d);
            }
        }
        if spanned && !self.blocked.is_empty() {
            self.wake_blocked();
        }
    }

    /// The source `idx` will never finish its message: take it back out of every destination
    /// that has not started writing it, reset the others.
    pub(super) fn abort_message(&mut self, idx: u32) {
        let Some(peer) = self.peer_mut(idx) else {
            return;
        };
        let was_forwarding = peer.src.is_forwarding();
        let mut cur = peer.src.dests();
        peer.src = Src::Idle;
        if was_forwarding {
            self.stats.dropped.aborted += 1;
        }
        let sink = self.spool_sink();
        while let Some(d) = cur {
            let Some(dest) = self.peer_mut(d) else { break };
            let Some(held) = dest.held.take() else { break };
            cur = held.next_dest;
            let clean = dest.written <= held.mark;
            if clean && sink != Some(d) {
                dest.queue.truncate_back((dest.pushed - held.mark) as usize);
                dest.pushed = held.mark;
            }
            self.held -= 1;
            if sink == Some(d) {
                // The spool's sink is never closed (`spool.rs`).
                self.sink_lets_go(d, held.mark);
            } else if clean {
                self.flush_control(d);
                self.release_later(d);
            } else {
                self.stats.resets += 1;
                self.request_close(d, CloseReason::SenderAborted);
            }
        }
        self.wake_blocked();
    }

    /// `idx` is going away while a source copies a message into it: the source lets go.
    pub(super) fn leave_holder(&mut self, idx: u32) {
        let Some(held) = self.peer_mut(idx).and_then(|p| p.held.take()) else {
            return;
        };
        self.held -= 1;
        let src = held.by;
        // A source moving a body to us itself (see `bypass_target`) must learn that we are
        // gone.
        self.request_wake(src);
        let mut prev: Option<u32> = None;
        let mut cur = self.peer(src).and_then(|s| s.src.dests());
        while let Some(c) = cur {
            if c == idx {
                match prev {
                    Some(p) => {
                        if let Some(h) = self.peer_mut(p).and_then(|p| p.held.as_mut()) {
                            h.next_dest = held.next_dest;
                        }
                    }
                    None => {
                        if let Some(Src::Forwarding { dests, .. }) =
                            self.peer_mut(src).map(|s| &mut s.src)
                        {
                            *dests = held.next_dest;
                        }
                    }
                }
                break;
            }
            prev = Some(c);
            cur = self.next_dest(c);
        }
        // A message for one destination that left goes nowhere now: nor to the capture
        // readers taking it.
        let single_dest = self.cfg.kind.waits_for_destination();
        let reader = self.is_capture(idx);
        if single_dest && !reader && self.peer(src).is_some_and(|s| s.src.is_forwarding()) {
            self.shed_readers(src);
        }
        let Some(s) = self.peer_mut(src) else { return };
        if single_dest && s.src.is_forwarding() && s.src.dests().is_none() {
            s.src = Src::Discarding {
                last: s.src.last_frame(),
            };
            if s.side == super::Side::Backend {
                self.stats.dropped.unroutable += 1;
            } else {
                self.stats.dropped.aborted += 1;
            }
        }
    }
}
