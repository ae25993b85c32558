//! A peer's output: written to its socket, and followed frame by frame as it goes, so that a
//! stopping device can say what it could not deliver ([`Queued`]).

use std::io::{self, IoSlice};

use zedge_core::device::{ByteQueue, PeerId, Side};

use super::{Dev, DeviceHost};
use crate::net::{Stream, Wire};
use crate::outframes::{OutFrames, Queued};
use crate::secure::{Secure, Secured};
use std::cell::RefCell;

impl DeviceHost {
    /// No connection has output waiting.
    pub fn all_flushed(&self) -> bool {
        let dev = self.dev.borrow();
        self.conns.borrow().keys().all(|&id| {
            let (a, b) = dev.output(id);
            a.is_empty() && b.is_empty()
        })
    }

    /// `n` bytes of a peer's output are about to be consumed: written, or taken into a pipe.
    pub fn output_written(&self, dev: &Dev, id: PeerId, n: usize) {
        let Some(q) = dev.queue(id) else { return };
        let mut frames = self.frames.borrow_mut();
        let f = frames.entry(id).or_default();
        if n == q.len() && !dev.receiving(id) {
            // All of it, and it ends at a frame boundary: nothing to decode (the usual case,
            // so following the frames costs the message path nothing).
            f.drained();
        } else {
            f.written(q.slices(), n);
        }
    }

    /// `n` body bytes went to a peer's socket past its queue.
    pub fn output_bypassed(&self, id: PeerId, n: u64) {
        self.frames.borrow_mut().entry(id).or_default().bypassed(n);
    }

    /// Where the frames of `id`'s output stand now.
    pub fn output_frames(&self, id: PeerId) -> OutFrames {
        self.frames.borrow().get(&id).copied().unwrap_or_default()
    }

    /// The bytes taken from `id`'s output when its frames stood at `frames` all came back to
    /// its queue ([`Device::return_output`]).
    ///
    /// [`Device::return_output`]: zedge_core::device::Device::return_output
    pub fn output_restored(&self, id: PeerId, frames: OutFrames) {
        self.frames.borrow_mut().insert(id, frames);
    }

    /// Bytes taken from `id`'s output came back to its queue ([`Device::return_output`]).
    ///
    /// [`Device::return_output`]: zedge_core::device::Device::return_output
    pub fn output_returned(&self, id: PeerId) {
        self.frames.borrow_mut().entry(id).or_default().returned();
    }

    /// A write found `id`'s socket full: what it holds untaken is the mark its peer's reading
    /// is told by when the device tries it (`Device::poll_probe`). Only a queue's clients and
    /// a queue's or streamer's workers are ever tried (a worker that holds its sender in the
    /// middle of a message).
    fn socket_full(&self, dev: &Dev, id: PeerId, stream: &Stream) {
        if !self.probes {
            return;
        }
        if let Some(h) = self.conns.borrow().get(&id) {
            h.backlog
                .set((dev.written(id), stream.unsent().unwrap_or(0)));
        }
    }

    /// What the connections still have queued, for the report at stop ([`Left`]). A
    /// message held back behind one in progress (`later.rs`) counts as queued.
    pub fn queued(&self) -> Left {
        let keeps = self.spool_keeps();
        let dev = self.dev.borrow();
        let frames = self.frames.borrow();
        let mut left = Left::default();
        for (&id, h) in self.conns.borrow().iter() {
            let Some(out) = dev.queue(id) else { continue };
            let f = frames.get(&id).copied().unwrap_or_default();
            let held = out.held_back();
            let messages = f
                .undelivered(out.slices())
                .zip(OutFrames::at_message().undelivered(std::iter::once(held)))
                .map(|(a, b)| a + b);
            let n = (out.len() + held.len()) as u64;
            if n == 0 && messages == Some(0) {
                continue;
            }
            let q = if h.side == Side::Capture {
                &mut left.copies
            } else if let Some(&live) = keeps.get(&id) {
                if live && f.begun() {
                    // The message it had begun came live: lost with its connection.
                    let rest = f.first_unbegun(out.slices()).unwrap_or(0);
                    left.peers.add(rest, Some(1));
                    left.spool
                        .add(n - rest.min(n), messages.map(|m| m.saturating_sub(1)));
                    continue;
                }
                &mut left.spool
            } else {
                &mut left.peers
            };
            q.add(n, messages);
        }
        let (n, bytes) = self.spool_taken_back();
        left.spool.messages += n;
        left.spool.bytes += bytes;
        left
    }
}

