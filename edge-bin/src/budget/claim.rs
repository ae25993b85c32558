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
//! So such a buffer, refused, *claims* what it lacks, and claims are served in the order
//! they were made: what is given back while a claim is first in line, up to what it claims,
//! is held for it (every other buffer takes only what leaves that free), and the claimant
//! has it as soon as it is all there; then the next. Only what is *given back* is held:
//! memory free when the claim came first stays for the others, who may need it to complete
//! what they hold and give memory back (holding back all a claim asked for, a queue whose
//! senders' frames needed room for their plaintext to let their ciphertext go stopped for
//! good with a fifth of the budget free). Served smallest first, ninety-six senders of 12-20 KB messages five times a
//! second outbid a 64 KB flow at every turn, and it got none (attacker round 13, F1). A
//! claim is at most a part of the budget beyond the share of buffers that wait on a
//! peer ([`BEHIND_SHARE`](super::BEHIND_SHARE)), so it never holds back those, only what the
//! ones that keep up draw from, and what it keeps free completes a frame at once; and only a
//! quarter of that, so that no claim holds the line for long ([`Budget::claim_max`]). While a
//! claim stands, ciphertext kept for a sender's next frame (`secure.rs`, `LINGER_MS`) is let
//! go ([`Budget::claim_stands`]). A claimant asks again at every wake-up while it waits; one
//! that has not asked for [`CLAIM_STALE_MS`] (it no longer needs it) is dropped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{Budget, BEHIND_SHARE};

/// A claim its claimant has not renewed for this long holds nothing back.
pub const CLAIM_STALE_MS: u64 = 500;

/// Who claims (a [`Charge`](super::Charge)'s number), how much, when it last asked, and,
/// once it is first in line, how much had been given back by then ([`Budget::given`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct Claim {
    owner: u64,
    bytes: usize,
    at: Instant,
    first_at: Option<u64>,
}

/// A number for each charge, for telling a claim's owner.
pub(super) fn next_owner() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Relaxed)
}

fn stale(c: &Claim) -> bool {
    c.at.elapsed() >= Duration::from_millis(CLAIM_STALE_MS)
}

impl Budget {
    fn claims(&self) -> MutexGuard<'_, VecDeque<Claim>> {
        // Nothing panics while holding it; a poisoned line is still a line.
        self.claim.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The first claim that is not stale is what is held back: the stale ones before it go.
    fn settle_claims(&self, claims: &mut VecDeque<Claim>) {
        while claims.front().is_some_and(stale) {
            claims.pop_front();
        }
        let given = self.given.load(Relaxed);
        if let Some(c) = claims.front_mut() {
            c.first_at.get_or_insert(given);
        }
        self.claimed
            .store(claims.front().map_or(0, |c| c.bytes), Relaxed);
    }

    /// `owner` lacks `bytes` to complete a buffer whose bytes are all here: it claims them
    /// (or renews its claim), after the claims made before, if they are no more than the part
    /// beyond the share.
    pub fn claim(&self, owner: u64, bytes: usize) {
        if bytes == 0 || bytes > self.claim_max() {
            return;
        }
        let mut claims = self.claims();
        let at = Instant::now();
        match claims.iter_mut().find(|c| c.owner == owner) {
            Some(c) => (c.bytes, c.at) = (bytes, at),
            None => claims.push_back(Claim {
                owner,
                bytes,
                at,
                first_at: None,
            }),
        }
        self.settle_claims(&mut claims);
    }

    /// The most a claim may be: a quarter of the part of the budget beyond the share of
    /// buffers that wait on a peer. A buffer that needs more (a sender's frame of 330 KB
    /// opened, its plaintext to hand on) waits by the other rules: first in line, claims that
    /// large held back what was given back for a second or more, and a 64 KB flow's replies
    /// waited behind them until the queue closed its client as one that does not read.
    fn claim_max(&self) -> usize {
        let total = self.total();
        (total - total / BEHIND_SHARE.1 * BEHIND_SHARE.0) / 4
    }

    /// `owner`'s claim, if it stands, is met or no longer wanted.
    pub fn unclaim(&self, owner: u64) {
        if self.claimed.load(Relaxed) == 0 {
            return;
        }
        let mut claims = self.claims();
        claims.retain(|c| c.owner != owner);
        self.settle_claims(&mut claims);
    }

    /// What of `free` bytes `owner` may take, the first claim held back.
    pub(super) fn held_back_from(&self, owner: u64, free: usize) -> usize {
        free.saturating_sub(self.claimed_from(owner))
    }

    /// What `owner` must leave free for the first claim (nothing if it is that claimant):
    /// what was given back since it came first, up to what it claims.
    pub(super) fn claimed_from(&self, owner: u64) -> usize {
        if self.claimed.load(Relaxed) == 0 {
            return 0;
        }
        let mut claims = self.claims();
        self.settle_claims(&mut claims);
        let given = self.given.load(Relaxed);
        match claims.front() {
            Some(c) if c.owner != owner => {
                let since = given.saturating_sub(c.first_at.unwrap_or(given));
                usize::try_from(since).map_or(c.bytes, |s| s.min(c.bytes))
            }
            _ => 0,
        }
    }

    /// Whether a claim other than `owner`'s is first in line (what it holds back may still be
    /// nothing): memory kept for later is to be let go.
    pub fn claim_stands(&self, owner: u64) -> bool {
        if self.claimed.load(Relaxed) == 0 {
            return false;
        }
        let mut claims = self.claims();
        self.settle_claims(&mut claims);
        claims.front().is_some_and(|c| c.owner != owner)
    }
}
