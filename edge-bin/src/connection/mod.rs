//! One task per connection: socket bytes into the device, the device's output onto the socket.
//!
//! Each round reads once (as much as fits), feeds everything the connection holds to
//! [`Device::handle_input`](zedge_core::device::Device::handle_input) and writes the peer's
//! output until the socket would block, all in one [`DeviceHost::with_device`] call, which
//! passes the device's wake and close requests on to the other connections. A round that
//! moved bytes yields to the executor, so a busy peer cannot starve the rest; one that did
//! not waits for readability (if the device wants input), writability (if output is pending)
//! or a [`Signal`] from another connection.
//!
//! What is read and not yet taken is the [`Input`]'s; moving large bodies past the device is
//! the [`Bypass`]'s, which gets a step before the read and after the feed.

mod legacy;
mod wait;
mod whole;

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::future;
use log::{debug, warn};
use zedge_core::conn::{LegacyMode, SessionError};
use zedge_core::device::{CloseReason, Expired, PeerId, PROGRESS_BYTES};
use zedge_core::wire::greeting::GREETING_LEN;

use crate::bypass::{Bypass, Progress};
use crate::net::Wire;
use crate::secure::{Secure, Secured};

use crate::host::{write_peer, Dev, DeviceHost, Peer};
use crate::input::Input;
use crate::net::Stream;
use crate::signal::{Close, Signal};
use whole::Whole;

/// The longest a connection keeps the loop in rounds that move bytes before the reactor gets
/// to see the other sockets: about the bounded work per turn of the architecture.
pub const FAIR_TURN: Duration = Duration::from_millis(1);

/// How long a connection being closed by us may take to write what it still owes.
const CLOSE_FLUSH: Duration = Duration::from_secs(1);

/// The cipher lane's holder, its frame still arriving, owes its progress this many times as
/// often, a part as large each time: [`PROGRESS_BYTES`] / 4 per progress timeout / 4 (4 KiB
/// per 1.25 s by default), the same least rate as any other sender's, looked at in shorter
/// turns. A CURVE sender that takes the lane, sends most of a large frame and then trickles
/// the rest holds it for a quarter of the progress timeout, not all of it, while others wait
/// in line (docs/isolation.md).
pub const CIPHER_LANE_GRAIN: u32 = 4;

/// While others wait for memory, a CURVE connection holding a lane owes, in each turn, the
/// part of its message as far as it is known (what its input holds of it and the whole of the
/// frame arriving) that brings all of it in this many progress timeouts at that pace, never
/// less than the least rate. The least rate alone let one connection trickle the rest of a
/// message at 5 KB/s and hold the lanes while every other large CURVE message waited: a 14 MB
/// frame (47 minutes of it), or a 100 KB frame after a 12 MiB one, message after message
/// (attacker rounds 4 and 5). With nobody waiting it may go as slowly as it likes, and a
/// frame that holds no lane owes only the least rate.
pub const LANE_PATIENCE: u32 = 4;

/// A connection from an address recently closed for holding a lane while others waited owes
/// its progress this many times as often again, a part as large each time (the same pace,
/// looked at in shorter turns): one that comes back to hold a lane again is closed within
/// about 0.3 s, not 1.25 s.
pub const STRUCK_GRAIN: u32 = 4;

/// The progress a lane's holder owes in its current turn: when the turn began, the bytes
/// that came since, and how many it owes.
#[derive(Clone, Copy, Debug)]
struct Turn {
    since: Instant,
    bytes: u64,
    owed: u64,
}

/// Why a connection ended.
enum End {
    Eof,
    Io(io::Error),
    Session(SessionError),
    Closed(CloseReason),
    /// Admission closed it, still in its handshake, to make room: the device and the socket
    /// are done with it already.
    Displaced,
    Stuck,
    /// A CURVE client a reload took off the allow-list.
    Revoked,
}

impl From<io::Error> for End {
    /// A CURVE peer's failure comes through its socket's read or write: it ends the
    /// connection as the session's own errors do.
    fn from(e: io::Error) -> Self {
        match crate::secure::session_error(&e) {
            Some(e) => End::Session(e),
            None => End::Io(e),
        }
    }
}

