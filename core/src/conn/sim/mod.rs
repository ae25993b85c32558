//! A simulated-time harness: two [`Session`]s wired back to back, no sockets, no sleeps.
//!
//! Each side's output goes into a byte pipe that keeps its whole history (so tests can look at
//! what crossed the wire) and a read cursor (what the peer has taken in). [`Sim::drive`] moves
//! bytes until nothing changes; [`Sim::advance`] moves the clock from deadline to deadline,
//! firing timers and driving after each. Tests can play a misbehaving peer by patching bytes
//! still in flight, injecting raw bytes, cutting one direction, or delivering in small chunks.
//!
//! Events are recorded per side as owned copies; the first error stops a side (it still writes
//! what `poll_transmit` gives, then reads nothing more).

use std::vec::Vec;
use std::{format, vec};

use super::{Event, Heartbeat, Limits, Session, SessionConfig, SessionError};
use crate::time::{Duration, Instant};
use crate::wire::frame::FrameHead;
use crate::wire::greeting::Mechanism;
use crate::wire::metadata::SocketType;
use crate::wire::Writer;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Client = 0,
    Server = 1,
}

use Side::{Client, Server};

impl Side {
    fn other(self) -> Side {
        match self {
            Client => Server,
            Server => Client,
        }
    }
}

/// An [`Event`] with its slices copied out of the input buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    /// The peer's socket type and the minor version spoken with it.
    Ready(SocketType, u8),
    /// `more`, the announced length, and the first body bytes.
    Frame(bool, u64, Vec<u8>),
    /// More body bytes, and whether the frame is complete.
    Body(Vec<u8>, bool),
    Subscribe(Vec<u8>),
    Cancel(Vec<u8>),
    /// A subscription (true) or cancellation over the topic limit, and the topic's length.
    TopicTooLong(bool, u64),
}

impl From<Event<'_>> for Ev {
    fn from(e: Event<'_>) -> Self {
        match e {
            Event::Ready(r) => Ev::Ready(r.socket_type, r.minor),
            Event::Frame(f) => Ev::Frame(f.more, f.len, f.chunk.to_vec()),
            Event::Body { chunk, done } => Ev::Body(chunk.to_vec(), done),
            Event::Subscribe(t) => Ev::Subscribe(t.to_vec()),
            Event::Cancel(t) => Ev::Cancel(t.to_vec()),
            Event::TopicTooLong { subscribe, len } => Ev::TopicTooLong(subscribe, len),
        }
    }
}

/// One direction of the connection.
#[derive(Debug, Default)]
struct Pipe {
    /// Every byte that entered the pipe, delivered or not.
    wire: Vec<u8>,
    /// How much of `wire` the receiver has taken in.
    read: usize,
    /// The sender's output is dropped: a peer gone silent.
    cut: bool,
}

#[derive(Debug)]
struct Peer {
    session: Session,
    /// Received bytes the session has not consumed yet.
    rx: Vec<u8>,
    events: Vec<Ev>,
    error: Option<(Instant, SessionError)>,
}

#[derive(Debug)]
struct Sim {
    now: Instant,
    peers: [Peer; 2],
    /// `pipes[side]` carries what `side` sends.
    pipes: [Pipe; 2],
    /// Most bytes handed to a receiver at once.
    chunk: usize,
}

impl Sim {
    /// Both sessions are created at time zero and their greetings are written (calling order
    /// step 1), but nothing is delivered yet: tests may patch the greetings in flight.
    fn new(client: SessionConfig, server: SessionConfig) -> Self {
        let now = Instant::ZERO;
        let peer = |cfg| Peer {
            session: Session::new(cfg, now),
            rx: Vec::new(),
            events: Vec::new(),
            error: None,
        };
        let mut sim = Sim {
            now,
            peers: [peer(client), peer(server)],
            pipes: [Pipe::default(), Pipe::default()],
            chunk: usize::MAX,
        };
        sim.flush(Client);
        sim.flush(Server);
        sim
    }

    fn of(client: SocketType, server: SocketType) -> Self {
        Sim::new(SessionConfig::new(client), SessionConfig::new(server))
    }

    fn peer(&self, side: Side) -> &Peer {
        &self.peers[side as usize]
    }

    fn wire(&self, from: Side) -> &[u8] {
        &self.pipes[from as usize].wire
    }

    /// Write what `side`'s session owes into its pipe. Returns whether anything was written.
    fn flush(&mut self, side: Side) -> bool {
        let mut buf = [0u8; 1024];
        let mut any = false;
        loop {
            let n = self.peers[side as usize].session.poll_transmit(&mut buf);
            if n == 0 {
                return any;
            }
            any = true;
            let pipe = &mut self.pipes[side as usize];
            if !pipe.cut {
                pipe.wire.extend_from_slice(&buf[..n]);
            }
        }
    }

