//! The device's output through a [`Secure`]: sealed a frame at a time into `tx` (a frame
//! sealed where it lies in the device's queue, its header and body apart or not; one the
//! output gives only part of is staged until the rest comes), `tx` written to the socket.

use std::io::{self, IoSlice};

use zedge_core::conn::SessionError;
use zedge_core::curve::link::{self, Outgoing, SEAL_START, SEAL_WHOLE_MAX};
use zedge_core::wire::frame::{FrameHead, MAX_HEAD_LEN};

use super::{failed, Layer, Secure, FREE, IDLE, SEAL_MIN, TX_HIGH};
use crate::net::Stream;

impl Secure {
    /// The session's READY came early; give it to the link once the handshake owes it and,
    /// for a server, the session has taken the peer's metadata (`accepted`: the device says
    /// the peer is ready; a READY must not answer an INITIATE whose metadata the session
    /// refuses).
    pub fn send_stash(&mut self, accepted: bool) -> Result<(), SessionError> {
        // A client's INITIATE carries its metadata before it hears anything of the server's.
        if self.link.is_server() && !accepted {
            return Ok(());
        }
        if !self.link.owes_metadata() {
            return Ok(());
        }
        if let Some(ready) = self.stash.take() {
            self.take(&ready)?;
        }
        Ok(())
    }

    /// Take one unit of the device's output at the start of `plain` into `tx`: the bytes
    /// taken, or `None` if the unit is not all in `plain` or the budget has no room for it
    /// ([`Secure::starved`] then).
    fn take(&mut self, plain: &[u8]) -> Result<Option<usize>, SessionError> {
        if let Layer::V1(l) = &self.link {
            let room = l.out_room(plain.len());
            return self.take_into(plain, usize::MAX, room);
        }
        // What is left of the session's own greeting (which the link drops) comes first, in
        // as many pieces as the session sends it: it is no frame.
        let greeting = self.link.session_greeting_left();
        let frame = match FrameHead::decode(plain) {
            _ if greeting > 0 => plain.len().min(greeting),
            Ok(Some((head, hl))) => hl.saturating_add(usize::try_from(head.len).unwrap_or(0)),
            _ => plain.len().min(MAX_HEAD_LEN),
        };
        let room = link::sealed_len(frame).max(link::metadata_room(frame));
        self.take_into(plain, frame, room)
    }

    /// [`Secure::take`] for a unit of `frame` bytes, with `room` bytes of `tx` for it.
    fn take_into(
        &mut self,
        plain: &[u8],
        frame: usize,
        room: usize,
    ) -> Result<Option<usize>, SessionError> {
        let spare = self.tx.capacity() - self.tx.len();
        if plain.len() >= frame.min(room) && room > spare && !self.may_grow(room - spare, true) {
            return Ok(None);
        }
        let at = self.tx.len();
        self.tx.resize(at + room, 0);
        let r = self.link.take_outgoing(plain, &mut self.tx[at..]);
        let (taken, written) = match r {
            Ok(Outgoing::Taken { consumed, written }) => (Some(consumed), written),
            Ok(Outgoing::NeedMore(n)) => {
                self.staging_need = n;
                (None, 0)
            }
            Ok(Outgoing::Early) => {
                let frame = frame.min(plain.len());
                self.stash = Some(plain[..frame].to_vec());
                (Some(frame), 0)
            }
            Err(e) => {
                self.tx.truncate(at);
                return Err(e);
            }
        };
        self.tx.truncate(at + written);
        self.settle();
        Ok(taken)
    }

