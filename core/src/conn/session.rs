//! One ZMTP connection, either side of it: greeting, handshake, traffic, heartbeats.
//!
//! # Calling order
//!
//! A [`Session`] owns no buffers and no socket. Its caller:
//!
//! 1. creates it when a TCP/IPC connection is up, and writes what [`Session::poll_transmit`]
//!    gives (our greeting first) to the socket;
//! 2. feeds received bytes to [`Session::handle_input`] until it consumes nothing and returns
//!    no event, keeping unconsumed bytes for the next call (the input buffer must hold at least
//!    [`SessionConfig::min_input_capacity`] bytes);
//! 3. after every call, writes what `poll_transmit` gives, at a frame boundary of its own
//!    outgoing stream (commands may not cut a frame in two);
//! 4. calls [`Session::handle_timeout`] once [`Session::poll_timeout`] has passed.
//!
//! Any `Err` is final: write what `poll_transmit` still gives (an ERROR command, where the
//! protocol calls for one), then close the connection.

use super::config::SessionConfig;
use super::error::{Reason, SessionError};
use super::heartbeat::{Due, Timers};
use crate::time::Instant;
use crate::wire::command::{self, Command, MAX_PING_CONTEXT};
use crate::wire::frame::FrameHead;
use crate::wire::greeting::{Greeting, GREETING_LEN};
use crate::wire::metadata::SocketType;
use crate::wire::{Full, Writer};

/// An output buffer this large takes every command a session can owe at once (greeting,
/// READY, ERROR, PONG and PING together need less than half of it).
pub const TRANSMIT_BUFFER: usize = 256;

/// What [`Session::handle_input`] made of the input.
#[derive(Debug)]
pub struct Input<'a> {
    /// Bytes of the input used up; drop them before the next call.
    pub consumed: usize,
    pub event: Option<Event<'a>>,
}

impl Input<'_> {
    const NEED_MORE: Input<'static> = Input {
        consumed: 0,
        event: None,
    };

    /// Nothing was consumed and nothing happened: read more before calling again.
    pub fn needs_more(&self) -> bool {
        self.consumed == 0 && self.event.is_none()
    }
}

