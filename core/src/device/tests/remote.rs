//! A remote peer of the device in memory: a ZeroMQ socket's session that queues messages
//! until its handshake is done, as a real socket does, and records what it receives.

use std::mem;
use std::vec;
use std::vec::Vec;

use super::harness::{encode, Msg};
use crate::conn::{Event, Session, SessionError, TRANSMIT_BUFFER};
use crate::device::{CloseReason, PeerId};
use crate::time::Instant;
use crate::wire::Writer;

/// How a remote's connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The remote hung up.
    Left,
    /// The device's session failed on the remote's input.
    Failed(SessionError),
    /// The device asked for the connection to be closed.
    Closed(CloseReason),
}

#[derive(Debug)]
pub(super) enum Out {
    Msg(Msg),
    Sub(bool, Vec<u8>),
}

/// A session event with its bytes copied out of the input.
enum Ev {
    Frame(bool, u64, Vec<u8>),
    Body(Vec<u8>),
    Sub(bool, Vec<u8>),
    Ready,
}

impl From<Event<'_>> for Ev {
    fn from(e: Event<'_>) -> Self {
        match e {
            Event::Ready(_) => Ev::Ready,
            Event::Frame(f) => Ev::Frame(f.more, f.len, f.chunk.to_vec()),
            Event::Body { chunk, .. } => Ev::Body(chunk.to_vec()),
            Event::Subscribe(t) => Ev::Sub(true, t.to_vec()),
            Event::Cancel(t) => Ev::Sub(false, t.to_vec()),
            Event::TopicTooLong { .. } => unreachable!("the device sends topics within the limit"),
        }
    }
}

#[derive(Debug)]
pub struct Remote {
    pub id: PeerId,
    pub session: Session,
    /// Speaks ZMTP 3.0: its greeting and the device's, as it reads it, say so.
    pub(super) old: bool,
    pub(super) echo: bool,
    pub paused: bool,
    /// Its socket passed on some of what it held, unseen by the caller, each time it is tried
    /// ([`Device::socket_took`](crate::device::Device::socket_took)).
    pub passes_on: bool,
    /// Times the device asked for its socket to be tried.
    pub probes: usize,
    /// Queued by the test until the handshake is done.
    pub(super) outbox: Vec<Out>,
    /// Every byte the remote wrote, and how much of it the caller has read.
    pub sent: Vec<u8>,
    pub(super) sent_read: usize,
    /// The caller's input buffer for this connection.
    pub(super) inbuf: Vec<u8>,
    pub(super) woken: bool,
    /// Every byte the device wrote to the remote, and how much of it the session took.
    pub wire: Vec<u8>,
    pub(super) wire_read: usize,
    pub msgs: Vec<Msg>,
    pub(super) frames: Msg,
    /// The frame being received: MORE, announced length, body so far.
    pub(super) frame: Option<(bool, u64, Vec<u8>)>,
    /// Subscriptions (true) and cancellations received.
    pub subs: Vec<(bool, Vec<u8>)>,
    pub error: Option<SessionError>,
    pub end: Option<End>,
    /// The device still has the peer.
    pub(super) attached: bool,
}

impl Remote {
    /// Take in what the device wrote, then write what the session owes and, after the
    /// handshake, what the test queued. Returns whether anything moved.
    pub(super) fn read(&mut self, now: Instant) -> bool {
        let mut moved = false;
        while self.error.is_none() {
            let ev = match self.session.handle_input(&self.wire[self.wire_read..], now) {
                Ok(input) if input.needs_more() => break,
                Ok(input) => {
                    self.wire_read += input.consumed;
                    input.event.map(Ev::from)
                }
                Err(e) => {
                    self.error = Some(e);
                    break;
                }
            };
            moved = true;
            if let Some(ev) = ev {
                self.on_event(ev);
            }
        }
        self.transmit() || moved
    }

    fn on_event(&mut self, ev: Ev) {
        match ev {
            Ev::Frame(more, len, chunk) => self.frame = Some((more, len, chunk)),
            Ev::Body(chunk) => match &mut self.frame {
                Some((_, _, body)) => body.extend(chunk),
                None => panic!("body bytes outside a frame"),
            },
            Ev::Sub(on, topic) => {
                self.subs.push((on, topic));
                return;
            }
            Ev::Ready => return,
        }
        let Some((more, _, body)) = self.frame.take_if(|(_, len, b)| b.len() as u64 == *len) else {
            return;
        };
        self.frames.push(body);
        if !more {
            let m = mem::take(&mut self.frames);
            if self.echo {
                self.outbox.push(Out::Msg(super::echo(&m)));
            }
            self.msgs.push(m);
        }
    }

    /// Write owed commands, then (once ready) queued messages and subscriptions: always at
    /// a message boundary, since whole messages are written at once.
    pub(super) fn transmit(&mut self) -> bool {
        let before = self.sent.len();
        let mut buf = [0u8; TRANSMIT_BUFFER];
        let n = self.session.poll_transmit(&mut buf);
        self.sent.extend_from_slice(&buf[..n]);
        if self.session.is_ready() {
            for out in self.outbox.drain(..) {
                match out {
                    Out::Msg(m) => self.sent.extend(encode(&m)),
                    Out::Sub(on, topic) => {
                        let mut buf = vec![0u8; topic.len() + 32];
                        let mut w = Writer::new(&mut buf);
                        let ok = self.session.write_subscription(&mut w, on, &topic);
                        assert!(ok.is_ok(), "room for a subscription");
                        let n = w.len();
                        self.sent.extend_from_slice(&buf[..n]);
                    }
                }
            }
        }
        self.sent.len() > before
    }
}
