//! The last-value cache's table (issue 15): the latest message per topic, over storage the
//! caller provides, so a forwarder can give a new subscriber the values of the topics it asks
//! for at once instead of at their publishers' next message.
//!
//! A message is kept as the caller stores it (`S`, in a forwarder a queue's shared piece: one
//! copy, whoever holds it), as its encoded frames. Its **key** is its first frame when more
//! frames follow (the ZeroMQ Guide's topic frame), or the first `prefix` bytes of a message of
//! one frame (`prefix` 0: such messages are not kept). A new message of a key replaces the
//! one kept.
//!
//! Bounded three ways: at most as many keys as the caller gave slots, at most `max_bytes` of
//! messages, and (optionally) each kept no longer than a time to live. What does not fit
//! pushes out the least recently stored; a message larger than `max_bytes` is not kept, and
//! neither is the older value of its key (a new subscriber is never given a value older than
//! one that has passed).
//!
//! Lookups by subscription are a binary search in the keys' sorted order (a subscription
//! churned by a peer costs a logarithm, not a pass over the table); storing a new key moves
//! the part of that order after it.

use core::ops::Range;

use crate::time::{Duration, Instant};
use crate::wire::frame::FrameHead;

/// A stored message's bytes.
pub trait StoredBytes {
    /// All of the message's encoded frames.
    fn bytes(&self) -> &[u8];
}

impl StoredBytes for core::convert::Infallible {
    fn bytes(&self) -> &[u8] {
        match *self {}
    }
}

/// The key of an encoded message (frames with their heads): the body of its first frame when
/// more follow, else the first `prefix` bytes of its only frame (all of it if shorter), or
/// `None` (not kept: `prefix` 0, a command, or frames that do not parse).
pub fn key_range(msg: &[u8], prefix: usize) -> Option<Range<usize>> {
    let (head, used) = FrameHead::decode(msg).ok()??;
    if head.command {
        return None;
    }
    let len = usize::try_from(head.len).ok()?;
    let end = used.checked_add(len)?;
    if end > msg.len() {
        return None;
    }
    if head.more {
        return Some(used..end);
    }
    (prefix > 0).then(|| used..used + len.min(prefix))
}

/// No entry (the end of a list).
const NONE: u32 = u32::MAX;

/// One kept message.
#[derive(Debug)]
pub struct Entry<S> {
    msg: Option<S>,
    key: Range<u32>,
    /// When it was stored.
    at: Instant,
    /// The table's count of stores when it was stored (see [`LastValues::stores`]).
    version: u64,
    /// Neighbours in the order of storing (oldest first); `next` links the free entries.
    prev: u32,
    next: u32,
}

impl<S> Default for Entry<S> {
    fn default() -> Self {
        Entry {
            msg: None,
            key: 0..0,
            at: Instant::ZERO,
            version: 0,
            prev: NONE,
            next: NONE,
        }
    }
}

/// What the table has done, for the caller's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LastValueStats {
    /// Messages stored (new keys and replacements).
    pub stored: u64,
    /// Kept messages pushed out for room (keys or bytes).
    pub evicted: u64,
    /// Kept messages dropped for their age.
    pub expired: u64,
    /// Messages not kept: larger than the whole table, or refused by the caller's storage.
    pub refused: u64,
    /// Kept messages given to subscribers that subscribed.
    pub given: u64,
    /// Messages from a broker upstream, just sent a subscription, that repeated the value kept
    /// for their topic: its cache's answer, not passed on (`cache.rs`).
    pub echoed: u64,
}

/// The latest message per key; see the module docs.
#[derive(Debug)]
pub struct LastValues<'s, S> {
    entries: &'s mut [Entry<S>],
    /// Entry indices in their keys' order; the first `len` are in use.
    order: &'s mut [u32],
    len: usize,
    free: u32,
    oldest: u32,
    newest: u32,
    bytes: usize,
    max_bytes: usize,
    stores: u64,
    stats: LastValueStats,
}

/// What [`LastValues::store`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Kept, replacing the key's older message if there was one.
    Kept,
    /// Not kept (too large for the table); the key's older message, if any, is gone too.
    TooLarge,
}

