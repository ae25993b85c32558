//! A claim on memory as it is given back, for a buffer whose bytes are all here.
//!
//! A buffer refused memory waits until some is given back and then asks again, with everyone
//! else who waits, and whoever asks first has it. Senders that keep the budget spent with
//! frames part-way here ask at once, each time one of theirs completes (the next frame's
//! start is already in its socket), and a frame that would complete as soon as it had its
//! room (all of it in its socket, or output to a peer that reads at once) lost that race
//! again and again: a 64 KB flow's first frame waited 3 s while six senders of 330 KB frames
//! held the budget (attacker round 12, F1).
//!
//! So such a buffer, refused, *claims* what it lacks: while the claim stands, every other
//! buffer takes only what leaves that much free, and the claimant has it as soon as it is
//! given back. One claim stands at a time, the smallest: a claim is at most the last part
//! of the budget, beyond the share of buffers that wait on a peer
//! ([`BEHIND_SHARE`](super::BEHIND_SHARE)), so it never holds back those, only what the
//! ones that keep up draw from, and what it keeps free completes a frame at once. A
//! claimant asks again at every wake-up while it waits; one that has not asked for
//! [`CLAIM_STALE_MS`] (it no longer needs it) holds nothing back.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use super::{Budget, BEHIND_SHARE};

/// A claim its claimant has not renewed for this long holds nothing back.
pub const CLAIM_STALE_MS: u64 = 500;

/// Who claims (a [`Charge`](super::Charge)'s number), how much, and when it last asked.
#[derive(Clone, Copy, Debug)]
pub(super) struct Claim {
    owner: u64,
    bytes: usize,
    at: Instant,
}

/// A number for each charge, for telling a claim's owner.
pub(super) fn next_owner() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Relaxed)
}

impl Budget {
    /// `owner` lacks `bytes` to complete a buffer whose bytes are all here: it claims them,
    /// if no smaller claim stands and they are no more than the part beyond the share.
    pub fn claim(&self, owner: u64, bytes: usize) {
        let total = self.total();
        if bytes == 0 || bytes > total - total / BEHIND_SHARE.1 * BEHIND_SHARE.0 {
            return;
        }
        let mut claim = self.claim.lock().unwrap_or_else(PoisonError::into_inner);
        let stands = claim
            .filter(|c| c.owner != owner && c.at.elapsed() < Duration::from_millis(CLAIM_STALE_MS));
        if stands.is_some_and(|c| c.bytes <= bytes) {
            return;
        }
        *claim = Some(Claim {
            owner,
            bytes,
            at: Instant::now(),
        });
        self.claimed.store(bytes, Relaxed);
    }

    /// `owner`'s claim, if it stands, is met or no longer wanted.
    pub fn unclaim(&self, owner: u64) {
        if self.claimed.load(Relaxed) == 0 {
            return;
        }
        let mut claim = self.claim.lock().unwrap_or_else(PoisonError::into_inner);
        if claim.is_some_and(|c| c.owner == owner) {
            *claim = None;
            self.claimed.store(0, Relaxed);
        }
    }

    /// What of `free` bytes `owner` may take, another's claim held back.
    pub(super) fn held_back_from(&self, owner: u64, free: usize) -> usize {
        free.saturating_sub(self.claimed_from(owner))
    }

    /// What `owner` must leave free for another's claim (nothing if it is the claimant, or
    /// the claim is stale, which is then dropped).
    pub(super) fn claimed_from(&self, owner: u64) -> usize {
        if self.claimed.load(Relaxed) == 0 {
            return 0;
        }
        let mut claim = self.claim.lock().unwrap_or_else(PoisonError::into_inner);
        match *claim {
            Some(c) if c.at.elapsed() >= Duration::from_millis(CLAIM_STALE_MS) => {
                *claim = None;
                self.claimed.store(0, Relaxed);
                0
            }
            Some(c) if c.owner != owner => c.bytes,
            _ => 0,
        }
    }
}
