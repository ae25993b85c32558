//! One ZMTP connection carrying small whole messages, for the control endpoint: the core's
//! [`Session`] does the protocol (greeting, handshake, heartbeats, limits); this reads and
//! writes the socket, gathers a message's frames, and keeps to deadlines so that a peer that
//! stops reading or sending holds nothing for long.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::time::{Duration, Instant as StdInstant};

use async_io::Timer;
use futures_lite::future;
use zedge_core::conn::{Event, Limits, Session, SessionConfig, TRANSMIT_BUFFER};
use zedge_core::wire::frame::FrameHead;

use crate::host::Clock;
use crate::net::Stream;

/// How long a write may wait for the peer to read before the connection is given up.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The most frames of one message: empty frames count nothing against the size limit, and
/// each would cost a vector.
pub const MAX_FRAMES: usize = 16;

/// A message as its frames.
pub type Message = Vec<Vec<u8>>;

/// A connection that moves whole messages of at most `limits.max_message_size` bytes.
pub struct Channel {
    stream: Stream,
    session: Session,
    clock: Clock,
    input: Vec<u8>,
    /// The frames of the message that is arriving.
    partial: Message,
    /// More frames follow the one arriving.
    more: bool,
}

impl Channel {
    /// Start a session of `cfg` on `stream` (our greeting goes out at once).
    pub async fn open(stream: Stream, cfg: SessionConfig, clock: Clock) -> io::Result<Channel> {
        let capacity = cfg
            .min_input_capacity()
            .max(cfg.limits.max_message_size as usize + 64);
        let mut c = Channel {
            stream,
            session: Session::new(cfg, clock.now()),
            clock,
            input: Vec::with_capacity(capacity),
            partial: Vec::new(),
            more: false,
        };
        c.transmit().await?;
        Ok(c)
    }

    /// The next whole message; `Ok(None)` when the peer closed the connection.
    pub async fn recv(&mut self) -> io::Result<Option<Message>> {
        self.read(false).await
    }

    /// Until the handshake is done: a client must not send before, since the server reads
    /// data before READY as an error. `Ok(false)` when the peer closed the connection.
    pub async fn handshake(&mut self) -> io::Result<bool> {
        Ok(self.read(true).await?.is_some())
    }

    /// The next whole message, or (`until_ready`) an empty one once the handshake is done.
    async fn read(&mut self, until_ready: bool) -> io::Result<Option<Message>> {
        loop {
            if let Some(msg) = self.take_input()? {
                return Ok(Some(msg));
            }
            if until_ready && self.session.is_ready() {
                return Ok(Some(Message::new()));
            }
            self.transmit().await?;
            if self.input.len() == self.input.capacity() {
                return Err(io::Error::other("message larger than the input buffer"));
            }
            match self.stream.read_spare(&mut self.input) {
                Ok(0) => return Ok(None),
                Ok(_) => {
                    // One read per look of the reactor: a peer that keeps sending does not
                    // keep the device's peers waiting.
                    self.stream.ready().await;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
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

    /// Feed what is buffered to the session until it needs more; a message, once all of it
    /// is here.
    fn take_input(&mut self) -> io::Result<Option<Message>> {
        let now = self.clock.now();
        loop {
            let got = self
                .session
                .handle_input(&self.input, now)
                .map_err(|e| io::Error::other(e.to_string()))?;
            if got.needs_more() {
                return Ok(None);
            }
            let (consumed, mut done) = (got.consumed, None);
            match got.event {
                Some(Event::Frame(f)) => {
                    if self.partial.len() >= MAX_FRAMES {
                        return Err(io::Error::other(format!(
                            "a message of more than {MAX_FRAMES} frames"
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

    /// Write what the session owes the peer (greeting, READY, PONG, ERROR).
    async fn transmit(&mut self) -> io::Result<()> {
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
            match self.stream.write_vectored(&[IoSlice::new(bytes)]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
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
                    future::or(writable, late).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
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
        head_bytes: 256,
    }
}