    /// Feed `to` what its peer sent, `chunk` bytes at a time. Returns whether anything moved.
    fn deliver(&mut self, to: Side) -> bool {
        let pipe = &mut self.pipes[to.other() as usize];
        let peer = &mut self.peers[to as usize];
        let mut any = false;
        while peer.error.is_none() && pipe.read < pipe.wire.len() {
            let n = self.chunk.min(pipe.wire.len() - pipe.read);
            peer.rx
                .extend_from_slice(&pipe.wire[pipe.read..pipe.read + n]);
            pipe.read += n;
            any = true;
            loop {
                match peer.session.handle_input(&peer.rx, self.now) {
                    Ok(input) if input.needs_more() => break,
                    Ok(input) => {
                        let consumed = input.consumed;
                        peer.events.extend(input.event.map(Ev::from));
                        peer.rx.drain(..consumed);
                    }
                    Err(e) => {
                        peer.error = Some((self.now, e));
                        break;
                    }
                }
            }
        }
        any
    }

    /// Move bytes both ways until neither side has anything left to say or read.
    fn drive(&mut self) {
        for _ in 0..100_000 {
            let mut busy = false;
            for side in [Client, Server] {
                busy |= self.flush(side);
                busy |= self.deliver(side.other());
            }
            if !busy {
                return;
            }
        }
        panic!("drive() never went idle");
    }

    /// Move the clock forward `ms`, stopping at every deadline on the way. Timers also fire
    /// at the end whether due or not: a spurious wake-up must change nothing.
    fn advance(&mut self, ms: u64) {
        let end = self.now + Duration::from_millis(ms);
        for _ in 0..1_000_000 {
            let due = self.peers.iter().filter_map(Peer::deadline).min();
            let Some(t) = due.filter(|&t| t <= end) else {
                self.now = end;
                self.fire(|_| true);
                return;
            };
            self.now = self.now.max(t);
            let now = self.now;
            self.fire(|peer| peer.deadline().is_some_and(|t| t <= now));
        }
        panic!("a deadline stayed due after handle_timeout");
    }

    /// Call `handle_timeout` on the live sides `which` picks, then drive.
    fn fire(&mut self, which: impl Fn(&Peer) -> bool) {
        for peer in &mut self.peers {
            if peer.error.is_none() && which(peer) {
                if let Err(e) = peer.session.handle_timeout(self.now) {
                    peer.error = Some((self.now, e));
                }
            }
        }
        self.drive();
    }

    /// Write a message from `from` as data frames, as its caller would.
    fn send(&mut self, from: Side, frames: &[&[u8]]) {
        for (i, body) in frames.iter().enumerate() {
            let head = FrameHead::data(body.len() as u64, i + 1 < frames.len());
            self.inject(from, head.encode().as_slice());
            self.inject(from, body);
        }
    }

    /// Bytes `from` sends past its session: a hand-written peer. Ignores `cut`.
    fn inject(&mut self, from: Side, bytes: &[u8]) {
        self.pipes[from as usize].wire.extend_from_slice(bytes);
    }

    /// Rewrite bytes `from` sent that are still in flight, at `at` from the stream's start.
    fn patch(&mut self, from: Side, at: usize, bytes: &[u8]) {
        let pipe = &mut self.pipes[from as usize];
        assert!(at >= pipe.read, "byte {at} was already delivered");
        pipe.wire[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn cut(&mut self, from: Side) {
        self.pipes[from as usize].cut = true;
    }

    fn subscribe(&mut self, from: Side, subscribe: bool, topic: &[u8]) {
        let mut buf = [0u8; 512];
        let mut w = Writer::new(&mut buf);
        let session = &self.peers[from as usize].session;
        assert!(session.write_subscription(&mut w, subscribe, topic).is_ok());
        let n = w.len();
        self.inject(from, &buf[..n]);
    }

    fn error(&self, side: Side) -> Option<SessionError> {
        self.peer(side).error.map(|(_, e)| e)
    }

    /// The data frames `side` received, whole: `(more, body)` per frame. Checks that each
    /// frame's pieces add up to the length its header announced.
    fn frames(&self, side: Side) -> Vec<(bool, Vec<u8>)> {
        let mut out: Vec<(bool, u64, Vec<u8>)> = Vec::new();
        for ev in &self.peer(side).events {
            match ev {
                Ev::Frame(more, len, chunk) => out.push((*more, *len, chunk.clone())),
                Ev::Body(chunk, done) => {
                    let (_, len, body) = out.last_mut().expect("Body before Frame");
                    body.extend_from_slice(chunk);
                    assert_eq!(*done, body.len() as u64 == *len);
                }
                _ => {}
            }
        }
        out.into_iter()
            .map(|(more, len, body)| {
                assert_eq!(body.len() as u64, len);
                (more, body)
            })
            .collect()
    }
}

impl Peer {
    /// The session's next deadline, unless it has ended.
    fn deadline(&self) -> Option<Instant> {
        self.error.is_none().then(|| self.session.poll_timeout())?
    }
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

mod tests;
