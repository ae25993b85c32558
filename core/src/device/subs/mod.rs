//! The forwarder's subscription index, in caller storage: matching a message costs O(its
//! topic's length), not O(table), and each subscriber has a share of the table.
//!
//! The design and the memory it takes are on [`SubTable`].

mod entries;
mod limits;
mod scan;
mod sip;
mod store;
mod topic;
mod topics;
mod upstream;

pub use crate::conn::MAX_TOPIC;
use entries::{Entries, List};
pub use limits::{PeerSubs, Refusal, SubscriptionLimits, PROXY_SHARES, SHARE_OF_FREE};
use scan::{ScanSet, SCAN_TOPICS};
use sip::{Prefixes, Sip13};
use store::{Layout, NIL};
pub use topic::{Pieces, Topic};
use topics::{pieces_for, Topics};
pub(crate) use upstream::{Cursor, Owed};

/// The subscription index over caller storage.
///
/// Entries are counted, as with libzmq: a subscriber that subscribes twice to a topic must
/// cancel twice. A topic's upstream life follows its entries: the first subscription sends it
/// upstream, the removal of the last cancels it.
///
/// # Design
///
/// - Distinct topics live in a hash table (open addressing over `u32` ids, a power of two of
///   slots, at most half full) keyed by SipHash-1-3 with a seed the caller draws at random:
///   peers choose topics, and could flood an unkeyed hash. A topic's first 16 bytes sit in its
///   record, the rest in a chain of 28-byte pieces from a free list: any length up to
///   [`MAX_TOPIC`] fits, and nothing fragments.
/// - A bitmap (with counts) of which topic lengths exist. A message head is hashed
///   incrementally and looked up only at the lengths some topic has, the bytes compared on a
///   hash hit: O(head length + matching subscribers) per message, whatever the table holds.
/// - Each (subscriber, topic) pair is one entry with a count, found by the pair through a
///   second hash table, and linked on two doubly linked lists: the topic's subscribers (what
///   matching walks) and the subscriber's topics ([`PeerSubs`], kept by the caller): a
///   subscriber leaving costs O(its own subscriptions), one at a time if the caller wants.
/// - The topics are also on one list, the log, in the order their upstream state (whether they
///   have subscribers) last changed: what each publisher is owed is where it stands in the log,
///   coalesced per topic (`upstream.rs`), and [`SubTable::topics`] walks it in O(topics). A
///   topic without subscribers stays, matching nothing, while some publisher is owed its
///   cancellation; such topics hold records, so a new topic may be refused as
///   [`Refusal::TableFull`] until publishers have taken them.
///
/// # Memory
///
/// For each subscription of [`SubscriptionLimits::max`]: an entry record (28 bytes), a topic
/// record (48: a topic has at least one entry), and four to eight hash slots of 4 bytes (two
/// tables, each at least twice the records, rounded up to a power of two): 92 to 108 bytes,
/// against 262 for the flat table this replaced. Then 32 bytes per 28 of
/// [`SubscriptionLimits::topic_bytes`], and 66 KiB for the lengths. The caller hands zeroed
/// bytes ([`SubTable::storage_bytes`]); records are taken in order as the table grows, so a
/// hosted caller that takes them from a zeroed allocation pays memory only for pages the
/// table has used (hash slots are spread at random, so their pages are the first to fill).
#[derive(Debug)]
pub struct SubTable<'s> {
    topics: Topics<'s>,
    entries: Entries<'s>,
    max_per_peer: usize,
    pieces_per_peer: usize,
    /// Where the sweep for topics owed only to publishers that left stands (`upstream.rs`).
    sweep: u32,
    /// What matching compares while there are few topics (`scan.rs`).
    scan: ScanSet,
}

impl<'s> SubTable<'s> {
    /// Zeroed bytes [`SubTable::new`] needs for `limits` (none if `limits.max` is zero).
    pub fn storage_bytes(limits: &SubscriptionLimits) -> usize {
        Layout::new(limits.max, limits.topic_bytes).bytes()
    }

    /// An empty table in `storage`, which must be zeroed. With fewer than
    /// [`SubTable::storage_bytes`] bytes it holds less (halved until it fits; see
    /// [`SubTable::capacity`]). `seed` keys the hash: draw it at random, once per table.
    pub fn new(storage: &'s mut [u8], limits: SubscriptionLimits, seed: [u64; 2]) -> Self {
        let layout = Layout::new(limits.max, limits.topic_bytes).fit(storage.len());
        let keyed = Sip13::new(seed);
        let mut rest = storage;
        let topics = Topics::new(&mut rest, &layout, keyed);
        // Pairs are hashed with a key of their own, so topic hashes say nothing about them.
        let pair_key = [keyed.hash(b"pairs"), keyed.hash(b"pairs key")];
        let entries = Entries::new(&mut rest, &layout, Sip13::new(pair_key));
        SubTable {
            topics,
            entries,
            max_per_peer: limits.max_per_peer,
            pieces_per_peer: limits.topic_bytes_per_peer / store::PIECE_DATA,
            sweep: NIL,
            scan: ScanSet::new(),
        }
    }

