//! One task per connection: socket bytes into the device, the device's output onto the socket.
//!
//! Each round reads once (as much as fits), feeds everything the connection holds to
//! [`Device::handle_input`](zedge_core::device::Device::handle_input) and writes the peer's
//! output until the socket would block, all in one [`DeviceHost::with_device`] call, which
//! passes the device's wake and close requests on to the other connections. A round that
//! moved bytes yields to the executor, so a busy peer cannot starve the rest; one that did
//! not waits for readability (if the device wants input), writability (if output is pending)
//! or a [`Signal`] from another connection. What is read and not yet taken is the [`Input`]'s.
//!
//! The rest of a large frame body that the device lets by ([`Device::bypass`]) goes from this
//! socket to its destination's through a pipe ([`splice`](crate::splice)), after what the
//! device already holds for that destination: the broker never copies it. After such a body
//! the next read takes only a frame's head, so the next body can go the same way.
//!
//! [`Device::bypass`]: zedge_core::device::Device::bypass

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::future;
use log::{debug, info, warn};
use zedge_core::conn::SessionError;
use zedge_core::device::{CloseReason, PeerId};

use crate::host::{write_output, Dev, DeviceHost, Peer};
use crate::input::Input;
use crate::net::Stream;
use crate::signal::Signal;
use crate::splice::{self, Pipe, PREFIX_MAX};

/// How long a connection being closed by us may take to write what it still owes.
const CLOSE_FLUSH: Duration = Duration::from_secs(1);

/// Bodies with at least this much still to come go by through a pipe; smaller ones are read.
const BYPASS_MIN: u64 = 16 << 10;

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

/// Why a connection ended.
enum End {
    Eof,
    Io(io::Error),
    Session(SessionError),
    Closed(CloseReason),
    Stuck,
}

impl From<io::Error> for End {
    fn from(e: io::Error) -> Self {
        End::Io(e)
    }
}

struct Conn {
    id: PeerId,
    stream: Rc<Stream>,
    input: Input,
    write_blocked: bool,
    /// Body bytes read from our socket for a destination whose socket has not taken them yet.
    /// No other input is read meanwhile.
    pipe: Option<(Pipe, PeerId)>,
    /// A destination whose socket was full when we had bytes for it.
    dest_blocked: Option<PeerId>,
    /// The body in progress has been going by since its last read and has more to come.
    bypassing: bool,
    /// Reads left that take only a frame's head.
    small_reads: u8,
    /// The destination whose socket we last limited to [`SPLICE_UNSENT_MAX`] unsent bytes.
    paced: Option<PeerId>,
}

