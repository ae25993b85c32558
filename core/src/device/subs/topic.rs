//! A topic as the index hands it out: its bytes in the pieces they are stored in, so that a
//! caller copies them where they go (a publisher's queue) without a buffer of its own.

use super::store::{Records, NIL, PIECE_BYTES, PIECE_DATA, PIECE_NEXT};

/// A topic's bytes: as stored in the table (in pieces), or one slice.
#[derive(Clone, Copy, Debug)]
pub struct Topic<'a> {
    len: usize,
    first: &'a [u8],
    pieces: Option<&'a Records<'a>>,
    next: u32,
}

impl<'a> Topic<'a> {
    pub(super) fn stored(len: usize, first: &'a [u8], pieces: &'a Records<'a>, next: u32) -> Self {
        Topic {
            len,
            first,
            pieces: Some(pieces),
            next,
        }
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The empty topic: a subscription to everything.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its bytes, in order, in the pieces they are stored in (none empty).
    pub fn pieces(&self) -> Pieces<'a> {
        Pieces {
            first: Some(self.first),
            left: self.len - self.first.len(),
            pieces: self.pieces,
            next: self.next,
        }
    }
}

impl<'a> From<&'a [u8]> for Topic<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Topic {
            len: bytes.len(),
            first: bytes,
            pieces: None,
            next: NIL,
        }
    }
}

/// The pieces of a [`Topic`]'s bytes.
#[derive(Clone, Debug)]
pub struct Pieces<'a> {
    first: Option<&'a [u8]>,
    left: usize,
    pieces: Option<&'a Records<'a>>,
    next: u32,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if let Some(first) = self.first.take().filter(|f| !f.is_empty()) {
            return Some(first);
        }
        let pieces = self.pieces.filter(|_| self.left > 0)?;
        let n = self.left.min(PIECE_DATA);
        let part = pieces.bytes(self.next, PIECE_BYTES, n);
        self.next = pieces.get(self.next, PIECE_NEXT);
        self.left -= n;
        Some(part)
    }
}
