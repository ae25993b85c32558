//! One ZMTP connection carrying whole messages, for the control endpoint and the test clients
//! (`zedge sub`, `req`...): the core's [`Session`] does the protocol (greeting, handshake,
//! heartbeats, limits); this reads and writes the socket (through a CURVE layer for a client
//! of a CURVE server), gathers a message's frames, and keeps to deadlines so that a peer that
//! stops reading or sending holds nothing for long.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::time::{Duration, Instant as StdInstant};

use async_io::Timer;
use futures_lite::future;
use zedge_core::conn::{Event, Limits, Session, SessionConfig, TRANSMIT_BUFFER};
use zedge_core::wire::frame::FrameHead;

use crate::host::Clock;
use crate::net::{Stream, Wire};
use crate::secure::{Secure, Secured};

/// How long a write may wait for the peer to read before the connection is given up.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The most frames of one message on a control connection: empty frames count nothing
/// against the size limit, and each would cost a vector.
pub const MAX_FRAMES: usize = 16;
/// Input buffer beyond what the session needs at least: a large frame comes through it in
/// pieces.
const INPUT_ROOM: usize = 64 << 10;

/// A message as its frames.
pub type Message = Vec<Vec<u8>>;

/// A connection that moves whole messages of at most `limits.max_message_size` bytes.
pub struct Channel {
    stream: Stream,
    /// The CURVE layer of a client of a CURVE server.
    secure: Option<RefCell<Secure>>,
    session: Session,
    clock: Clock,
    input: Vec<u8>,
    /// The frames of the message that is arriving.
    partial: Message,
    /// More frames follow the one arriving.
    more: bool,
    /// The most frames a message may have.
    max_frames: usize,
}

impl Channel {
    /// Start a session of `cfg` on `stream` (our greeting goes out at once), for messages of
    /// at most [`MAX_FRAMES`] frames.
    pub async fn open(stream: Stream, cfg: SessionConfig, clock: Clock) -> io::Result<Channel> {
        Channel::open_with(stream, None, cfg, clock, MAX_FRAMES).await
    }

    /// [`Channel::open`] through `secure` (a CURVE client's layer), if given, for messages of
    /// at most `max_frames` frames.
    pub async fn open_with(
        stream: Stream,
        secure: Option<Secure>,
        cfg: SessionConfig,
        clock: Clock,
        max_frames: usize,
    ) -> io::Result<Channel> {
        // Small messages (a control endpoint's commands) fit whole; a large frame comes
        // through INPUT_ROOM in pieces.
        let room = usize::try_from(cfg.limits.max_message_size.saturating_add(64))
            .unwrap_or(usize::MAX)
            .min(INPUT_ROOM);
        let capacity = cfg.min_input_capacity() + room;
        let mut c = Channel {
            stream,
            secure: secure.map(RefCell::new),
            session: Session::new(cfg, clock.now()),
            clock,
            input: Vec::with_capacity(capacity),
            partial: Vec::new(),
            more: false,
            max_frames,
        };
        c.transmit().await?;
        Ok(c)
    }

    /// Subscribe to `topic` (a SUB's session), after the handshake.
    pub async fn subscribe(&mut self, topic: &[u8]) -> io::Result<()> {
        let mut buf = vec![0u8; topic.len() + 64];
        let mut w = zedge_core::wire::Writer::new(&mut buf);
        self.session
            .write_subscription(&mut w, true, topic)
            .map_err(|_| io::Error::other("a subscription before the handshake"))?;
        let n = w.len();
        self.transmit().await?;
        self.write_all(&buf[..n]).await
    }

    /// Read into the input's spare room, through the CURVE layer if there is one.
    fn read_input(&mut self) -> io::Result<usize> {
        match &self.secure {
            Some(secure) => Secured {
                stream: &self.stream,
                secure,
            }
            .read_spare(&mut self.input),
            None => self.stream.read_spare(&mut self.input),
        }
    }

    /// The next whole message; `Ok(None)` when the peer closed the connection.
    pub async fn recv(&mut self) -> io::Result<Option<Message>> {
        self.read(false).await
    }

