//! The process's memory at run time: what queues and input buffers take as traffic grows them.
//!
//! `memory_max` is split at start ([`Memory`](crate::setup::Memory)): each device's tables, its
//! read buffer and what each of its connections may hold without asking are its *fixed*
//! memory; each device also *keeps* room for one whole stored message and one queued (its
//! [`Account`]), which only it may use; the rest is the [`Budget`], shared by every device of
//! the process. A buffer that grows past what is fixed for it asks for the difference, through
//! its [`Charge`], and gives it back when it shrinks or is freed.
//!
//! The budget is two atomic counters: devices run on threads of their own, and a take is one
//! compare-and-swap. It is asked only when an allocation grows (by doubling) or is freed, never
//! per message: a queue or input buffer that keeps its allocation costs the budget nothing as
//! messages go through it.
//!
//! When the budget is spent, a device falls back on what it keeps, on the rules that make
//! sure it can always make progress (one stored message at a time, one queued message for a
//! peer that keeps up); beyond that a request is refused, and the caller treats the buffer as
//! full: a queue is full (a forwarder drops for that subscriber; a streamer or queue waits for
//! room), an input buffer takes no more bytes until memory is given back.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

mod charge;
mod claim;
mod output;
mod turns;
pub use charge::Charge;

/// The room a device keeps for one buffer at a time ([`Charge::take_lane`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// A connection's input: one message arrives whole.
    Input = 0,
    /// A CURVE connection's ciphertext: one frame arrives whole.
    Cipher = 1,
}

/// What buffers that are behind (a queue its peer has not emptied for [`BEHIND_AFTER_MS`]) may
/// take of the budget, as a fraction: the last quarter is for the peers that keep up, so that
/// subscribers that stopped reading cannot take all of it from one that reads.
pub const BEHIND_SHARE: (usize, usize) = (3, 4);

/// A queue not emptied for this long is behind.
pub const BEHIND_AFTER_MS: u64 = 1_000;

/// The bytes every device of the process draws from as its buffers grow.
#[derive(Debug)]
pub struct Budget {
    total: AtomicUsize,
    used: AtomicUsize,
    /// `used` is at [`BEHIND_SHARE`] of `total` or more, as of the last change: one load on
    /// the message path ([`Budget::is_tight`]).
    tight: AtomicBool,
    /// What the first claim in line holds back from everyone but its claimant (`claim.rs`):
    /// one load on a take.
    claimed: AtomicUsize,
    claim: Mutex<std::collections::VecDeque<claim::Claim>>,
    /// Bytes given back, ever: what a claim first in line may hold back is what was given
    /// back since (`claim.rs`).
    given: AtomicU64,
}

impl Budget {
    pub fn new(total: usize) -> Budget {
        Budget {
            total: AtomicUsize::new(total),
            used: AtomicUsize::new(0),
            tight: AtomicBool::new(false),
            claimed: AtomicUsize::new(0),
            claim: Mutex::default(),
            given: AtomicU64::new(0),
        }
    }

    /// `n` bytes, if that many are free; all or nothing.
    #[cfg(test)]
    pub fn take(&self, n: usize) -> bool {
        self.take_as(n, 0)
    }

    /// [`Budget::take`] for `owner` (a [`Charge`]'s number): what another's claim holds back
    /// is not free to it (`claim.rs`).
    pub fn take_as(&self, n: usize, owner: u64) -> bool {
        let total = self.total.load(Relaxed);
        self.take_below(n, total.saturating_sub(self.claimed_from(owner)))
    }

    /// `n` bytes, if that many are free below [`BEHIND_SHARE`] of the total: what a buffer
    /// that is behind may take ([`Charge::grow_behind_to`]), so that the rest stays for
    /// those that keep up.
    #[cfg(test)]
    pub fn take_behind(&self, n: usize) -> bool {
        self.take_behind_as(n, 0)
    }

    /// [`Budget::take_behind`] for `owner`, as [`Budget::take_as`].
    pub fn take_behind_as(&self, n: usize, owner: u64) -> bool {
        let total = self.total.load(Relaxed);
        let limit = self
            .behind_limit()
            .min(total.saturating_sub(self.claimed_from(owner)));
        self.take_below(n, limit)
    }

    /// What a buffer that is behind may still take ([`Budget::take_behind`]), as of now.
    pub fn behind_free(&self) -> usize {
        self.behind_limit().saturating_sub(self.used.load(Relaxed))
    }

