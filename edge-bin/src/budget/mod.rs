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
use std::sync::Arc;

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
}

impl Budget {
    pub fn new(total: usize) -> Budget {
        Budget {
            total: AtomicUsize::new(total),
            used: AtomicUsize::new(0),
            tight: AtomicBool::new(false),
        }
    }

    /// `n` bytes, if that many are free; all or nothing.
    pub fn take(&self, n: usize) -> bool {
        self.take_below(n, self.total.load(Relaxed))
    }

    /// `n` bytes, if that many are free below [`BEHIND_SHARE`] of the total: what a buffer
    /// that is behind may take ([`Charge::grow_behind_to`]), so that the rest stays for
    /// those that keep up.
    pub fn take_behind(&self, n: usize) -> bool {
        self.take_below(n, self.behind_limit())
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

/// One device's memory at run time: the process's [`Budget`], and what the device keeps for
/// itself so that it can always make progress when the budget is spent:
///
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
    lane_taken: AtomicBool,
    lane_bytes: usize,
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
}

impl Account {
    /// `lane`: what the lane lets one input buffer hold beyond what is fixed for it; `kept`:
    /// the room kept for queued messages.
    pub fn new(budget: Arc<Budget>, lane: usize, kept: usize) -> Account {
        Account {
            budget,
            lane_taken: AtomicBool::new(false),
            lane_bytes: lane,
            kept_free: AtomicUsize::new(kept),
            kept,
            wanted: AtomicBool::new(false),
            freed: AtomicBool::new(false),
            refused: AtomicU64::new(0),
            now_ms: AtomicU64::new(0),
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

    /// An account that never refuses (tests, and buffers outside any device).
    #[cfg(test)]
    pub fn unlimited() -> Arc<Account> {
        Arc::new(Account::new(Arc::new(Budget::new(usize::MAX)), 0, 0))
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

/// What one buffer holds of its device's [`Account`] beyond what is fixed for it: taken as it
/// grows, given back as it shrinks, and all of it when it is dropped.
#[derive(Debug)]
pub struct Charge {
    account: Arc<Account>,
    /// From the process's budget.
    shared: usize,
    /// From the device's kept queue room.
    kept: usize,
    /// Holds the device's lane.
    lane: bool,
}

impl Charge {
    pub fn new(account: Arc<Account>) -> Charge {
        Charge {
            account,
            shared: 0,
            kept: 0,
            lane: false,
        }
    }

    /// The account it draws from.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Like [`Charge::grow_to`], for a buffer that is behind: only below
    /// [`BEHIND_SHARE`] of the budget.
    pub fn grow_behind_to(&mut self, bytes: usize) -> bool {
        let Some(more) = bytes.checked_sub(self.bytes()).filter(|&m| m > 0) else {
            return true;
        };
        if !self.account.budget.take_behind(more) {
            return false;
        }
        self.shared += more;
        true
    }

    /// A new charge, holding nothing, on the same device's account.
    pub fn fresh(&self) -> Charge {
        Charge::new(self.account.clone())
    }

    /// Bytes it may hold.
    pub fn bytes(&self) -> usize {
        let lane = if self.lane {
            self.account.lane_bytes
        } else {
            0
        };
        self.shared.saturating_add(self.kept).saturating_add(lane)
    }

    /// Whether it holds the device's lane.
    pub fn holds_lane(&self) -> bool {
        self.lane
    }

    /// Whether it holds any of what the device keeps: give it back as soon as the buffer is
    /// empty, so that it serves the next.
    pub fn holds_kept(&self) -> bool {
        self.lane || self.kept > 0
    }

    /// Hold `bytes` in all, the difference from the shared budget; false (holding what it
    /// held) if the budget does not have it.
    pub fn grow_to(&mut self, bytes: usize) -> bool {
        let Some(more) = bytes.checked_sub(self.bytes()).filter(|&m| m > 0) else {
            return true;
        };
        if !self.account.budget.take(more) {
            return false;
        }
        self.shared += more;
        true
    }

    /// Hold `bytes` in all, the difference from the room the device keeps for queued
    /// messages; false if that room does not have it.
    pub fn grow_kept_to(&mut self, bytes: usize) -> bool {
        let Some(more) = bytes.checked_sub(self.bytes()).filter(|&m| m > 0) else {
            return true;
        };
        if !self.account.take_kept(more) {
            return false;
        }
        self.kept += more;
        true
    }

    /// Take the device's lane, if no other buffer holds it: this one may then hold the lane's
    /// bytes whatever the budget has left, and gives back what it held of the budget.
    pub fn take_lane(&mut self) -> bool {
        if self.lane {
            return true;
        }
        let free = self
            .account
            .lane_taken
            .compare_exchange(false, true, Relaxed, Relaxed)
            .is_ok();
        if !free {
            return false;
        }
        self.lane = true;
        let shared = std::mem::take(&mut self.shared);
        self.account.budget.give(shared);
        self.account.gave();
        true
    }

    /// The buffer could not grow as it needed, by any of the above: counted, and those waiting
    /// are woken when memory is given back.
    pub fn refused(&self) {
        self.account.refuse();
    }

    /// Hold `bytes` in all, taking what is missing from the budget even past its total: for
    /// bytes that are here already and must be kept.
    pub fn force_to(&mut self, bytes: usize) {
        if let Some(more) = bytes.checked_sub(self.bytes()).filter(|&m| m > 0) {
            self.account.budget.force(more);
            self.shared += more;
        }
    }

    /// Hold no more than `bytes`: the rest goes back, the device's kept room first. The lane
    /// is let go only once the buffer needs none of it.
    pub fn shrink_to(&mut self, bytes: usize) {
        let mut excess = self.bytes().saturating_sub(bytes);
        if excess == 0 {
            return;
        }
        let account = &self.account;
        if self.lane && bytes <= self.shared + self.kept {
            self.lane = false;
            account.lane_taken.store(false, Relaxed);
            excess = excess.saturating_sub(account.lane_bytes);
        }
        let kept = excess.min(self.kept);
        self.kept -= kept;
        account.give_kept(kept);
        let shared = (excess - kept).min(self.shared);
        self.shared -= shared;
        account.budget.give(shared);
        account.gave();
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.shrink_to(0);
    }
}

#[cfg(test)]
mod tests;
