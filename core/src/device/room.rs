//! Room in the destinations' queues before a message (or more of one) goes to them.
//!
//! A queue may refuse to grow below its capacity ([`ByteQueue::reserve`]): the caller rations
//! memory (edge-bin's process budget). Room is therefore asked for before anything is copied,
//! never found missing half-way through a push: for a message stored whole, all of it when
//! it is routed; for one cut through, what the caller holds of it at the start of each call.
//! A queue that has no room is full, whatever its length:
//!
//! - a forwarder drops the message for that subscriber (counted, `Drops::memory`); one whose
//!   queue cannot take the rest of a message it is already receiving lets it go, taken back if
//!   none of it was written, reset otherwise. But first, if that subscriber's queue does not
//!   lag ([`ByteQueue::lags`]; one large message it holds not counted for its length,
//!   [`ByteQueue::lags_beside`]), the subscribers whose queues do are closed and their
//!   memory given back ([`Device::close_lagging`]), and it tries again;
//! - a queue or streamer waits for room as it does above the high-water mark, and is woken
//!   when a queue drains or [`Device::retry_blocked`] says memory was given back; a queue's
//!   worker waits for a client's room only while the client has been behind for less than
//!   `client_stall`, then the client lets the reply go as a subscriber would, and is closed.
//!
//! Bodies a forwarder shares between several subscribers ([`SHARE_MIN`]) are not copied into
//! their queues: the room asked of each is the rest ([`Device::need_shared`] less), and the
//! piece is charged once, when the queue kind stores it ([`ByteQueue::share`]). A piece that
//! cannot be stored is copied after all, to the subscribers with room for it; the others let
//! the message go, as above.

use super::flight::SHARE_MIN;
use super::peer::Peer;
use super::{ByteQueue, CloseReason, Device, Kind, PeerId, Side};
use crate::conn::TRANSMIT_BUFFER;
use crate::time::Instant;
use crate::wire::frame::FrameHead;

/// Room asked beyond a message's own bytes: a queue's routing frame, and the commands a
/// session may owe once the message ends.
const SLACK: usize = TRANSMIT_BUFFER + 16;

/// What a message of which the caller holds `held` bytes needs in each queue it goes to: all
/// of it when it is all here, else everything the caller holds, which is all of this
/// message's ([`message_extent`](crate::wire::frame::message_extent)).
#[inline]
fn need(held: usize) -> usize {
    // `held` is at most an input buffer's length: no overflow.
    held + SLACK
}

/// Bytes of `msg` (a message's start, its first frame head at 0) that go as shared pieces
/// when it goes to several destinations: each data frame's body of [`SHARE_MIN`] or more
/// that is in `msg`, which the session hands over as one piece.
#[cold]
#[inline(never)]
fn shared_bytes(msg: &[u8]) -> usize {
    let mut at = 0usize;
    let mut shared = 0usize;
    while let Ok(Some((head, used))) = FrameHead::decode(&msg[at..]) {
        let body_at = at + used;
        let here = msg.len().saturating_sub(body_at);
        let piece = (here as u64).min(head.len) as usize;
        if !head.command && piece >= SHARE_MIN {
            shared += piece;
        }
        at = body_at + piece;
        if at >= msg.len() || (!head.command && !head.more) {
            break;
        }
    }
    shared
}

/// Whether `queue` has room for `need` more bytes, or for all its capacity leaves if that is
/// less (a message that started below the high-water mark fits the capacity whole:
/// `DeviceConfig::queue_capacity`); `own` bytes of it belong to one message alone
/// ([`ByteQueue::reserve_beside`]).
#[inline]
fn room<Q: ByteQueue>(queue: &mut Q, need: usize, own: usize) -> bool {
    let left = queue.capacity().saturating_sub(queue.len());
    queue.reserve_beside(need.min(left), own)
}

/// [`room`] for more of a message `queue` has started taking, from a source that cannot let
/// it go ([`ByteQueue::reserve_rest`]).
#[inline]
fn room_for_rest<Q: ByteQueue>(queue: &mut Q, need: usize) -> bool {
    let left = queue.capacity().saturating_sub(queue.len());
    queue.reserve_rest(need.min(left))
}

