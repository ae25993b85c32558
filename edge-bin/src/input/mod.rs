//! A connection's input that the device has not taken yet, and where the next read goes.
//!
//! Most rounds end holding nothing: the device takes all that was read. Those rounds read into
//! the device's scratch buffer, so an idle peer costs no input buffer. A round that ends with
//! bytes left over keeps them in the connection's own buffer. Once that holds more than
//! [`KEEP_PENDING`] bytes, new bytes are read in place after them and fed from there: a large
//! remainder (a message arriving slowly, input waiting for room) is not copied again each
//! round. A smaller one is still copied to the scratch buffer and back: reading in place
//! would grow its buffer by a read's worth, which is freed as soon as it drains, so a stream
//! of messages cut across reads would cost an allocation and a free each time where the copy
//! of at most 4 KiB costs none.
//!
//! The input capacity is the device's store-and-forward threshold (a megabyte by default):
//! a message up to that size is held until all of it is here. A read takes at most
//! [`READ_MAX`], and a connection's own buffer grows by doubling as far as what it holds
//! needs, so memory follows the messages actually in flight, not the threshold.
//!
//! What a read leaves held is memory too, and it is read before anyone knows how much of it
//! the device will take: so a connection reads no more than it may hold. [`KEEP_PENDING`] is
//! its own (counted at start for every connection); beyond that it holds what its [`Charge`]
//! has from the process's budget, taken before the read (a reading connection holds a read's
//! worth, given back when it waits; behind a CURVE layer, no more than the layer has for it:
//! nothing while the layer holds only part of a frame) and as its buffer grows. When the budget has no more, a
//! connection holding part of a message takes its device's lane, if free, which lets it grow
//! to the whole input capacity: one message at a time always arrives whole. Otherwise it reads
//! what it may (nothing, at worst) and is *starved*: it holds no destination and waits until
//! memory is given back.

use std::io;

use crate::budget::Charge;
use crate::net::Wire;

/// A buffer for held input larger than this is freed once it drains; more held bytes than
/// this are read after in place. Every connection may hold this much without asking the
/// budget (it is counted at start).
pub const KEEP_PENDING: usize = 4096;

/// The most one read takes: a round's work stays bounded however large the input capacity,
/// and a stream of small messages is read as it was with a 64 KiB buffer.
pub const READ_MAX: usize = 64 << 10;

#[derive(Debug)]
pub struct Input {
    /// What the device has not taken: `buf[start..]`. Its capacity stays within the input
    /// capacity, so reading into all of it never holds more than the device can take.
    buf: Vec<u8>,
    start: usize,
    /// The peer closed its side; what it sent is still fed until the device has all of it.
    eof: bool,
    /// The last read found nothing; no read until the socket is readable again.
    blocked: bool,
    /// What it may hold beyond [`KEEP_PENDING`]: its buffer's allocation, and while it
    /// reads, what a read may leave.
    charge: Charge,
    /// The budget let the last round read nothing: no read until memory is given back.
    starved: bool,
    /// Its buffer was freed since it last waited: what goes back then is news to those
    /// waiting for memory (a read's worth taken and not used is not).
    freed: bool,
}

/// What one [`Input::read_and_feed`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// Bytes read from the socket.
    pub read: usize,
    /// Bytes offered to the device: those held before and those read.
    pub offered: usize,
    /// Bytes the device took.
    pub used: usize,
}

impl Input {
    pub fn new(charge: Charge) -> Input {
        Input {
            buf: Vec::new(),
            start: 0,
            eof: false,
            blocked: false,
            charge,
            starved: false,
            freed: false,
        }
    }

    /// What the device has not taken (a refused greeting, for the log).
    pub fn unread(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or(&[])
    }

    /// Give up what the device has not taken (bytes another layer is to read first).
    pub fn take_unread(&mut self) -> Vec<u8> {
        let bytes = self.unread().to_vec();
        (self.buf, self.start) = (Vec::new(), 0);
        self.charge.shrink_to(0);
        bytes
    }

    /// Bytes it holds (of a message not all here, or not taken yet).
    pub fn held(&self) -> usize {
        self.buf.len() - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.buf.len()
    }

    pub fn is_eof(&self) -> bool {
        self.eof
    }

    pub fn is_blocked(&self) -> bool {
        self.blocked
    }

    /// The socket may have something to read: not at its end nor known to be empty.
    pub fn is_open(&self) -> bool {
        !self.eof && !self.blocked
    }

    /// The last round could read nothing for want of memory: wait until some is given back.
    pub fn is_starved(&self) -> bool {
        self.starved
    }

    /// It holds its device's lane: its sender must keep its message moving.
    pub fn holds_lane(&self) -> bool {
        self.charge.holds_lane()
    }

    /// It holds a whole message: what is left to it waits on the device (room at its
    /// destination), not on its sender.
    pub fn holds_message(&self) -> bool {
        zedge_core::wire::frame::holds_message(&self.buf[self.start..])
    }

