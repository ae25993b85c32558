//! A buffer's hold on its device's [`Account`]: what it takes as it grows, gives back as it
//! shrinks, and all of it when it is dropped.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::turns::Ticket;
use super::{Account, InputLane, Lane};

/// What one buffer holds of its device's [`Account`] beyond what is fixed for it: taken as it
/// grows, given back as it shrinks, and all of it when it is dropped.
#[derive(Debug)]
pub struct Charge {
    account: Arc<Account>,
    /// From the process's budget.
    shared: usize,
    /// From the device's kept queue room.
    kept: usize,
    /// Holds the device's lane ([`Lane::Input`] or [`Lane::Cipher`]).
    lane: Option<Lane>,
    /// Has asked for or holds the output lane (`output.rs`).
    output: bool,
    /// Its place in line for the cipher lane, while it waits for it.
    ticket: Option<Ticket>,
    /// It has brought a frame in through the cipher lane (held it until it needed none of
    /// it): it waits in the line of known senders.
    known: bool,
    /// Its connection comes from an address closed for holding a lane while others waited
    /// ([`Charge::strike`]).
    struck: bool,
    /// Its number, for the claim it may make (`claim.rs`).
    id: u64,
}

impl Charge {
    pub fn new(account: Arc<Account>) -> Charge {
        Charge {
            account,
            shared: 0,
            kept: 0,
            lane: None,
            output: false,
            ticket: None,
            known: false,
            struck: false,
            id: super::claim::next_owner(),
        }
    }

    /// Its connection comes from an address recently closed for holding a lane while others
    /// waited: it has the cipher lane only when nobody else waits for it (`turns.rs`).
    pub fn strike(&mut self) {
        self.struck = true;
    }

    /// Its connection comes from an address closed for holding a lane ([`Charge::strike`]).
    pub fn is_struck(&self) -> bool {
        self.struck
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
        if !self.account.budget.take_behind_as(more, self.id) {
            return false;
        }
        self.shared += more;
        self.account.budget.unclaim(self.id);
        true
    }

    /// Whether [`Charge::grow_behind_to`] `bytes` would be granted as of now: what it lacks of
    /// them is free below [`BEHIND_SHARE`](super::BEHIND_SHARE). Taking nothing, it reserves
    /// nothing.
    pub fn fits_behind(&self, bytes: usize) -> bool {
        let free = self.account.budget.behind_free();
        let held_back = self.account.budget.held_back_from(self.id, free);
        bytes.saturating_sub(self.bytes()) <= held_back
    }

    /// Whether [`Charge::grow_to`] `bytes` would be granted as of now. Taking nothing, it
    /// reserves nothing.
    pub fn fits(&self, bytes: usize) -> bool {
        let free = self.account.budget.free();
        bytes.saturating_sub(self.bytes()) <= self.account.budget.held_back_from(self.id, free)
    }

    /// A new charge, holding nothing, on the same device's account.
    pub fn fresh(&self) -> Charge {
        Charge::new(self.account.clone())
    }

    /// Bytes it may hold.
    pub fn bytes(&self) -> usize {
        let lane = self.lane.map_or(0, |l| self.account.lane_bytes[l as usize]);
        self.shared.saturating_add(self.kept).saturating_add(lane)
    }

    /// Whether it holds one of the device's lanes.
    pub fn holds_lane(&self) -> bool {
        self.lane.is_some()
    }

    /// Whether it holds any of what the device keeps: give it back as soon as the buffer is
    /// empty, so that it serves the next.
    pub fn holds_kept(&self) -> bool {
        self.lane.is_some() || self.kept > 0
    }