impl<Q: ByteQueue> Device<'_, Q> {
    /// Room a message needs in each destination's queue: `held` bytes of it are at the
    /// start of `input`, and `missing` more are known to be still to come.
    ///
    /// A message routed before all of it is here because the rest is ready behind it (the
    /// caller's `ahead`) needs room for all of it, as if it were stored whole, when it fits
    /// the input buffer: its source cannot let it go part-way, and a destination given room
    /// for the start alone may be refused the rest for good. A streamer's worker that did not
    /// read, behind and with the budget spent by the time the rest came, held the producer so
    /// and no other worker got anything (tests/tests/attack_budget.rs
    /// a_streamer_with_a_stalled_worker_...).
    #[inline]
    pub(super) fn set_need(&mut self, input: &[u8], held: usize, missing: Option<u64>) {
        let whole = missing
            .and_then(|m| (held as u64).checked_add(m))
            .filter(|&w| w <= self.cfg.input_capacity as u64);
        // At most the input buffer's size: no truncation.
        self.need = need(whole.map_or(held, |w| w as usize));
        // Only a forwarder has several destinations; small messages are copied whole.
        let fans_out = !self.cfg.kind.waits_for_destination();
        self.need_shared = if Q::SHARES && fans_out && held >= SHARE_MIN {
            shared_bytes(&input[..held.min(input.len())])
        } else {
            0
        };
    }

    /// Whether `idx`'s queue, below its high-water mark, has room for the message being
    /// routed ([`need`]); a refusal is remembered, so that draining queues wake the sources it
    /// blocks.
    #[inline]
    pub(super) fn has_room(&mut self, idx: u32) -> bool {
        let need = self.need;
        let has = self.peer_mut(idx).is_some_and(|p| p.queue.reserve(need));
        self.memory_blocked |= !has;
        has
    }

    /// Before `n` more bytes of the message in progress from `idx` are fed: room for them in
    /// every destination it holds (less the body piece they start with, when it is to be
    /// shared). False if its source must wait (queue, streamer); a forwarder lets go of each
    /// subscriber that has none, and goes on.
    pub(super) fn room_for_more(&mut self, idx: u32, n: usize) -> bool {
        let first = self.peer(idx).and_then(|p| p.src.dests());
        let several = first.and_then(|d| self.next_dest(d)).is_some();
        // A source that waits for its destinations asks them only for the rest of its
        // message (in its last frame's body, what is left of it: what `n` holds past that is
        // the next message's, which asks for room of its own when it is routed), and asks it
        // as the rest of a message they took the start of ([`room_for_rest`]): given room for
        // all of it when it was routed (`set_need`), it always ends.
        let waits = self.cfg.kind.waits_for_destination();
        let mut n = n;
        if let Some(p) = self.peer(idx).filter(|p| waits && p.src.last_frame()) {
            let left = p.session.body_left();
            if left > 0 {
                n = n.min(usize::try_from(left).unwrap_or(usize::MAX));
            }
        }
        let mut need = n.saturating_add(SLACK);
        if Q::SHARES && several {
            let left = self.peer(idx).map_or(0, |p| p.session.body_left());
            let piece = (n as u64).min(left) as usize;
            if piece >= SHARE_MIN {
                need -= piece;
            }
        }
        self.need = need;
        self.need_shared = 0;
        // A queue's worker replying waits for its client only while the client has been behind
        // for less than `client_stall` (`queue.rs`).
        let kind = self.cfg.kind;
        let reply = self.peer(idx).is_some_and(|p| kind.replies_from(p.side));
        let mut cur = first;
        let mut tried = false;
        while let Some(d) = cur {
            cur = self.next_dest(d);
            // Past its high-water mark, a forwarder's subscriber may hold the start of it.
            let has = self.peer_mut(d).is_some_and(|p| {
                if waits {
                    room_for_rest(&mut p.queue, need)
                } else {
                    let own = p.one_message();
                    room(&mut p.queue, need, own)
                }
            });
            if has {
                continue;
            }
            self.memory_blocked = true;
            if reply && !self.reply_may_wait(d) {
                // Reset if it had written part of the reply (counted there), else closed as
                // a client that does not read.
                if self.shed(d) {
                    self.close_unread(d);
                }
                continue;
            }
            // A capture reader never makes its source wait: it lets the message go.
            if self.cfg.kind.waits_for_destination() && !self.is_capture(d) {
                return false;
            }
            if self.close_lagging_once(d, &mut tried) {
                // Some of the list may have gone with them: start over (those with room keep
                // it, and `d` may have some now).
                cur = self.peer(idx).and_then(|p| p.src.dests());
                continue;
            }
            self.shed(d);
        }
        true
    }

    /// A body piece of `len` bytes that was to be shared could not be stored: each of the
    /// destinations `idx` holds takes a copy if it has room, and lets the message go if not.
    #[cold]
    pub(super) fn copies_instead(&mut self, idx: u32, len: usize) {
        let mut cur = self.peer(idx).and_then(|p| p.src.dests());
        let mut tried = false;
        while let Some(d) = cur {
            cur = self.next_dest(d);
            let has = self.peer_mut(d).is_some_and(|p| {
                let own = p.one_message();
                room(&mut p.queue, len, own)
            });
            if has {
                continue;
            }
            self.memory_blocked = true;
            if self.close_lagging_once(d, &mut tried) {
                // As in `room_for_more`.
                cur = self.peer(idx).and_then(|p| p.src.dests());
                continue;
            }
            self.shed(d);
        }
    }

    /// [`Device::close_lagging`] for the first of a message's destinations that keeps up and
    /// found no room (`tried` says whether one did): it scans every slot, and once closing the
    /// ones that lag has given back what it could, another scan would find none.
    pub(super) fn close_lagging_once(&mut self, keeper: u32, tried: &mut bool) -> bool {
        if *tried || self.peer(keeper).is_none_or(Peer::lags) {
            return false;
        }
        *tried = true;
        self.close_lagging(keeper)
    }

    /// No memory for a piece of the message `idx` is routing: the first of its destinations
    /// that keeps up closes those that lag ([`Device::close_lagging`]); whether any was.
    #[cold]
    pub(super) fn free_for_keepers(&mut self, idx: u32) -> bool {
        let mut cur = self.peer(idx).and_then(|p| p.src.dests());
        while let Some(d) = cur {
            if self.peer(d).is_some_and(|p| !p.lags()) {
                return self.close_lagging(d);
            }
            cur = self.next_dest(d);
        }
        false
    }

    /// A forwarder's subscriber `keeper` found no room for want of memory: if its own queue
    /// does not lag ([`ByteQueue::lags`]), every other subscriber (or capture reader) whose
    /// queue lags, or that holds a message the keeper's size that it does not take
    /// ([`Peer::holds_untaken`]: subscribers that stopped reading hold several before their
    /// queues count as behind, attacker round 18, C1), is closed
    /// (`CloseReason::Lagging`) and its queue emptied at once, so that what they held goes to
    /// the ones that keep up. Whether any was.
    #[cold]
    #[inline(never)]
    pub(super) fn close_lagging(&mut self, keeper: u32) -> bool {
        let kind = self.cfg.kind;
        if kind.waits_for_destination() || self.peer(keeper).is_none_or(Peer::lags) {
            return false;
        }
        let mut any = false;
        let now = self.last_now;
        // What the keeper needs, as a message: at least a large one's worth.
        let need = self.need.max(super::peer::LARGE as usize);
        for idx in 0..self.slots.len() as u32 {
            // An uplink's queue is the spool's to take back (`host`'s recovery when it
            // leaves): emptied here, what it held of the spool would be lost.
            let spool = self.is_spool(idx) || self.spools_for(idx);
            let lags = self.peer(idx).is_some_and(|p| {
                idx != keeper
                    && !spool
                    && p.side != Side::Frontend
                    && p.close.is_none()
                    && (p.lags_for_keeper(now) || p.holds_untaken(need, now))
            });
            if !lags {
                continue;
            }
            // Out of the message it takes, if any, then empty.
            self.shed(idx);
            if let Some(p) = self.peer_mut(idx) {
                let n = p.queue.len();
                p.queue.truncate_back(n);
                p.pushed -= n as u64;
            }
            self.stats.lagging += 1;
            self.request_close(idx, CloseReason::Lagging);
            any = true;
        }
        any
    }

    /// A destination whose queue cannot take the rest of the message it is receiving (a
    /// forwarder's subscriber, a queue's client past `client_stall`) lets it go: taken back if
    /// none of it was written (it lost that message, counted), else it is reset. Whether it
    /// was taken back.
    pub(super) fn shed(&mut self, dest: u32) -> bool {
        let Some(d) = self.peer(dest) else {
            return false;
        };
        let Some(held) = d.held else { return false };
        let clean = d.written <= held.mark;
        if self.spool_sink() == Some(dest) {
            // Never closed: it lets the message go, whole, and its disk's caller drops what
            // it took of it (`spool.rs`). Before, it kept the part it had, and the next
            // message went in after it: its stream could not be read.
            return self.sink_gives_up_for_memory(dest);
        }
        self.leave_holder(dest);
        let Some(d) = self.peer_mut(dest) else {
            return false;
        };
        if clean {
            d.queue.truncate_back((d.pushed - held.mark) as usize);
            d.pushed = held.mark;
            // Its own loss too (`zedge peers`): a subscriber that keeps up, let go of while
            // memory was spent, showed 0 dropped (attacker round 15, F3).
            d.dropped += 1;
            if d.side == Side::Capture {
                self.stats.dropped.capture += 1;
            } else {
                self.stats.dropped.memory += 1;
            }
            self.flush_control(dest);
            self.release_later(dest);
        } else {
            self.stats.resets += 1;
            self.request_close(dest, CloseReason::OutOfMemory);
        }
        clean
    }

    /// The caller's memory was given back: every source in the middle of a message tries
    /// again (it holds its destinations meanwhile, and what it needs may be little), and the
    /// first in line of the others gets its turn.
    pub fn retry_blocked(&mut self) {
        self.memory_blocked = false;
        self.memory_starved = false;
        self.wake_senders_mid_message();
        self.wake_blocked();
    }

    /// The caller can take no more of `id`'s input (or seal no more of its output) for want
    /// of memory: a message it is cutting through waits, as it waits for room at its
    /// destinations (it owes no progress meanwhile), until [`Device::retry_blocked`] says
    /// memory was given back. A queue closes the clients that hold memory and have not read
    /// for `client_stall` (`queue.rs`, `shed_behind`), then looks again as each comes due:
    /// when every connection waits for memory (workers for the room to read their replies,
    /// requests for the room to be read), no reply finds its client full and nothing else
    /// would (attacker round 15, F2: 100 clients never reading their 60 KB replies held the
    /// whole budget, one reply each, and the flow's client waited seconds).
    pub fn wait_for_memory(&mut self, id: PeerId) {
        let queue = self.cfg.kind == Kind::Queue;
        if queue && !self.memory_starved {
            // Once per wait: the empty queues let go of what they keep for their next message
            // (what they give back wakes the waiting connections through the caller). A queue
            // only: in a forwarder it cost a subscriber that keeps up its buffer between two
            // large messages, and the next found none (curve_memory's fan-out of 60 KB to 48
            // subscribers: 977 of 977, but 890 late, worst 10 s).
            for slot in self.slots.iter_mut() {
                if let Some(p) = slot.peer.as_mut() {
                    p.queue.release_idle();
                }
            }
        }
        self.memory_starved = true;
        if queue {
            self.shed_behind();
        }
        let Some(idx) = self.index(id) else { return };
        let cutting = self
            .peer(idx)
            .is_some_and(|p| p.src.dests().is_some() && !p.blocked);
        if cutting {
            self.memory_blocked = true;
            self.block(idx);
        }
    }

    /// Bytes came from peer `id` that its session has not seen yet (a CURVE frame part-way
    /// here, which opens only once all of it is): a peer that sends is alive, whatever its
    /// heartbeat owes (it cannot answer a PING before its frame ends).
    pub fn heard(&mut self, id: PeerId, now: Instant) {
        let Some(idx) = self.index(id) else { return };
        if let Some(peer) = self.peer_mut(idx) {
            peer.session.input_held(now);
        }
    }

    /// The caller closes a sender whose message, held in memory that others wait for while
    /// it arrives, stopped moving for the progress timeout: counted as stalled, and put up
    /// for closing with [`CloseReason::Stalled`].
    pub fn stall_peer(&mut self, id: PeerId) {
        let Some(idx) = self.index(id) else { return };
        self.stats.stalled += 1;
        self.let_go(idx);
        self.request_close(idx, CloseReason::Stalled);
    }
}
