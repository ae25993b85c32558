//! Distinct topics: a record each, found by hash through an open-addressing table (linear
//! probing, deletion by backward shift: no tombstones in the hash table), its bytes (the first
//! 16 inline, the rest in a chain of fixed pieces from a free list: any length fits, nothing
//! fragments), which topic lengths exist (matching hashes only prefixes of those lengths), and
//! the log: a list of them all in the order their upstream state last changed, each with the
//! sequence number of that change (`upstream.rs` reads it for each publisher).
//!
//! A topic whose last subscriber left stays, with no subscribers, while some publisher is still
//! owed its cancellation: it matches nothing, and a subscriber who wants it again finds it.

mod lengths;
mod log;
mod scan;

use super::sip::Sip13;
use super::store::{
    Layout, Records, INLINE, NIL, PIECE_BYTES, PIECE_DATA, PIECE_NEXT, PIECE_REC, TOPIC_REC,
};
use super::topic::Topic;
use lengths::Lengths;
pub(super) use scan::head_word;

// Topic record fields (`TOPIC_REC` bytes): hash (low 32 bits), length, first subscriber
// entry, first piece, previous and next topic in the log, the sequence number of its last
// change (two words; the top bit of the high one is `CLEAN`), then the first `INLINE` bytes.
// A free record links the next free one through `NEXT`.
const HASH: usize = 0;
const LEN: usize = 4;
const SUBS: usize = 8;
const PIECE: usize = 12;
const PREV: usize = 16;
const NEXT: usize = 20;
const SEQ_LO: usize = 24;
const SEQ_HI: usize = 28;
const BYTES: usize = 32;
/// In `SEQ_HI`: every publisher still owed this topic's state is known not to hold it.
const CLEAN: u32 = 1 << 31;

/// Pieces a topic of `len` bytes takes beyond its record.
pub(super) const fn pieces_for(len: usize) -> usize {
    len.saturating_sub(INLINE).div_ceil(PIECE_DATA)
}

#[derive(Debug)]
pub(super) struct Topics<'s> {
    keyed: Sip13,
    slots: Records<'s>,
    recs: Records<'s>,
    pieces: Records<'s>,
    lengths: Lengths<'s>,
    mask: usize,
    len: usize,
    /// Records below `bump` were handed out at least once; those free since are on `free`.
    /// Storage is touched only as the table grows.
    bump: u32,
    free: u32,
    pieces_used: usize,
    piece_bump: u32,
    piece_free: u32,
    /// The log of all topics, oldest change first.
    first: u32,
    last: u32,
    /// The sequence number of the latest change.
    seq: u64,
    /// Topics with subscribers (the others are owed to some publisher as cancelled).
    live: usize,
    /// Records visited changing the table.
    pub(super) visited: u64,
}

impl<'s> Topics<'s> {
    pub(super) fn new(rest: &mut &'s mut [u8], layout: &Layout, keyed: Sip13) -> Self {
        let on = layout.entries > 0;
        Topics {
            keyed,
            slots: Records::take(rest, layout.slots, 4),
            recs: Records::take(rest, layout.entries, TOPIC_REC),
            pieces: Records::take(rest, layout.pieces, PIECE_REC),
            lengths: Lengths::new(rest, on),
            mask: layout.slots.wrapping_sub(1),
            len: 0,
            bump: 0,
            free: NIL,
            pieces_used: 0,
            piece_bump: 0,
            piece_free: NIL,
            first: NIL,
            last: NIL,
            seq: 0,
            live: 0,
            visited: 0,
        }
    }

    pub(super) fn keyed(&self) -> Sip13 {
        self.keyed
    }

    pub(super) fn hash(&self, topic: &[u8]) -> u64 {
        self.keyed.hash(topic)
    }

    /// Records in use: topics with subscribers and those without, still owed.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Topics with subscribers.
    pub(super) fn live(&self) -> usize {
        self.live
    }

    pub(super) fn records_free(&self) -> usize {
        self.recs.len() - self.len
    }

    pub(super) fn pieces_free(&self) -> usize {
        self.pieces.len() - self.pieces_used
    }

    #[inline]
    pub(super) fn topic_len(&self, id: u32) -> usize {
        self.recs.get(id, LEN) as usize
    }

    /// The first entry on the topic's list of subscribers.
    #[inline]
    pub(super) fn subscribers(&self, id: u32) -> u32 {
        self.recs.get(id, SUBS)
    }

    /// Set the first entry on the topic's list of subscribers; the count of live topics
    /// follows it.
    pub(super) fn set_subscribers(&mut self, id: u32, entry: u32) {
        let was = self.recs.get(id, SUBS);
        match (was == NIL, entry == NIL) {
            (true, false) => self.live += 1,
            (false, true) => self.live -= 1,
            _ => {}
        }
        self.recs.set(id, SUBS, entry);
    }

    /// It has subscribers.
    pub(super) fn is_live(&self, id: u32) -> bool {
        self.recs.get(id, SUBS) != NIL
    }

