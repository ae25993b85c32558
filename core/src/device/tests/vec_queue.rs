//! The harness's outbound queue: a chunk per push, copied or shared, so that tests see what
//! the device shares. Every test runs with it, so every fan-out of a large body goes through
//! shared pieces; [`copy_only`] turns sharing off on the test's thread.
//!
//! What the device asked of the queues on this thread is logged ([`log`]): the pieces it made
//! to share (held weakly, so a test can see they are all let go), the pushes of shared pieces,
//! and the length of every copy.
//!
//! A test may ration a queue, as a caller with a memory budget does: it then holds no more
//! than its ration of copied bytes, whatever its capacity (shared pieces are charged once,
//! where they are made, not to each queue).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::vec::Vec;

use crate::device::ByteQueue;
use crate::wire::Full;

/// An outbound queue that takes memory only while it holds bytes, and shares.
#[derive(Debug)]
pub struct VecQueue {
    chunks: VecDeque<Chunk>,
    len: usize,
    cap: usize,
    /// Copied bytes queued.
    copied: usize,
    ration: Option<usize>,
    /// Bytes held back.
    later: Vec<u8>,
}

/// The part `start..end` of `bytes` is queued.
#[derive(Debug)]
struct Chunk {
    bytes: Rc<[u8]>,
    start: usize,
    end: usize,
    shared: bool,
}

/// What the device asked of the queues on this thread.
#[derive(Debug, Default)]
pub struct ShareLog {
    /// Each piece made to share: its length, and the piece while a queue holds it.
    pub made: Vec<(usize, Weak<[u8]>)>,
    /// Shared pieces pushed, all queues together.
    pub pushed: usize,
    /// The length of each copy pushed, all queues together.
    pub copies: Vec<usize>,
}

impl ShareLog {
    /// The lengths of the pieces made.
    pub fn made_lens(&self) -> Vec<usize> {
        self.made.iter().map(|(n, _)| *n).collect()
    }

    /// Pieces made that a queue still holds.
    pub fn alive(&self) -> usize {
        self.made
            .iter()
            .filter(|(_, w)| w.strong_count() > 0)
            .count()
    }
}

std::thread_local! {
    static LOG: RefCell<ShareLog> = RefCell::new(ShareLog::default());
    static SHARING: Cell<bool> = const { Cell::new(true) };
}

/// Forget what was logged so far on this thread.
pub fn clear_log() {
    LOG.with(|l| *l.borrow_mut() = ShareLog::default());
}

/// What was logged on this thread since [`clear_log`].
pub fn log() -> ShareLog {
    LOG.with(|l| {
        let l = l.borrow();
        ShareLog {
            made: l.made.clone(),
            pushed: l.pushed,
            copies: l.copies.clone(),
        }
    })
}

/// The queues on this thread copy everything from now on, as a [`Ring`](crate::device::Ring)
/// does.
pub fn copy_only() {
    SHARING.with(|s| s.set(false));
}

impl VecQueue {
    pub fn new(cap: usize) -> Self {
        VecQueue {
            chunks: VecDeque::new(),
            len: 0,
            cap,
            copied: 0,
            ration: None,
            later: Vec::new(),
        }
    }

    /// Hold at most `bytes` of copies from now on (`None`: up to the capacity).
    pub fn ration(&mut self, bytes: Option<usize>) {
        self.ration = bytes;
    }

    /// Room for more copied bytes.
    fn copy_room(&self) -> usize {
        let rationed = self
            .ration
            .map_or(usize::MAX, |r| r.saturating_sub(self.copied));
        self.cap.saturating_sub(self.len).min(rationed)
    }

    fn append(&mut self, bytes: Rc<[u8]>, shared: bool) -> Result<(), Full> {
        let room = if shared {
            self.cap.saturating_sub(self.len)
        } else {
            self.copy_room()
        };
        if room < bytes.len() {
            return Err(Full);
        }
        if !bytes.is_empty() {
            self.len += bytes.len();
            if !shared {
                self.copied += bytes.len();
            }
            let end = bytes.len();
            self.chunks.push_back(Chunk {
                bytes,
                start: 0,
                end,
                shared,
            });
        }
        Ok(())
    }
}

fn slice(c: Option<&Chunk>) -> &[u8] {
    c.map_or(&[], |c| &c.bytes[c.start..c.end])
}

impl ByteQueue for VecQueue {
    type Shared = Rc<[u8]>;
    const SHARES: bool = true;
    const DEFERS: bool = true;

    fn len(&self) -> usize {
        self.len
    }

    fn capacity(&self) -> usize {
        self.cap
    }

    fn push(&mut self, data: &[u8]) -> Result<(), Full> {
        self.append(Rc::from(data), false)?;
        LOG.with(|l| l.borrow_mut().copies.push(data.len()));
        Ok(())
    }

    fn share(&self, data: &[u8]) -> Option<Rc<[u8]>> {
        if !SHARING.with(Cell::get) {
            return None;
        }
        let piece: Rc<[u8]> = Rc::from(data);
        let made = (data.len(), Rc::downgrade(&piece));
        LOG.with(|l| l.borrow_mut().made.push(made));
        Some(piece)
    }

    fn push_shared(&mut self, piece: &Rc<[u8]>) -> Result<(), Full> {
        self.append(piece.clone(), true)?;
        LOG.with(|l| l.borrow_mut().pushed += 1);
        Ok(())
    }

    fn reserve(&mut self, n: usize) -> bool {
        self.copy_room() >= n
    }

    fn reserve_later(&mut self, n: usize) -> bool {
        self.copy_room().saturating_sub(self.later.len()) >= n
    }

    fn push_later(&mut self, data: &[u8]) {
        self.later.extend_from_slice(data);
    }

    fn later_len(&self) -> usize {
        self.later.len()
    }

    fn release_later(&mut self) -> usize {
        let later: Rc<[u8]> = core::mem::take(&mut self.later).into();
        let n = later.len();
        if n > 0 {
            // Past the capacity if need be, as the trait allows.
            self.len += n;
            self.copied += n;
            self.chunks.push_back(Chunk {
                bytes: later,
                start: 0,
                end: n,
                shared: false,
            });
        }
        n
    }

    fn front(&self) -> (&[u8], &[u8]) {
        (slice(self.chunks.front()), slice(self.chunks.get(1)))
    }

    fn consume(&mut self, n: usize) {
        let mut n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(c) = self.chunks.front_mut() else {
                return;
            };
            let k = n.min(c.end - c.start);
            c.start += k;
            n -= k;
            if !c.shared {
                self.copied -= k;
            }
            if c.start == c.end {
                self.chunks.pop_front();
            }
        }
    }

    fn truncate_back(&mut self, n: usize) {
        let mut n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(c) = self.chunks.back_mut() else {
                return;
            };
            let k = n.min(c.end - c.start);
            c.end -= k;
            n -= k;
            if !c.shared {
                self.copied -= k;
            }
            if c.start == c.end {
                self.chunks.pop_back();
            }
        }
    }
}