/// Run a connection the device has already taken until it ends, then forget it.
pub async fn run(host: Rc<DeviceHost>, peer: Peer, label: String) {
    let Peer { id, signal, stream } = peer;
    let mut conn = Conn {
        id,
        stream,
        input: Input::default(),
        write_blocked: false,
        pipe: None,
        dest_blocked: None,
        bypassing: false,
        small_reads: 0,
        paced: None,
    };
    let end = conn.serve(&host, &signal).await;
    if let Some((pipe, _)) = conn.pipe.take() {
        host.pipes().give(pipe);
    }
    match &end {
        End::Eof => debug!("{label}: disconnected"),
        End::Io(e) if is_disconnect(e) => debug!("{label}: disconnected ({e})"),
        End::Io(e) => info!("{label}: connection error: {e}"),
        End::Session(e) => info!("{label}: {e}"),
        End::Closed(reason) => info!("{label}: closing: {reason}"),
        End::Stuck => warn!("{label}: input buffer full and the device took none of it; closing"),
    }
    if matches!(end, End::Session(_) | End::Closed(_)) {
        conn.flush(&host, Instant::now() + CLOSE_FLUSH).await;
        conn.stream.shutdown_write();
    }
    host.forget(id);
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

impl Conn {
    async fn serve(&mut self, host: &DeviceHost, sig: &Signal) -> End {
        loop {
            if let Some(reason) = sig.take_close() {
                return End::Closed(reason);
            }
            match host.with_device(|dev| self.round(host, dev)) {
                Ok(true) => future::yield_now().await,
                Ok(false) => {
                    if let Err(e) = self.wait(host, sig).await {
                        return End::Io(e);
                    }
                }
                Err(end) => return end,
            }
        }
    }

    /// Read (or move a body by), feed, write. `Ok(true)` if any byte moved.
    fn round(&mut self, host: &DeviceHost, dev: &mut Dev) -> Result<bool, End> {
        self.dest_blocked = None;
        let mut moved = false;
        if self.pipe.is_some() {
            moved |= self.drain_pipe(host, dev)?;
        }
        if self.takes_input(host, dev) {
            match self.bypass(host, dev)? {
                Some(m) => moved |= m,
                None => {
                    moved |= self.read_and_feed(host, dev)?;
                    // What was just read may have started a large body.
                    moved |= self.bypass(host, dev)?.unwrap_or(false);
                }
            }
        }
        moved |= self.write(dev)?;
        Ok(moved)
    }

    /// Whether the device wants our input and none is held in a pipe.
    fn takes_input(&self, host: &DeviceHost, dev: &Dev) -> bool {
        !host.stopping() && self.pipe.is_none() && dev.wants_read(self.id)
    }

    fn read_and_feed(&mut self, host: &DeviceHost, dev: &mut Dev) -> Result<bool, End> {
        let cfg = *dev.config();
        let id = self.id;
        let small_reads = &mut self.small_reads;
        let fed = self.input.read_and_feed(
            &self.stream,
            &mut host.scratch(),
            || {
                if *small_reads > 0 {
                    *small_reads -= 1;
                    cfg.routing_read_len()
                } else {
                    usize::MAX
                }
            },
            |held| dev.handle_input(id, held, host.now()).map_err(End::Session),
        )?;
        if fed.used > 0 {
            // Input taken through the device: no body is going by without a break.
            self.bypassing = false;
        } else if fed.offered > 0 && dev.input_stuck(id, fed.offered) {
            return Err(End::Stuck);
        }
        // After EOF, input waiting for room stays until the device takes it: a producer that
        // sends and leaves loses nothing. What the device would take but cannot (a frame cut
        // short) is all there will ever be of it.
        if self.input.is_eof() && (self.input.is_empty() || dev.wants_read(id)) {
            return Err(End::Eof);
        }
        Ok(fed.read > 0 || fed.used > 0)
    }

    /// One step of moving the rest of a large body the device lets by from our socket to its
    /// destination's: what the device holds for the destination, then one pipeful of body.
    /// `None` when there is no such body to move now; the input is then read as usual.
    fn bypass(&mut self, host: &DeviceHost, dev: &mut Dev) -> Result<Option<bool>, End> {
        if self.pipe.is_some() || !self.input.is_empty() || !self.input.is_open() {
            return Ok(None);
        }
        let Some((dest, left)) = dev.bypass(self.id) else {
            self.bypassing = false;
            return Ok(None);
        };
        if left < BYPASS_MIN && !self.bypassing {
            return Ok(None);
        }
        let Some(to) = host.stream(dest) else {
            return Ok(None);
        };
        if self.paced != Some(dest) {
            to.limit_unsent(SPLICE_UNSENT_MAX);
            self.paced = Some(dest);
        }
        // What the device already holds for the destination goes first: ahead of the body in
        // the pipe (one write for both), or if there is much of it, to the socket now.
        let (a, b) = dev.output(dest);
        if a.len() + b.len() > PREFIX_MAX {
            match write_output(dev, dest, &to) {
                Ok((_, false)) => {}
                Ok((_, true)) => {
                    self.dest_blocked = Some(dest);
                    return Ok(Some(false));
                }
                // The destination's own task will meet the error; the body is copied.
                Err(_) => return Ok(None),
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
            dev.consume_output(dest, queued);
        }
        // No more than the input buffer holds, should it have to come back to the device.
        let max = left.min(dev.config().input_capacity as u64) as usize;
        let mut moved = queued > 0;
        match pipe.fill(&*self.stream, max) {
            Ok(0) => {
                // The next round ends the connection.
                self.input.end();
                moved = true;
            }
            Ok(n) => {
                self.bypassing = (n as u64) < left;
                moved = true;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.input.block(),
            Err(e) if splice::unsupported(&e) => {
                // Splicing is off from now on; the next round reads this body instead.
                host.pipes().turn_off(&e);
                moved = true;
            }
            Err(e) => {
                // A prefix still in the pipe is lost with it; the device resets the destination,
                // which got part of a message that will not be finished.
                host.pipes().give(pipe);
                return Err(End::Io(e));
            }
        }
        if pipe.is_empty() {
            host.pipes().give(pipe);
        } else {
            self.pipe = Some((pipe, dest));
            moved |= self.drain_pipe(host, dev)?;
        }
        Ok(Some(moved))
    }

    /// Write what the pipe holds to its destination. If the device no longer lets the body by
    /// to it (the destination left) or its socket failed, the body bytes go to the device
    /// instead. The device names no one else meanwhile: a source holding a pipe reads nothing,
    /// so it cannot become blocked.
    fn drain_pipe(&mut self, host: &DeviceHost, dev: &mut Dev) -> Result<bool, End> {
        let Some((mut pipe, dest)) = self.pipe.take() else {
            return Ok(false);
        };
        let to = dev
            .bypass(self.id)
            .filter(|&(d, _)| d == dest)
            .and_then(|_| host.stream(dest));
        let drained = match &to {
            Some(to) => pipe.drain(&**to),
            None => Err(io::ErrorKind::NotConnected.into()),
        };
        match drained {
            Ok((total, body)) => {
                dev.bypassed(self.id, body as u64, host.now());
                if pipe.is_empty() {
                    host.pipes().give(pipe);
                    if dev.bypass(self.id).is_none() {
                        // The body is complete: the next frame's head comes in a small read.
                        self.small_reads = SMALL_READS;
                        self.bypassing = false;
                    }
                } else {
                    // The destination's socket is full.
                    self.dest_blocked = Some(dest);
                    self.pipe = Some((pipe, dest));
                }
                Ok(total > 0)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.dest_blocked = Some(dest);
                self.pipe = Some((pipe, dest));
                Ok(false)
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
                self.input.put_back(body.map_err(End::Io)?);
                self.bypassing = false;
                Ok(true)
            }
        }
    }

    /// Write the peer's output until it is gone or the socket is full.
    fn write(&mut self, dev: &mut Dev) -> Result<bool, End> {
        if self.write_blocked {
            return Ok(false);
        }
        let (n, full) = write_output(dev, self.id, &self.stream).map_err(End::Io)?;
        self.write_blocked = full;
        Ok(n > 0)
    }

    /// Until the socket can do what the device wants of it, a destination we have bytes for
    /// can take them, or another connection signals.
    async fn wait(&mut self, host: &DeviceHost, sig: &Signal) -> io::Result<()> {
        let dest = match self.dest_blocked.take() {
            // Gone: the next round gives what we held for it to the device.
            Some(d) => match host.stream(d) {
                Some(s) => Some(s),
                None => return Ok(()),
            },
            None => None,
        };
        let dest_writable = async {
            match &dest {
                // An error shows in the next write to it.
                Some(s) => s.writable().await.unwrap_or(()),
                None => future::pending().await,
            }
            Ok(())
        };
        let own = poll_fn(|cx| {
            if sig.poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
            let mut ready = false;
            let wants_read = self.input.is_blocked()
                && !self.input.is_eof()
                && host.peek(|dev| self.takes_input(host, dev));
            if wants_read {
                if let Poll::Ready(r) = self.stream.poll_readable(cx) {
                    r?;
                    self.input.unblock();
                    ready = true;
                }
            }
            let owes = || {
                host.peek(|dev| {
                    let (a, b) = dev.output(self.id);
                    !(a.is_empty() && b.is_empty())
                })
            };
            if self.write_blocked && owes() {
                if let Poll::Ready(r) = self.stream.poll_writable(cx) {
                    r?;
                    self.write_blocked = false;
                    ready = true;
                }
            }
            if ready {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        });
        future::or(own, dest_writable).await
    }

    /// Write what the peer is still owed (an ERROR command, queued messages) until `deadline`.
    async fn flush(&mut self, host: &DeviceHost, deadline: Instant) {
        loop {
            let done = host.with_device(|dev| {
                let r = self.write(dev);
                let (a, b) = dev.output(self.id);
                r.is_err() || (a.is_empty() && b.is_empty())
            });
            if done {
                return;
            }
            let stream = &self.stream;
            let writable = async { poll_fn(|cx| stream.poll_writable(cx)).await.is_ok() };
            let expired = async {
                Timer::at(deadline).await;
                false
            };
            if !future::or(writable, expired).await {
                return;
            }
            self.write_blocked = false;
        }
    }
}