    /// The topic whose bytes are `topic` and whose hash is `h`.
    #[inline]
    pub(super) fn find(&self, h: u64, topic: &[u8]) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let mut at = h as usize & self.mask;
        loop {
            let id = self.slots.get(at as u32, 0).checked_sub(1)?;
            if self.recs.get(id, HASH) == h as u32
                && self.topic_len(id) == topic.len()
                && self.equals(id, topic)
            {
                return Some(id);
            }
            at = (at + 1) & self.mask;
        }
    }

    pub(super) fn equals(&self, id: u32, topic: &[u8]) -> bool {
        let (inline, mut rest) = topic.split_at(topic.len().min(INLINE));
        if self.recs.bytes(id, BYTES, inline.len()) != inline {
            return false;
        }
        let mut piece = self.recs.get(id, PIECE);
        while !rest.is_empty() {
            let (part, tail) = rest.split_at(rest.len().min(PIECE_DATA));
            if self.pieces.bytes(piece, PIECE_BYTES, part.len()) != part {
                return false;
            }
            rest = tail;
            piece = self.pieces.get(piece, PIECE_NEXT);
        }
        true
    }

    /// The topic's bytes, in the pieces they are stored in.
    pub(super) fn topic(&self, id: u32) -> Topic<'_> {
        let len = self.topic_len(id);
        let inline = self.recs.bytes(id, BYTES, len.min(INLINE));
        Topic::stored(len, inline, &self.pieces, self.recs.get(id, PIECE))
    }

    /// Call `f` with every length (ascending) up to `max` that some topic has.
    #[inline]
    pub(super) fn each_length(&self, max: usize, f: impl FnMut(usize)) {
        if self.len == 0 {
            return;
        }
        self.lengths.each_length(max, f);
    }

    /// Store a new topic (its hash `h`), with no subscribers yet. The caller checked that a
    /// record and [`pieces_for`] its length pieces are free.
    pub(super) fn insert(&mut self, h: u64, topic: &[u8]) -> u32 {
        let id = match self.free {
            NIL => {
                self.bump += 1;
                self.bump - 1
            }
            id => {
                self.free = self.recs.get(id, NEXT);
                id
            }
        };
        let (inline, rest) = topic.split_at(topic.len().min(INLINE));
        self.recs.set(id, HASH, h as u32);
        self.recs.set(id, LEN, topic.len() as u32);
        self.recs.set(id, SUBS, NIL);
        self.recs
            .bytes_mut(id, BYTES, inline.len())
            .copy_from_slice(inline);
        let mut prev = None;
        self.recs.set(id, PIECE, NIL);
        for part in rest.chunks(PIECE_DATA) {
            let piece = self.take_piece();
            self.pieces.set(piece, PIECE_NEXT, NIL);
            self.pieces
                .bytes_mut(piece, PIECE_BYTES, part.len())
                .copy_from_slice(part);
            match prev {
                None => self.recs.set(id, PIECE, piece),
                Some(p) => self.pieces.set(p, PIECE_NEXT, piece),
            }
            prev = Some(piece);
        }
        self.append(id);
        self.stamp(id);
        let mut at = h as usize & self.mask;
        while self.slots.get(at as u32, 0) != 0 {
            self.visited += 1;
            at = (at + 1) & self.mask;
        }
        self.slots.set(at as u32, 0, id + 1);
        self.lengths.count_length(topic.len(), true);
        self.len += 1;
        id
    }

    fn take_piece(&mut self) -> u32 {
        self.pieces_used += 1;
        match self.piece_free {
            NIL => {
                self.piece_bump += 1;
                self.piece_bump - 1
            }
            p => {
                self.piece_free = self.pieces.get(p, PIECE_NEXT);
                p
            }
        }
    }

    /// Forget a topic that has no subscribers left and is owed to no publisher.
    pub(super) fn release(&mut self, id: u32) {
        self.unslot(id);
        let mut piece = self.recs.get(id, PIECE);
        while piece != NIL {
            self.visited += 1;
            let next = self.pieces.get(piece, PIECE_NEXT);
            self.pieces.set(piece, PIECE_NEXT, self.piece_free);
            self.piece_free = piece;
            self.pieces_used -= 1;
            piece = next;
        }
        self.unlink(id);
        self.lengths.count_length(self.topic_len(id), false);
        self.recs.set(id, NEXT, self.free);
        self.free = id;
        self.len -= 1;
    }

    /// Take `id` out of the hash table, moving back the records after it that would no
    /// longer be found past the hole.
    fn unslot(&mut self, id: u32) {
        let home = |recs: &Records<'_>, id: u32, mask: usize| recs.get(id, HASH) as usize & mask;
        let mut hole = home(&self.recs, id, self.mask);
        while self.slots.get(hole as u32, 0) != id + 1 {
            self.visited += 1;
            hole = (hole + 1) & self.mask;
        }
        let mut at = hole;
        loop {
            at = (at + 1) & self.mask;
            let v = self.slots.get(at as u32, 0);
            let Some(other) = v.checked_sub(1) else { break };
            self.visited += 1;
            let from_home = at.wrapping_sub(home(&self.recs, other, self.mask)) & self.mask;
            if from_home >= at.wrapping_sub(hole) & self.mask {
                self.slots.set(hole as u32, 0, v);
                hole = at;
            }
        }
        self.slots.set(hole as u32, 0, 0);
    }
}