impl DeviceHost {
    /// A peer reset because the sender of a message going into its queue left (it cannot
    /// be finished), once what was owed before it was flushed: the messages still queued
    /// for it, and those held back behind the cut one, are lost with its connection, and
    /// counted as aborted (attacker round 29, I6: counted nowhere). The cut one was counted
    /// when it was aborted. Not a spool's receiver's: what it holds goes back through the
    /// spool ([`DeviceHost::recover_to_spool`]).
    pub fn count_reset_loss(&self, id: PeerId) {
        if self.spool_keeps().contains_key(&id) {
            // A spool's receiver: what it had not begun goes back through the spool.
            return;
        }
        let f = self.output_frames(id);
        let n = self.peek(|dev| {
            let q = dev.queue(id)?;
            let queued = f.undelivered(q.slices())?;
            let held = OutFrames::at_message().undelivered(std::iter::once(q.held_back()))?;
            Some(queued.saturating_sub(1) + held)
        });
        if let Some(n) = n.filter(|&n| n > 0) {
            self.with_device(|dev| dev.count_reset_loss(n));
        }
    }
}

/// What a stopping device's connections still have queued when its flush deadline passes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Left {
    /// The peers': lost with their connections.
    pub peers: Queued,
    /// A spool's receivers' ([`DeviceHost::spool_keeps`]), and what was taken back out of
    /// their queues ([`DeviceHost::spool_taken_back`]): in the spool, or going to it, sent
    /// after the restart.
    pub spool: Queued,
    /// The capture readers' (copies, which they may lose).
    pub copies: Queued,
}

/// [`write_output`] to a peer's socket `stream`, through its CURVE layer if it has one (then
/// with the ciphertext that layer still holds, a handshake command perhaps, flushed too).
pub fn write_peer(
    host: &DeviceHost,
    dev: &mut Dev,
    id: PeerId,
    stream: &Stream,
    secure: Option<&RefCell<Secure>>,
) -> io::Result<(usize, bool)> {
    let Some(secure) = secure else {
        return write_output(host, dev, id, stream, stream);
    };
    let wire = Secured { stream, secure };
    let (n, full) = write_output(host, dev, id, &wire, stream)?;
    let flushed = secure.borrow_mut().flush(stream)?;
    Ok((n, full || !flushed))
}

/// The most slices of a peer's output one write takes. A shared piece (a large body fanned
/// out) is a slice of its own, so that a queue of them still goes out in few writes, as a
/// queue of copies does.
const WRITE_SLICES: usize = 64;

/// Write a peer's output to `wire` (its socket `stream`, or through its security layer) until
/// it is gone or the socket is full: the bytes written, and whether the socket is full.
pub fn write_output(
    host: &DeviceHost,
    dev: &mut Dev,
    id: PeerId,
    wire: &dyn Wire,
    stream: &Stream,
) -> io::Result<(usize, bool)> {
    let mut written = 0;
    loop {
        let Some(q) = dev.queue(id) else {
            return Ok((written, false));
        };
        let wrote = if q.has_pieces() {
            let mut iov = [IoSlice::new(&[]); WRITE_SLICES];
            let mut n = 0;
            for (to, s) in iov.iter_mut().zip(q.slices()) {
                *to = IoSlice::new(s);
                n += 1;
            }
            wire.write_vectored(&iov[..n])
        } else {
            let (a, b) = q.front();
            if a.is_empty() && b.is_empty() {
                return Ok((written, false));
            }
            wire.write_vectored(&[IoSlice::new(a), IoSlice::new(b)])
        };
        match wrote {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                host.output_written(dev, id, n);
                dev.consume_output(id, n);
                written += n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                host.socket_full(dev, id, stream);
                return Ok((written, true));
            }
            Err(e) => return Err(e),
        }
    }
}