    /// Going to wait: hold no more of the budget than the buffer does.
    pub fn trim(&mut self, lingers: bool) {
        if self.is_empty() && self.buf.capacity() > KEEP_PENDING && !(lingers && self.lingers()) {
            (self.buf, self.start) = (Vec::new(), 0);
            self.freed = true;
        }
        let held = self.buf.capacity().saturating_sub(KEEP_PENDING);
        if std::mem::take(&mut self.freed) {
            self.charge.shrink_to(held);
        } else {
            self.charge.shrink_quietly_to(held);
        }
    }

    /// Its buffer, drained, may be kept for a flow's next message: no larger than a CURVE
    /// layer keeps its own ([`crate::secure::KEEP`]), and not with the lane, which goes to
    /// the next as soon as it drains, nor while another buffer's claim stands (forty-eight
    /// senders of a message every 20 ms kept theirs so, beside tricklers holding the share,
    /// and a 64 KB flow waited seconds: attacker round 13, F2).
    fn lingers(&self) -> bool {
        self.buf.capacity() <= crate::secure::KEEP + KEEP_PENDING
            && !self.charge.holds_lane()
            && !self.charge.claim_stands()
    }

    /// The peer closed its side (a read found the end of the stream).
    pub fn end(&mut self) {
        self.eof = true;
    }

    /// A read found nothing to read.
    pub fn block(&mut self) {
        self.blocked = true;
    }

    /// The socket became readable.
    pub fn unblock(&mut self) {
        self.blocked = false;
    }

    /// Hold `bytes`, which came from this socket before anything that will be read, while
    /// nothing else is held.
    pub fn put_back(&mut self, bytes: Vec<u8>) {
        debug_assert!(self.is_empty());
        // Here already, and kept whatever the budget says (a pipe's worth at most).
        self.charge
            .force_to(bytes.capacity().saturating_sub(KEEP_PENDING));
        self.buf = bytes;
        self.start = 0;
    }

    /// Read once, unless the socket is at its end, blocked or the input full, no more than
    /// `read_len()` (and [`READ_MAX`]) bytes; then offer everything held to `feed`, which
    /// returns how much it took. `feed` also learns whether the read filled all it asked for
    /// (so the socket may hold more right now). `scratch` is the device's read buffer, as
    /// long as the input capacity. Errors are the read's (other than `WouldBlock`) and
    /// `feed`'s.
    pub fn read_and_feed<E: From<io::Error>>(
        &mut self,
        stream: &dyn Wire,
        scratch: &mut [u8],
        read_len: impl FnOnce() -> usize,
        feed: impl FnOnce(&[u8], bool) -> Result<usize, E>,
    ) -> Result<Fed, E> {
        let cap = scratch.len();
        let held = self.buf.len() - self.start;
        let mut max = 0;
        if self.is_open() && held < cap {
            let want = read_len().min(READ_MAX).min(cap - held);
            max = self.room_for(held, want, cap, stream);
            if max == 0 && want > 0 {
                // Its wire may need a frame of its own first, which may make room for the lane.
                stream.input_lane(self.charge.holds_lane());
                stream.pump()?;
                max = self.room_for(held, want, cap, stream);
            }
            self.starved = max == 0 && want > 0;
            stream.input_lane(self.charge.holds_lane());
        }
        let reads = max > 0;
        let mut fed = Fed::default();
        let mut more = false;
        if held > KEEP_PENDING || (held > 0 && !reads) {
            if reads {
                fed.read = self.read_in_place(stream, scratch, max)?;
                more = fed.read >= max;
            }
            fed.offered = self.buf.len() - self.start;
            fed.used = feed(&self.buf[self.start..], more)?;
            self.start += fed.used;
        } else {
            scratch[..held].copy_from_slice(&self.buf[self.start..]);
            self.buf.clear();
            self.start = 0;
            let mut len = held;
            if reads {
                let end = len + max;
                let read = stream.read(&mut scratch[len..end]);
                fed.read = match self.note(read) {
                    Ok(n) => n,
                    Err(e) => {
                        // What it held stays (a greeting cut short, for the log).
                        self.hold(&scratch[..held]);
                        return Err(e.into());
                    }
                };
                more = fed.read == end - len;
                len += fed.read;
            }
            if len > 0 {
                fed.offered = len;
                fed.used = match feed(&scratch[..len], more) {
                    Ok(used) => used,
                    Err(e) => {
                        // What the device refused (a greeting) stays for the log to show,
                        // within what the input holds without asking.
                        self.hold(&scratch[..len.min(KEEP_PENDING)]);
                        return Err(e);
                    }
                };
                self.hold(&scratch[fed.used..len]);
            }
        }
        if self.is_empty() {
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > KEEP_PENDING && !(stream.lingers() && self.lingers()) {
                self.buf = Vec::new();
                self.freed = true;
            }
        } else if self.held() <= KEEP_PENDING
            && self.buf.capacity() > KEEP_PENDING
            && (self.charge.holds_lane() || self.charge.account().budget().is_tight())
        {
            // A buffer that grew for a message now holds only the start of the next one:
            // that fits in what the connection has without asking, and the rest goes back
            // (the lane with it) rather than wait with the sender for the rest of its next
            // message. A CURVE sender of [a, 100 KB] messages at 40 KB/s kept the input lane
            // so, message after message, while four others' bodies, opened and whole, waited
            // for it with 108 KB of the budget each (attacker round 9, F1).
            let mut small = Vec::with_capacity(KEEP_PENDING);
            small.extend_from_slice(&self.buf[self.start..]);
            (self.buf, self.start) = (small, 0);
            self.freed = true;
        }
        if self.charge.holds_lane() {
            // Whether its message now needs a frame still to come through a CURVE layer:
            // noted before any other connection runs (the device's one thread).
            self.charge.note_lane_unfinished(stream.unfinished());
        }
        Ok(fed)
    }