    /// Subscriptions held: distinct (subscriber, topic) pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No subscriptions.
    pub fn is_empty(&self) -> bool {
        self.entries.len() == 0
    }

    /// Most subscriptions it can hold.
    pub fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Distinct topics held (with subscribers).
    pub fn topic_count(&self) -> usize {
        self.topics.live()
    }

    /// Records visited changing the table so far (adding, removing): the work done, which
    /// follows the subscriptions touched and never the table's size.
    pub fn visited(&self) -> u64 {
        self.topics.visited + self.entries.visited
    }

    /// Add a subscription of `subs`'s subscriber. `Ok(true)` if it is the topic's first.
    pub fn add(&mut self, subs: &mut PeerSubs, topic: &[u8]) -> Result<bool, Refusal> {
        self.subscribe(subs, topic, false)
            .map(|first| first.is_some())
    }

    /// Whether `subs`'s subscriber holds a subscription to `topic` (exactly that topic).
    pub(crate) fn holds(&self, subs: &PeerSubs, topic: &[u8]) -> bool {
        topic.len() <= MAX_TOPIC
            && self
                .topics
                .find(self.topics.hash(topic), topic)
                .and_then(|id| self.entries.find(id, subs.peer))
                .is_some()
    }

    /// [`SubTable::add`], naming the topic when this is its first subscription (and whether
    /// the topic is new to the table, or one still owed to some publisher as cancelled).
    ///
    /// A `proxy` (an XSUB peer: another broker, subscribing for all of its own subscribers)
    /// has [`PROXY_SHARES`] times the per-subscriber share (`max_per_peer`,
    /// `topic_bytes_per_peer`), and [`SHARE_OF_FREE`] of what is left as every subscriber:
    /// held to the share of one subscriber, a downstream forwarder whose subscribers held
    /// more topics between them lost every topic past it, silently (ZMTP tells a subscriber
    /// of no refusal), and one subscriber there holding a share's worth cut off every topic
    /// subscribed after it (attacker round 6). Not exempt from the share: any peer may say it
    /// is an XSUB, and six that did, with no share at all, filled the default table and
    /// locked every later subscriber out whatever `max_per_peer` said (attacker round 7).
    /// A proxy holds each topic once: subscribing again to one it holds is not counted, so
    /// one cancellation takes it out.
    pub(crate) fn subscribe(
        &mut self,
        subs: &mut PeerSubs,
        topic: &[u8],
        proxy: bool,
    ) -> Result<Option<(u32, bool)>, Refusal> {
        if topic.len() > MAX_TOPIC {
            return Err(Refusal::TooLong);
        }
        let h = self.topics.hash(topic);
        let found = self.topics.find(h, topic);
        if let Some(e) = found.and_then(|id| self.entries.find(id, subs.peer)) {
            if proxy {
                // A broker subscribes once per topic: one it holds again is one it holds
                // (libzmq's XPUB keeps a set per peer too), and a downstream zedge re-offers
                // what it holds when room frees up here (`reoffer_after`).
                return Ok(None);
            }
            let n = self
                .entries
                .count(e)
                .checked_add(1)
                .ok_or(Refusal::PeerShare)?;
            self.entries.set_count(e, n);
            return Ok(None);
        }
        let pieces = pieces_for(topic.len());
        let (len, held) = (subs.len() + 1, subs.pieces as usize + pieces);
        let shares = if proxy { PROXY_SHARES } else { 1 };
        if len > self.max_per_peer.saturating_mul(shares)
            || held > self.pieces_per_peer.saturating_mul(shares)
        {
            return Err(Refusal::PeerShare);
        }
        let free = self.entries.capacity() - self.entries.len();
        if free == 0 {
            return Err(Refusal::TableFull);
        }
        let new_pieces = if found.is_some() { 0 } else { pieces };
        match found {
            None if self.topics.pieces_free() < pieces => return Err(Refusal::TopicBytesFull),
            // Topics still owed to a publisher as cancelled hold records: there may be none.
            None if self.topics.records_free() == 0 => return Err(Refusal::TableFull),
            _ => {}
        }
        // Too little is left for this subscriber: for it, the table is full.
        if len > SHARE_OF_FREE * (free - 1) {
            return Err(Refusal::TableFull);
        }
        let pieces_left = self.topics.pieces_free() - new_pieces;
        if pieces > 0 && held > SHARE_OF_FREE * pieces_left {
            return Err(Refusal::TopicBytesFull);
        }
        let id = match found {
            Some(id) => id,
            None => self.topics.insert(h, topic),
        };
        let first = !self.topics.is_live(id);
        let e = self.entries.insert(id, subs.peer);
        let mut head = self.topics.subscribers(id);
        self.entries.push(List::Topic, e, &mut head);
        self.topics.set_subscribers(id, head);
        self.entries.push(List::Peer, e, &mut subs.head);
        subs.len += 1;
        subs.pieces += pieces as u32;
        self.rescan();
        Ok(first.then_some((id, found.is_none())))
    }

