//! Shared helpers for zedge's integration tests against real ZeroMQ peers.
//!
//! - [`python()`] finds an interpreter that can `import zmq` (libzmq through pyzmq), or fails the
//!   test with what to do about it: these tests never skip silently.
//! - [`PyPeer`] runs a Python peer script with a deadline, kills it if the test ends first, and
//!   checks that it exited cleanly; [`zmq_prelude!`] starts the scripts (module [`python`](mod@python)).
//! - [`Driver`] is the smallest blocking shell around a `zedge_core` [`Session`] over a
//!   [`TcpStream`]: it follows the session's calling order (read, feed, drain, timers) and hands
//!   events back as owned values, so tests read like a script of what the peer should do.
//! - [`broker`] builds the `zedge` binary once and runs devices on free ports; [`agent`] drives
//!   one libzmq socket in a Python process command by command; [`raw`] speaks exact ZMTP bytes
//!   for hostile peers; [`wait`] bounds every wait; [`flow`] runs a timestamped normal flow
//!   beside an abuse and reports what it got; [`normal`] checks a device still carries ten
//!   messages between fresh libzmq peers after one.

pub mod agent;
pub mod broker;
pub mod clients;
pub mod control;
pub mod curve;
pub mod flow;
pub mod jeromq;
pub mod normal;
pub mod numbered;
pub mod python;
pub mod raw;
pub mod systemd;
pub mod v1;
pub mod wait;

pub use python::{python, PyPeer, PYTHON_ENV};

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use zedge_core::conn::{Event, Session, SessionConfig, SessionError};
use zedge_core::time::Instant as CoreInstant;
use zedge_core::wire::metadata::SocketType;

/// A listener on an ephemeral loopback port, for a peer to connect to.
pub fn listen() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .set_nonblocking(true)
        .expect("make the listener non-blocking");
    let port = listener.local_addr().expect("listener address").port();
    (listener, port)
}

/// The next connection on `listener` (made by [`listen`]), or a panic at `deadline`.
pub fn accept(listener: &TcpListener, deadline: Instant) -> TcpStream {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).expect("make stream blocking");
                stream.set_nodelay(true).expect("set TCP_NODELAY");
                return stream;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                panic!("no peer connected before the deadline")
            }
            Err(e) => panic!("accept failed: {e}"),
        }
    }
}

/// Whether another connection is waiting on `listener` (made by [`listen`]).
pub fn has_pending_connection(listener: &TcpListener) -> bool {
    listener.accept().is_ok()
}

/// Write one message: a data frame per part, MORE on all but the last.
pub fn write_message(w: &mut impl Write, parts: &[&[u8]]) -> io::Result<()> {
    w.write_all(&raw::message_bytes(parts))
}

/// How often `needle` occurs in `haystack` (overlaps counted).
pub fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// An [`Event`] copied out of the driver's input buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedEvent {
    Ready {
        socket_type: SocketType,
        minor: u8,
        identity: Vec<u8>,
    },
    Frame {
        more: bool,
        len: u64,
        chunk: Vec<u8>,
    },
    Body {
        chunk: Vec<u8>,
        done: bool,
    },
    Subscribe(Vec<u8>),
    Cancel(Vec<u8>),
    TopicTooLong {
        subscribe: bool,
        len: u64,
    },
}

impl From<Event<'_>> for OwnedEvent {
    fn from(event: Event<'_>) -> Self {
        match event {
            Event::Ready(r) => OwnedEvent::Ready {
                socket_type: r.socket_type,
                minor: r.minor,
                identity: r.identity.to_vec(),
            },
            Event::Frame(f) => OwnedEvent::Frame {
                more: f.more,
                len: f.len,
                chunk: f.chunk.to_vec(),
            },
            Event::Body { chunk, done } => OwnedEvent::Body {
                chunk: chunk.to_vec(),
                done,
            },
            Event::Subscribe(t) => OwnedEvent::Subscribe(t.to_vec()),
            Event::Cancel(t) => OwnedEvent::Cancel(t.to_vec()),
            Event::TopicTooLong { subscribe, len } => OwnedEvent::TopicTooLong { subscribe, len },
        }
    }
}