    /// What [`Budget::take`] may still take, as of now.
    pub fn free(&self) -> usize {
        self.total().saturating_sub(self.used())
    }

    /// Whether buffers that are behind may take no more.
    #[inline]
    pub fn is_tight(&self) -> bool {
        self.tight.load(Relaxed)
    }

    /// `used` changed to `now`.
    fn changed(&self, now: usize) {
        let tight = now >= self.behind_limit();
        if self.tight.load(Relaxed) != tight {
            self.tight.store(tight, Relaxed);
        }
    }

    fn behind_limit(&self) -> usize {
        let total = self.total.load(Relaxed);
        total - total / BEHIND_SHARE.1 * (BEHIND_SHARE.1 - BEHIND_SHARE.0)
    }

    fn take_below(&self, n: usize, total: usize) -> bool {
        if n == 0 {
            return true;
        }
        let taken = self.used.fetch_update(Relaxed, Relaxed, |u| {
            u.checked_add(n).filter(|&after| after <= total)
        });
        if let Ok(before) = taken {
            self.changed(before + n);
        }
        taken.is_ok()
    }

    /// `n` bytes already spent (held bytes that had to be kept): counted even past the total,
    /// which then refuses every take until enough is given back.
    pub fn force(&self, n: usize) {
        let before = self
            .used
            .fetch_update(Relaxed, Relaxed, |u| Some(u.saturating_add(n)));
        if let Ok(before) = before {
            self.changed(before.saturating_add(n));
        }
    }

    /// Give back `n` bytes taken (or forced) before. Never below zero: a miscount cannot make
    /// memory appear.
    pub fn give(&self, n: usize) {
        if n == 0 {
            return;
        }
        let before = self
            .used
            .fetch_update(Relaxed, Relaxed, |u| Some(u.saturating_sub(n)));
        if let Ok(before) = before {
            self.changed(before.saturating_sub(n));
            self.given.fetch_add(n.min(before) as u64, Relaxed);
        }
    }

    /// A new total (a reload changed the devices): takes are refused while more than it is
    /// used, and what is held stays held.
    pub fn resize(&self, total: usize) {
        self.total.store(total, Relaxed);
        self.changed(self.used());
    }

    pub fn total(&self) -> usize {
        self.total.load(Relaxed)
    }

    pub fn used(&self) -> usize {
        self.used.load(Relaxed)
    }
}

/// Where the device's input lane is, as a connection asking for the cipher lane sees it
/// ([`Charge::take_cipher_lane_beside`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputLane {
    /// Not known (tests): the line's rules alone.
    #[cfg(test)]
    Unknown,
    /// This connection's input does not hold it.
    Other,
    /// This connection's input holds it, and what it has opened ends the message: it does
    /// not need the cipher lane to let the input lane go.
    Own,
    /// This connection's input holds it in the middle of a message whose next frame is still
    /// to come: it needs the cipher lane before it can let the input lane go.
    OwnUnfinished,
}

/// One device's memory at run time: the process's [`Budget`], and what the device keeps for
/// itself so that it can always make progress when the budget is spent:
///
/// - the *cipher lane*, in a device that takes data from CURVE peers: one such connection at a
///   time may hold a whole frame's ciphertext with it (a MESSAGE opens only once all of it is
///   here), however many others wait, and then copy its plaintext on through the lane; those
///   refused it wait in line and have it in turn (`turns.rs`);
/// - the *lane*: one input buffer at a time may grow to the whole input capacity with it, so
///   one stored message can always arrive whole (however many others wait, half-stored, for
///   memory to be given back);
/// - the *kept queue room*: a queue that is empty (its peer keeps up) may take a whole message
///   from it, so the stored message can always be queued to a peer that reads.
///
/// Only the device's own thread uses it; the counters are atomic so that it can be shared
/// through an `Arc` by its queues, which are made before the thread starts.
#[derive(Debug)]
pub struct Account {
    budget: Arc<Budget>,
    /// Whether each [`Lane`] is held, and what it lets its holder hold.
    lane_taken: [AtomicBool; 2],
    /// The input lane's holder is a CURVE connection's input in the middle of a message whose
    /// next frame is still to come through its CURVE layer, which may need the cipher lane
    /// ([`Charge::take_lane_sealed`]).
    input_unfinished: AtomicBool,
    lane_bytes: [usize; 2],
    /// Those waiting for the cipher lane, in line.
    turns: Mutex<turns::Turns>,
    /// Which CURVE output may seal a whole `TX_HIGH` past a spent budget (`output.rs`).
    output: output::OutputLane,
    kept_free: AtomicUsize,
    kept: usize,
    /// A request was refused since the host last woke those waiting.
    wanted: AtomicBool,
    /// Memory was given back since then ([`Account::take_freed`]).
    freed: AtomicBool,
    /// Requests refused, ever.
    refused: AtomicU64,
    /// The device's clock in milliseconds, as its timer last set it: coarse, for telling
    /// which queues are behind without a clock read per message.
    now_ms: AtomicU64,
    /// When (`now_ms`) a connection was last closed for holding memory beyond the share of
    /// frames part-way here (`u64::MAX`: never).
    beyond_closed_ms: AtomicU64,
}

