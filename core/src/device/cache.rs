//! The forwarder's last-value cache (issue 15): the latest publication of each topic is kept
//! (`last_value.rs`), and a subscriber that subscribes to a topic is given, at once and alone,
//! the kept publications its new subscription matches, ahead of the live ones.
//!
//! - A publication is kept when all of it is here (at most the input buffer; one cut through
//!   is not, and the older value of its topic is dropped: nobody is given a value older than
//!   one that has passed). It is stored once, as a shared piece of the queues
//!   ([`ByteQueue::share`]), so each subscriber given it holds the same bytes; a queue kind
//!   that cannot share keeps no cache.
//! - A subscriber is given a kept publication only if none of its other subscriptions matched
//!   it: it had that one as it passed (no duplicates), and a subscription it repeats gives it
//!   nothing. A subscriber at its high-water mark, short of memory, or taking another message
//!   loses what it is not given (counted as the live ones are).

use super::last_value::{key_range, Entry, LastValueStats, LastValues, StoredBytes};
use super::{ByteQueue, Device, Kind, PeerSubs, Side, MAX_TOPIC};
use crate::time::{Duration, Instant};
use crate::wire::frame::FrameHead;
use crate::wire::metadata::SocketType;

/// How long after this forwarder sent a broker upstream a subscription a message from it
/// that repeats a kept value is taken for that broker's cache answering, and not passed on.
pub const ECHO_WINDOW: Duration = Duration::from_secs(5);

/// A kept publication: its encoded frames as a piece the queues share.
pub struct Cached<Q: ByteQueue>(Q::Shared);

impl<Q: ByteQueue> StoredBytes for Cached<Q> {
    fn bytes(&self) -> &[u8] {
        Q::piece_bytes(&self.0)
    }
}

impl<Q: ByteQueue> core::fmt::Debug for Cached<Q> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Cached({} bytes)", self.bytes().len())
    }
}

/// What the cache holds and has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LastValueView {
    /// Topics kept.
    pub topics: usize,
    /// Bytes of publications kept.
    pub bytes: usize,
    /// Its counters.
    pub stats: LastValueStats,
}

impl<'s, Q: ByteQueue> Device<'s, Q> {
    /// Give a forwarder a last-value cache of up to `entries.len()` topics (`order` as long),
    /// bounded and keyed by [`DeviceConfig::last_value`](super::DeviceConfig::last_value).
    /// Other devices, and queues that cannot share, keep none.
    ///
    /// The cache subscribes to everything upstream (as the ZeroMQ Guide's `lvcache` does): a
    /// publisher sends only what is subscribed, and a topic nobody has subscribed to yet is
    /// one a new subscriber may ask for. Its subscription is the table's, under a name no
    /// peer has, so it stands whatever subscribers come and go.
    pub fn with_last_values(
        mut self,
        entries: &'s mut [Entry<Cached<Q>>],
        order: &'s mut [u32],
    ) -> Self {
        if !matches!(self.cfg.kind, Kind::Forwarder { .. }) || !Q::SHARES || entries.is_empty() {
            return self;
        }
        let max = self.cfg.last_value.max_bytes;
        self.last = Some(LastValues::new(entries, order, max));
        let mut everything = PeerSubs::new(u32::try_from(self.slots.len()).unwrap_or(u32::MAX));
        if let Ok(Some((id, new))) = self.subs.subscribe(&mut everything, b"", false) {
            self.settle(id, new);
        }
        self
    }

    /// The cache's state, if it keeps one.
    pub fn last_values(&self) -> Option<LastValueView> {
        let last = self.last.as_ref()?;
        Some(LastValueView {
            topics: last.len(),
            bytes: last.bytes(),
            stats: last.stats(),
        })
    }

    /// A publication starts from the publisher `idx`: `head` is its first frame's, `first`
    /// that frame's body as far as it is here (all of it, for a topic the cache keeps),
    /// `whole` all of the message if it is all here. Kept, or its topic's older value dropped.
    ///
    /// True if it is not to be passed on: a broker upstream (an XPUB peer) sent a subscription
    /// within [`ECHO_WINDOW`] repeated the value kept for its topic. That is its own cache
    /// answering the subscription (this forwarder's cache subscribes to everything, so an
    /// upstream zedge with a cache sends it all it keeps at each connection), and the
    /// subscribers here had that value already.
    pub(super) fn remember(
        &mut self,
        idx: u32,
        head: FrameHead,
        first: &[u8],
        whole: Option<&[u8]>,
    ) -> bool {
        let (prefix, now) = (self.cfg.last_value.prefix, self.last_now);
        let Device { last, slots, .. } = self;
        let Some(last) = last.as_mut() else {
            return false;
        };
        let key = match head.more {
            // A topic frame longer than subscriptions match is never kept.
            true if head.len > MAX_TOPIC as u64 => return false,
            true => first,
            false if prefix == 0 => return false,
            false => &first[..first.len().min(prefix)],
        };
        let Some(publisher) = slots.get(idx as usize).and_then(|s| s.peer.as_ref()) else {
            return false;
        };
        // Asked lately, and what it may answer with is what was kept by then.
        let asked = publisher
            .asked_at
            .filter(|&(at, _)| now.saturating_since(at) < ECHO_WINDOW)
            .map(|(_, stores)| stores);
        let broker = publisher
            .facts
            .ready
            .is_some_and(|r| r.0 == SocketType::XPub);
        if let (Some(by), true, Some(msg)) = (asked, broker, whole) {
            let echo = last
                .get(key)
                .is_some_and(|(kept, version)| version <= by && kept.bytes() == msg);
            if echo {
                // Once: a repeat after this is the publisher's own.
                last.touch(key, now);
                last.echoed();
                return true;
            }
        }
        let kept = whole.and_then(|msg| {
            let range = key_range(msg, prefix)?;
            let piece = publisher.queue.share(msg)?;
            Some((Cached::<Q>(piece), range))
        });
        match kept {
            // One larger than the cache is counted there, and its topic's older value gone.
            Some((piece, range)) => _ = last.store(piece, range, now),
            None => last.refused(key),
        }
        false
    }

