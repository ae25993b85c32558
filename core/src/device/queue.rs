//! The queue (ROUTER frontend, DEALER backend): a client's request goes to the next worker
//! with room behind a routing frame that names the client; the worker's reply comes back
//! behind the same frame, which routes it to that client alone and is then dropped.

use super::pump::Route;
use super::{ByteQueue, Device, Kind, PeerId, Side};
use crate::wire::frame::FrameHead;

/// Length of the routing frame a queue puts before each request: 0x00, slot, generation.
const ROUTING_ID_LEN: usize = 9;

impl<Q: ByteQueue> Device<'_, Q> {
    /// Whether a message from `side` starts with a routing frame that is used up in routing.
    pub(super) fn strips_routing_frame(kind: Kind, side: Side) -> bool {
        kind == Kind::Queue && side == Side::Backend
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
    /// mark (or whose queue cannot grow for want of memory) gets it once it drains; one that
    /// has not read for [`DeviceConfig::client_stall`](super::DeviceConfig::client_stall)
    /// loses it (counted), as with libzmq's ROUTER: a client that does not read its replies
    /// must not hold the worker, which answers other clients too. Until then the worker waits,
    /// so a client that reads, however slowly, loses nothing; a worker waiting on one that
    /// does not costs the others at most that, once. A client taking another reply that is
    /// still arriving gets this one after it.
    pub(super) fn route_reply(&mut self, idx: u32, head: FrameHead, prefix: &[u8]) -> Route {
        let Some(client) = self.reply_target(head, prefix) else {
            self.stats.dropped.unroutable += 1;
            return Route::Discard;
        };
        let hwm = self.cfg.queue_hwm;
        let now = self.last_now;
        let Some(c) = self.peer(client) else {
            return Route::Discard;
        };
        let (above, held) = (c.queue.len() >= hwm, c.held.is_some());
        // A client holding bytes it does not read is full below its mark too when the memory
        // for more is spent; one with an empty queue waits for memory like the others.
        let stuck = c.queue.len() > 0;
        let stalled_at = c.drained_at + self.cfg.client_stall;
        if !above && held {
            return Route::Blocked;
        }
        if !above && self.has_room(client) {
            self.hold(idx, client);
            return Route::Go;
        }
        if above || stuck {
            if now >= stalled_at {
                let dropped = &mut self.stats.dropped;
                *if above {
                    &mut dropped.hwm
                } else {
                    &mut dropped.memory
                } += 1;
                return Route::Discard;
            }
            self.reply_retry = Some(self.reply_retry.map_or(stalled_at, |t| t.min(stalled_at)));
        }
        Route::Blocked
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