/// Something the peer did that the caller must act on. Slices borrow the caller's input.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// The handshake finished; messages may flow both ways.
    Ready(PeerReady<'a>),
    /// A data frame starts.
    Frame(FrameStart<'a>),
    /// More body bytes of the data frame that started last.
    Body { chunk: &'a [u8], done: bool },
    /// The peer subscribed to a topic (SUBSCRIBE command or 3.0 `0x01` message).
    Subscribe(&'a [u8]),
    /// The peer cancelled a subscription (CANCEL command or 3.0 `0x00` message).
    Cancel(&'a [u8]),
}

/// Who the peer turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub struct PeerReady<'a> {
    pub socket_type: SocketType,
    /// ZMTP minor version we speak with this peer: 0 or 1.
    pub minor: u8,
    /// Its Identity property; empty if none.
    pub identity: &'a [u8],
}

/// The start of a data frame: its header and its first body bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct FrameStart<'a> {
    /// More frames of the same message follow this one.
    pub more: bool,
    /// The whole body length.
    pub len: u64,
    /// At least `min(len, head_bytes)` bytes; as many as the input held, up to `len`.
    pub chunk: &'a [u8],
}

impl FrameStart<'_> {
    /// The chunk is the whole body; no `Body` events follow.
    pub fn is_whole(&self) -> bool {
        self.chunk.len() as u64 == self.len
    }
}

#[derive(Clone, Copy, Debug)]
enum State {
    Greeting {
        deadline: Option<Instant>,
    },
    Handshake {
        deadline: Option<Instant>,
        minor: u8,
    },
    Active {
        minor: u8,
    },
    Closed,
}

/// Where we are in the peer's stream of data frames.
#[derive(Clone, Copy, Debug, Default)]
struct Rx {
    body_left: u64,
    /// Bytes of the current multipart message so far, for the size limit.
    msg_len: u64,
    in_message: bool,
}

#[derive(Clone, Copy, Debug)]
struct PingContext {
    buf: [u8; MAX_PING_CONTEXT],
    len: u8,
}

/// Commands owed to the peer.
#[derive(Clone, Copy, Debug)]
struct Owed {
    greeting: bool,
    ready: bool,
    ping: bool,
    pong: Option<PingContext>,
    error: Option<&'static str>,
}

/// One ZMTP connection; see the module docs for the calling order.
#[derive(Clone, Debug)]
pub struct Session {
    cfg: SessionConfig,
    state: State,
    rx: Rx,
    owed: Owed,
    timers: Timers,
}

impl Session {
    pub fn new(cfg: SessionConfig, now: Instant) -> Self {
        let deadline = (!cfg.handshake_timeout.is_zero()).then(|| now + cfg.handshake_timeout);
        Session {
            cfg,
            state: State::Greeting { deadline },
            rx: Rx::default(),
            owed: Owed {
                greeting: true,
                ready: false,
                ping: false,
                pong: None,
                error: None,
            },
            timers: Timers::new(cfg.heartbeat, now),
        }
    }

    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    /// The handshake finished and the session has not ended.
    pub fn is_ready(&self) -> bool {
        matches!(self.state, State::Active { .. })
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// ZMTP minor version spoken with the peer, once its greeting arrived.
    pub fn peer_minor(&self) -> Option<u8> {
        match self.state {
            State::Handshake { minor, .. } | State::Active { minor } => Some(minor),
            State::Greeting { .. } | State::Closed => None,
        }
    }

    /// Body bytes of the current data frame still to come; 0 between frames.
    pub fn body_left(&self) -> u64 {
        match self.state {
            State::Active { .. } => self.rx.body_left,
            _ => 0,
        }
    }

    /// `n` body bytes of the current data frame went by without passing through
    /// [`Session::handle_input`] (the caller moved them to where they go): count them as
    /// received. `n` is capped at [`Session::body_left`]. Returns whether the frame is now
    /// complete.
    pub fn skip_body(&mut self, n: u64, now: Instant) -> bool {
        if !matches!(self.state, State::Active { .. }) || self.rx.body_left == 0 {
            return false;
        }
        let n = n.min(self.rx.body_left);
        self.rx.body_left -= n;
        if n > 0 {
            self.timers.on_rx(now);
        }
        self.rx.body_left == 0
    }

    /// Take in bytes from the peer; see the module docs.
    pub fn handle_input<'a>(
        &mut self,
        input: &'a [u8],
        now: Instant,
    ) -> Result<Input<'a>, SessionError> {
        let result = match self.state {
            State::Closed => return Err(SessionError::Closed),
            State::Greeting { .. } => self.on_greeting(input),
            State::Handshake { minor, .. } => self.on_handshake(input, minor, now),
            State::Active { .. } => self.on_traffic(input),
        };
        match &result {
            Ok(input) if input.consumed > 0 => self.timers.on_rx(now),
            Ok(_) => {}
            Err(_) => self.state = State::Closed,
        }
        result
    }

    fn on_greeting<'a>(&mut self, input: &'a [u8]) -> Result<Input<'a>, SessionError> {
        let Some(greeting) = Greeting::decode(input)? else {
            return Ok(Input::NEED_MORE);
        };
        if greeting.mechanism != self.cfg.mechanism {
            return Err(SessionError::MechanismMismatch {
                ours: self.cfg.mechanism,
                theirs: greeting.mechanism,
            });
        }
        // A peer with a higher version speaks ours (RFC 23 §"Version Negotiation").
        let minor = if greeting.major > 3 {
            1
        } else {
            greeting.minor.min(1)
        };
        let deadline = match self.state {
            State::Greeting { deadline } => deadline,
            _ => None,
        };
        self.state = State::Handshake { deadline, minor };
        self.owed.ready = true;
        Ok(Input {
            consumed: GREETING_LEN,
            event: None,
        })
    }

    fn on_handshake<'a>(
        &mut self,
        input: &'a [u8],
        minor: u8,
        now: Instant,
    ) -> Result<Input<'a>, SessionError> {
        let Some((head, head_len)) = FrameHead::decode(input)? else {
            return Ok(Input::NEED_MORE);
        };
        if !head.command {
            return Err(SessionError::DataBeforeReady);
        }
        let Some(body) = self.command_body(input, head, head_len)? else {
            return Ok(Input::NEED_MORE);
        };
        let props = match Command::parse(body)? {
            Command::Ready(props) => props,
            Command::Error { reason } => return Err(SessionError::PeerError(Reason::new(reason))),
            _ => return Err(SessionError::UnexpectedCommand),
        };
        // Every property must parse, not just the ones we look at.
        for prop in props.clone() {
            prop?;
        }
        let name = props
            .find("Socket-Type")?
            .ok_or(SessionError::MissingSocketType)?;
        let theirs = SocketType::from_name(name).ok_or(SessionError::UnknownSocketType)?;
        let ours = self.cfg.socket_type;
        if !ours.accepts(theirs) {
            // ERROR tells the peer why before we close (RFC 23 §"Error Handling"). Our READY
            // has usually gone out already: we send it as soon as the greeting is read, since
            // two peers that each waited for the other's READY would never finish.
            self.owed.ready = false;
            self.owed.error = Some("Invalid socket type");
            return Err(SessionError::IncompatibleSocketType { ours, theirs });
        }
        let identity = props.find("Identity")?.unwrap_or_default();
        if identity.len() > 255 {
            return Err(SessionError::IdentityTooLong);
        }
        self.state = State::Active { minor };
        self.timers.start(minor, now);
        let ready = PeerReady {
            socket_type: theirs,
            minor,
            identity,
        };
        Ok(Input {
            consumed: head_len + body.len(),
            event: Some(Event::Ready(ready)),
        })
    }

    fn on_traffic<'a>(&mut self, input: &'a [u8]) -> Result<Input<'a>, SessionError> {
        if self.rx.body_left > 0 {
            if input.is_empty() {
                return Ok(Input::NEED_MORE);
            }
            let n = (input.len() as u64).min(self.rx.body_left) as usize;
            self.rx.body_left -= n as u64;
            let done = self.rx.body_left == 0;
            return Ok(Input {
                consumed: n,
                event: Some(Event::Body {
                    chunk: &input[..n],
                    done,
                }),
            });
        }
        let Some((head, head_len)) = FrameHead::decode(input)? else {
            return Ok(Input::NEED_MORE);
        };
        if head.command {
            let Some(body) = self.command_body(input, head, head_len)? else {
                return Ok(Input::NEED_MORE);
            };
            let event = self.on_command(Command::parse(body)?)?;
            return Ok(Input {
                consumed: head_len + body.len(),
                event,
            });
        }
        let limit = self.cfg.limits.max_message_size;
        let msg_len = self.rx.msg_len.saturating_add(head.len);
        if msg_len > limit {
            return Err(SessionError::MessageTooLarge {
                len: msg_len,
                limit,
            });
        }
        let body = &input[head_len..];
        if let Some(sub) = self.subscription_message(head, body) {
            return Ok(match sub {
                Some(event) => Input {
                    consumed: head_len + head.len as usize,
                    event: Some(event),
                },
                None => Input::NEED_MORE,
            });
        }
        let need = head.len.min(self.cfg.limits.head_bytes as u64) as usize;
        if body.len() < need {
            return Ok(Input::NEED_MORE);
        }
        let take = (body.len() as u64).min(head.len) as usize;
        self.rx = Rx {
            body_left: head.len - take as u64,
            msg_len: if head.more { msg_len } else { 0 },
            in_message: head.more,
        };
        let start = FrameStart {
            more: head.more,
            len: head.len,
            chunk: &body[..take],
        };
        Ok(Input {
            consumed: head_len + take,
            event: Some(Event::Frame(start)),
        })
    }

    /// The ZMTP 3.0 subscription form: a one-frame message starting with 0x01 or 0x00, sent to
    /// a PUB/XPUB. `None` if this frame cannot be one; `Some(None)` if it may be but is not
    /// all here yet.
    fn subscription_message<'a>(
        &self,
        head: FrameHead,
        body: &'a [u8],
    ) -> Option<Option<Event<'a>>> {
        let small = head.len >= 1 && head.len <= self.cfg.limits.max_command_size as u64;
        if !self.cfg.socket_type.takes_subscriptions() || self.rx.in_message || head.more || !small
        {
            return None;
        }
        let Some(body) = body.get(..head.len as usize) else {
            return Some(None);
        };
        match body.split_first() {
            Some((0x01, topic)) => Some(Some(Event::Subscribe(topic))),
            Some((0x00, topic)) => Some(Some(Event::Cancel(topic))),
            _ => None,
        }
    }

    fn on_command<'a>(&mut self, cmd: Command<'a>) -> Result<Option<Event<'a>>, SessionError> {
        let takes_subs = self.cfg.socket_type.takes_subscriptions();
        Ok(match cmd {
            Command::Ping { ttl, context } => {
                let mut buf = [0u8; MAX_PING_CONTEXT];
                buf[..context.len()].copy_from_slice(context);
                self.owed.pong = Some(PingContext {
                    buf,
                    len: context.len() as u8,
                });
                self.timers.on_peer_ttl(ttl);
                None
            }
            Command::Subscribe(topic) if takes_subs => Some(Event::Subscribe(topic)),
            Command::Cancel(topic) if takes_subs => Some(Event::Cancel(topic)),
            // Subscriptions sent to a socket that does not publish, PONGs (their arrival
            // already counted as traffic) and commands from later protocol versions.
            Command::Subscribe(_)
            | Command::Cancel(_)
            | Command::Pong { .. }
            | Command::Unknown { .. } => None,
            Command::Error { reason } => return Err(SessionError::PeerError(Reason::new(reason))),
            Command::Ready(_) => return Err(SessionError::UnexpectedCommand),
        })
    }

    /// A whole command body, `None` if not all here yet, an error if over the limit.
    fn command_body<'a>(
        &self,
        input: &'a [u8],
        head: FrameHead,
        head_len: usize,
    ) -> Result<Option<&'a [u8]>, SessionError> {
        let limit = self.cfg.limits.max_command_size;
        if head.len > limit as u64 {
            return Err(SessionError::CommandTooLarge {
                len: head.len,
                limit,
            });
        }
        // head.len <= limit, a usize, so the cast is exact; the sum can only overflow for an
        // absurd limit, and then the body is simply not all here.
        Ok(head_len
            .checked_add(head.len as usize)
            .and_then(|end| input.get(head_len..end)))
    }

    /// Commands owed to the peer are waiting for [`Session::poll_transmit`].
    pub fn wants_transmit(&self) -> bool {
        let o = &self.owed;
        o.error.is_some()
            || (!self.is_closed() && (o.greeting || o.ready || o.ping || o.pong.is_some()))
    }

    /// Write owed commands into `out`: whole ones only, in protocol order. Returns bytes written.
    /// [`TRANSMIT_BUFFER`] bytes always take everything owed at once.
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> usize {
        let mut w = Writer::new(out);
        let _ = self.write_owed(&mut w);
        w.len()
    }

    fn write_owed(&mut self, w: &mut Writer<'_>) -> Result<(), Full> {
        let closed = self.is_closed();
        if closed && self.owed.error.is_none() {
            return Ok(());
        }
        if self.owed.greeting {
            w.put(&Greeting::ours(self.cfg.mechanism, self.cfg.as_server).encode())?;
            self.owed.greeting = false;
        }
        if let Some(reason) = self.owed.error {
            command::write_error(w, reason.as_bytes())?;
            self.owed.error = None;
        }
        if closed {
            return Ok(());
        }
        if self.owed.ready {
            command::write_ready(w, self.cfg.socket_type, b"")?;
            self.owed.ready = false;
        }
        if let Some(ctx) = self.owed.pong {
            command::write_pong(w, &ctx.buf[..usize::from(ctx.len)])?;
            self.owed.pong = None;
        }
        if self.owed.ping {
            command::write_ping(w, self.timers.our_ttl(), b"")?;
            self.owed.ping = false;
        }
        Ok(())
    }

    /// When [`Session::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Greeting { deadline } | State::Handshake { deadline, .. } => deadline,
            State::Active { .. } => self.timers.next_deadline(),
            State::Closed => None,
        }
    }

    /// Fire whatever timers are due at `now`. An error ends the session.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), SessionError> {
        let result = match self.state {
            State::Closed => return Err(SessionError::Closed),
            State::Greeting { deadline } | State::Handshake { deadline, .. } => match deadline {
                Some(t) if now >= t => Err(SessionError::HandshakeTimeout),
                _ => Ok(()),
            },
            State::Active { .. } => self.timers.on_timeout(now).map(|due| {
                if due == Due::SendPing {
                    self.owed.ping = true;
                }
            }),
        };
        if result.is_err() {
            self.state = State::Closed;
        }
        result
    }

    /// Write a subscription (or its cancellation) in the form the peer's version calls for:
    /// a SUBSCRIBE/CANCEL command to 3.1 peers, a `0x01`/`0x00` message to 3.0 peers. Only
    /// after the handshake, and at a message boundary of the outgoing stream; before the
    /// handshake nothing is written and `Full` is returned.
    pub fn write_subscription(
        &self,
        w: &mut Writer<'_>,
        subscribe: bool,
        topic: &[u8],
    ) -> Result<(), Full> {
        match self.state {
            State::Active { minor: 1.. } if subscribe => command::write_subscribe(w, topic),
            State::Active { minor: 1.. } => command::write_cancel(w, topic),
            State::Active { minor: 0 } => {
                let head = FrameHead::data(topic.len() as u64 + 1, false);
                if w.remaining() < head.encoded_len() + 1 + topic.len() {
                    return Err(Full);
                }
                w.put(head.encode().as_slice())?;
                w.put(&[u8::from(subscribe)])?;
                w.put(topic)
            }
            _ => Err(Full),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::vectors;

    /// An XPUB session that has read a libzmq SUB's greeting and READY.
    fn xpub_after_handshake() -> Session {
        let mut s = Session::new(SessionConfig::new(SocketType::XPub), Instant::ZERO);
        let mut stream = std::vec::Vec::from(vectors::GREETING_31);
        stream.extend_from_slice(vectors::READY_SUB);
        let mut at = 0;
        let mut ready = false;
        while at < stream.len() {
            let input = s.handle_input(&stream[at..], Instant::ZERO).unwrap();
            ready |= matches!(
                input.event,
                Some(Event::Ready(PeerReady {
                    socket_type: SocketType::Sub,
                    minor: 1,
                    ..
                }))
            );
            at += input.consumed;
        }
        assert!(ready);
        s
    }

    fn event_of(s: &mut Session, bytes: &[u8]) -> std::string::String {
        let input = s.handle_input(bytes, Instant::ZERO).unwrap();
        assert_eq!(input.consumed, bytes.len(), "one whole unit");
        std::format!("{:?}", input.event)
    }

    #[test]
    fn libzmq_subscriptions_in_both_forms() {
        let mut s = xpub_after_handshake();
        assert_eq!(
            event_of(&mut s, vectors::SUBSCRIBE_CMD_31),
            "Some(Subscribe([119, 101, 97, 116, 104, 101, 114]))"
        );
        assert_eq!(
            event_of(&mut s, vectors::CANCEL_CMD_31),
            "Some(Cancel([119, 101, 97, 116, 104, 101, 114]))"
        );
        assert_eq!(
            event_of(&mut s, vectors::SUBSCRIBE_MSG_30),
            "Some(Subscribe([119, 101, 97, 116, 104, 101, 114]))"
        );
        assert_eq!(
            event_of(&mut s, vectors::CANCEL_MSG_30),
            "Some(Cancel([119, 101, 97, 116, 104, 101, 114]))"
        );
        // libzmq's XSUB sends the message form even over 3.1.
        assert_eq!(
            event_of(&mut s, vectors::XSUB_SUB_31),
            "Some(Subscribe([110, 101, 119, 115]))"
        );
        assert_eq!(
            event_of(&mut s, vectors::XSUB_CANCEL_31),
            "Some(Cancel([110, 101, 119, 115]))"
        );
    }

    #[test]
    fn answers_a_libzmq_style_ping_with_the_pong_libzmq_sends() {
        let mut s = xpub_after_handshake();
        let mut out = [0u8; TRANSMIT_BUFFER];
        let n = s.poll_transmit(&mut out);
        assert!(n > 0, "greeting and READY owed");
        assert_eq!(event_of(&mut s, vectors::PING_CTX), "None");
        let n = s.poll_transmit(&mut out);
        assert_eq!(&out[..n], vectors::PONG_CTX);
        // A PING from libzmq with TTL 2 s: the TTL now bounds the peer's silence.
        assert_eq!(event_of(&mut s, vectors::PING_DEALER), "None");
        assert_eq!(s.poll_timeout(), Some(Instant::from_millis(2000)));
    }
}