    /// The subscriber `idx` subscribes to `topic` (`again`: it held that subscription
    /// already): give it the kept publications only this subscription matches.
    pub(super) fn prime(&mut self, idx: u32, topic: &[u8], again: bool) {
        if again {
            return;
        }
        let (prefix, hwm, now) = (
            self.cfg.last_value.prefix,
            self.cfg.queue_hwm,
            self.last_now,
        );
        let Device {
            last,
            slots,
            subs,
            stats,
            ..
        } = self;
        let Some(last) = last.as_mut() else { return };
        let Some(sub) = slots.get_mut(idx as usize).and_then(|s| s.peer.as_mut()) else {
            return;
        };
        let mut given = 0;
        // A subscriber at its mark takes no more: the rest are lost to it at once, so a
        // subscription churned by one that reads nothing costs a lookup, not the table.
        let mut full = false;
        let left = last.matching(topic, prefix, |msg, _| {
            let bytes = msg.bytes();
            let mut mine = 0;
            subs.matches(first_frame(bytes), |p| mine += u32::from(p == idx));
            if mine > 1 || !sub.is_live() {
                return true;
            }
            let lost = if sub.held.is_some() {
                &mut stats.dropped.busy
            } else if sub.queue.len() >= hwm {
                full = true;
                &mut stats.dropped.hwm
            } else if !sub.queue.reserve_shared(&msg.0) {
                &mut stats.dropped.memory
            } else {
                if sub.queue.is_empty() {
                    sub.drained.not_before(now);
                }
                if sub.queue.push_shared(&msg.0).is_ok() {
                    let body = body_bytes(bytes);
                    given += 1;
                    sub.pushed += bytes.len() as u64;
                    sub.facts.traffic.msgs_out += 1;
                    sub.facts.traffic.bytes_out += body;
                    stats.sides[Side::Backend.index()].msgs_out += 1;
                    stats.sides[Side::Backend.index()].bytes_out += body;
                    return true;
                }
                &mut stats.dropped.memory
            };
            *lost += 1;
            sub.dropped += 1;
            !full
        });
        stats.dropped.hwm += left as u64;
        sub.dropped += left as u64;
        last.given(given);
        if given > 0 {
            self.request_wake(idx);
        }
    }

    /// Messages the cache has stored so far (0 without one): a publisher sent a subscription
    /// notes it, so that its answers can be told from its own messages ([`ECHO_WINDOW`]).
    pub(super) fn cache_stores(&self) -> u64 {
        self.last.as_ref().map_or(0, LastValues::stores)
    }

    /// Drop every kept publication (the device is stopping: what they hold goes back to
    /// whoever gave the pieces).
    pub fn clear_last_values(&mut self) {
        if let Some(last) = self.last.as_mut() {
            last.clear();
        }
    }

    /// Drop the kept publications that have lived their time (`last_value.ttl`).
    pub(super) fn expire_last_values(&mut self, now: Instant) {
        let ttl = self.cfg.last_value.ttl;
        if let Some(last) = self.last.as_mut() {
            last.expire(now, ttl);
        }
    }

    /// When the oldest kept publication will have lived its time.
    pub(super) fn last_value_deadline(&self) -> Option<Instant> {
        self.last.as_ref()?.next_expiry(self.cfg.last_value.ttl)
    }
}

/// The first frame's body of an encoded message, to its first [`MAX_TOPIC`] bytes (what
/// subscriptions match).
fn first_frame(msg: &[u8]) -> &[u8] {
    let Ok(Some((head, used))) = FrameHead::decode(msg) else {
        return &[];
    };
    let body = &msg[used..];
    let len = usize::try_from(head.len).map_or(body.len(), |l| l.min(body.len()));
    &body[..len.min(MAX_TOPIC)]
}

/// The bytes of an encoded message's frame bodies (what the traffic counters count).
fn body_bytes(mut msg: &[u8]) -> u64 {
    let mut n = 0;
    while let Ok(Some((head, used))) = FrameHead::decode(msg) {
        n += head.len;
        let end = usize::try_from(head.len)
            .ok()
            .and_then(|l| l.checked_add(used))
            .unwrap_or(usize::MAX);
        let Some(rest) = msg.get(end..) else { break };
        msg = rest;
    }
    n
}