    /// Bytes it may hold: its own and what its charge has.
    fn room(&self) -> usize {
        KEEP_PENDING.saturating_add(self.charge.bytes())
    }

    /// How much of a `want`-byte read it may make holding `held`: all of it if it may hold
    /// both, which it asks the budget for (doubling, as its buffer grows), then the lane if
    /// it holds part of a message and its wire has bytes ready for it ([`Wire::lane_ok`],
    /// asked only then: not on every read); else what room it has.
    fn room_for(&mut self, held: usize, want: usize, cap: usize, stream: &dyn Wire) -> usize {
        let mut want = want;
        if held + want > self.room() {
            // Room beyond what it has is asked only for bytes its wire has for it: a CURVE
            // layer part-way through a frame has none, and its read then asks for none (a
            // thousand senders part-way through large frames each took a read's worth of the
            // budget for plaintext that was not there: attacker round 4).
            if let Some(ready) = stream.ready() {
                want = want.min(ready.max(self.room().saturating_sub(held)));
            }
        }
        let need = held + want;
        if need > self.room() {
            let doubled = need.max(self.buf.capacity().saturating_mul(2)).min(cap);
            let grown = self.charge.grow_to(doubled - KEEP_PENDING)
                || self.charge.grow_to(need - KEEP_PENDING)
                || (held > 0
                    && stream.lane_ok()
                    && self.charge.take_lane_sealed(stream.unfinished()));
            if !grown {
                // Plaintext opened and waiting for it completes at once: its room is claimed
                // as memory is given back (`budget/claim.rs`).
                if stream.ready().is_some_and(|ready| ready >= want) {
                    self.charge.claim(need - KEEP_PENDING);
                }
                self.charge.refused();
            }
        }
        self.room().saturating_sub(held).min(want)
    }

    /// Read after the held bytes, in this buffer: `max` (which keeps the total within the
    /// input capacity), or for a full-size read as much as the buffer has room for. The
    /// buffer grows by doubling, as far as `max` more bytes need, never past the capacity.
    fn read_in_place(
        &mut self,
        stream: &dyn Wire,
        scratch: &mut [u8],
        max: usize,
    ) -> io::Result<usize> {
        let cap = scratch.len();
        self.buf.drain(..self.start);
        self.start = 0;
        let need = self.buf.len() + max;
        if need > self.buf.capacity() {
            let target = need
                .max(self.buf.capacity().saturating_mul(2))
                .min(cap)
                .min(self.room());
            self.buf.reserve_exact(target - self.buf.len());
        }
        if max > KEEP_PENDING {
            let r = stream.read_spare(&mut self.buf);
            self.note(r)
        } else {
            // A short read (a frame head after a body went by) must not take more than it
            // asks: through the scratch buffer, a few hundred bytes.
            let n = self.note(stream.read(&mut scratch[..max]))?;
            self.buf.extend_from_slice(&scratch[..n]);
            Ok(n)
        }
    }

    /// What a read brought: the end of the stream and nothing to read are noted, not errors.
    fn note(&mut self, read: io::Result<usize>) -> io::Result<usize> {
        match read {
            Ok(0) => {
                self.eof = true;
                Ok(0)
            }
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.blocked = true;
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }

    /// Keep `left` (from the scratch buffer) in the empty buffer, growing it as a `Vec` would
    /// but never past what it may hold (which the read that brought `left` was sized to).
    fn hold(&mut self, left: &[u8]) {
        let have = self.buf.capacity();
        if left.len() > have {
            let want = left.len().max(have.saturating_mul(2)).min(self.room());
            self.buf.reserve_exact(want);
        }
        self.buf.extend_from_slice(left);
    }
}

#[cfg(test)]
mod tests;
