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

/// The bytes every device of the process draws from as its buffers grow.
#[derive(Debug)]
pub struct Budget {
    total: AtomicUsize,
    used: AtomicUsize,
}

impl Budget {
    pub fn new(total: usize) -> Budget {
        Budget {
            total: AtomicUsize::new(total),
            used: AtomicUsize::new(0),
        }
    }

    /// `n` bytes, if that many are free; all or nothing.
    pub fn take(&self, n: usize) -> bool {
        if n == 0 {
            return true;
        }
        let total = self.total.load(Relaxed);
        self.used
            .fetch_update(Relaxed, Relaxed, |u| {
                u.checked_add(n).filter(|&after| after <= total)
            })
            .is_ok()
    }

    /// `n` bytes already spent (held bytes that had to be kept): counted even past the total,
    /// which then refuses every take until enough is given back.
    pub fn force(&self, n: usize) {
        let _ = self
            .used
            .fetch_update(Relaxed, Relaxed, |u| Some(u.saturating_add(n)));
    }

    /// Give back `n` bytes taken (or forced) before. Never below zero: a miscount cannot make
    /// memory appear.
    pub fn give(&self, n: usize) {
        if n == 0 {
            return;
        }
        let _ = self
            .used
            .fetch_update(Relaxed, Relaxed, |u| Some(u.saturating_sub(n)));
    }

    /// A new total (a reload changed the devices): takes are refused while more than it is
    /// used, and what is held stays held.
    pub fn resize(&self, total: usize) {
        self.total.store(total, Relaxed);
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
        }
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
mod tests {
    use super::*;
    use std::thread;

    fn account(budget: usize, lane: usize, kept: usize) -> Arc<Account> {
        Arc::new(Account::new(Arc::new(Budget::new(budget)), lane, kept))
    }

    #[test]
    fn takes_what_it_has_and_refuses_the_rest_whole() {
        let b = Budget::new(100);
        assert!(b.take(60));
        assert!(!b.take(41), "all or nothing");
        assert_eq!(b.used(), 60);
        assert!(b.take(40));
        assert!(!b.take(1));
        assert!(b.take(0), "nothing is always there");
        b.give(100);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn no_value_overflows_or_underflows_it() {
        for total in [0, 1, u32::MAX as usize, (1 << 63) - 1, usize::MAX] {
            let b = Budget::new(total);
            if total < usize::MAX {
                assert!(!b.take(usize::MAX));
                assert!(!b.take(total + 1));
            }
            assert!(b.take(total));
            assert!(!b.take(1), "all of it taken");
            b.give(usize::MAX);
            assert_eq!(b.used(), 0, "given back past what was taken: stays at zero");
            b.force(usize::MAX);
            b.force(usize::MAX);
            assert_eq!(b.used(), usize::MAX, "forced past everything: saturates");
            assert!(!b.take(1));
            b.give(usize::MAX);
            assert_eq!(b.used(), 0);
        }
    }

    #[test]
    fn a_smaller_total_refuses_until_enough_is_given_back() {
        let b = Budget::new(100);
        assert!(b.take(80));
        b.resize(50);
        assert!(!b.take(1));
        b.give(40);
        assert!(b.take(10));
        assert!(!b.take(1));
        b.resize(usize::MAX);
        assert!(b.take(usize::MAX - 50));
    }

    #[test]
    fn a_forced_take_is_counted_past_the_total() {
        let b = Budget::new(10);
        b.force(15);
        assert_eq!(b.used(), 15);
        assert!(!b.take(1));
        b.give(15);
        assert!(b.take(10));
    }

    #[test]
    fn two_threads_never_take_more_than_there_is() {
        let b = Arc::new(Budget::new(1000));
        let workers: Vec<_> = (0..2)
            .map(|t| {
                let b = b.clone();
                thread::spawn(move || {
                    let mut taken = 0u64;
                    for i in 0..100_000usize {
                        let n = 1 + (i * 7 + t * 13) % 300;
                        if b.take(n) {
                            assert!(b.used() <= 1000, "over the total: {}", b.used());
                            taken += 1;
                            b.give(n);
                        }
                    }
                    taken
                })
            })
            .collect();
        let taken: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
        assert!(taken > 0);
        assert_eq!(b.used(), 0, "every take given back");
    }

    #[test]
    fn a_charge_grows_shrinks_and_gives_everything_back_when_dropped() {
        let a = account(1000, 0, 0);
        let mut c = Charge::new(a.clone());
        assert!(c.grow_to(300));
        assert!(c.grow_to(200), "already held");
        assert_eq!((c.bytes(), a.budget().used()), (300, 300));
        assert!(!c.grow_to(1001));
        assert_eq!(c.bytes(), 300, "a refusal keeps what it held");
        assert_eq!(a.refused(), 0, "counted when the buffer gives up");
        c.refused();
        assert_eq!(a.refused(), 1);
        c.shrink_to(100);
        assert_eq!((c.bytes(), a.budget().used()), (100, 100));
        assert!(a.take_freed(), "given back after a refusal");
        assert!(!a.take_freed(), "seen once");
        c.shrink_to(50);
        assert!(!a.take_freed(), "nobody was refused since");
        drop(c);
        assert_eq!(a.budget().used(), 0);
    }

    #[test]
    fn one_buffer_at_a_time_holds_the_lane() {
        let a = account(100, 5000, 0);
        let (mut one, mut two) = (Charge::new(a.clone()), Charge::new(a.clone()));
        assert!(one.grow_to(100));
        assert!(!one.grow_to(101));
        assert!(one.take_lane());
        assert_eq!(a.budget().used(), 0, "the lane covers what it held");
        assert_eq!(one.bytes(), 5000);
        assert!(
            two.grow_to(100),
            "the budget it gave back serves the others"
        );
        assert!(!two.take_lane());
        one.shrink_to(10);
        assert_eq!(
            one.bytes(),
            5000,
            "the lane is kept while the buffer needs any of it"
        );
        one.shrink_to(0);
        assert!(!one.holds_kept());
        assert!(two.take_lane());
        drop(two);
        assert_eq!(a.budget().used(), 0);
        assert!(
            Charge::new(a.clone()).take_lane(),
            "a dropped charge lets the lane go"
        );
    }

    #[test]
    fn kept_room_serves_whole_requests_and_goes_back_first() {
        let a = account(0, 0, 1000);
        let mut q = Charge::new(a.clone());
        assert!(!q.grow_to(1));
        assert!(q.grow_kept_to(600));
        assert!(
            !Charge::new(a.clone()).grow_kept_to(401),
            "whole or nothing"
        );
        assert!(q.holds_kept());
        q.force_to(700);
        assert_eq!((q.bytes(), a.budget().used()), (700, 100));
        q.shrink_to(200);
        assert_eq!(q.bytes(), 200);
        assert_eq!(
            a.budget().used(),
            100,
            "kept room given back before the budget"
        );
        drop(q);
        assert_eq!(a.budget().used(), 0);
        assert!(Charge::new(a).grow_kept_to(1000));
    }

    #[test]
    fn no_charge_value_overflows() {
        let a = account(usize::MAX, usize::MAX, usize::MAX);
        let mut c = Charge::new(a.clone());
        assert!(c.grow_to(usize::MAX));
        assert!(c.grow_kept_to(usize::MAX), "saturated: already held");
        assert!(c.take_lane());
        assert_eq!(c.bytes(), usize::MAX);
        c.force_to(usize::MAX);
        c.shrink_to(0);
        assert_eq!((c.bytes(), a.budget().used()), (0, 0));
    }
}