struct Conn {
    id: PeerId,
    stream: Rc<Stream>,
    input: Input,
    write_blocked: bool,
    bypass: Bypass,
    /// A destination whose socket was full this round when we had bytes for it.
    dest_blocked: Option<PeerId>,
    /// When to try again for `dest_blocked` even if it is not writable ([`Progress::retry_at`]).
    retry_at: Option<Instant>,
    /// Bytes the peer has sent, counted up to a whole greeting (told to the host then, for
    /// admission).
    heard: usize,
    /// When the rounds that moved bytes without a break began.
    busy_since: Option<Instant>,
    /// While the input holds its device's lane: when its sender's last [`PROGRESS_BYTES`]
    /// began coming, and how many have since.
    lane: Option<Turn>,
    /// The lane it is tracked for is the cipher lane, a frame still arriving in it, or the
    /// frame arriving holds memory beyond the share of frames that wait on their senders
    /// (`beyond`, [`Secure::holds_beyond`]): its progress is owed [`CIPHER_LANE_GRAIN`] times
    /// as often.
    cipher_lane: bool,
    /// The frame arriving holds memory beyond that share, not the cipher lane.
    beyond: bool,
    /// It was closed as a stalled sender while it held a lane, a CURVE connection (for the
    /// log): what it held (the cipher lane, the input lane, memory beyond the share), what it
    /// owed and in how long.
    lane_stall: Option<(&'static str, u64, Duration)>,
    /// It comes from an address recently closed for holding a lane while others waited
    /// (`host/strikes.rs`): it waits for the cipher lane behind everyone else, and holding a
    /// lane, it is judged in turns [`STRUCK_GRAIN`] times shorter.
    struck: bool,
    /// Waiting in the socket for the rest of a large message, so that its body goes by.
    whole: Whole,
    /// Its handshake is done and its connect line logged ([`DeviceHost::announce`]).
    announced: bool,
    /// A CURVE peer's layer between the socket and the device (or a ZMTP 1.0 peer's).
    secure: Option<Rc<RefCell<Secure>>>,
    /// Its first bytes have not told yet whether it speaks ZMTP 1.0, at an endpoint that
    /// speaks it (NULL, `legacy` on): they wait in the input until they do.
    undecided: bool,
    /// Bytes of the device's output written to it while `undecided` (its greeting's first).
    wrote: usize,
}

/// Run a connection the device has already taken until it ends, then forget it.
pub async fn run(host: Rc<DeviceHost>, peer: Peer, label: String) {
    let Peer {
        id,
        signal,
        stream,
        secure,
    } = peer;
    // A peer that stops reading holds what its socket took: bounded here, not by the kernel's
    // autotuning (up to `tcp_wmem`, 4 MiB a connection; attacker round 16).
    if host.kernel_send_max() > 0 {
        stream.limit_send_buffer(host.kernel_send_max());
    }
    let conn = Conn {
        id,
        stream,
        input: Input::new(host.charge()),
        write_blocked: false,
        bypass: Bypass::default(),
        dest_blocked: None,
        retry_at: None,
        heard: 0,
        busy_since: None,
        lane: None,
        cipher_lane: false,
        beyond: false,
        lane_stall: None,
        struck: false,
        whole: Whole::default(),
        announced: false,
        undecided: secure.is_none() && host.peek(|dev| dev.config().legacy == LegacyMode::Accept),
        wrote: 0,
        secure,
    };
    let mut taken = Taken { host, conn };
    let Taken { host, conn } = &mut taken;
    if host.struck(id) {
        host.strike_in_device(id);
        if let Some(s) = conn.secure.as_ref() {
            s.borrow_mut().strike();
            conn.struck = true;
        }
    }
    let end = conn.serve(host, &signal).await;
    if conn.lane_stall.is_some()
        || matches!(end, End::Closed(CloseReason::Deaf | CloseReason::Overdue))
    {
        host.strike(id);
    }
    conn.bypass.release(host);
    if let End::Session(e) = &end {
        if conn.secure.is_some() {
            // Failed in the CURVE layer, which the device did not see: counted as a refusal.
            host.with_device(|dev| dev.fail_session(conn.id, *e));
        }
    }
    // A peer that hung up in its handshake may have said why by when it did.
    let hung_up = match &end {
        // None of its READY came: one that sent part of it was not refusing ours.
        End::Eof if conn.secure.is_none() && conn.input.unread().is_empty() => {
            host.with_device(|dev| {
                let e = dev.hang_up_reason(conn.id)?;
                dev.fail_session(conn.id, e);
                Some(e)
            })
        }
        _ => None,
    };
    // The disconnect line (at info), or the refusal of a peer whose handshake failed.
    let (why, refusal) = match &end {
        End::Eof => ("it closed the connection".to_owned(), hung_up),
        End::Io(e) if is_disconnect(e) => (format!("connection lost ({e})"), None),
        End::Io(e) => (format!("connection error: {e}"), None),
        End::Session(e) => (e.to_string(), Some(*e)),
        End::Closed(CloseReason::Session(Expired::Handshake)) => (
            "handshake timeout".to_owned(),
            Some(SessionError::HandshakeTimeout),
        ),
        End::Closed(CloseReason::Stalled) if conn.lane_stall.is_some() => {
            let (held, owed, window) = conn.lane_stall.unwrap_or_default();
            let why = format!(
                "closing: it held {held} while others waited for memory, and less than \
                 {owed} B of its frame came in {} ms; aborted",
                window.as_millis()
            );
            (why, None)
        }
        End::Closed(reason) => (format!("closing: {reason}"), None),
        // Counted and warned about, rate-limited, where it was decided.
        End::Displaced => {
            debug!("{label}: closed to make room for a newer connection");
            ("closed to make room".to_owned(), None)
        }
        End::Revoked => ("its key is no longer allowed".to_owned(), None),
        End::Stuck => {
            warn!("{label}: input buffer full and the device took none of it; closing");
            ("input stuck".to_owned(), None)
        }
    };
    // What a peer whose greeting was not taken sent, in hex at debug: the bytes that tell
    // what it speaks (an old ZeroMQ, HTTP, a scanner). Only greeting bytes: what follows may
    // be a PLAIN HELLO's password.
    let seen = match &conn.secure {
        Some(s) => hex_start(s.borrow().unread_greeting()),
        None if host.peek(|dev| dev.in_greeting(conn.id)) => {
            let unread = conn.input.unread();
            hex_start(&unread[..unread.len().min(GREETING_LEN)])
        }
        None => String::new(),
    };
    host.farewell(conn.id, conn.announced, &why, refusal.as_ref(), &seen);
    // What the peer is still owed is written first, but not to one closed for not reading
    // (its queue is the memory its closing gives back) or whose stream is broken.
    let owed = match &end {
        End::Session(_) => true,
        End::Closed(reason) => reason.flushes(),
        _ => false,
    };
    if owed {
        conn.flush(host, Instant::now() + CLOSE_FLUSH).await;
    }
    if matches!(end, End::Closed(CloseReason::SenderAborted)) {
        host.count_reset_loss(conn.id);
    }
    match &end {
        End::Closed(reason) if !reason.flushes() => conn.stream.reset_on_close(),
        End::Session(_) | End::Closed(_) => conn.stream.shutdown_write(),
        _ => {}
    }
}

/// A connection the device has taken: given back to it however the task ends, by itself or
/// dropped mid-way (a connector a reload removed, a device thread ending).
struct Taken {
    host: Rc<DeviceHost>,
    conn: Conn,
}

impl Drop for Taken {
    fn drop(&mut self) {
        self.conn.bypass.release(&self.host);
        self.host.forget(self.conn.id);
    }
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
            match sig.take_close() {
                Some(Close::Device(reason)) => return End::Closed(reason),
                Some(Close::Displaced) => return End::Displaced,
                Some(Close::Revoked) => return End::Revoked,
                None => {}
            }
            if self.lane_stalled(host) {
                // Closed through the device, which counts it: the next turn ends the task.
                // A clear sender's line stays the core's (it owes the least rate only).
                let holds = self.cipher_lane || (self.secure.is_some() && self.input.holds_lane());
                self.lane_stall = self
                    .lane
                    .zip(host.progress_timeout())
                    .filter(|_| holds)
                    .map(|(t, timeout)| (self.held(), t.owed, timeout / self.lane_grain()));
                if self.beyond {
                    if let Some(s) = &self.secure {
                        s.borrow().closed_beyond();
                    }
                }
                host.with_device(|dev| dev.stall_peer(self.id));
                continue;
            }
            match host.with_device(|dev| self.round(host, dev)) {
                Ok(true) => self.take_turns(sig).await,
                Ok(false) => {
                    self.busy_since = None;
                    let lingers = self.secure.as_ref().is_some_and(|s| {
                        let mut s = s.borrow_mut();
                        s.trim();
                        s.lingers_for().is_some()
                    });
                    self.input.trim(lingers);
                    if self.input.is_starved() || self.secure_starved() {
                        host.wait_for_memory(self.id);
                    }
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
        self.retry_at = None;
        let drained = self.bypass.drain(self.id, &mut self.input, host, dev)?;
        let mut moved = self.note(drained);
        if !self.takes_input(host, dev) {
            // A wait for a message in the socket ends with the device's wish to read: its
            // patience must not come due while nothing here would end it.
            moved |= self.whole.cancel(&self.stream, &mut self.input);
        } else {
            match self.bypass_step(host, dev)? {
                Some(m) => moved |= m,
                None => {
                    moved |= self.read_and_feed(host, dev)?;
                    // Right after the call that finished its handshake: the device keeps
                    // the Identity of the last peer to finish one only.
                    if !self.announced {
                        self.announced = host.announce(dev, self.id);
                    }
                    // What was just read may have started a large body.
                    moved |= self.bypass_step(host, dev)?.unwrap_or(false);
                }
            }
        }
        moved |= self.write(host, dev)?;
        Ok(moved)
    }

    /// Whether the device wants our input and none is held in a pipe (nor does a CURVE
    /// layer wait for memory to read into: it reads again once some is given back).
    fn takes_input(&self, host: &DeviceHost, dev: &Dev) -> bool {
        !host.stopping()
            && !self.bypass.holding()
            && !self.secure_starved()
            && dev.wants_read(self.id)
    }

    fn bypass_step(&mut self, host: &DeviceHost, dev: &mut Dev) -> Result<Option<bool>, End> {
        // Bytes that go through a layer (a ZMTP 1.0 peer's in a NULL device) have none to
        // move by.
        if self.secure.is_some() {
            return Ok(None);
        }
        let step = self
            .bypass
            .step(self.id, &self.stream, &mut self.input, host, dev)?;
        Ok(step.map(|p| self.note(p)))
    }

    /// Whether `p` moved anything; a destination it found full is waited for.
    fn note(&mut self, p: Progress) -> bool {
        if p.dest_full.is_some() {
            self.dest_blocked = p.dest_full;
            self.retry_at = p.retry_at;
        }
        p.moved
    }

    fn read_and_feed(&mut self, host: &DeviceHost, dev: &mut Dev) -> Result<bool, End> {
        let id = self.id;
        let routing_len = dev.config().routing_read_len();
        let bypass = &self.bypass;
        // What the socket holds beyond this read matters only where a message may go by
        // without being read (a large body, see `Bypass`): then a message over the buffer's
        // size that is all here or ready is routed at once.
        let bypasses =
            dev.config().kind.bypasses() && !host.pipes().is_off() && self.secure.is_none();
        let waiting = self.whole.waiting();
        let woken = waiting && !self.input.is_blocked();
        // While it waits for a message in the socket, nothing is read.
        let len = waiting.then_some(0);
        let stream = &self.stream;
        let secured;
        let wire: &dyn Wire = match self.secure.as_deref() {
            Some(secure) => {
                secured = Secured { stream, secure };
                &secured
            }
            None => &**stream,
        };
        let (mut undecided, mut v1) = (self.undecided, false);
        let fed = self.input.read_and_feed(
            wire,
            &mut host.scratch(),
            || len.unwrap_or_else(|| bypass.next_read_len(routing_len)),
            |held, more| {
                if undecided {
                    match legacy::speaks_v1(held) {
                        None => return Ok(0),
                        Some(true) => {
                            v1 = true;
                            return Ok(0);
                        }
                        Some(false) => undecided = false,
                    }
                }
                let ahead = if bypasses && (more || waiting) {
                    stream.readable().unwrap_or(0)
                } else {
                    0
                };
                dev.handle_input_ahead(id, held, ahead, host.now())
                    .map_err(End::Session)
            },
        )?;
        if v1 {
            self.speak_v1(host, dev);
            return Ok(true);
        }
        self.undecided = undecided;
        self.bypass.read(fed.read);
        if !self.announced && (fed.read > 0 || self.secure.as_ref().is_some_and(came)) {
            // In its handshake, and it sent: admission closes quiet ones first.
            host.heard(id);
        }
        if self.track_lane(fed.read) {
            // A large CURVE frame on its way: its sender is alive, though its session sees
            // nothing of it (and it can answer no PING) until its last byte.
            dev.heard(id, host.now());
        }
        let changed = bypasses
            && self
                .whole
                .update(id, dev.awaits(id), woken, &self.stream, &mut self.input);
        if self.heard < GREETING_LEN && fed.read > 0 {
            self.heard += fed.read;
            if self.heard >= GREETING_LEN {
                host.greeted(id);
            }
        }
        if fed.used > 0 {
            self.bypass.fed();
        } else if fed.offered > 0 && !self.undecided && dev.input_stuck(id, fed.offered) {
            return Err(End::Stuck);
        }
        // After EOF, input waiting for room stays until the device takes it: a producer that
        // sends and leaves loses nothing. What the device would take but cannot (a frame cut
        // short) is all there will ever be of it.
        if self.input.is_eof() && (self.input.is_empty() || dev.wants_read(id)) {
            return Err(End::Eof);
        }
        Ok(fed.read > 0 || fed.used > 0 || changed)
    }

    /// Count `read` bytes towards the progress the lane's holder owes (or a CURVE sender
    /// part-way through a frame, which its layer holds until all of it is here: its progress
    /// is the ciphertext that came, since none of the frame is delivered before its end).
    /// Whether ciphertext of a frame part-way here came: bytes its session has not seen.
    fn track_lane(&mut self, read: usize) -> bool {
        let (partial, starved, cipher, arrived) =
            self.secure.as_ref().map_or((false, false, false, 0), |s| {
                let mut s = s.borrow_mut();
                let partial = s.holds_partial();
                let cipher = partial && (s.holds_cipher_lane() || s.holds_beyond());
                self.beyond = cipher && !s.holds_cipher_lane();
                (partial, s.starved(), cipher, s.take_arrived())
            });
        let came = partial && arrived > 0;
        if !self.input.holds_lane() && !partial {
            (self.lane, self.cipher_lane) = (None, false);
            return came;
        }
        if self.cipher_lane != cipher {
            // Owed on another grain from here.
            (self.lane, self.cipher_lane) = (None, cipher);
        }
        if (starved || self.input.is_starved()) && !self.beyond {
            // Waiting for memory, not for its sender: the wait is not the sender's stall. (A
            // frame holding memory beyond the share waits for more only because its sender
            // did not send the rest at once, as it began to: it is judged all the same, by
            // what waits in its socket.)
            self.lane = Some(self.new_turn());
            return came;
        }
        let turn = match &mut self.lane {
            Some(t) => t,
            None => self.lane.insert(self.new_turn()),
        };
        turn.bytes += read.max(arrived) as u64;
        if turn.bytes >= turn.owed {
            self.lane = Some(self.new_turn());
        }
        came
    }

    /// What it holds that others may wait for, as its log line says when it is closed for
    /// holding it.
    fn held(&self) -> &'static str {
        match (self.cipher_lane, self.beyond) {
            (true, false) => "the cipher lane",
            (true, true) => "memory beyond the share of frames part-way here",
            (false, _) => "the input lane",
        }
    }

