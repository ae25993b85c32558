//! The greeting and the NULL handshake: who the peer is, and whether we talk to it.

use super::{Event, Input, PeerReady, Session, State};
use crate::conn::error::{Reason, SessionError};
use crate::conn::LegacyMode;
use crate::time::Instant;
use crate::wire::command::{self, Command};
use crate::wire::frame::FrameHead;
use crate::wire::greeting::{self, Detected, Greeting, GREETING_LEN, V2_GREETING_LEN};
use crate::wire::metadata::SocketType;

impl Session {
    pub(super) fn on_greeting<'a>(&mut self, input: &'a [u8]) -> Result<Input<'a>, SessionError> {
        if self.cfg.legacy != LegacyMode::Whole {
            let due = greeting::due_for(input) as u8;
            self.owed.greeting_due = self.owed.greeting_due.max(due);
            if self.cfg.legacy == LegacyMode::Accept
                && greeting::detect(input) == Some(Detected::V2)
            {
                return self.on_v2_greeting(input);
            }
        }
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
        self.greeted = true;
        self.owed.ready = true;
        Ok(Input {
            consumed: GREETING_LEN,
            event: None,
        })
    }

    /// A ZMTP 2.0 peer's greeting (RFC 15): its last byte is the peer's socket type, checked
    /// as a READY's would be (no ERROR: 2.0 has no commands). Then the identity frames.
    fn on_v2_greeting<'a>(&mut self, input: &'a [u8]) -> Result<Input<'a>, SessionError> {
        let Some(&code) = input.get(V2_GREETING_LEN - 1) else {
            return Ok(Input::NEED_MORE);
        };
        let theirs = SocketType::from_zmtp2_code(code).ok_or(SessionError::UnknownSocketType)?;
        let ours = self.cfg.socket_type;
        if !self.cfg.accepts(theirs) {
            return Err(SessionError::IncompatibleSocketType { ours, theirs });
        }
        let deadline = match self.state {
            State::Greeting { deadline } => deadline,
            _ => None,
        };
        self.state = State::Handshake { deadline, minor: 0 };
        self.greeted = true;
        self.v2 = Some(theirs);
        self.owed.v2_tail = true;
        Ok(Input {
            consumed: V2_GREETING_LEN,
            event: None,
        })
    }

    /// A ZMTP 2.0 peer's identity frame: its handshake's end (no more than 255 bytes, as a
    /// READY's Identity). The deadline runs until it is here (libzmq waits for ever).
    fn on_v2_identity<'a>(
        &mut self,
        input: &'a [u8],
        theirs: SocketType,
        now: Instant,
    ) -> Result<Input<'a>, SessionError> {
        let Some((head, head_len)) = FrameHead::decode(input)? else {
            return Ok(Input::NEED_MORE);
        };
        if head.command {
            return Err(SessionError::UnexpectedCommand);
        }
        if head.len > 255 {
            return Err(SessionError::IdentityTooLong);
        }
        let end = head_len + head.len as usize;
        let Some(identity) = input.get(head_len..end) else {
            return Ok(Input::NEED_MORE);
        };
        self.state = State::Active { minor: 0 };
        self.handshaken = true;
        self.timers.start(&self.cfg.heartbeat, 0, now);
        let ready = PeerReady {
            socket_type: theirs,
            major: 2,
            minor: 0,
            identity,
            zedge: false,
        };
        Ok(Input {
            consumed: end,
            event: Some(Event::Ready(ready)),
        })
    }

    pub(super) fn on_handshake<'a>(
        &mut self,
        input: &'a [u8],
        minor: u8,
        now: Instant,
    ) -> Result<Input<'a>, SessionError> {
        if let Some(theirs) = self.v2 {
            return self.on_v2_identity(input, theirs, now);
        }
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
        let zedge = props.find(command::ZEDGE_PROPERTY)?.is_some();
        if !self.cfg.accepts(theirs) || (zedge && self.cfg.refused_zedge == Some(theirs)) {
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
        self.handshaken = true;
        self.timers.start(&self.cfg.heartbeat, minor, now);
        let ready = PeerReady {
            socket_type: theirs,
            major: 3,
            minor,
            identity,
            zedge,
        };
        Ok(Input {
            consumed: head_len + body.len(),
            event: Some(Event::Ready(ready)),
        })
    }
}
