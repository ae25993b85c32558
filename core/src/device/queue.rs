//! The queue (ROUTER frontend, DEALER backend): a client's request goes to the next worker
//! with room behind a routing frame that names the client; the worker's reply comes back
//! behind the same frame, which routes it to that client alone and is then dropped.

use super::later;
use super::peer::LIBZMQ_ID_LEN;
use super::pump::Route;
use super::{ByteQueue, CloseReason, Device, Kind, PeerId, Side};
use crate::time::Duration;
use crate::wire::frame::FrameHead;

/// Length of the routing frame a queue puts before each request: 0x00, slot, generation.
pub(super) const ROUTING_ID_LEN: usize = 9;

/// How often a worker whose reply waits for memory at a client that holds nothing looks
/// again, besides being woken when memory is given back.
const EMPTY_RETRY_MS: u64 = 100;

/// How long after asking for a client's socket to be tried ([`Device::poll_probe`]) it is
/// looked at again (a timer of its own): the caller tries it after the call that asked, so
/// any later look sees what it took.
pub(super) const PROBE_WAIT: Duration = Duration::from_millis(1);

impl<Q: ByteQueue> Device<'_, Q> {
    /// Whether a message from `side` starts with a routing frame that is used up in routing.
    pub(super) fn strips_routing_frame(kind: Kind, side: Side) -> bool {
        kind.replies_from(side)
    }

    /// A client's request: to the next free worker, behind the client's routing frame.
    pub(super) fn route_request(&mut self, idx: u32) -> Route {
        let Some(worker) = self.pick_worker() else {
            if self.memory_blocked {
                self.shed_behind();
            }
            return Route::Blocked;
        };
        self.hold(idx, worker);
        if let Some(w) = self.peer_mut(worker) {
            w.unanswered = w.unanswered.saturating_add(1);
        }
        let frame = self.routing_frame_of(idx);
        if self.push_to(worker, &frame) {
            self.side_stats(Side::Backend).bytes_out += ROUTING_ID_LEN as u64;
            if let Some(w) = self.peer_mut(worker) {
                w.facts.traffic.bytes_out += ROUTING_ID_LEN as u64;
            }
        }
        // libzmq's ROUTER puts a routing frame of its own before the request.
        let id_len = self.peer(idx).map_or(0, |c| c.id_len);
        self.stats.proxy_view.ids_in.add(u64::from(id_len));
        Route::Go
    }

    /// The routing frame that names the client `idx` before its requests, head and body.
    pub(super) fn routing_frame_of(&self, idx: u32) -> [u8; 2 + ROUTING_ID_LEN] {
        let id = self.id(idx);
        let mut frame = [0u8; 2 + ROUTING_ID_LEN];
        frame[..2].copy_from_slice(
            FrameHead::data(ROUTING_ID_LEN as u64, true)
                .encode()
                .as_slice(),
        );
        frame[3..7].copy_from_slice(&id.index.to_be_bytes());
        frame[7..].copy_from_slice(&id.generation.to_be_bytes());
        frame
    }

    /// A worker's reply: to the client its routing frame names. A client at its high-water
    /// mark, or whose queue cannot grow for want of memory, gets it once it drains or memory
    /// is given back, as long as it has been behind (its queue not emptied since it last held
    /// bytes) for less than [`DeviceConfig::client_stall`](super::DeviceConfig::client_stall).
    /// Past that, it loses the reply (counted), as with libzmq's ROUTER at its high-water mark;
    /// one that has no room for want of memory is also closed ([`Device::close_unread`]). A
    /// worker answers other clients too: a client that does not read, or reads slowly, costs
    /// them at most that, until it has caught up; one that empties its queue now and then
    /// loses nothing. A client taking another reply that is still arriving gets this one
    /// after it: held back (`later.rs`) when it is all here, so that its worker goes on with
    /// its replies to the others (a worker's slow reply of 4 MiB to one client stalled every
    /// other worker that had a reply for that client, and so every client: attacker round 8);
    /// past the client's mark with what is held back, the worker waits. The same holds for
    /// the rest of a reply cut through (`room.rs`).
    pub(super) fn route_reply(
        &mut self,
        idx: u32,
        head: FrameHead,
        prefix: &[u8],
        whole: Option<&[u8]>,
    ) -> Route {
        let route = self.reply_route(idx, head, prefix, whole);
        // A reply that waits is routed again later: it answers its request once. One without
        // a routing frame of ours answers nothing (a worker replying with garbage would
        // otherwise never be at `worker_inflight`); one to a client that left does.
        if !matches!(route, Route::Blocked) && routing_frame(head, prefix).is_some() {
            self.answered(idx);
            // In libzmq's proxy the routing frame would be libzmq's id for the client.
            let client = self.reply_target(head, prefix).and_then(|c| self.peer(c));
            let id_len = client.map_or(LIBZMQ_ID_LEN, |c| c.id_len);
            self.stats.proxy_view.reply_ids.add(u64::from(id_len));
        }
        route
    }

    fn reply_route(
        &mut self,
        idx: u32,
        head: FrameHead,
        prefix: &[u8],
        whole: Option<&[u8]>,
    ) -> Route {
        let Some(client) = self.reply_target(head, prefix) else {
            self.stats.dropped.unroutable += 1;
            return Route::Discard;
        };
        let (hwm, now) = (self.cfg.queue_hwm, self.last_now);
        let Some(c) = self.peer(client) else {
            return Route::Discard;
        };
        let above = c.queue.len() >= hwm;
        if !above && c.held.is_some() {
            return match whole.filter(|_| Q::DEFERS) {
                Some(msg) => self.hold_reply_back(client, msg),
                None => Route::Blocked,
            };
        }
        if !above && self.has_room(client) {
            if let Some(c) = self.peer_mut(client).filter(|c| c.queue.is_empty()) {
                c.stall_from = now;
            }
            self.hold(idx, client);
            return Route::Go;
        }
        if self.reply_may_wait(client) {
            if !above {
                self.shed_behind();
            }
            return Route::Blocked;
        }
        if let Some(c) = self.peer_mut(client) {
            c.dropped += 1;
        }
        if above {
            self.stats.dropped.hwm += 1;
        } else {
            self.stats.dropped.memory += 1;
            self.close_unread(client);
        }
        Route::Discard
    }

    /// The reply `msg` (all of it, its routing frame first) for `client`, which is taking
    /// another reply: held back for it without the routing frame, to go after that one, and
    /// the worker goes on. Past the client's mark with what is held back, or for want of
    /// memory, the worker waits as before (nothing is lost for a client that reads).
    fn hold_reply_back(&mut self, client: u32, msg: &[u8]) -> Route {
        let limits = (self.cfg.queue_hwm, self.cfg.limits.max_message_size);
        let rest = match FrameHead::decode(msg) {
            Ok(Some((head, used))) => usize::try_from(head.len)
                .ok()
                .and_then(|n| msg.get(used.checked_add(n)?..)),
            _ => None,
        };
        let Some((rest, c)) = rest.zip(self.peer_mut(client)) else {
            return Route::Discard;
        };
        let held = later::hold_back(c, rest, limits);
        // The worker whose reply the client is taking keeps this one waiting.
        self.contend_holder(client);
        match held {
            Ok(()) => Route::Discard,
            Err(later::Lost::Hwm | later::Lost::Memory) => Route::Blocked,
        }
    }

    /// A reply from worker `idx` answers one of its requests; one that was at
    /// `worker_inflight` may take requests again, and the clients waiting for a worker are
    /// woken. (Waking them only once it is an eighth below was tried: beside twenty flooding
    /// clients the REQ client then got 4 of 30, the first woken flooder taking every place.)
    fn answered(&mut self, idx: u32) {
        let limit = self.cfg.inflight_limit();
        let Some(w) = self.peer_mut(idx) else { return };
        let was_full = w.unanswered >= limit;
        w.unanswered = w.unanswered.saturating_sub(1);
        if was_full && w.unanswered < limit {
            self.wake_blocked();
        }
    }

    /// Whether a worker may wait for room at `client` for its reply (or the rest of it): while
    /// the client has been behind for less than `client_stall` (a timer wakes the worker when
    /// that is up), or holds nothing (it has taken all it was sent, and waits with the worker
    /// for memory others hold). False once it has been behind that long: it loses the reply.
    pub(super) fn reply_may_wait(&mut self, client: u32) -> bool {
        let now = self.last_now;
        let allowed = self.cfg.client_stall;
        let Some(c) = self.peer(client) else {
            return false;
        };
        let due = if c.queue.is_empty() {
            // Memory given back wakes the worker; the timer only makes sure (and never spins,
            // whatever `client_stall` is).
            now + allowed.max(Duration::from_millis(EMPTY_RETRY_MS))
        } else {
            let due = c.stall_from + allowed;
            if due <= now {
                return false;
            }
            due
        };
        self.reply_retry = Some(self.reply_retry.map_or(due, |t| t.min(due)));
        true
    }

    /// A client that has been behind for `client_stall` and has no room for want of memory:
    /// closed, so that what its queue holds goes back to the peers that read (a client that
    /// only stopped at its high-water mark loses replies instead, as with libzmq's ROUTER),
    /// unless it took some of its output within `client_stall`: one that reads is not closed
    /// (it loses the reply that found no room). A live libzmq peer reconnects.
    ///
    /// Its socket is tried first ([`Device::poll_probe`]): the socket's notice of room can
    /// lag behind a peer that reads slowly but steadily by more than `client_stall` (found
    /// with a client reading 64 KiB every 100 ms, 1 MiB in flight: closed after 5-9 replies
    /// in 1 run of 4 on a loaded machine, though it never went 110 ms without reading). Only
    /// one whose socket passed too little on is closed, [`PROBE_WAIT`] later (`timers.rs`);
    /// with `client_stall` zero, at once.
    ///
    /// One in the middle of a request of its own (cut through to a worker) is closed once the
    /// request is through: cut short, it would reset the worker, and every other client's
    /// requests in flight there with it. It gets nothing more meanwhile, and is closed anyway
    /// if the request is not through after `client_stall` (100 ms at least).
    pub(super) fn close_unread(&mut self, client: u32) {
        let wait = self
            .cfg
            .client_stall
            .max(Duration::from_millis(EMPTY_RETRY_MS));
        let (now, stall) = (self.last_now, self.cfg.client_stall);
        let deadline = now + wait;
        let Some(c) = self.peer_mut(client) else {
            return;
        };
        // One that took some of its output within `client_stall` is reading: it gives its
        // memory back as it goes, and only loses the reply that found none.
        let reading = !stall.is_zero() && c.took_at + stall > now;
        if c.close.is_some() || c.close_after.is_some() || reading {
            return;
        }
        match c.probed_at {
            // With `client_stall` zero, at once, unasked.
            None if !stall.is_zero() => {
                c.probed_at = Some(now);
                self.request_probe(client);
                return;
            }
            Some(at) if at + PROBE_WAIT > now => return,
            _ => c.probed_at = None,
        }
        if c.src.is_forwarding() {
            c.close_after = Some(deadline);
        } else {
            self.request_close(client, CloseReason::Unread);
        }
        self.stats.unread += 1;
    }

    /// A message or a connection waits for memory: every client that has been behind for
    /// `client_stall`, and
    /// has taken none of its output for as long, is closed ([`Device::close_unread`]), as one
    /// whose own reply finds no room is, so
    /// that what its queue holds comes back. Waiting for that reply is not enough: the
    /// worker's next reply may be the one waiting, for a client that reads, while the clients
    /// that do not read hold the memory and get nothing that would close them (found with 16
    /// deaf clients beside a normal one under `--memory-max 8M`: the normal client waited for
    /// good). A client behind for less is looked at again when its time is up (the blocked
    /// sources are woken then); no scan is made before the first such time.
    pub(super) fn shed_behind(&mut self) {
        let now = self.last_now;
        if now < self.shed_at {
            return;
        }
        let stall = self.cfg.client_stall;
        // A client not behind yet cannot be due before `now + stall`.
        let mut next = now + stall;
        for idx in 0..self.slots.len() as u32 {
            let Some(c) = self.peer(idx) else { continue };
            if c.side != Side::Frontend || !c.is_live() || c.queue.is_empty() {
                continue;
            }
            // Behind, and not reading at all: a client that keeps reading a deep pipeline
            // never empties its queue, but is no reason to close anyone.
            let due = c.stall_from.max(c.took_at) + stall;
            if due > now {
                next = next.min(due);
            } else {
                self.close_unread(idx);
            }
        }
        if next <= now {
            // `client_stall` is zero: nobody can become due but by being given a reply.
            next = now + Duration::from_millis(EMPTY_RETRY_MS);
        }
        self.shed_at = next;
        self.reply_retry = Some(self.reply_retry.map_or(next, |t| t.min(next)));
    }

    /// The client a worker's reply names in its routing frame, if it is still here.
    fn reply_target(&self, head: FrameHead, prefix: &[u8]) -> Option<u32> {
        let idx = self.index(routing_frame(head, prefix)?)?;
        let client = self.peer(idx)?;
        (client.side == Side::Frontend && client.is_live()).then_some(idx)
    }
}

/// The client a reply's first frame names, if it is a routing frame as the queue writes them.
fn routing_frame(head: FrameHead, prefix: &[u8]) -> Option<PeerId> {
    if !head.more
        || head.len != ROUTING_ID_LEN as u64
        || prefix.len() != ROUTING_ID_LEN
        || prefix[0] != 0
    {
        return None;
    }
    let index = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]);
    let generation = u32::from_be_bytes([prefix[5], prefix[6], prefix[7], prefix[8]]);
    Some(PeerId { index, generation })
}
