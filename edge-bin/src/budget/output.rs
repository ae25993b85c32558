//! The output lane: one CURVE connection at a time may seal a whole [`TX_HIGH`] of a long
//! frame past a spent budget; the others seal [`SEAL_MIN`] at a time so.
//!
//! A frame too long to seal whole is sealed as it goes, into `tx`, as the socket takes it
//! (`secure/output.rs`). When the budget is spent (senders part-way through large frames may
//! hold it) the output still goes on, charged past the budget, or a device whose queues hold
//! the budget with the messages for its outputs would stop. A small step for every output
//! bounds what that costs with many of them; a small step for all of them made one worker
//! behind a CURVE streamer take 4 KiB per wake-up while two senders of 12 MiB messages held
//! the budget: its 64 KB flow's messages took 3 to 8 s (attacker round 16, K1's CURVE case).
//! So one output at a time, the lane's holder, steps a whole `TX_HIGH`; it lets the lane go
//! once its socket has taken all it was given, and another that asked meanwhile has it before
//! the holder may take it again (for [`HANDOFF_MS`]).
//!
//! A holder whose peer stops reading keeps the lane until its socket drains or it closes
//! (the progress and lag rules close such peers); the others meanwhile step `SEAL_MIN` as
//! before. The lane is not taken from it: what it sealed stays charged until its socket takes
//! it, so a lane passed on so would let each stalled reader in turn hold a `TX_HIGH` past the
//! budget, and the bound would grow with the number of peers.
//!
//! [`TX_HIGH`]: crate::secure::TX_HIGH
//! [`SEAL_MIN`]: crate::secure
//! [`HANDOFF_MS`]: super::turns::HANDOFF_MS

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use super::turns::HANDOFF_MS;
use super::Account;

/// No charge: the lane is free, or none asked.
const NOBODY: u64 = 0;

/// Who holds the output lane and who waits for it, as charge numbers (`claim::next_owner`,
/// never [`NOBODY`]).
#[derive(Debug)]
pub(super) struct OutputLane {
    holder: AtomicU64,
    /// The last to let it go, and when (the account's clock).
    last: AtomicU64,
    freed_ms: AtomicU64,
    /// The first refused it since it was last taken.
    asked: AtomicU64,
}

impl OutputLane {
    pub(super) fn new() -> OutputLane {
        OutputLane {
            holder: AtomicU64::new(NOBODY),
            last: AtomicU64::new(NOBODY),
            freed_ms: AtomicU64::new(0),
            asked: AtomicU64::new(NOBODY),
        }
    }
}

impl Account {
    /// The output lane for charge `id`, if it holds it or may take it: not while another
    /// holds it, nor, for [`HANDOFF_MS`] after it let it go, while another has asked for it
    /// since it took it. Refused, it is the one asked, if none was.
    pub(super) fn output_turn(&self, id: u64) -> bool {
        let lane = &self.output;
        let holder = lane.holder.load(Relaxed);
        if holder == id {
            return true;
        }
        let asked = lane.asked.load(Relaxed);
        let barred = lane.last.load(Relaxed) == id
            && asked != NOBODY
            && asked != id
            && self.now_ms().saturating_sub(lane.freed_ms.load(Relaxed)) < HANDOFF_MS;
        if holder == NOBODY
            && !barred
            && lane
                .holder
                .compare_exchange(NOBODY, id, Relaxed, Relaxed)
                .is_ok()
        {
            lane.asked.store(NOBODY, Relaxed);
            return true;
        }
        let _ = lane.asked.compare_exchange(NOBODY, id, Relaxed, Relaxed);
        false
    }

    /// Charge `id` lets the output lane go (if it holds it).
    pub(super) fn output_let_go(&self, id: u64) {
        let lane = &self.output;
        if lane
            .holder
            .compare_exchange(id, NOBODY, Relaxed, Relaxed)
            .is_ok()
        {
            lane.last.store(id, Relaxed);
            lane.freed_ms.store(self.now_ms(), Relaxed);
        }
    }

    /// Charge `id` no longer wants the output lane (it is gone): it is not waited for.
    pub(super) fn output_forget(&self, id: u64) {
        self.output_let_go(id);
        let _ = self
            .output
            .asked
            .compare_exchange(id, NOBODY, Relaxed, Relaxed);
    }
}
