//! A buffer's hold on its device's [`Account`]: what it takes as it grows, gives back as it
//! shrinks, and all of it when it is dropped.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::Account;

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
    /// [`BEHIND_SHARE`](super::BEHIND_SHARE) of the budget.
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

    /// Let the device's lane go while keeping what it let this buffer hold, counted as held
    /// bytes ([`Charge::force_to`]): for a buffer whose unit is all here and only waits to be
    /// copied on into a buffer that needs the lane next (a CURVE MESSAGE, opened, to the
    /// connection's input). Until it is given back the budget refuses every other take.
    pub fn lane_to_held(&mut self) {
        if !self.lane {
            return;
        }
        let held = self.bytes();
        self.lane = false;
        self.account.lane_taken.store(false, Relaxed);
        self.account.gave();
        self.force_to(held);
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
