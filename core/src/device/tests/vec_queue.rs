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
    /// Room for copies it holds (taken from the pool past [`POOL_FREE`]), at least `copied`:
    /// room reserved is taken, as a queue that grows its buffer takes it.
    alloc: usize,
    ration: Option<usize>,
    /// Whether it lags ([`ByteQueue::lags`]), as the test says.
    lagging: bool,
    /// It lags while it holds this many bytes or more, as edge-bin's queue that holds a part
    /// of the budget does, one message it holds alone not counted
    /// ([`ByteQueue::lags_beside`]).
    lags_from: usize,
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
    /// Pieces are made from the memory meant for the peers that keep up: queues that lag
    /// refuse them ([`ByteQueue::reserve_shared`]).
    static SPARE: Cell<bool> = const { Cell::new(false) };
    /// Bytes of copies the queues on this thread may still take, all together (`None`: no
    /// limit): a memory budget they share.
    static POOL: Cell<Option<usize>> = const { Cell::new(None) };
}

/// From now on the queues on this thread share `bytes` for their copies (`None`: no limit),
/// as queues drawing from one memory budget do: what one gives back, another may take.
pub fn pool(bytes: Option<usize>) {
    POOL.with(|p| p.set(bytes));
}

/// Bytes of copies each queue holds without drawing from the pool, as a queue's first
/// allocation does.
const POOL_FREE: usize = 512;

/// What a queue holding room for `alloc` bytes of copies draws from the pool.
const fn drawn(alloc: usize) -> usize {
    alloc.saturating_sub(POOL_FREE)
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

/// From now on the pieces made on this thread are spare, or not: a queue that lags refuses
/// a spare piece, as edge-bin's queue refuses one stored beyond the share of those behind.
pub fn spare_pieces(spare: bool) {
    SPARE.with(|s| s.set(spare));
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
            alloc: 0,
            ration: None,
            lagging: false,
            lags_from: usize::MAX,
            later: Vec::new(),
        }
    }

    /// Hold at most `bytes` of copies from now on (`None`: up to the capacity).
    pub fn ration(&mut self, bytes: Option<usize>) {
        self.ration = bytes;
    }

    /// Lag ([`ByteQueue::lags`]) from now on, or not.
    pub fn lag(&mut self, lagging: bool) {
        self.lagging = lagging;
    }

    /// Every byte it holds, in order.
    pub fn bytes(&self) -> Vec<u8> {
        self.chunks
            .iter()
            .flat_map(|c| c.bytes[c.start..c.end].iter().copied())
            .collect()
    }

    /// Lag while holding `bytes` or more, from now on.
    pub fn lag_from(&mut self, bytes: usize) {
        self.lags_from = bytes;
    }

    /// Room for more copied bytes.
    fn copy_room(&self) -> usize {
        let rationed = self
            .ration
            .map_or(usize::MAX, |r| r.saturating_sub(self.copied));
        self.cap.saturating_sub(self.len).min(rationed)
    }

    /// Hold room for `bytes` of copies: false if the pool does not have what that takes.
    fn grow_to(&mut self, bytes: usize) -> bool {
        if bytes <= self.alloc {
            return true;
        }
        let more = drawn(bytes) - drawn(self.alloc);
        let taken = POOL.with(|p| match p.get() {
            Some(left) if left < more => false,
            left => {
                p.set(left.map(|l| l - more));
                true
            }
        });
        if taken {
            self.alloc = bytes;
        }
        taken
    }

    /// Copies went from the queue: the room they held goes back to the pool.
    fn shrink(&mut self) {
        let back = drawn(self.alloc) - drawn(self.copied);
        POOL.with(|p| p.set(p.get().map(|l| l + back)));
        self.alloc = self.copied;
    }

    fn append(&mut self, bytes: Rc<[u8]>, shared: bool) -> Result<(), Full> {
        let room = if shared {
            self.cap.saturating_sub(self.len)
        } else {
            self.copy_room()
        };
        if room < bytes.len() || (!shared && !self.grow_to(self.copied + bytes.len())) {
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

    fn lags(&self) -> bool {
        self.lagging || self.len >= self.lags_from
    }

    fn lags_beside(&self, own: usize) -> bool {
        self.lagging || self.len.saturating_sub(own) >= self.lags_from
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

    fn piece_bytes(piece: &Rc<[u8]>) -> &[u8] {
        piece
    }

    fn reserve_shared(&mut self, piece: &Rc<[u8]>) -> bool {
        self.reserve_shared_beside(piece, 0)
    }

    fn reserve_shared_beside(&mut self, _piece: &Rc<[u8]>, own: usize) -> bool {
        !(SPARE.with(Cell::get) && self.lags_beside(own))
    }

    fn push_shared(&mut self, piece: &Rc<[u8]>) -> Result<(), Full> {
        self.append(piece.clone(), true)?;
        LOG.with(|l| l.borrow_mut().pushed += 1);
        Ok(())
    }

    fn reserve(&mut self, n: usize) -> bool {
        self.copy_room() >= n && self.grow_to(self.copied + n)
    }

    fn reserve_later(&mut self, n: usize) -> bool {
        // What it holds back is drawn from the pool once it goes into the queue; the pool
        // must have it now.
        let need = self.later.len().saturating_add(n);
        self.copy_room().saturating_sub(self.later.len()) >= n
            && POOL.with(|p| p.get().is_none_or(|left| left >= need))
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
            let more = drawn(self.copied) - drawn(self.alloc.min(self.copied));
            POOL.with(|p| p.set(p.get().map(|l| l.saturating_sub(more))));
            self.alloc = self.alloc.max(self.copied);
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
                break;
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
        self.shrink();
    }

    fn truncate_back(&mut self, n: usize) {
        let mut n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(c) = self.chunks.back_mut() else {
                break;
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
        self.shrink();
    }
}