/// What one [`Driver::step`] came to.
#[derive(Debug)]
pub enum Step {
    Event(OwnedEvent),
    /// The session ended with this error; what it owed the peer (ERROR) has been written.
    Failed(SessionError),
    /// The peer closed the connection.
    PeerClosed,
    Io(io::Error),
    /// The `until` instant passed with nothing to report.
    Idle,
}

/// One received data frame, reassembled from its `Frame` and `Body` events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RxFrame {
    pub more: bool,
    pub body: Vec<u8>,
    /// Events it took (1 if the `Frame` event carried the whole body).
    pub events: usize,
}

/// A blocking shell around one [`Session`] over a TCP connection.
#[derive(Debug)]
pub struct Driver {
    pub session: Session,
    stream: TcpStream,
    epoch: Instant,
    capacity: usize,
    pending: Vec<u8>,
    /// Everything `poll_transmit` produced, in order.
    pub written: Vec<u8>,
    /// Every byte read from the peer, in order.
    pub received: Vec<u8>,
}

impl Driver {
    /// Start a session on `stream` with an input buffer of exactly
    /// [`SessionConfig::min_input_capacity`], the smallest the session promises to work with.
    pub fn new(stream: TcpStream, cfg: SessionConfig) -> Driver {
        let capacity = cfg.min_input_capacity();
        Driver::with_capacity(stream, cfg, capacity)
    }

    pub fn with_capacity(stream: TcpStream, cfg: SessionConfig, capacity: usize) -> Driver {
        assert!(
            capacity >= cfg.min_input_capacity(),
            "input buffer below min_input_capacity"
        );
        let epoch = Instant::now();
        let mut driver = Driver {
            session: Session::new(cfg, CoreInstant::ZERO),
            stream,
            epoch,
            capacity,
            pending: Vec::with_capacity(capacity),
            written: Vec::new(),
            received: Vec::new(),
        };
        driver.flush().expect("write our greeting");
        driver
    }

    /// `now` for the core: milliseconds since this driver started.
    pub fn now(&self) -> CoreInstant {
        let ms = self.epoch.elapsed().as_millis();
        CoreInstant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    fn to_std(&self, t: CoreInstant) -> Instant {
        self.epoch + Duration::from_millis(t.as_millis())
    }

    /// Write what the session owes the peer. We only ever write whole messages, so every call
    /// is at a frame boundary of our outgoing stream.
    fn flush(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 512];
        loop {
            let n = self.session.poll_transmit(&mut buf);
            if n == 0 {
                return Ok(());
            }
            self.written.extend_from_slice(&buf[..n]);
            self.stream.write_all(&buf[..n])?;
        }
    }

    /// Send one message (see [`write_message`]), after anything the session owes.
    pub fn send(&mut self, parts: &[&[u8]]) {
        self.flush().expect("write session output");
        write_message(&mut self.stream, parts).expect("write message");
    }

    /// Drive the session until it has something to report, or until `until` passes.
    pub fn step(&mut self, until: Instant) -> Step {
        loop {
            if let Err(e) = self.flush() {
                return Step::Io(e);
            }
            let now = self.now();
            let fed = self.session.handle_input(&self.pending, now);
            let (consumed, event) = match fed {
                Ok(input) => (input.consumed, input.event.map(OwnedEvent::from)),
                Err(e) => return self.failed(e),
            };
            self.pending.drain(..consumed);
            if let Some(event) = event {
                return Step::Event(event);
            }
            if consumed > 0 {
                continue;
            }
            assert!(
                self.pending.len() < self.capacity,
                "session made no progress with a full {}-byte input buffer",
                self.capacity
            );
            let timeout = self.session.poll_timeout();
            if timeout.is_some_and(|t| t <= now) {
                if let Err(e) = self.session.handle_timeout(now) {
                    return self.failed(e);
                }
                continue;
            }
            let wake = timeout.map_or(until, |t| self.to_std(t).min(until));
            let left = wake.saturating_duration_since(Instant::now());
            if left.is_zero() && Instant::now() >= until {
                return Step::Idle;
            }
            if let Some(step) = self.read(left.max(Duration::from_millis(1))) {
                return step;
            }
        }
    }

