//! The connection's half of [`Device::bypass_target`]: the rest of a large frame body goes from this
//! socket to its destination's through a pipe ([`splice`]), after what the
//! device already holds for that destination, and the broker never copies it.
//!
//! A destination that stops reading must not hold the source: when the pipe's bytes find its
//! socket full for `splice_stall` (20 ms by default), they are taken back (what was the destination's own output
//! back to its queue, the body to the source's input) and the body is copied to the
//! destination's queue like any other, so the source goes on with its next message. A body
//! does not start going by to a destination whose queue already holds more than a frame head
//! and whose socket is full: it is copied too.
//!
//! A connection asks its [`Bypass`] for a step before it reads, and again after feeding what
//! it read (which may have started a large body). While a pipe holds body bytes the
//! destination has not taken, the connection reads nothing else. After a body the next reads
//! take only a frame's head and the bytes routing needs, so that the next body stays in the
//! socket and can go the same way. When no pipe can be had, or the destination goes away, the
//! body is read and fed like any other input: that always works.
//!
//! [`Device::bypass_target`]: zedge_core::device::Device::bypass_target

use std::io::{self, IoSlice};
use std::mem;
use std::time::{Duration, Instant};

use log::debug;
use zedge_core::device::{ByteQueue, PeerId};

use crate::host::{write_output, Dev, DeviceHost};
use crate::input::Input;
use crate::net::Stream;
use crate::outframes::OutFrames;
use crate::splice::{self, Pipe, PREFIX_MAX};

/// Bodies with at least this much still to come go by through a pipe; smaller ones are read.
pub const BYPASS_MIN: u64 = 16 << 10;

/// How long the bytes in a pipe may wait for their destination's socket to take any of them
/// before they are taken back and the body is copied instead: the device's `splice_stall`
/// (20 ms by default). A consumer that keeps up takes some every few milliseconds, however
/// loaded the machine; one that does not read costs its source this once, since the copied
/// body then waits in its queue and the next body is not let by to it.
fn dest_stall(dev: &Dev) -> Duration {
    Duration::from_millis(dev.config().splice_stall.as_millis())
}

/// After a body that went by, this many reads take no more than a frame head and the body
/// bytes the device needs to route it (a multipart message's head frames may need two).
const SMALL_READS: u8 = 2;

/// A TCP socket that bodies are spliced to keeps at most this much unsent in the kernel
/// ([`Stream::limit_unsent`]). Without a limit, megabytes wait in it for the receiver's
/// window, and are then sent from the receiver's own ACK processing, on its CPU time: on a
/// busy machine the receiver, usually the slowest stage, ends up paying for our sends. With
/// it, zedge waits for room and sends them itself. Measured (tools/bench-probe, 64 KiB
/// streamer, 5 alternating rounds): 21.2-27.6k msg/s with it, 17.8-22.7k without. Not set
/// for small messages: their throughput dropped about 15 % with it (more, smaller writes).
const SPLICE_UNSENT_MAX: u32 = 64 << 10;

#[derive(Debug)]
pub struct Bypass {
    state: State,
    /// The destination whose socket we last limited to [`SPLICE_UNSENT_MAX`] unsent bytes.
    paced: Option<PeerId>,
    /// Where the frames of the destination's output stood before its queued bytes went into
    /// the pipe, and how many went: should they all come back ([`Bypass::take_back`]), its
    /// frames are followed from there again (`OutFrames`), not given up on.
    before: Option<(OutFrames, usize)>,
}

#[derive(Debug)]
enum State {
    /// No body is going by. The next `small_reads` reads take only what routing needs.
    Reading { small_reads: u8 },
    /// The body in progress has been going by since its last read and has more to come: it
    /// keeps going by even once less than [`BYPASS_MIN`] of it is left.
    Flowing,
    /// Body bytes (maybe behind the destination's queued output) that `dest`'s socket has not
    /// taken yet. `flowing`: as [`State::Flowing`] once the pipe is empty. `stuck_since`: when
    /// the destination's socket was first found full with nothing taken since.
    Holding {
        pipe: Pipe,
        dest: PeerId,
        flowing: bool,
        stuck_since: Option<Instant>,
    },
}

/// What a step moved.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    /// Some byte moved (or the connection's state changed so that the next round differs).
    pub moved: bool,
    /// A destination whose socket was full when we had bytes for it: the connection waits
    /// for it to be writable, or until `retry_at`.
    pub dest_full: Option<PeerId>,
    /// When the bytes waiting for `dest_full` are to be taken back if it has not taken any.
    pub retry_at: Option<Instant>,
}

impl Default for Bypass {
    fn default() -> Self {
        Bypass {
            state: State::Reading { small_reads: 0 },
            paced: None,
            before: None,
        }
    }
}