impl<'s, S: StoredBytes> LastValues<'s, S> {
    /// A table over `entries` (one per key it may hold) and `order` (as long), holding at most
    /// `max_bytes` of messages.
    pub fn new(entries: &'s mut [Entry<S>], order: &'s mut [u32], max_bytes: usize) -> Self {
        let n = entries.len().min(order.len()).min(NONE as usize);
        let entries = &mut entries[..n];
        for (i, e) in entries.iter_mut().enumerate() {
            *e = Entry::default();
            e.next = if i + 1 < n { i as u32 + 1 } else { NONE };
        }
        LastValues {
            entries,
            order: &mut order[..n],
            len: 0,
            free: if n > 0 { 0 } else { NONE },
            oldest: NONE,
            newest: NONE,
            bytes: 0,
            max_bytes,
            stores: 0,
            stats: LastValueStats::default(),
        }
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the messages held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// What it has done.
    pub fn stats(&self) -> LastValueStats {
        self.stats
    }

    /// Messages stored so far: a message kept at `stores() == n` has the version `n`. A caller
    /// that noted this count when a subscriber joined can tell the messages that came after
    /// (which the subscriber got as they passed) from those it was given from the table.
    pub fn stores(&self) -> u64 {
        self.stores
    }

    /// A message the caller's storage refused: not kept, and the older message of its key
    /// `key` (if any) dropped with it.
    pub fn refused(&mut self, key: &[u8]) {
        self.stats.refused += 1;
        self.remove(key);
    }

    /// Keep `msg` under the key at `key` (a range of its bytes, from [`key_range`]), stored at
    /// `now`; older messages are pushed out for room.
    pub fn store(&mut self, msg: S, key: Range<usize>, now: Instant) -> Stored {
        let size = msg.bytes().len();
        let Some(k) = msg.bytes().get(key.clone()) else {
            self.stats.refused += 1;
            return Stored::TooLarge;
        };
        let found = self.find(k);
        if size > self.max_bytes || self.entries.is_empty() {
            if let Ok(pos) = found {
                self.remove_at(pos);
            }
            self.stats.refused += 1;
            return Stored::TooLarge;
        }
        self.stores += 1;
        self.stats.stored += 1;
        let key = key.start as u32..key.end as u32;
        if let Ok(pos) = found {
            let i = self.order[pos];
            let e = &mut self.entries[i as usize];
            let old = e.msg.replace(msg).map_or(0, |m| m.bytes().len());
            (e.key, e.at, e.version) = (key, now, self.stores);
            self.bytes = self.bytes - old + size;
            self.unlink(i);
            self.link_newest(i);
            self.make_room(0, false, i);
            return Stored::Kept;
        }
        self.make_room(size, true, NONE);
        if self.free == NONE {
            // No entry could be freed (never, while the table is whole): not kept.
            self.stats.refused += 1;
            return Stored::TooLarge;
        }
        // Making room moved the order: where the key goes now.
        let pos = match self.find(k_of(&msg, &key)) {
            Ok(pos) | Err(pos) => pos,
        };
        let i = self.free;
        let e = &mut self.entries[i as usize];
        self.free = e.next;
        *e = Entry {
            msg: Some(msg),
            key,
            at: now,
            version: self.stores,
            prev: NONE,
            next: NONE,
        };
        self.link_newest(i);
        self.order.copy_within(pos..self.len, pos + 1);
        self.order[pos] = i;
        self.len += 1;
        self.bytes += size;
        Stored::Kept
    }

    /// The message kept under `key`, if any, and its version ([`LastValues::stores`]).
    pub fn get(&self, key: &[u8]) -> Option<(&S, u64)> {
        let pos = self.find(key).ok()?;
        let e = &self.entries[self.order[pos] as usize];
        Some((e.msg.as_ref()?, e.version))
    }

    /// The message kept under `key`, if any, came again at `now`: it is the newest, and
    /// versioned as if stored now (not counted as stored).
    pub fn touch(&mut self, key: &[u8], now: Instant) {
        let Ok(pos) = self.find(key) else { return };
        let i = self.order[pos];
        self.stores += 1;
        let e = &mut self.entries[i as usize];
        (e.at, e.version) = (now, self.stores);
        self.unlink(i);
        self.link_newest(i);
    }

    /// A message that repeats the one kept was not passed on (counted in
    /// [`LastValueStats::echoed`]).
    pub fn echoed(&mut self) {
        self.stats.echoed += 1;
    }

    /// `n` kept messages were given to a subscriber (counted in [`LastValueStats::given`]).
    pub fn given(&mut self, n: u64) {
        self.stats.given += n;
    }

    /// Drop every message kept (not counted as evicted).
    pub fn clear(&mut self) {
        while self.len > 0 {
            self.remove_at(self.len - 1);
        }
    }

    /// Drop the message kept under `key`, if any.
    pub fn remove(&mut self, key: &[u8]) {
        if let Ok(pos) = self.find(key) {
            self.remove_at(pos);
        }
    }

    /// Drop every message stored `ttl` or longer before `now` (none with `ttl` zero): how many.
    pub fn expire(&mut self, now: Instant, ttl: Duration) -> usize {
        if ttl.is_zero() {
            return 0;
        }
        let mut n = 0;
        while let Some(e) = self.entries.get(self.oldest as usize) {
            if now.saturating_since(e.at) < ttl {
                break;
            }
            let key = self.key_at(self.oldest);
            let Ok(pos) = self.find(key) else { break };
            self.remove_at(pos);
            self.stats.expired += 1;
            n += 1;
        }
        n
    }

    /// When the oldest message kept will have lived `ttl`, if any is kept and `ttl` is not zero.
    pub fn next_expiry(&self, ttl: Duration) -> Option<Instant> {
        let e = self.entries.get(self.oldest as usize)?;
        (!ttl.is_zero()).then(|| e.at + ttl)
    }

    /// Call `f` with each kept message a subscription to `topic` matches (its first frame
    /// starts with `topic`), and its version, in its keys' order, while `f` says to go on;
    /// `prefix` as for [`key_range`]. Returns how many it did not call `f` with: those
    /// matched after `f` said to stop (the last of them maybe not matching, where a longer
    /// topic meets a message of one frame).
    pub fn matching(
        &self,
        topic: &[u8],
        prefix: usize,
        mut f: impl FnMut(&S, u64) -> bool,
    ) -> usize {
        // Keys that start with the topic sit together in the order.
        let from = self.partition(|k| k < topic);
        let to = self.partition(|k| k < topic || k.starts_with(topic));
        // A message of one frame is keyed by its first `prefix` bytes: one longer topic can
        // still match it, under the key that is the topic's first `prefix` bytes.
        let short = (prefix > 0 && topic.len() > prefix)
            .then(|| self.find(&topic[..prefix]).ok())
            .flatten();
        // (Not among the others: shorter than the topic, it does not start with it.)
        let mut left = to - from + usize::from(short.is_some());
        for &i in &self.order[from..to] {
            left -= 1;
            let e = &self.entries[i as usize];
            if let Some(msg) = &e.msg {
                if !f(msg, e.version) {
                    return left;
                }
            }
        }
        if let Some(pos) = short {
            let e = &self.entries[self.order[pos] as usize];
            if let Some(msg) = e.msg.as_ref() {
                if first_frame_starts_with(msg.bytes(), topic) {
                    f(msg, e.version);
                }
            }
        }
        0
    }

    fn key_at(&self, i: u32) -> &[u8] {
        let e = &self.entries[i as usize];
        e.msg.as_ref().map_or(&[][..], |m| k_of(m, &e.key))
    }

    fn partition(&self, before: impl Fn(&[u8]) -> bool) -> usize {
        self.order[..self.len].partition_point(|&i| before(self.key_at(i)))
    }

    fn find(&self, key: &[u8]) -> Result<usize, usize> {
        self.order[..self.len].binary_search_by(|&i| self.key_at(i).cmp(key))
    }

    /// Push out the oldest until `size` more bytes fit and, for a new key (`slot`), an entry
    /// is free; `keep` stays.
    fn make_room(&mut self, size: usize, slot: bool, keep: u32) {
        loop {
            let short = self.bytes + size > self.max_bytes || (slot && self.free == NONE);
            let victim = if self.oldest == keep {
                self.entries.get(keep as usize).map_or(NONE, |e| e.next)
            } else {
                self.oldest
            };
            if !short || victim == NONE {
                return;
            }
            let key = self.key_at(victim);
            let Ok(pos) = self.find(key) else { return };
            self.remove_at(pos);
            self.stats.evicted += 1;
        }
    }

    fn remove_at(&mut self, pos: usize) {
        let i = self.order[pos];
        self.order.copy_within(pos + 1..self.len, pos);
        self.len -= 1;
        self.unlink(i);
        let e = &mut self.entries[i as usize];
        let size = e.msg.take().map_or(0, |m| m.bytes().len());
        self.bytes -= size;
        e.next = self.free;
        self.free = i;
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let e = &self.entries[i as usize];
            (e.prev, e.next)
        };
        match self.entries.get_mut(prev as usize) {
            Some(p) => p.next = next,
            None => self.oldest = next,
        }
        match self.entries.get_mut(next as usize) {
            Some(n) => n.prev = prev,
            None => self.newest = prev,
        }
        let e = &mut self.entries[i as usize];
        (e.prev, e.next) = (NONE, NONE);
    }

    fn link_newest(&mut self, i: u32) {
        let last = self.newest;
        match self.entries.get_mut(last as usize) {
            Some(l) => l.next = i,
            None => self.oldest = i,
        }
        let e = &mut self.entries[i as usize];
        (e.prev, e.next) = (last, NONE);
        self.newest = i;
    }
}

fn k_of<'m, S: StoredBytes>(msg: &'m S, key: &Range<u32>) -> &'m [u8] {
    msg.bytes()
        .get(key.start as usize..key.end as usize)
        .unwrap_or(&[])
}

/// Whether the first frame of the encoded message `msg` starts with `topic`.
fn first_frame_starts_with(msg: &[u8], topic: &[u8]) -> bool {
    let Ok(Some((head, used))) = FrameHead::decode(msg) else {
        return false;
    };
    let body = &msg[used..];
    let len = usize::try_from(head.len).map_or(body.len(), |l| l.min(body.len()));
    body[..len].starts_with(topic)
}

impl<S> Entry<S> {
    /// Whether it holds a message.
    pub fn is_used(&self) -> bool {
        self.msg.is_some()
    }
}

#[cfg(test)]
mod tests;
