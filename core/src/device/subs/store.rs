//! The caller's bytes, cut into tables of fixed-size records whose fields are little-endian
//! words read and written in place: the storage stays plain zeroed bytes (safe code only, no
//! alignment asked of the caller), and a page costs memory only once a record on it is
//! written. Zero means "empty" wherever a table must start out so.

use crate::conn::MAX_TOPIC;

/// Entry record: topic, subscriber, count, then the links of its two lists (`entries.rs`).
pub(super) const ENTRY_REC: usize = 28;
/// Topic bytes kept in the topic's own record.
pub(super) const INLINE: usize = 16;
/// Topic record: eight fields, then the first `INLINE` bytes (`topics/mod.rs`).
pub(super) const TOPIC_REC: usize = 32 + INLINE;
/// Topic bytes in one piece.
pub(super) const PIECE_DATA: usize = 28;
/// Piece record: the next piece, then the bytes.
pub(super) const PIECE_REC: usize = 4 + PIECE_DATA;
pub(super) const PIECE_NEXT: usize = 0;
pub(super) const PIECE_BYTES: usize = 4;
/// Per topic length, how many topics have it (`u32`s), and a bitmap of those above zero.
pub(super) const LENGTH_COUNTS_BYTES: usize = (MAX_TOPIC + 1) * 4;
pub(super) const LENGTH_BITS_BYTES: usize = (MAX_TOPIC + 1).div_ceil(64) * 8;

/// The end of a list, or no record.
pub(super) const NIL: u32 = u32::MAX;

/// Most records of one kind: ids are `u32`s with room to spare for `NIL` and `id + 1`.
const MAX_RECORDS: usize = 1 << 28;

/// `n` records of `size` bytes each.
#[derive(Debug)]
pub(super) struct Records<'s> {
    bytes: &'s mut [u8],
    size: usize,
}

impl<'s> Records<'s> {
    /// Take `n` records of `size` bytes off the front of `rest`, which holds them.
    pub(super) fn take(rest: &mut &'s mut [u8], n: usize, size: usize) -> Self {
        let (bytes, tail) = core::mem::take(rest).split_at_mut(n * size);
        *rest = tail;
        Records { bytes, size }
    }

    pub(super) fn len(&self) -> usize {
        self.bytes.len() / self.size
    }

    #[inline]
    pub(super) fn get(&self, rec: u32, field: usize) -> u32 {
        let at = rec as usize * self.size + field;
        let mut w = [0u8; 4];
        w.copy_from_slice(&self.bytes[at..at + 4]);
        u32::from_le_bytes(w)
    }

    #[inline]
    pub(super) fn set(&mut self, rec: u32, field: usize, value: u32) {
        let at = rec as usize * self.size + field;
        self.bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    #[inline]
    pub(super) fn get64(&self, rec: u32) -> u64 {
        let at = rec as usize * self.size;
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.bytes[at..at + 8]);
        u64::from_le_bytes(w)
    }

    /// The 16 bytes at `field`, as a little-endian word.
    #[inline]
    pub(super) fn get128(&self, rec: u32, field: usize) -> u128 {
        let at = rec as usize * self.size + field;
        let mut w = [0u8; 16];
        w.copy_from_slice(&self.bytes[at..at + 16]);
        u128::from_le_bytes(w)
    }

    pub(super) fn set64(&mut self, rec: u32, value: u64) {
        let at = rec as usize * self.size;
        self.bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }

    #[inline]
    pub(super) fn bytes(&self, rec: u32, field: usize, len: usize) -> &[u8] {
        let at = rec as usize * self.size + field;
        &self.bytes[at..at + len]
    }

    pub(super) fn bytes_mut(&mut self, rec: u32, field: usize, len: usize) -> &mut [u8] {
        let at = rec as usize * self.size + field;
        &mut self.bytes[at..at + len]
    }
}

/// How many records of each kind, and so how many bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Layout {
    /// Subscription entries, and as many topic records (a topic has at least one entry).
    pub(super) entries: usize,
    /// Slots of each hash table: a power of two, at least twice the records it finds.
    pub(super) slots: usize,
    /// Pieces of topic bytes beyond what topic records hold inline.
    pub(super) pieces: usize,
}

impl Layout {
    pub(super) fn new(entries: usize, topic_bytes: usize) -> Self {
        let entries = entries.min(MAX_RECORDS);
        if entries == 0 {
            return Layout {
                entries: 0,
                slots: 0,
                pieces: 0,
            };
        }
        Layout {
            entries,
            slots: (2 * entries).next_power_of_two(),
            pieces: topic_bytes.div_ceil(PIECE_DATA).min(MAX_RECORDS),
        }
    }

    /// Bytes of storage: none for a table that holds nothing.
    pub(super) fn bytes(&self) -> usize {
        if self.entries == 0 {
            return 0;
        }
        let per_entry = TOPIC_REC + ENTRY_REC;
        (self.slots * 2 * 4)
            .saturating_add(self.entries.saturating_mul(per_entry))
            .saturating_add(self.pieces.saturating_mul(PIECE_REC))
            .saturating_add(LENGTH_COUNTS_BYTES + LENGTH_BITS_BYTES)
    }

    /// This layout, or a smaller one (halved until it fits) for storage of `len` bytes.
    pub(super) fn fit(self, len: usize) -> Self {
        let mut layout = self;
        while layout.bytes() > len {
            layout = Layout::new(layout.entries / 2, layout.pieces / 2 * PIECE_DATA);
        }
        layout
    }
}