    fn failed(&mut self, e: SessionError) -> Step {
        match self.flush() {
            Ok(()) => Step::Failed(e),
            Err(io) => panic!("session failed ({e}) and its last words could not be written: {io}"),
        }
    }

    /// One read of at most `timeout`; `None` if bytes arrived or the read timed out.
    fn read(&mut self, timeout: Duration) -> Option<Step> {
        self.stream
            .set_read_timeout(Some(timeout))
            .expect("set read timeout");
        let mut buf = vec![0u8; self.capacity - self.pending.len()];
        match self.stream.read(&mut buf) {
            Ok(0) => Some(Step::PeerClosed),
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                self.received.extend_from_slice(&buf[..n]);
                None
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Some(Step::PeerClosed),
            Err(e) => Some(Step::Io(e)),
        }
    }

    /// The next event; panics on anything else.
    pub fn event(&mut self, deadline: Instant) -> OwnedEvent {
        match self.step(deadline) {
            Step::Event(event) => event,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// The handshake's end: the peer's socket type and identity.
    pub fn ready(&mut self, deadline: Instant) -> (SocketType, Vec<u8>) {
        match self.event(deadline) {
            OwnedEvent::Ready {
                socket_type,
                identity,
                ..
            } => (socket_type, identity),
            other => panic!("expected Ready, got {other:?}"),
        }
    }

    /// The next whole message, with its frames' boundaries and MORE flags as the session
    /// reported them. Checks that `Body` events add up to the announced lengths.
    pub fn message(&mut self, deadline: Instant) -> Vec<RxFrame> {
        let mut frames = Vec::new();
        loop {
            let (more, len, mut body) = match self.event(deadline) {
                OwnedEvent::Frame { more, len, chunk } => (more, len, chunk),
                other => panic!("expected a data frame, got {other:?}"),
            };
            let mut events = 1;
            while (body.len() as u64) < len {
                match self.event(deadline) {
                    OwnedEvent::Body { chunk, done } => {
                        assert!(!chunk.is_empty(), "empty Body event");
                        body.extend_from_slice(&chunk);
                        events += 1;
                        assert_eq!(done, body.len() as u64 == len, "Body done flag misplaced");
                    }
                    other => panic!("expected the rest of a {len}-byte frame, got {other:?}"),
                }
            }
            assert_eq!(body.len() as u64, len, "frame body overran its length");
            frames.push(RxFrame { more, body, events });
            if !more {
                return frames;
            }
        }
    }

    /// Keep the connection serviced (heartbeats) until `until`; panics if anything happens.
    pub fn idle(&mut self, until: Instant) {
        match self.step(until) {
            Step::Idle => {}
            other => panic!("expected a quiet connection, got {other:?}"),
        }
    }

    /// Expect the peer to close the connection (after no further events) by `deadline`.
    pub fn closed(&mut self, deadline: Instant) {
        match self.step(deadline) {
            Step::PeerClosed => {}
            other => panic!("expected the peer to close, got {other:?}"),
        }
    }
}

/// What the kernel holds written to each established IPv4 TCP socket whose local port is
/// `port` and not yet acknowledged by its peer (`tx_queue` in /proc/net/tcp, as SIOCOUTQ
/// tells its owner), with the peer's port: for a broker's listening port, what each of its
/// accepted connections holds in the kernel. With the peer's window shut, all of it is unsent.
pub fn kernel_send_queues(port: u16) -> Vec<(u16, u64)> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let local = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl, local, remote, state (01: established), tx_queue:rx_queue
            if f.len() < 5 || !f[1].ends_with(&local) || f[3] != "01" {
                return None;
            }
            let peer = u16::from_str_radix(f[2].rsplit(':').next()?, 16).ok()?;
            let tx = f[4].split(':').next()?;
            Some((peer, u64::from_str_radix(tx, 16).ok()?))
        })
        .collect()
}