    /// How many times as often its progress is owed: [`CIPHER_LANE_GRAIN`] for a frame
    /// arriving in the cipher lane, or in a CURVE connection whose input holds the input lane
    /// (which keeps every other connection from the cipher lane), else once per progress
    /// timeout.
    fn lane_grain(&self) -> u32 {
        let grain = if self.cipher_lane || (self.secure.is_some() && self.input.holds_lane()) {
            CIPHER_LANE_GRAIN
        } else {
            1
        };
        if self.struck {
            grain * STRUCK_GRAIN
        } else {
            grain
        }
    }

    /// A turn beginning now: it owes [`PROGRESS_BYTES`] (a [`Conn::lane_grain`]th of it),
    /// or, a CURVE connection holding a lane, the part of its message known so far that brings
    /// all of it in [`LANE_PATIENCE`] progress timeouts ([`LANE_PATIENCE`]), or, a frame holding
    /// memory beyond the share, all its rest.
    fn new_turn(&self) -> Turn {
        let grain = u64::from(self.lane_grain());
        let least = PROGRESS_BYTES / grain;
        let known = match &self.secure {
            Some(s) if self.cipher_lane || self.input.holds_lane() => {
                let held = if self.input.holds_lane() {
                    self.input.held() as u64
                } else {
                    0
                };
                held.saturating_add(s.borrow().partial_len())
            }
            _ => 0,
        };
        // Memory beyond the share went to a frame that kept up as it began: it owes all its
        // rest in this turn (a progress timeout's grain), not a part of the frame a turn. Owing
        // a quarter of its frame a turn (all of it in a progress timeout), proven senders that
        // sent each later frame at 22 KB/s held the share and the last quarter between them,
        // and a 64 KB flow waited 3.6 s turns for the cipher lane (attacker round 11, F1).
        let owed = if self.beyond {
            let rest = self
                .secure
                .as_ref()
                .map_or(0, |s| s.borrow().partial_rest());
            least.max(rest)
        } else {
            least.max(known / (grain * u64::from(LANE_PATIENCE)))
        };
        Turn {
            since: Instant::now(),
            bytes: 0,
            owed,
        }
    }

