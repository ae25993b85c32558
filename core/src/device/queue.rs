//! The queue (ROUTER frontend, DEALER backend): a client's request goes to the next worker
//! with room behind a routing frame that names the client; the worker's reply comes back
//! behind the same frame, which routes it to that client alone and is then dropped.

use super::pump::Route;
use super::{ByteQueue, Device, Kind, PeerId, Side};
use crate::time::Duration;
use crate::wire::frame::FrameHead;

/// Length of the routing frame a queue puts before each request: 0x00, slot, generation.
const ROUTING_ID_LEN: usize = 9;

impl<Q: ByteQueue> Device<'_, Q> {
    /// Whether a message from `side` starts with a routing frame that is used up in routing.
    pub(super) fn strips_routing_frame(kind: Kind, side: Side) -> bool {
        kind.replies_from(side)
    }

    /// A client's request: to the next free worker, behind the client's routing frame.
    pub(super) fn route_request(&mut self, idx: u32) -> Route {
        let Some(worker) = self.pick_worker() else {
            return Route::Blocked;
        };
        self.hold(idx, worker);
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
        Route::Go
    }

    /// A worker's reply: to the client its routing frame names. A client at its high-water
    /// mark, or whose queue cannot grow for want of memory, gets it once it drains or memory
    /// is given back, while it has held workers waiting for less than
    /// [`DeviceConfig::client_stall`](super::DeviceConfig::client_stall) in all since its
    /// queue was last empty; past that, it loses the reply (counted), as with libzmq's ROUTER
    /// at its high-water mark. A worker answers other clients too: a client that does not
    /// read, or reads slowly, costs them at most that, until it has caught up. A client that
    /// empties its queue now and then loses nothing. A client taking another reply that is
    /// still arriving gets this one after it. The same holds for the rest of a reply cut
    /// through ([`Device::reply_may_wait`]).
    pub(super) fn route_reply(&mut self, idx: u32, head: FrameHead, prefix: &[u8]) -> Route {
        let Some(client) = self.reply_target(head, prefix) else {
            self.stats.dropped.unroutable += 1;
            if let Some(w) = self.peer_mut(idx) {
                w.waiting_since = None;
            }
            return Route::Discard;
        };
        let hwm = self.cfg.queue_hwm;
        let Some(c) = self.peer(client) else {
            return Route::Discard;
        };
        let above = c.queue.len() >= hwm;
        if !above && c.held.is_some() {
            return Route::Blocked;
        }
        if !above && self.has_room(client) {
            self.stop_waiting(idx, client);
            self.hold(idx, client);
            return Route::Go;
        }
        if self.reply_may_wait(idx, client) {
            return Route::Blocked;
        }
        let dropped = &mut self.stats.dropped;
        *if above {
            &mut dropped.hwm
        } else {
            &mut dropped.memory
        } += 1;
        Route::Discard
    }

    /// Whether worker `idx` may wait for room at `client` for its reply (or the rest of it):
    /// while the client has held workers less than `client_stall` in all, counting this wait
    /// (a timer wakes the worker when that is up). False once it has: the worker stops
    /// waiting, and the client loses the reply.
    pub(super) fn reply_may_wait(&mut self, idx: u32, client: u32) -> bool {
        let now = self.last_now;
        let since = match self.peer_mut(idx) {
            Some(w) => *w.waiting_since.get_or_insert(now),
            None => now,
        };
        let waited = now.saturating_since(since).as_millis();
        let spent = self.peer(client).map_or(0, |c| c.stall_spent_ms);
        let allowed = self.cfg.client_stall.as_millis();
        if spent.saturating_add(waited) >= allowed {
            self.stop_waiting(idx, client);
            return false;
        }
        let due = now + Duration::from_millis(allowed - spent - waited);
        self.reply_retry = Some(self.reply_retry.map_or(due, |t| t.min(due)));
        true
    }

    /// Worker `idx` no longer waits on `client`: the time it waited is the client's.
    pub(super) fn stop_waiting(&mut self, idx: u32, client: u32) {
        let now = self.last_now;
        let Some(since) = self.peer_mut(idx).and_then(|w| w.waiting_since.take()) else {
            return;
        };
        if let Some(c) = self.peer_mut(client) {
            let waited = now.saturating_since(since).as_millis();
            c.stall_spent_ms = c.stall_spent_ms.saturating_add(waited);
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
        (client.side == Side::Frontend && client.is_live()).then_some(idx)
    }
}
