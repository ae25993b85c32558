//! Turns at the cipher lane: the buffers refused it wait in line, and it goes to the one that
//! has waited longest, not to whichever asks first once it is let go.
//!
//! A hostile CURVE sender can take the lane, send most of a large frame and then trickle the
//! rest until it is closed as a stalled sender (`connection/mod.rs`, `lane_stalled`). Handed to
//! whoever asked next, the lane went to the hostile peers' next connections again and again,
//! since they ask at once, while a legitimate sender waited for a wake-up: its large messages
//! went through two in 20 s instead of a hundred.
//!
//! In one line, a sender would still wait for every connection ahead of it, and a trickler's
//! every new connection joins the line again: the wait grows with the number of tricklers. So
//! there are two lines, served turn about when both have waiters: buffers that have brought a
//! whole frame in through the lane before (a sender that completes its frames), and the others
//! (new connections, and every trickler, which never completes one). A sender that keeps its
//! frames coming waits for one newcomer's turn at most, and for the other known senders ahead
//! of it; a newcomer waits for the newcomers ahead of it, every other turn.
//!
//! A third line is for connections from an address recently closed for holding a lane while
//! others waited (`host/strikes.rs`): they have the lane only when nobody waits in the other
//! two and it has been free for a hand-off's patience. Closed within 1.25 s each time, six
//! tricklers that came back at once still held a lane most of the time, and a 12 MiB producer
//! beside them got 14 messages in 30 s instead of 273 (attacker round 6).

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{MutexGuard, PoisonError};

use super::{Account, InputLane, Lane};

/// How long (by the device's coarse clock) a lane let go is kept for the one whose turn it
/// is: one that does not come for it by then (its device does not want its input just now)
/// keeps its place, and the lane serves whoever asks meanwhile.
pub const HANDOFF_MS: u64 = 250;

/// A place in line for the cipher lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Ticket {
    number: u64,
    /// Its line: [`NEW`], [`KNOWN`] (those that brought a frame in through the lane before)
    /// or [`STRUCK`].
    line: usize,
}

/// The line of newcomers.
const NEW: usize = 0;
/// The line of those that brought a frame in through the lane before.
const KNOWN: usize = 1;
/// The line of connections from an address closed for holding a lane while others waited,
/// served only when the other two are empty.
const STRUCK: usize = 2;

/// The buffers waiting for the cipher lane, oldest first in each line.
#[derive(Debug, Default)]
pub(super) struct Turns {
    /// `[new, known, struck]`, by ticket number.
    lines: [VecDeque<u64>; 3],
    next: u64,
    /// The line last served: the other goes first next, if it has waiters.
    served_known: bool,
    /// The account's clock when the lane was last let go.
    freed_ms: u64,
}

impl Turns {
    /// Whose turn it is: the first of the line not served last, if it has waiters, else the
    /// first of the other; the struck line's first if both are empty.
    fn first(&self) -> Option<Ticket> {
        let other = usize::from(!self.served_known);
        [other, 1 - other, STRUCK].into_iter().find_map(|line| {
            let number = *self.lines[line].front()?;
            Some(Ticket { number, line })
        })
    }

    /// Whether anyone waits in the lines of those not struck.
    fn others_wait(&self) -> bool {
        !(self.lines[NEW].is_empty() && self.lines[KNOWN].is_empty())
    }

    fn leave(&mut self, t: Ticket) {
        self.lines[t.line].retain(|&n| n != t.number);
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.lines.iter().map(VecDeque::len).sum()
    }
}

impl Account {
    fn turns(&self) -> MutexGuard<'_, Turns> {
        // Nothing panics while holding it; a poisoned line is still a line.
        self.turns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Take the cipher lane for the holder of `ticket`, which has brought a frame in through
    /// it before if `known`, if the lane is free and it is its turn ([`Turns::first`], or
    /// the one whose turn it was has not come for it within [`HANDOFF_MS`]): it then leaves
    /// its line. Else it waits in line, keeping its place if it has one.
    ///
    /// `input`: where the input lane is ([`InputLane`]). While another connection's input
    /// holds the input lane, the cipher lane is not taken if that input is a CURVE
    /// connection's: its holder could need the input lane to hand its frame on, and the input
    /// lane's holder the cipher lane for the rest of its message (each would wait for the
    /// other, and nothing gives memory back). The input lane's own connection goes first
    /// when it needs the cipher lane to finish its message; when it does not (it has the
    /// whole of its message and asks for the next one's frame), it waits its turn in line
    /// like any other: going first then let one pipelining sender keep both lanes for good
    /// (attacker round 4: a second sender of 12 MiB messages got none in 50 s).
    ///
    /// `struck`: its connection comes from an address closed for holding a lane while others
    /// waited; it waits in the [`STRUCK`] line, and has the lane only when nobody waits in
    /// the others and nobody took it for [`HANDOFF_MS`] since it was let go (or its input
    /// lane needs it, as above). Taking a lane whenever the lines were empty, six struck
    /// tricklers took it between a producer's 12 MiB messages, one after another.
    pub(super) fn cipher_turn(
        &self,
        ticket: &mut Option<Ticket>,
        known: bool,
        struck: bool,
        input: InputLane,
    ) -> bool {
        let mut turns = self.turns();
        let taken = &self.lane_taken[Lane::Cipher as usize];
        // Only an input lane held by a CURVE connection's input in the middle of a message can
        // wait for the cipher lane.
        let input_taken = self.lane_taken[Lane::Input as usize].load(Relaxed)
            && self.input_unfinished.load(Relaxed);
        let first = turns.first();
        let patience_out = self.now_ms().saturating_sub(turns.freed_ms) >= HANDOFF_MS;
        let turn = match (input_taken, input) {
            (true, InputLane::Other) => false,
            (true, InputLane::OwnUnfinished) => true,
            // Only a lane nobody asked for since it was let go, within the hand-off's
            // patience: a sender of large messages back to back asks again within it.
            _ if struck => !turns.others_wait() && patience_out,
            _ => first.is_none() || first == *ticket || patience_out,
        };
        if turn
            && taken
                .compare_exchange(false, true, Relaxed, Relaxed)
                .is_ok()
        {
            if let Some(t) = ticket.take() {
                turns.leave(t);
            }
            if !struck {
                turns.served_known = known;
            }
            return true;
        }
        if ticket.is_none() {
            let number = turns.next;
            turns.next = number.wrapping_add(1);
            let line = match (struck, known) {
                (true, _) => STRUCK,
                (false, true) => KNOWN,
                (false, false) => NEW,
            };
            turns.lines[line].push_back(number);
            *ticket = Some(Ticket { number, line });
        }
        false
    }

    /// The holder of `ticket` no longer waits for the cipher lane.
    pub(super) fn leave_line(&self, ticket: Ticket) {
        self.turns().leave(ticket);
    }

    /// The cipher lane was let go: kept for the one whose turn it is for [`HANDOFF_MS`].
    pub(super) fn cipher_freed(&self) {
        self.turns().freed_ms = self.now_ms();
    }

    /// How many buffers wait for the cipher lane.
    #[cfg(test)]
    pub fn cipher_waiting(&self) -> usize {
        self.turns().waiting()
    }
}