    /// Whether the lane's holder sent less than it owes in its turn ([`Conn::new_turn`]: at
    /// least [`PROGRESS_BYTES`] of its message per progress timeout, a quarter of each in the
    /// cipher lane, [`CIPHER_LANE_GRAIN`]) while another connection waits for memory: the
    /// lane must serve the next, and the holder is closed as a stalled sender. With nobody
    /// waiting it may go on; one whose message is all here waits for its destination, as
    /// senders to a full queue or streamer do, and owes nothing; bytes that wait in its
    /// socket, unread because this task was late or its destination had no room, are
    /// progress not yet counted (a least turn's worth of them is enough: a large message's
    /// pace is owed only while it is read).
    fn lane_stalled(&mut self, host: &DeviceHost) -> bool {
        let (Some(turn), Some(timeout)) = (self.lane, host.progress_timeout()) else {
            return false;
        };
        if turn.since.elapsed() < timeout / self.lane_grain() {
            return false;
        }
        // A least turn's worth waiting unread: this task did not read (it was late, or its
        // message waits for room at its destination), its sender did not stall.
        let least = PROGRESS_BYTES / u64::from(self.lane_grain());
        let owed = turn.owed.saturating_sub(turn.bytes);
        // A frame beyond the share must have all it owes waiting: a trickle piling up unread
        // while it waits for more memory is not a frame that comes at once.
        let owed = if self.beyond { owed } else { owed.min(least) };
        let unread = || self.stream.readable().unwrap_or(0) >= owed;
        if !host.has_starved() || self.input.holds_message() || unread() {
            self.lane = Some(self.new_turn());
            return false;
        }
        true
    }

