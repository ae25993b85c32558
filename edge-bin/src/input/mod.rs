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
//! worth, given back when it waits) and as its buffer grows. When the budget has no more, a
//! connection holding part of a message takes its device's lane, if free, which lets it grow
//! to the whole input capacity: one message at a time always arrives whole. Otherwise it reads
//! what it may (nothing, at worst) and is *starved*: it holds no destination and waits until
//! memory is given back.

use std::io;

use crate::budget::Charge;
use crate::net::Stream;

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
        }
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

    /// Going to wait: hold no more of the budget than the buffer does.
    pub fn trim(&mut self) {
        let held = self.buf.capacity().saturating_sub(KEEP_PENDING);
        self.charge.shrink_to(held);
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
        stream: &Stream,
        scratch: &mut [u8],
        read_len: impl FnOnce() -> usize,
        feed: impl FnOnce(&[u8], bool) -> Result<usize, E>,
    ) -> Result<Fed, E> {
        let cap = scratch.len();
        let held = self.buf.len() - self.start;
        let mut max = 0;
        if self.is_open() && held < cap {
            let want = read_len().min(READ_MAX).min(cap - held);
            max = self.room_for(held, want, cap);
            self.starved = max == 0 && want > 0;
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
                fed.read = self.note(stream.read(&mut scratch[len..end]))?;
                more = fed.read == end - len;
                len += fed.read;
            }
            if len > 0 {
                fed.offered = len;
                fed.used = feed(&scratch[..len], more)?;
                self.hold(&scratch[fed.used..len]);
            }
        }
        if self.is_empty() {
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > KEEP_PENDING {
                self.buf = Vec::new();
            }
        }
        Ok(fed)
    }

    /// Bytes it may hold: its own and what its charge has.
    fn room(&self) -> usize {
        KEEP_PENDING.saturating_add(self.charge.bytes())
    }

    /// How much of a `want`-byte read it may make holding `held`: all of it if it may hold
    /// both, which it asks the budget for (doubling, as its buffer grows), then the lane if
    /// it holds part of a message; else what room it has.
    fn room_for(&mut self, held: usize, want: usize, cap: usize) -> usize {
        let need = held + want;
        if need > self.room() {
            let doubled = need.max(self.buf.capacity().saturating_mul(2)).min(cap);
            let grown = self.charge.grow_to(doubled - KEEP_PENDING)
                || self.charge.grow_to(need - KEEP_PENDING)
                || (held > 0 && self.charge.take_lane());
            if !grown {
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
        stream: &Stream,
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
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    use std::sync::Arc;

    use async_io::Async;

    use crate::budget::{Account, Budget};

    const CAP: usize = 16 << 10;

    /// A device's account: `budget` bytes to share, and a lane that lets one connection hold
    /// the whole input capacity.
    fn account(budget: usize) -> Arc<Account> {
        Arc::new(Account::new(Arc::new(Budget::new(budget)), CAP, 0))
    }

    struct Peer {
        tx: UnixStream,
        rx: Stream,
        input: Input,
        scratch: Vec<u8>,
    }

    impl Peer {
        fn new() -> Peer {
            Peer::charged(Charge::new(Account::unlimited()))
        }

        fn charged(charge: Charge) -> Peer {
            let (tx, rx) = UnixStream::pair().unwrap();
            Peer {
                tx,
                rx: Stream::Unix(Async::new(rx).unwrap()),
                input: Input::new(charge),
                scratch: vec![0; CAP],
            }
        }

        /// Send `data`, then one round whose device takes `take` of what it is offered, all
        /// of it if `None`: what was fed, and the bytes offered.
        fn round(&mut self, data: &[u8], take: Option<usize>) -> (Fed, Vec<u8>) {
            self.tx.write_all(data).unwrap();
            let mut seen = Vec::new();
            let fed = self
                .input
                .read_and_feed(
                    &self.rx,
                    &mut self.scratch,
                    || usize::MAX,
                    |b: &[u8], _| {
                        seen = b.to_vec();
                        Ok::<_, io::Error>(take.unwrap_or(b.len()).min(b.len()))
                    },
                )
                .unwrap();
            (fed, seen)
        }
    }

    #[test]
    fn an_idle_or_drained_connection_holds_no_buffer() {
        let mut p = Peer::new();
        let (fed, seen) = p.round(b"hello", None);
        assert_eq!((fed.read, fed.offered, fed.used), (5, 5, 5));
        assert_eq!(seen, b"hello");
        assert_eq!(p.input.buf.capacity(), 0, "read into the scratch buffer");
        let (fed, _) = p.round(b"", None);
        assert_eq!(fed, Fed::default());
        assert!(p.input.is_blocked());
    }

    #[test]
    fn a_small_remainder_is_kept_and_its_buffer_reused() {
        let mut p = Peer::new();
        p.round(b"abcdef", Some(4));
        assert_eq!(&p.input.buf[p.input.start..], b"ef");
        let kept = p.input.buf.as_ptr();
        let (fed, seen) = p.round(b"gh", Some(3));
        assert_eq!(seen, b"efgh");
        assert_eq!(fed.read, 2);
        assert_eq!(&p.input.buf[p.input.start..], b"h");
        assert_eq!(p.input.buf.as_ptr(), kept, "no new allocation");
        p.round(b"", None);
        assert!(p.input.is_empty());
        assert!(
            p.input.buf.capacity() > 0,
            "a small buffer is kept once drained"
        );
    }

    #[test]
    fn a_large_remainder_is_read_after_in_place_up_to_the_capacity() {
        let mut p = Peer::new();
        let big: Vec<u8> = (0..CAP as u32).map(|i| i as u8).collect();
        p.round(&big[..6000], Some(0));
        assert_eq!(p.input.buf.len(), 6000);
        p.scratch.fill(0xAA);
        // More than fits: only what the capacity leaves room for is read.
        let (fed, seen) = p.round(&big[6000..], Some(1000));
        assert_eq!(fed.read, CAP - 6000);
        assert_eq!(seen, big);
        assert_eq!(
            p.input.buf.capacity(),
            CAP,
            "never more than the input capacity"
        );
        let scratch_untouched = p.scratch.iter().all(|&b| b == 0xAA);
        assert!(
            scratch_untouched,
            "read in place, not through the scratch buffer"
        );
        // The remainder moves to the front of the buffer and is read after again.
        p.tx.write_all(&[7; 1000]).unwrap();
        let (fed, seen) = p.round(b"", Some(CAP));
        assert_eq!(fed.read, 1000);
        assert_eq!(&seen[..CAP - 1000], &big[1000..]);
        assert!(p.input.is_empty());
        assert_eq!(
            p.input.buf.capacity(),
            0,
            "a large buffer is freed once drained"
        );
    }

    #[test]
    fn held_input_is_fed_without_a_read_at_the_end_of_the_stream() {
        let mut p = Peer::new();
        p.round(b"abc", Some(1));
        drop(p.tx);
        let mut seen = Vec::new();
        let fed = p
            .input
            .read_and_feed(
                &p.rx,
                &mut p.scratch,
                || usize::MAX,
                |b: &[u8], _| {
                    seen = b.to_vec();
                    Ok::<_, io::Error>(0)
                },
            )
            .unwrap();
        assert_eq!((fed.read, fed.offered, fed.used), (0, 2, 0));
        assert!(p.input.is_eof());
        assert_eq!(seen, b"bc");
    }

    #[test]
    fn a_short_read_takes_no_more_than_asked() {
        let mut p = Peer::new();
        p.tx.write_all(&[1; 100]).unwrap();
        let fed = p
            .input
            .read_and_feed(
                &p.rx,
                &mut p.scratch,
                || 10,
                |_: &[u8], _| Ok::<_, io::Error>(0),
            )
            .unwrap();
        assert_eq!(fed.read, 10);
        assert_eq!(p.input.buf.len(), 10);
    }

    #[test]
    fn a_connection_reads_no_more_than_it_may_hold() {
        let account = Arc::new(Account::new(Arc::new(Budget::new(0)), 0, 0));
        let mut p = Peer::charged(Charge::new(account.clone()));
        let (fed, _) = p.round(&[5; 10_000], Some(0));
        assert_eq!(
            fed.read, KEEP_PENDING,
            "its own and no more: the budget is spent"
        );
        assert!(!p.input.is_starved());
        let (fed, _) = p.round(b"", Some(0));
        assert_eq!(fed.read, 0);
        assert!(
            p.input.is_starved(),
            "it holds what it may and waits for memory"
        );
        assert_eq!(account.budget().used(), 0);
    }

    #[test]
    fn a_read_takes_room_from_the_budget_and_a_waiting_connection_gives_it_back() {
        let account = account(1 << 20);
        let mut p = Peer::charged(Charge::new(account.clone()));
        let (fed, _) = p.round(&[5; 10_000], None);
        assert_eq!(fed.read, 10_000);
        assert!(
            account.budget().used() >= CAP - KEEP_PENDING,
            "a read's worth, asked first"
        );
        p.input.trim();
        assert_eq!(
            account.budget().used(),
            0,
            "drained, it holds nothing of the budget"
        );
        p.round(&[5; 10_000], Some(0));
        p.input.trim();
        assert_eq!(p.input.buf.len(), 10_000);
        assert_eq!(
            account.budget().used(),
            p.input.buf.capacity() - KEEP_PENDING,
            "what its buffer holds, waiting"
        );
        drop(p);
        assert_eq!(account.budget().used(), 0);
    }

    #[test]
    fn one_connection_at_a_time_takes_the_lane_and_gets_its_message_whole() {
        let account = account(2_000);
        let mut one = Peer::charged(Charge::new(account.clone()));
        let mut two = Peer::charged(Charge::new(account.clone()));
        let message = vec![9; CAP - 100];
        // Both hold part of a message the device takes only whole.
        one.round(&message[..5_000], Some(0));
        two.round(&message[..5_000], Some(0));
        one.tx.write_all(&message[5_000..]).unwrap();
        let mut held = 0;
        for _ in 0..10 {
            let (fed, _) = one.round(b"", Some(0));
            held = fed.offered;
        }
        assert_eq!(held, message.len(), "the lane's holder gets all of it");
        two.tx.write_all(&message[5_000..]).unwrap();
        two.round(b"", Some(0));
        two.round(b"", Some(0));
        assert!(two.input.is_starved(), "the other waits for memory");
        assert!(two.input.buf.len() < message.len());
        // The first message goes; its buffer and the lane go back: the other gets its turn.
        one.round(b"", None);
        one.input.trim();
        assert!(account.take_freed());
        let mut held = 0;
        for _ in 0..10 {
            let (fed, _) = two.round(b"", Some(0));
            held = fed.offered;
        }
        assert_eq!(held, message.len());
    }
}