    /// Remove one subscription of `subs`'s subscriber to `topic`. `Some(true)` if it was the
    /// topic's last, `None` if the subscriber had no such subscription.
    pub fn remove(&mut self, subs: &mut PeerSubs, topic: &[u8]) -> Option<bool> {
        let last = self.unsubscribe(subs, topic)?;
        if let Some(id) = last {
            self.release(id);
        }
        Some(last.is_some())
    }

    /// [`SubTable::remove`], but a topic whose last subscription it was stays, with no
    /// subscribers, and is named: the caller releases it ([`SubTable::release`]) once no
    /// publisher is owed its cancellation.
    pub(crate) fn unsubscribe(&mut self, subs: &mut PeerSubs, topic: &[u8]) -> Option<Option<u32>> {
        if topic.len() > MAX_TOPIC {
            return None;
        }
        let id = self.topics.find(self.topics.hash(topic), topic)?;
        let e = self.entries.find(id, subs.peer)?;
        match self.entries.count(e) {
            n @ 2.. => {
                self.entries.set_count(e, n - 1);
                Some(None)
            }
            _ => Some(self.drop_entry(subs, e).then_some(id)),
        }
    }

    /// Remove every subscription of `subs`'s subscriber, calling `on_last` once for each topic
    /// no one subscribes to any more. Costs O(its subscriptions).
    pub fn remove_peer(&mut self, subs: &mut PeerSubs, mut on_last: impl FnMut(Topic<'_>)) {
        while let Some((id, last)) = self.leave_one(subs) {
            if last {
                on_last(self.topics.topic(id));
                self.release(id);
            }
        }
    }

    /// Remove one subscription of `subs`'s subscriber, whatever its count: `None` if it had
    /// none left, else its topic and whether that was the topic's last subscription (the
    /// topic is then kept as [`SubTable::unsubscribe`] keeps it). A subscriber that left is
    /// taken out this way, a bounded number at a time.
    pub(crate) fn leave_one(&mut self, subs: &mut PeerSubs) -> Option<(u32, bool)> {
        let e = subs.head;
        if e == NIL {
            return None;
        }
        let id = self.entries.topic(e);
        Some((id, self.drop_entry(subs, e)))
    }

    /// Records the topics take: those with subscribers, and those still owed to a publisher
    /// as cancelled.
    #[cfg(test)]
    pub(crate) fn topic_records(&self) -> usize {
        self.topics.len()
    }

    /// Forget a topic without subscribers (named by [`SubTable::unsubscribe`] or
    /// [`SubTable::leave_one`]) that no publisher is owed.
    pub(crate) fn release(&mut self, id: u32) {
        self.upstream_released(id);
        self.topics.release(id);
        self.rescan();
    }

    /// The topic's bytes.
    pub(crate) fn topic(&self, id: u32) -> Topic<'_> {
        self.topics.topic(id)
    }

    /// Take an entry off both its lists and out of the table; whether its topic has no
    /// subscribers left (the caller then releases it).
    fn drop_entry(&mut self, subs: &mut PeerSubs, e: u32) -> bool {
        let id = self.entries.topic(e);
        let mut head = self.topics.subscribers(id);
        self.entries.unlink(List::Topic, e, &mut head);
        self.topics.set_subscribers(id, head);
        self.entries.unlink(List::Peer, e, &mut subs.head);
        self.entries.release(e);
        subs.len -= 1;
        subs.pieces -= pieces_for(self.topics.topic_len(id)) as u32;
        self.rescan();
        head == NIL
    }

    /// Call `f` with the subscriber of every subscription whose topic is a prefix of `head`
    /// (a subscriber may be named more than once, once per topic). Only the first
    /// [`MAX_TOPIC`] bytes of `head` matter.
    #[inline]
    pub fn matches(&self, head: &[u8], f: impl FnMut(u32)) {
        if self.topics.len() > SCAN_TOPICS {
            return self.matches_by_hash(head, f);
        }
        self.matches_by_scan(head, f);
    }

    /// [`SubTable::matches`] over more than [`SCAN_TOPICS`] topics: a lookup per length some
    /// topic has. A function of its own, so that `f` is inlined once where matching is done.
    #[inline(never)]
    fn matches_by_hash(&self, head: &[u8], mut f: impl FnMut(u32)) {
        let mut prefixes = Prefixes::new(self.topics.keyed(), head);
        self.topics.each_length(head.len(), |len| {
            if let Some(id) = self.topics.find(prefixes.hash(len), &head[..len]) {
                let mut e = self.topics.subscribers(id);
                while e != NIL {
                    f(self.entries.peer(e));
                    e = self.entries.next(List::Topic, e);
                }
            }
        });
    }

    /// Call `f` once for every distinct topic (with subscribers), in O(topics).
    pub fn topics(&self, mut f: impl FnMut(Topic<'_>)) {
        let mut id = self.topics.first();
        while id != NIL {
            if self.topics.is_live(id) {
                f(self.topics.topic(id));
            }
            id = self.topics.next(id);
        }
    }
}

#[cfg(test)]
mod tests;