    /// Write the peer's output until it is gone or the socket is full.
    fn write(&mut self, host: &DeviceHost, dev: &mut Dev) -> Result<bool, End> {
        if self.write_blocked {
            return Ok(false);
        }
        let secure = self.secure.as_deref();
        if let Some(s) = secure {
            // The session took the peer's metadata: our READY may go.
            s.borrow_mut()
                .send_stash(dev.is_ready(self.id))
                .map_err(End::Session)?;
        }
        let (n, full) = write_peer(host, dev, self.id, &self.stream, secure)?;
        if self.undecided {
            self.wrote += n;
        }
        self.write_blocked = full;
        Ok(n > 0)
    }

    /// Whether its CURVE layer could not read for want of memory.
    fn secure_starved(&self) -> bool {
        self.secure.as_ref().is_some_and(|s| s.borrow().starved())
    }

    /// Whether anything waits to be written: the device's output for the peer, or ciphertext.
    fn owes(&self, dev: &Dev) -> bool {
        let (a, b) = dev.output(self.id);
        !(a.is_empty() && b.is_empty()) || self.secure.as_ref().is_some_and(|s| s.borrow().owes())
    }

    /// Write what the peer is still owed (an ERROR command, queued messages) until `deadline`.
    async fn flush(&mut self, host: &DeviceHost, deadline: Instant) {
        loop {
            let done = host.with_device(|dev| {
                let r = self.write(host, dev);
                r.is_err() || !self.owes(dev)
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

/// Whether ciphertext came since the lane's tracking last looked (a HELLO delivers nothing
/// to the device).
fn came(secure: &Rc<RefCell<Secure>>) -> bool {
    secure.borrow().arrived() > 0
}

/// The first [`SEEN_MAX`] of `bytes` in hex, for a debug line ("" for none).
fn hex_start(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for b in bytes.iter().take(SEEN_MAX) {
        let _ = write!(out, "{}{b:02x}", if out.is_empty() { "" } else { " " });
    }
    if bytes.len() > SEEN_MAX {
        out.push_str(" ...");
    }
    out
}

/// Bytes of a refused or vanished peer's greeting shown at debug: a 3.x greeting's signature,
/// version and mechanism; all of a 2.0 greeting.
const SEEN_MAX: usize = 24;
