//! The greeting and the NULL handshake: who the peer is, and whether we talk to it.

use super::{Event, Input, PeerReady, Session, State};
use crate::conn::error::{Reason, SessionError};
use crate::conn::LegacyMode;
use crate::time::Instant;
use crate::wire::command::Command;
use crate::wire::frame::FrameHead;
use crate::wire::greeting::{self, Greeting, GREETING_LEN};
use crate::wire::metadata::SocketType;

impl Session {
    pub(super) fn on_greeting<'a>(&mut self, input: &'a [u8]) -> Result<Input<'a>, SessionError> {
        if self.cfg.legacy == LegacyMode::Refuse {
            let due = greeting::due_for(input) as u8;
            self.owed.greeting_due = self.owed.greeting_due.max(due);
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
        self.owed.ready = true;
        Ok(Input {
            consumed: GREETING_LEN,
            event: None,
        })
    }

    pub(super) fn on_handshake<'a>(
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
        self.handshaken = true;
        self.timers.start(&self.cfg.heartbeat, minor, now);
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
}