    /// Take the device's output (`bufs`, in order) as far as [`TX_HIGH`] lets, and write.
    pub(super) fn write(&mut self, sock: &Stream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        // Each write asks the budget afresh (what `tx` has room for may do, [`FREE`] at least).
        self.tx_starved = false;
        self.flush(sock)?;
        if self.passes_through() {
            return sock.write_vectored(bufs);
        }
        let mut cur = Cursor::new(bufs);
        let mut taken = 0;
        loop {
            let before = taken;
            taken += self.take_output(&mut cur)?;
            // A frame sealed as it goes in the room a spent budget leaves: once that room has
            // gone to the socket, the next piece is sealed into it.
            let sealing_on = self.sealing.is_some() && taken > before && !cur.is_empty();
            if !(self.flush(sock)? && sealing_on) {
                break;
            }
        }
        if taken == 0 {
            if self.owes() {
                // The socket is full: room comes as it drains, not from the budget.
                self.tx_starved = false;
            }
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(taken)
    }

    /// Take what `cur` holds into `tx`, sealed, as far as [`TX_HIGH`] and the budget let:
    /// the bytes taken.
    fn take_output(&mut self, cur: &mut Cursor<'_, '_>) -> io::Result<usize> {
        let mut taken = 0;
        while !cur.is_empty() && !self.tx_starved && self.tx.len() - self.tx_start < TX_HIGH {
            let n = if self.sealing.is_some() {
                match self.seal_more(cur.here()) {
                    Some(n) => n,
                    None => break,
                }
            } else if !self.staging.is_empty() {
                match self.stage(cur.here()).map_err(failed)? {
                    Some(n) => n,
                    None => break,
                }
            } else if let Some(n) = self.take_sealed(cur).map_err(failed)? {
                n
            } else if self.tx_starved {
                break;
            } else {
                match self.take(cur.here()).map_err(failed)? {
                    Some(n) => n,
                    None if self.tx_starved => break,
                    // Not all of the unit is in what the device gave: keep what is, until
                    // the rest comes.
                    None => {
                        let b = cur.here();
                        if !self.may_grow(b.len(), true) {
                            break;
                        }
                        self.staging.extend_from_slice(b);
                        self.settle();
                        b.len()
                    }
                }
            };
            cur.advance(n);
            taken += n;
        }
        Ok(taken)
    }

    /// A PLAIN connection past its handshake with nothing held: the device's output goes to
    /// the socket as it is.
    fn passes_through(&self) -> bool {
        matches!(&self.link, Layer::Plain(p) if p.is_active() && !p.owes_metadata())
            && self.staging.is_empty()
            && self.stash.is_none()
            && !self.owes()
    }

    /// Add the start of `b` to the unit being staged: the bytes taken, `None` if the budget
    /// has no room for them.
    fn stage(&mut self, b: &[u8]) -> Result<Option<usize>, SessionError> {
        let k = (self.staging_need - self.staging.len()).min(b.len());
        let spare = self.staging.capacity() - self.staging.len();
        if k > spare && !self.may_grow(k - spare, true) {
            return Ok(None);
        }
        self.staging.extend_from_slice(&b[..k]);
        if self.staging.len() == self.staging_need {
            let staged = std::mem::take(&mut self.staging);
            // Only its header was known: now the whole frame is.
            if self.take(&staged)?.is_none() {
                self.staging = staged;
            }
        }
        Ok(Some(k))
    }

    /// Seal the frame the device's output starts with at `cur`, once the handshake is done,
    /// wherever its bytes lie (a queued message's header and body are apart): the bytes
    /// taken, or `None` if this is not such a frame, not all of it is here, or the budget
    /// has no room for it ([`Secure::starved`] then).
    fn take_sealed(&mut self, cur: &Cursor<'_, '_>) -> Result<Option<usize>, SessionError> {
        if !matches!(&self.link, Layer::Curve(l) if l.can_seal()) {
            return Ok(None);
        }
        let Ok(Some((head, hl))) = FrameHead::decode(cur.here()) else {
            return Ok(None);
        };
        let Some(end) = usize::try_from(head.len)
            .ok()
            .and_then(|len| len.checked_add(hl))
        else {
            return Ok(None);
        };
        let Some(parts) = cur.parts(hl, end) else {
            return Ok(None);
        };
        let room = link::sealed_len(end);
        let spare = self.tx.capacity() - self.tx.len();
        let whole =
            end - hl <= SEAL_WHOLE_MAX && (room <= spare || self.may_grow(room - spare, true));
        if !whole {
            // Too long to seal whole, or no room for it: sealed as it goes, which needs no
            // more than `tx` has or FREE leaves, so that output never waits on the budget.
            // Its header is taken only once the sealing has begun.
            self.tx_starved = false;
            let begun = self.begin_long(head, parts.as_slice())?;
            return Ok(begun.then_some(hl));
        }
        let Layer::Curve(link) = &mut self.link else {
            return Ok(None);
        };
        let at = self.tx.len();
        self.tx.resize(at + room, 0);
        let sealed = link.seal(
            head.more,
            head.command,
            parts.as_slice(),
            &mut self.tx[at..],
        );
        let written = match sealed {
            Ok(n) => n,
            Err(e) => {
                self.tx.truncate(at);
                return Err(e);
            }
        };
        self.tx.truncate(at + written);
        self.settle();
        Ok(Some(end))
    }

    /// Start a frame too long to seal whole ([`SEAL_WHOLE_MAX`]): its MAC, over `body` where
    /// it lies, and the start of its MESSAGE into `tx`; the body follows as the device's
    /// output gives it again ([`Secure::seal_more`]): whether it began (not if the budget
    /// has no room for the start, [`Secure::starved`] then).
    fn begin_long(&mut self, head: FrameHead, body: &[&[u8]]) -> Result<bool, SessionError> {
        let spare = self.tx.capacity() - self.tx.len();
        if SEAL_START > spare && !self.may_grow(SEAL_START - spare, true) {
            if self.owes() {
                return Ok(false);
            }
            // As [`Secure::seal_more`]: the start goes on, charged past the budget if need be.
            let held = self.held() + SEAL_START - spare;
            self.charge.force_to(held.saturating_sub(FREE));
            self.tx_starved = false;
        }
        let Layer::Curve(link) = &mut self.link else {
            return Ok(false);
        };
        let mut start = [0u8; SEAL_START];
        let (n, sealing) = link.seal_long(head.more, head.command, body, &mut start)?;
        self.tx.extend_from_slice(&start[..n]);
        self.sealing = Some(Box::new(sealing));
        self.settle();
        Ok(true)
    }

    /// The next piece of a frame being sealed as it goes, from the start of `plain`, into
    /// `tx` as far as [`TX_HIGH`]: the bytes taken, `None` if `tx` has no room for any. When
    /// the budget is spent (the message being sealed may hold it) it goes on in the room
    /// `tx` has and what [`FREE`] leaves, a slow sender rather than a stalled one.
    fn seal_more(&mut self, plain: &[u8]) -> Option<usize> {
        let left = self.sealing.as_ref().map_or(0, |s| s.left());
        let want = plain
            .len()
            .min(left)
            .min(TX_HIGH.saturating_sub(self.tx.len() - self.tx_start));
        if want > self.tx.capacity() - self.tx.len() && self.tx_start > 0 {
            // What went makes room first.
            self.tx.drain(..self.tx_start);
            self.tx_start = 0;
        }
        let spare = self.tx.capacity() - self.tx.len();
        let k = if want <= spare || self.may_grow(want - spare, true) {
            want
        } else if self.owes() {
            // What is sealed goes first; then the room it leaves is sealed into again.
            self.tx_starved = false;
            want.min(spare)
        } else {
            // At least SEAL_MIN at a time, charged past the budget if need be: the input may
            // hold all of FREE (the start of a frame waiting for memory) while the device's
            // queues hold the budget with the messages for this output, and each waited on
            // the other (a CURVE queue whose clients and workers both waited so stopped:
            // attacker round 14, F1). The output lane's holder takes a whole TX_HIGH so
            // (`budget/output.rs`).
            let step = if self.charge.take_output_lane() {
                TX_HIGH
            } else {
                SEAL_MIN
            };
            let free = spare + FREE.saturating_sub(self.held());
            let k = want.min(free.max(step));
            if k > free {
                let held = self.held() + (k - spare);
                self.charge.force_to(held.saturating_sub(FREE));
            }
            self.tx_starved = false;
            k
        };
        if k == 0 {
            return None;
        }
        self.tx.reserve_exact(k);
        let sealing = self.sealing.as_mut()?;
        let at = self.tx.len();
        self.tx.resize(at + k, 0);
        let n = sealing.seal_next(&plain[..k], &mut self.tx[at..]);
        if sealing.left() == 0 {
            self.sealing = None;
        }
        self.settle();
        Some(n)
    }

    /// Write what `tx` holds until the socket is full: whether all of it went.
    pub fn flush(&mut self, sock: &Stream) -> io::Result<bool> {
        let owed = self.owes();
        while self.owes() {
            match sock.write_vectored(&[IoSlice::new(&self.tx[self.tx_start..])]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.tx_start += n;
                    self.wrote_ms = self.charge.account().now_ms();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // What went is dropped once it is a TX_HIGH's worth: a reader that
                    // always takes a little must not make the buffer grow behind it.
                    if self.tx_start >= TX_HIGH {
                        self.tx.drain(..self.tx_start);
                        self.tx_start = 0;
                    }
                    self.report_owed();
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        self.tx.clear();
        self.tx_start = 0;
        self.charge.let_output_lane_go();
        self.drained_ms = self.charge.account().now_ms();
        self.report_owed();
        // A peer that read all it was sent keeps up: its room is kept for what comes next,
        // for LINGER_MS after it drained (not after each look at a buffer with nothing to
        // send: every write tried renewed it so, and twelve queue clients and two workers
        // kept all of the budget in output buffers with nothing in them, while each
        // connection's next request waited for memory to be read: attacker round 14, F1).
        if owed && self.tx.capacity() > IDLE {
            self.linger();
        }
        self.trim();
        Ok(true)
    }

    /// Tell the peer's queue ([`Secure::owed_to`]) since when `tx` has held bytes the peer
    /// takes none of: since the socket last took some, while it owes; 0 once it has
    /// drained. (Not since `tx` last drained: a subscriber reading a steady stream has some
    /// owed at every look.)
    pub fn report_owed(&self) {
        if let Some(owed) = &self.owed_to {
            let since = if self.owes() {
                self.wrote_ms.max(self.drained_ms) + 1
            } else {
                0
            };
            owed.store(since, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Report to `owed` ([`Secure::report_owed`]): the peer's queue reads it
    /// (`HeapQueue::with_downstream`).
    pub fn owed_to(&mut self, owed: std::sync::Arc<std::sync::atomic::AtomicU64>) {
        self.owed_to = Some(owed);
    }
}

/// The most pieces a frame sealed where it lies may be in ([`Cursor::parts`]); one in more
/// is staged.
const PARTS: usize = 8;

/// Where a write is in the device's output: `bufs[i][off..]`, then the rest of `bufs`.
struct Cursor<'a, 'b> {
    bufs: &'a [IoSlice<'b>],
    i: usize,
    off: usize,
}

impl<'a> Cursor<'a, '_> {
    fn new<'b>(bufs: &'a [IoSlice<'b>]) -> Cursor<'a, 'b> {
        let mut cur = Cursor { bufs, i: 0, off: 0 };
        cur.advance(0);
        cur
    }

    fn is_empty(&self) -> bool {
        self.i >= self.bufs.len()
    }

    /// The bytes of the slice it is in, from where it is.
    fn here(&self) -> &'a [u8] {
        self.bufs
            .get(self.i)
            .map_or(&[], |b| b.get(self.off..).unwrap_or(&[]))
    }

    /// Past `n` more bytes (no further than the end).
    fn advance(&mut self, mut n: usize) {
        while let Some(b) = self.bufs.get(self.i) {
            let k = n.min(b.len() - self.off);
            (self.off, n) = (self.off + k, n - k);
            if self.off < b.len() {
                return;
            }
            (self.i, self.off) = (self.i + 1, 0);
        }
    }

    /// Bytes `from..to` after where it is, as the pieces they lie in, if all are here in at
    /// most [`PARTS`] pieces.
    fn parts(&self, from: usize, to: usize) -> Option<Parts<'a>> {
        let mut parts = Parts::default();
        let (mut at, mut i, mut off) = (0usize, self.i, self.off);
        while at < to {
            let b: &'a [u8] = self.bufs.get(i)?.get(off..)?;
            let (lo, hi) = (from.max(at), to.min(at + b.len()));
            if lo < hi {
                *parts.list.get_mut(parts.n)? = &b[lo - at..hi - at];
                parts.n += 1;
            }
            (at, i, off) = (at + b.len(), i + 1, 0);
        }
        Some(parts)
    }
}

/// A frame's body as the pieces it lies in.
#[derive(Default)]
struct Parts<'a> {
    list: [&'a [u8]; PARTS],
    n: usize,
}

impl<'a> Parts<'a> {
    fn as_slice(&self) -> &[&'a [u8]] {
        &self.list[..self.n]
    }
}
