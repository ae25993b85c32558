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
//! The read before: a message whose body is partly read can no longer go by, and a full-size
//! read after a large message would take most of the next one. So while the device waits for
//! the last bytes of a large message (too few to go by), the next read takes just those and
//! the next frame's head.
//!
//! [`Device::awaits`]: zedge_core::device::Device::awaits
//! [`Bypass`]: crate::bypass::Bypass

use std::time::{Duration, Instant};

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

    /// The most the next read may take, where it matters: nothing while waiting; the last
    /// `awaits` bytes of a large message (which `held` bytes of are here) and the next
    /// frame's `routing_len`, so that the next message's body stays in the socket.
    pub fn read_len(&self, awaits: Option<u64>, held: usize, routing_len: usize) -> Option<usize> {
        if self.waiting() {
            return Some(0);
        }
        let left = awaits?;
        let large = (held as u64).saturating_add(left) >= BYPASS_MIN;
        (large && (left < BYPASS_MIN || self.given_up)).then(|| {
            usize::try_from(left)
                .unwrap_or(usize::MAX)
                .saturating_add(routing_len)
        })
    }

    /// After the device was fed: start, go on with or end the wait, given what it still
    /// `awaits` of the message at the start of the input. `woken`: the socket became readable
    /// since the last round. Whether the connection's state changed (the next round must run).
    pub fn update(
        &mut self,
        awaits: Option<u64>,
        woken: bool,
        stream: &Stream,
        input: &mut Input,
    ) -> bool {
        let Some(left) = awaits else {
            // Routed, or the input went another way: the body, if any, goes by as usual.
            self.given_up = false;
            return self.stop(stream, input);
        };
        if let Some(until) = self.until {
            if woken || Instant::now() >= until {
                log::trace!("stopped waiting for {left} bytes of a message in the socket");
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
            log::trace!("waiting for {left} bytes of a message in the socket");
            self.until = Some(Instant::now() + PATIENCE);
            // Read nothing until the socket says all of it is there.
            input.block();
        }
        wait
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

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTING: usize = 265;

    #[test]
    fn reads_nothing_while_waiting() {
        let w = Whole {
            until: Some(Instant::now()),
            given_up: false,
        };
        assert_eq!(w.read_len(Some(40_000), 300, ROUTING), Some(0));
    }

    #[test]
    fn reads_just_the_end_of_a_large_message_and_the_next_head() {
        let w = Whole::default();
        // 60 KiB here, 4 KiB to come: too few to go by; the read stops at the next head.
        assert_eq!(
            w.read_len(Some(4096), 60 << 10, ROUTING),
            Some(4096 + ROUTING)
        );
        // Enough to go by: the caller waits for it (`update`), reads nothing more here.
        assert_eq!(w.read_len(Some(40_000), 300, ROUTING), None);
        // A small message cut across reads is read as any other input.
        assert_eq!(w.read_len(Some(100), 200, ROUTING), None);
        assert_eq!(w.read_len(None, 0, ROUTING), None);
    }

    #[test]
    fn after_giving_up_reads_the_rest_and_no_further() {
        let w = Whole {
            until: None,
            given_up: true,
        };
        assert_eq!(
            w.read_len(Some(40_000), 300, ROUTING),
            Some(40_000 + ROUTING)
        );
    }
}