    /// Until the handshake is done: a client must not send before, since the server reads
    /// data before READY as an error. `Ok(false)` when the peer closed the connection.
    pub async fn handshake(&mut self) -> io::Result<bool> {
        let ready = self.read(true).await?.is_some();
        // Our READY, if still owed, goes before anything else we send.
        self.transmit().await?;
        Ok(ready)
    }

    /// The next whole message, or (`until_ready`) an empty one once the handshake is done.
    async fn read(&mut self, until_ready: bool) -> io::Result<Option<Message>> {
        loop {
            if let Some(msg) = self.take_input(until_ready)? {
                return Ok(Some(msg));
            }
            if until_ready && self.session.is_ready() {
                return Ok(Some(Message::new()));
            }
            self.transmit().await?;
            if self.input.len() == self.input.capacity() {
                return Err(io::Error::other("message larger than the input buffer"));
            }
            match self.read_input() {
                Ok(0) => return Ok(None),
                Ok(_) => {
                    // One read per look of the reactor: a peer that keeps sending does not
                    // keep the device's peers waiting.
                    self.stream.ready().await;
                    continue;
                }
                // A CURVE layer may have taken a handshake command that it answers.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.transmit().await?,
                Err(e) => return Err(e),
            }
            let readable = async {
                poll_fn(|cx| self.stream.poll_readable(cx)).await?;
                Ok(true)
            };
            let timeout = self.session.poll_timeout().map(|t| self.clock_to_std(t));
            let timer = async {
                match timeout {
                    Some(t) => Timer::at(t).await,
                    None => future::pending().await,
                };
                Ok::<bool, io::Error>(false)
            };
            if !future::or(readable, timer).await? {
                self.session
                    .handle_timeout(self.clock.now())
                    .map_err(|e| io::Error::other(e.to_string()))?;
            }
        }
    }

    /// Feed what is buffered to the session until it needs more (or, `until_ready`, until
    /// the handshake is done: what follows it stays for [`Channel::recv`]); a message, once
    /// all of it is here.
    fn take_input(&mut self, until_ready: bool) -> io::Result<Option<Message>> {
        let now = self.clock.now();
        loop {
            if until_ready && self.session.is_ready() {
                return Ok(None);
            }
            let got = self
                .session
                .handle_input(&self.input, now)
                .map_err(io::Error::other)?;
            if got.needs_more() {
                return Ok(None);
            }
            let (consumed, mut done) = (got.consumed, None);
            match got.event {
                Some(Event::Frame(f)) => {
                    if self.partial.len() >= self.max_frames {
                        return Err(io::Error::other(format!(
                            "a message of more than {} frames",
                            self.max_frames
                        )));
                    }
                    self.partial.push(f.chunk.to_vec());
                    self.more = f.more;
                    if f.is_whole() && !f.more {
                        done = Some(std::mem::take(&mut self.partial));
                    }
                }
                Some(Event::Body { chunk, done: end }) => {
                    if let Some(last) = self.partial.last_mut() {
                        last.extend_from_slice(chunk);
                    }
                    if end && !self.more {
                        done = Some(std::mem::take(&mut self.partial));
                    }
                }
                // A REP or REQ peer has no subscriptions; READY needs nothing of us.
                _ => {}
            }
            self.input.drain(..consumed);
            if done.is_some() {
                return Ok(done);
            }
        }
    }