    /// Hold `bytes` in all, the difference from the shared budget; false (holding what it
    /// held) if the budget does not have it.
    pub fn grow_to(&mut self, bytes: usize) -> bool {
        let Some(more) = bytes.checked_sub(self.bytes()).filter(|&m| m > 0) else {
            return true;
        };
        if !self.account.budget.take_as(more, self.id) {
            return false;
        }
        self.shared += more;
        self.account.budget.unclaim(self.id);
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

    /// Take the device's input lane, if no other buffer holds it: this one may then hold the
    /// lane's bytes whatever the budget has left, and gives back what it held of the budget.
    #[cfg(test)]
    pub fn take_lane(&mut self) -> bool {
        self.take_lane_sealed(false)
    }

    /// [`Charge::take_lane`] for a connection's input: `unfinished` if a CURVE layer brings it
    /// its bytes and the message it is in needs a frame still to come through it, which may
    /// need the cipher lane (then no other connection takes the cipher lane while it holds
    /// the input lane so, [`Charge::take_cipher_lane_beside`]).
    pub fn take_lane_sealed(&mut self, unfinished: bool) -> bool {
        let took = self.take(Lane::Input);
        if took {
            self.account.input_unfinished.store(unfinished, Relaxed);
        }
        took
    }

    /// The input lane's holder says whether its message now needs a frame still to come
    /// through its CURVE layer ([`Charge::take_lane_sealed`]).
    pub fn note_lane_unfinished(&self, unfinished: bool) {
        if self.lane == Some(Lane::Input) {
            self.account.input_unfinished.store(unfinished, Relaxed);
        }
    }

    /// Take the device's [`Lane::Cipher`], as [`Charge::take_lane`] the input lane (never,
    /// in a device that keeps none), but in turn: refused, it waits in line, and once the lane
    /// is let go it is this one's only when none has waited longer in its line, and its line's
    /// turn (`turns.rs`). It keeps its place until it has the lane, [`Charge::leave_line`] or
    /// is dropped.
    #[cfg(test)]
    pub fn take_cipher_lane(&mut self) -> bool {
        self.take_cipher_lane_beside(InputLane::Unknown)
    }

    /// [`Charge::take_cipher_lane`] for a connection whose input holds the input lane or not
    /// (`input`): not while another CURVE connection's input holds it, and before the others
    /// in line if its own holds it and needs the cipher lane to finish its message
    /// ([`Account::cipher_turn`]).
    pub fn take_cipher_lane_beside(&mut self, input: InputLane) -> bool {
        if self.account.lane_bytes[Lane::Cipher as usize] == 0 {
            return false;
        }
        if let Some(held) = self.lane {
            return held == Lane::Cipher;
        }
        if !self
            .account
            .cipher_turn(&mut self.ticket, self.known, self.struck, input)
        {
            return false;
        }
        self.took(Lane::Cipher);
        true
    }

    /// It waits for the cipher lane no more (what it needed it for is here): the next in
    /// line is not kept waiting for it.
    pub fn leave_line(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.account.leave_line(ticket);
        }
    }

    /// Whether another buffer holds the device's `lane`.
    pub fn lane_taken_by_other(&self, lane: Lane) -> bool {
        self.lane != Some(lane) && self.account.lane_taken[lane as usize].load(Relaxed)
    }

    /// Whether it holds the cipher lane.
    pub fn holds_cipher_lane(&self) -> bool {
        self.lane == Some(Lane::Cipher)
    }

    fn take(&mut self, lane: Lane) -> bool {
        if let Some(held) = self.lane {
            return held == lane;
        }
        let free = self.account.lane_taken[lane as usize]
            .compare_exchange(false, true, Relaxed, Relaxed)
            .is_ok();
        if !free {
            return false;
        }
        self.took(lane);
        true
    }

    /// It has `lane`: what it held of the budget goes back.
    fn took(&mut self, lane: Lane) {
        self.account.budget.unclaim(self.id);
        self.lane = Some(lane);
        let shared = std::mem::take(&mut self.shared);
        self.account.budget.give(shared);
        self.account.gave();
    }

    /// Take the device's output lane, or keep it: whether it holds it (`output.rs`). Its
    /// holder may seal a whole `TX_HIGH` past a spent budget, the others a little at a time.
    pub fn take_output_lane(&mut self) -> bool {
        self.output = true;
        self.account.output_turn(self.id)
    }

    /// Let the output lane go, if it holds it: its socket took all it was given.
    pub fn let_output_lane_go(&mut self) {
        if self.output {
            self.account.output_let_go(self.id);
        }
    }

    /// It was refused growing to `bytes`, which would complete what it holds at once (its
    /// bytes are all here): what it lacks is held back for it as memory is given back
    /// (`claim.rs`).
    pub fn claim(&self, bytes: usize) {
        self.account
            .budget
            .claim(self.id, bytes.saturating_sub(self.bytes()));
    }

    /// Another buffer's claim is first in line (`claim.rs`): memory kept for later is let go.
    pub fn claim_stands(&self) -> bool {
        self.account.budget.claim_stands(self.id)
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
        if self.give_back_to(bytes) {
            self.account.gave();
        }
    }

    /// As [`Charge::shrink_to`], without waking those waiting for memory: for bytes taken
    /// for a moment and not used (a read's worth that found nothing to read), whose return
    /// is no news to them. (Else a connection that waits for memory would wake itself.)
    pub fn shrink_quietly_to(&mut self, bytes: usize) {
        self.give_back_to(bytes);
    }

    /// Give back what is held beyond `bytes`: whether anything went back.
    fn give_back_to(&mut self, bytes: usize) -> bool {
        let mut excess = self.bytes().saturating_sub(bytes);
        if excess == 0 {
            return false;
        }
        let account = &self.account;
        if let Some(lane) = self.lane.filter(|_| bytes <= self.shared + self.kept) {
            self.lane = None;
            account.lane_taken[lane as usize].store(false, Relaxed);
            if lane == Lane::Cipher {
                account.cipher_freed();
                self.known = true;
            }
            excess = excess.saturating_sub(account.lane_bytes[lane as usize]);
        }
        let kept = excess.min(self.kept);
        self.kept -= kept;
        account.give_kept(kept);
        let shared = (excess - kept).min(self.shared);
        self.shared -= shared;
        account.budget.give(shared);
        true
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.account.budget.unclaim(self.id);
        self.leave_line();
        if self.output {
            self.account.output_forget(self.id);
        }
        self.shrink_to(0);
    }
}