impl Account {
    /// `lane`: what the lane lets one input buffer hold beyond what is fixed for it; `kept`:
    /// the room kept for queued messages.
    #[cfg(test)]
    pub fn new(budget: Arc<Budget>, lane: usize, kept: usize) -> Account {
        Account::with_cipher(budget, lane, kept, 0)
    }

    /// As [`Account::new`], with the [`Lane::Cipher`] too: what one CURVE connection's buffer
    /// may hold beyond what is fixed for it, a whole frame's ciphertext (a device that takes
    /// data from CURVE peers).
    pub fn with_cipher(budget: Arc<Budget>, lane: usize, kept: usize, cipher: usize) -> Account {
        Account {
            budget,
            lane_taken: [AtomicBool::new(false), AtomicBool::new(false)],
            input_unfinished: AtomicBool::new(false),
            lane_bytes: [lane, cipher],
            turns: Mutex::default(),
            output: output::OutputLane::new(),
            kept_free: AtomicUsize::new(kept),
            kept,
            wanted: AtomicBool::new(false),
            freed: AtomicBool::new(false),
            refused: AtomicU64::new(0),
            now_ms: AtomicU64::new(0),
            beyond_closed_ms: AtomicU64::new(u64::MAX),
        }
    }

    /// The device's clock, in milliseconds, now (its timer sets it at each tick).
    pub fn tick(&self, now_ms: u64) {
        self.now_ms.store(now_ms, Relaxed);
    }

    /// The device's clock as its timer last set it, in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.now_ms.load(Relaxed)
    }

    /// A connection is closed for holding memory beyond the share of frames part-way here.
    pub fn note_beyond_closed(&self) {
        self.beyond_closed_ms.store(self.now_ms(), Relaxed);
    }

    /// Whether a connection was closed for holding memory beyond the share in the last `ms`.
    pub fn beyond_closed_within(&self, ms: u64) -> bool {
        let at = self.beyond_closed_ms.load(Relaxed);
        at != u64::MAX && self.now_ms().saturating_sub(at) < ms
    }

    /// An account that never refuses (tests, and buffers outside any device: a test
    /// client's).
    pub fn unlimited() -> Arc<Account> {
        Arc::new(Account::with_cipher(
            Arc::new(Budget::new(usize::MAX)),
            0,
            0,
            0,
        ))
    }

    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Whether memory was given back since a request was refused: those waiting may try
    /// again (and the next refusal starts another wait).
    pub fn take_freed(&self) -> bool {
        let freed = self.freed.load(Relaxed) && self.freed.swap(false, Relaxed);
        if freed {
            self.wanted.store(false, Relaxed);
        }
        freed
    }

    /// Whether a request was refused since those waiting were last woken.
    pub fn wanted(&self) -> bool {
        self.wanted.load(Relaxed)
    }

    /// Memory went back: if anyone waits for it, say so.
    fn gave(&self) {
        if self.wanted.load(Relaxed) {
            self.freed.store(true, Relaxed);
        }
    }

    /// Requests refused since the account was made.
    pub fn refused(&self) -> u64 {
        self.refused.load(Relaxed)
    }

    fn refuse(&self) {
        self.refused.fetch_add(1, Relaxed);
        self.wanted.store(true, Relaxed);
    }

    fn take_kept(&self, n: usize) -> bool {
        self.kept_free
            .fetch_update(Relaxed, Relaxed, |f| f.checked_sub(n))
            .is_ok()
    }

    fn give_kept(&self, n: usize) {
        let kept = self.kept;
        let _ = self
            .kept_free
            .fetch_update(Relaxed, Relaxed, |f| Some(f.saturating_add(n).min(kept)));
    }
}

#[cfg(test)]
mod tests;
