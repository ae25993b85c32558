//! Waiting, in the socket, for the rest of a large message that is passed on whole.
//!
//! A message up to the store-and-forward threshold is routed once all of it is here
//! ([`Device::awaits`]). Read into the input buffer, a 64 KiB message is copied three times
//! on its way through (socket to buffer, buffer to queue, queue to socket); routed while its
//! body is still in the socket, the body goes by through a pipe ([`Bypass`]) and is never
//! copied by us. So when the device waits for a large body, the connection does not read it:
//! it lets the socket wake it once all of the body can be read (a receive low-water mark),
//! tells the device the bytes are there (`ahead`), and the body goes by.
//!
//! What it may wait for is bounded: at most [`WAIT_MAX`] body bytes, which a socket holds
//! unread with its default receive buffer (Linux: 128 KiB, half of it for data), so the kernel
//! holds no more for us than it would for any peer we are not reading; and for at most
//! [`PATIENCE`], after which (or when the socket wakes us without all of it: the peer closed,
//! or its window is full) the body is read and copied as any other. A slow or stalled sender
//! holds no destination meanwhile, as with any message not yet all here.

//!
//! Tried and left out: while the device waits for the last few bytes of a large message (too
//! few to go by), reading just those and the next frame's head, so that a full-size read does
//! not take most of the next message's body. It kept every 64 KiB body going by. It was taken
//! out while hunting a stall (a queue client beside deaf clients under a spent `memory_max`,
//! `attack_round3.rs` `large_replies_reach_...`, over 3 s in about one run of ten) that turned
//! out to be the queue's (`shed_behind` in core's `queue.rs`) and happened without it too; it
//! has not been tried again since. Without it, one probe run of four of the 64 KiB streamer
//! read about one message in ten (`docs/performance.md`).
//!
//! [`Device::awaits`]: zedge_core::device::Device::awaits
//! [`Bypass`]: crate::bypass::Bypass

use std::time::{Duration, Instant};

use zedge_core::device::PeerId;

use crate::bypass::BYPASS_MIN;
use crate::input::Input;
use crate::net::Stream;

/// The most body bytes a connection waits for in its socket.
pub const WAIT_MAX: u64 = 64 << 10;

/// How long it waits for them before reading what has come.
pub const PATIENCE: Duration = Duration::from_millis(100);

#[derive(Debug, Default)]
pub struct Whole {
    /// Waiting until then, the socket's low-water mark set.
    until: Option<Instant>,
    /// The wait for the message at the start of the input ended without all of it: it is read.
    given_up: bool,
}

impl Whole {
    /// Waiting: nothing is read, and what is here is offered with what the socket holds.
    pub fn waiting(&self) -> bool {
        self.until.is_some()
    }

    /// When the wait ends if the bytes have not come.
    pub fn due(&self) -> Option<Instant> {
        self.until
    }

    /// After the device was fed: start, go on with or end the wait, given what it still
    /// `awaits` of the message at the start of the input. `woken`: the socket became readable
    /// since the last round. Whether the connection's state changed (the next round must run).
    pub fn update(
        &mut self,
        id: PeerId,
        awaits: Option<u64>,
        woken: bool,
        stream: &Stream,
        input: &mut Input,
    ) -> bool {
        let Some(left) = awaits else {
            // Routed, or the input went another way: the body, if any, goes by as usual.
            self.given_up = false;
            if self.waiting() {
                log::trace!("{id:?}: all of the message is in the socket");
            }
            return self.stop(stream, input);
        };
        if let Some(until) = self.until {
            if woken || Instant::now() >= until {
                log::trace!("{id:?}: stopped waiting for {left} bytes of a message in the socket");
                self.given_up = true;
                return self.stop(stream, input);
            }
            return false;
        }
        let wait = !self.given_up
            && (BYPASS_MIN..=WAIT_MAX).contains(&left)
            && !input.is_eof()
            && stream.wait_for_bytes(u32::try_from(left).unwrap_or(u32::MAX));
        if wait {
            log::trace!("{id:?}: waiting for {left} bytes of a message in the socket");
            self.until = Some(Instant::now() + PATIENCE);
            // Read nothing until the socket says all of it is there.
            input.block();
        }
        wait
    }

    /// The connection takes no input for now: no wait goes on (the message is looked at
    /// afresh when it does).
    pub fn cancel(&mut self, stream: &Stream, input: &mut Input) -> bool {
        self.stop(stream, input)
    }

    fn stop(&mut self, stream: &Stream, input: &mut Input) -> bool {
        if self.until.take().is_none() {
            return false;
        }
        stream.wait_for_bytes(1);
        input.unblock();
        true
    }
}