    /// Wait for `until` while keeping the connection alive: what the peer sends meanwhile is
    /// read (a PING answered; a message, which a sender does not expect, dropped), so a
    /// client waiting on its user is not dropped by the device's heartbeats. An error if the
    /// peer closed the connection or broke the protocol.
    pub async fn idle_until<T>(&mut self, until: impl Future<Output = T>) -> io::Result<T> {
        let mut until = std::pin::pin!(until);
        loop {
            let readable = async {
                poll_fn(|cx| self.stream.poll_readable(cx)).await?;
                Ok(None)
            };
            let done = async { Ok::<_, io::Error>(Some(until.as_mut().await)) };
            if let Some(t) = future::or(done, readable).await? {
                return Ok(t);
            }
            // Read what is there, to the end of it, then answer what it asked.
            loop {
                if self.input.len() == self.input.capacity() {
                    return Err(io::Error::other("message larger than the input buffer"));
                }
                match self.read_input() {
                    Ok(0) => return Err(io::Error::other("closed by the peer")),
                    Ok(_) => {
                        let _dropped = self.take_input(false)?;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            self.transmit().await?;
        }
    }

    /// End the connection as a libzmq socket with a linger does: all that was written goes
    /// (FIN after it), then what the peer still sends is read and dropped until it closes
    /// too, for at most `within` (a socket closed with unread input resets the connection,
    /// and the peer may lose what it had not read yet).
    pub async fn close(mut self, within: Duration) {
        let deadline = StdInstant::now() + within;
        if self.flush_secure_by(deadline).await.is_err() {
            return;
        }
        self.stream.shutdown_write();
        let drain = async {
            loop {
                self.input.clear();
                match self.stream.read_spare(&mut self.input) {
                    Ok(0) => return,
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if poll_fn(|cx| self.stream.poll_readable(cx)).await.is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        };
        let late = async {
            Timer::at(deadline).await;
        };
        future::or(drain, late).await;
    }

    /// Until the reactor has looked at the socket again: one message per look, so a client
    /// sending requests back to back takes its turn with the device's peers.
    pub async fn take_turns(&self) {
        self.stream.ready().await;
    }

    /// Send a message of `frames` (at least one).
    pub async fn send(&mut self, frames: &[&[u8]]) -> io::Result<()> {
        self.transmit().await?;
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let more = i + 1 < frames.len();
            out.extend_from_slice(FrameHead::data(f.len() as u64, more).encode().as_slice());
            out.extend_from_slice(f);
        }
        self.write_all(&out).await
    }

    /// Write what the session owes the peer (greeting, READY, PONG, ERROR), and what the
    /// CURVE layer owes (its handshake).
    async fn transmit(&mut self) -> io::Result<()> {
        if let Some(secure) = &self.secure {
            secure
                .borrow_mut()
                .send_stash(self.session.is_ready())
                .map_err(|e| io::Error::other(e.to_string()))?;
            self.flush_secure().await?;
        }
        while self.session.wants_transmit() {
            let mut buf = [0u8; TRANSMIT_BUFFER];
            let n = self.session.poll_transmit(&mut buf);
            if n == 0 {
                break;
            }
            self.write_all(&buf[..n]).await?;
        }
        Ok(())
    }

    async fn write_all(&self, mut bytes: &[u8]) -> io::Result<()> {
        let deadline = StdInstant::now() + WRITE_TIMEOUT;
        while !bytes.is_empty() {
            let wrote = match &self.secure {
                Some(secure) => Secured {
                    stream: &self.stream,
                    secure,
                }
                .write_vectored(&[IoSlice::new(bytes)]),
                None => self.stream.write_vectored(&[IoSlice::new(bytes)]),
            };
            match wrote {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    bytes = &bytes[n..];
                    self.flush_secure_by(deadline).await?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.flush_secure_by(deadline).await?;
                    self.writable_by(deadline).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Until the CURVE layer's ciphertext has all gone to the socket.
    async fn flush_secure(&self) -> io::Result<()> {
        self.flush_secure_by(StdInstant::now() + WRITE_TIMEOUT)
            .await
    }

    async fn flush_secure_by(&self, deadline: StdInstant) -> io::Result<()> {
        let Some(secure) = &self.secure else {
            return Ok(());
        };
        while !secure.borrow_mut().flush(&self.stream)? {
            self.writable_by(deadline).await?;
        }
        Ok(())
    }

    /// Until the socket takes more, or `deadline`.
    async fn writable_by(&self, deadline: StdInstant) -> io::Result<()> {
        let writable = async {
            poll_fn(|cx| self.stream.poll_writable(cx)).await?;
            Ok(())
        };
        let late = async {
            Timer::at(deadline).await;
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer reads nothing",
            ))
        };
        future::or(writable, late).await
    }

    fn clock_to_std(&self, t: zedge_core::time::Instant) -> StdInstant {
        self.clock.to_std(t)
    }
}

/// Limits for a connection that carries commands and answers of at most `max` bytes.
pub fn small_messages(max: u64) -> Limits {
    Limits {
        max_message_size: max,
        max_command_size: 512,
        ..Limits::DEFAULT
    }
}