impl Bypass {
    /// A pipe holds body bytes: the connection must not read until they are gone.
    pub fn holding(&self) -> bool {
        matches!(self.state, State::Holding { .. })
    }

    /// The most the next read may take, given what routing a frame needs
    /// ([`DeviceConfig::routing_read_len`]).
    ///
    /// [`DeviceConfig::routing_read_len`]: zedge_core::device::DeviceConfig::routing_read_len
    pub fn next_read_len(&self, routing_len: usize) -> usize {
        match self.state {
            State::Reading { small_reads } if small_reads > 0 => routing_len,
            _ => usize::MAX,
        }
    }

    /// A read took `n` bytes. One that found nothing (the next message has not come) does
    /// not count as one of the small reads.
    pub fn read(&mut self, n: usize) {
        if let State::Reading { small_reads } = &mut self.state {
            if n > 0 {
                *small_reads = small_reads.saturating_sub(1);
            }
        }
    }

    /// The device took input read from the socket: no body is going by without a break.
    pub fn fed(&mut self) {
        if let State::Flowing = self.state {
            self.state = State::Reading { small_reads: 0 };
        }
    }

    /// One step of moving the rest of a large body that the device lets by from `src`'s
    /// socket to its destination's: what the device holds for the destination, then one
    /// pipeful of body. `None` when there is no such body to move now; the input is then read
    /// as usual.
    pub fn step(
        &mut self,
        src: PeerId,
        from: &Stream,
        input: &mut Input,
        host: &DeviceHost,
        dev: &mut Dev,
    ) -> io::Result<Option<Progress>> {
        if self.holding() || !input.is_empty() || !input.is_open() {
            return Ok(None);
        }
        let Some((dest, left)) = dev.bypass_target(src) else {
            self.fed();
            return Ok(None);
        };
        let mut flowing = matches!(self.state, State::Flowing);
        if left < BYPASS_MIN && !flowing {
            return Ok(None);
        }
        // A CURVE destination takes nothing but through its layer (and a device with CURVE
        // has no pipes anyway).
        let Some(to) = host.stream(dest).filter(|_| !host.is_secure(dest)) else {
            return Ok(None);
        };
        if self.paced != Some(dest) {
            to.limit_unsent(SPLICE_UNSENT_MAX);
            self.paced = Some(dest);
        }
        // What the device already holds for the destination goes first: ahead of the body in
        // the pipe (one write for both), or if there is much of it (or it is not all in
        // `output`: shared pieces), to the socket now.
        let queued = dev.queue(dest);
        if queued.is_some_and(|q| q.len() > PREFIX_MAX || q.has_pieces()) {
            match write_output(host, dev, dest, &*to, &to) {
                Ok((_, false)) => {}
                // A destination that is not taking what it has: the body is copied to its
                // queue rather than wait for it here. Its own task meets any error.
                Ok((_, true)) | Err(_) => return Ok(None),
            }
        }
        let Some(mut pipe) = host.pipes().take() else {
            return Ok(None);
        };
        let (a, b) = dev.output(dest);
        let queued = a.len() + b.len();
        if queued > 0 {
            if let Err(e) = pipe.put_prefix(&[IoSlice::new(a), IoSlice::new(b)]) {
                debug!("cannot put queued bytes in a pipe: {e}; copying this body");
                host.pipes().give(pipe);
                return Ok(None);
            }
            self.before = Some((host.output_frames(dest), queued));
            host.output_written(dev, dest, queued);
            dev.consume_output(dest, queued);
        } else {
            self.before = None;
        }
        // No more than the input buffer holds, should it have to come back to the device.
        let max = left.min(dev.config().input_capacity as u64) as usize;
        let mut moved = queued > 0;
        match pipe.fill(from, max) {
            Ok(0) => {
                // The next round ends the connection.
                input.end();
                moved = true;
            }
            Ok(n) => {
                flowing = (n as u64) < left;
                moved = true;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => input.block(),
            Err(e) if splice::unsupported(&e) => {
                // Splicing is off from now on; the next round reads this body instead.
                host.pipes().turn_off(&e);
                moved = true;
            }
            Err(e) => {
                // A prefix still in the pipe is lost with it; the device resets the destination,
                // which got part of a message that will not be finished.
                host.pipes().give(pipe);
                return Err(e);
            }
        }
        if pipe.is_empty() {
            // Nothing went by: the state stays.
            host.pipes().give(pipe);
            return Ok(Some(Progress {
                moved,
                ..Progress::default()
            }));
        }
        self.state = State::Holding {
            pipe,
            dest,
            flowing,
            stuck_since: None,
        };
        let drained = self.drain(src, input, host, dev)?;
        Ok(Some(Progress {
            moved: moved || drained.moved,
            ..drained
        }))
    }

    /// Write what the pipe holds to its destination. If the device no longer lets the body by
    /// to it (the destination left), its socket failed or has taken nothing for
    /// [`dest_stall`], the body bytes go back to `input`, for the device. The device names no
    /// one else meanwhile: a source holding a pipe reads nothing, so it cannot become blocked.
    pub fn drain(
        &mut self,
        src: PeerId,
        input: &mut Input,
        host: &DeviceHost,
        dev: &mut Dev,
    ) -> io::Result<Progress> {
        let (mut pipe, dest, flowing, stuck_since) = match mem::replace(&mut self.state, READING) {
            State::Holding {
                pipe,
                dest,
                flowing,
                stuck_since,
            } => (pipe, dest, flowing, stuck_since),
            other => {
                self.state = other;
                return Ok(Progress::default());
            }
        };
        let to = dev
            .bypass_target(src)
            .filter(|&(d, _)| d == dest)
            .and_then(|_| host.stream(dest));
        let drained = match &to {
            Some(to) => pipe.drain(&**to),
            None => Err(io::ErrorKind::NotConnected.into()),
        };
        match drained {
            Ok((total, body)) => {
                dev.bypassed(src, body as u64, host.now());
                host.output_bypassed(dest, body as u64);
                let mut dest_full = None;
                if !pipe.is_empty() {
                    dest_full = Some(dest);
                    self.state = State::Holding {
                        pipe,
                        dest,
                        flowing,
                        stuck_since: None,
                    };
                } else {
                    host.pipes().give(pipe);
                    self.state = if dev.bypass_target(src).is_none() {
                        // The body is complete: the next frame's head comes in a small read.
                        State::Reading {
                            small_reads: SMALL_READS,
                        }
                    } else if flowing {
                        State::Flowing
                    } else {
                        READING
                    };
                }
                Ok(Progress {
                    moved: total > 0,
                    dest_full,
                    retry_at: None,
                })
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let now = Instant::now();
                let since = stuck_since.unwrap_or(now);
                let stall = dest_stall(dev);
                if now.duration_since(since) >= stall {
                    return self.take_back(pipe, dest, input, host, dev);
                }
                self.state = State::Holding {
                    pipe,
                    dest,
                    flowing,
                    stuck_since: Some(since),
                };
                Ok(Progress {
                    moved: false,
                    dest_full: Some(dest),
                    retry_at: Some(since + stall),
                })
            }
            Err(e) => {
                if splice::unsupported(&e) {
                    host.pipes().turn_off(&e);
                }
                if pipe.has_prefix() {
                    // Bytes the device had queued for the destination are lost: its stream has
                    // a gap, so it gets nothing more, not even what its queue still holds.
                    debug!("cannot pass a body on: {e}");
                    dev.fail_peer(dest);
                    if let Some(to) = &to {
                        to.shutdown();
                    }
                }
                // Nothing was read since the pipe was filled, so these bytes come first.
                let body = pipe.take_body();
                host.pipes().give(pipe);
                input.put_back(body?);
                Ok(Progress {
                    moved: true,
                    ..Progress::default()
                })
            }
        }
    }

    /// The destination has taken nothing for [`dest_stall`]: what is left of its own output
    /// goes back to its queue, the body to `input`, and the device copies the body to it.
    fn take_back(
        &mut self,
        mut pipe: Pipe,
        dest: PeerId,
        input: &mut Input,
        host: &DeviceHost,
        dev: &mut Dev,
    ) -> io::Result<Progress> {
        debug!(
            "destination {dest:?} took nothing for {:?}: copying the body to its queue",
            dest_stall(dev)
        );
        let taken = pipe.take_all();
        host.pipes().give(pipe);
        let (prefix, body) = taken?;
        let before = self.before.take();
        if prefix.is_empty() {
            // Nothing comes back to its queue: its frames are followed as they were.
        } else if dev.return_output(dest, &prefix) {
            match before {
                // All of it: where its frames stood before it went into the pipe.
                Some((frames, n)) if n == prefix.len() => host.output_restored(dest, frames),
                _ => host.output_returned(dest),
            }
        } else {
            // Its queue took something else meanwhile: its stream would have a gap.
            dev.fail_peer(dest);
            if let Some(to) = host.stream(dest) {
                to.shutdown();
            }
        }
        // Nothing was read since the pipe was filled, so these bytes come first.
        input.put_back(body);
        Ok(Progress {
            moved: true,
            ..Progress::default()
        })
    }

    /// Give back a pipe still held when the connection ends.
    pub fn release(&mut self, host: &DeviceHost) {
        if let State::Holding { pipe, .. } = mem::replace(&mut self.state, READING) {
            host.pipes().give(pipe);
        }
    }
}

const READING: State = State::Reading { small_reads: 0 };
