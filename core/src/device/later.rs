//! Messages held back for a subscriber that is taking another publisher's message cut
//! through: they go into its queue after that message, in the order they came, while the
//! publishers that sent them and the other subscribers go on.
//!
//! Without it, a publisher whose message reached such a subscriber had to wait for the whole
//! cut-through message (seconds, from a sender on a slow link), and so did every other
//! subscriber of that publisher. Only a message that is all here is held back (it is copied
//! in one go, at routing); one that would itself be cut through still waits. A queue kind
//! that cannot hold bytes back ([`ByteQueue::DEFERS`], the board's `Ring`) keeps the wait.
//! What is held back counts toward the subscriber's high-water mark, as queued bytes do: past
//! it, a message is dropped for that subscriber (counted), never for the others.

use super::peer::Peer;
use super::{ByteQueue, Device};
use crate::wire::frame::FrameHead;

/// Why a message could not be held back: the peer loses it (its caller counts it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lost {
    /// Above the high-water mark, with what is held back.
    Hwm,
    /// For want of memory.
    Memory,
}

/// Hold the message `msg` (all of it, as it came: its first frame head at 0) back for the
/// peer `sub` (a subscriber, a capture reader), re-encoded frame by frame as the device
/// forwards it (commands between its frames are not part of it). Counted as sent once it goes
/// into the peer's queue ([`Device::later_released`]; never, if the peer is reset first), or
/// lost now: above `hwm` (with what is held back), or for want of memory. A message over
/// `max_size` is left alone: the session refuses it, and it goes to nobody.
pub(super) fn hold_back<Q: ByteQueue>(
    sub: &mut Peer<Q>,
    msg: &[u8],
    (hwm, max_size): (usize, u64),
) -> Result<(), Lost> {
    let Some((len, body)) = encoded_len(msg) else {
        return Ok(());
    };
    if body > max_size {
        return Ok(());
    }
    let queue = &mut sub.queue;
    if queue.len().saturating_add(queue.later_len()) >= hwm {
        return Err(Lost::Hwm);
    }
    if !queue.reserve_later(len) {
        return Err(Lost::Memory);
    }
    each_frame(msg, |head, bytes| {
        queue.push_later(head.encode().as_slice());
        queue.push_later(bytes);
    });
    sub.later.0 += 1;
    sub.later.1 += body;
    Ok(())
}

/// The bytes `msg`'s data frames take re-encoded, and their bodies' bytes; `None` if it is
/// not one whole message.
pub(super) fn encoded_len(msg: &[u8]) -> Option<(usize, u64)> {
    let (mut len, mut body) = (0usize, 0u64);
    let whole = each_frame(msg, |head, bytes| {
        len = len.saturating_add(head.encoded_len() + bytes.len());
        body = body.saturating_add(head.len);
    });
    whole.then_some((len, body))
}

/// Each data frame of the message `msg`, its head and body, in order; whether it was one
/// whole message.
fn each_frame(msg: &[u8], mut f: impl FnMut(FrameHead, &[u8])) -> bool {
    let mut at = 0usize;
    while let Ok(Some((head, used))) = FrameHead::decode(&msg[at..]) {
        let start = at + used;
        let Some(bytes) = usize::try_from(head.len)
            .ok()
            .and_then(|n| msg.get(start..start.checked_add(n)?))
        else {
            return false;
        };
        at = start + bytes.len();
        if head.command {
            continue;
        }
        f(head, bytes);
        if !head.more {
            return true;
        }
    }
    false
}

impl<Q: ByteQueue> Device<'_, Q> {
    /// `idx`'s message in progress ended or was taken back: what was held back for it goes
    /// into its queue now.
    pub(super) fn release_later(&mut self, idx: u32) {
        let Some(peer) = self.peer_mut(idx) else {
            return;
        };
        let before = peer.pushed;
        let n = if Q::DEFERS {
            peer.queue.release_later()
        } else {
            0
        };
        if n > 0 {
            self.later_released(idx, n);
        }
        if self.spool_sink() == Some(idx) {
            self.sink_released(before);
        }
    }

    /// `n` bytes held back for `idx` went into its queue: they are its, and the messages they
    /// hold count as sent.
    #[cold]
    pub(super) fn later_released(&mut self, idx: u32, n: usize) {
        let Some(peer) = self.peer_mut(idx) else {
            return;
        };
        peer.pushed += n as u64;
        let (msgs, body) = core::mem::take(&mut peer.later);
        peer.facts.traffic.msgs_out += msgs;
        peer.facts.traffic.bytes_out += body;
        let side = peer.side;
        let stats = self.side_stats(side);
        stats.msgs_out += msgs;
        stats.bytes_out += body;
        self.request_wake(idx);
    }
}
