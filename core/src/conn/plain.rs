//! The PLAIN mechanism (RFC 24), server side, as a layer under a NULL
//! [`Session`](super::Session) ([`super::layer`]): the client's HELLO names a user and a
//! password, which the caller judges; WELCOME, then its INITIATE's metadata go to the session
//! as a READY, and the session's READY goes back as ours. After that, frames pass through as
//! they are: PLAIN neither encrypts nor authenticates them. Anyone on the path reads the
//! password; it is for loopback and IPC, as libzmq's documentation says.

use super::layer::{greeting_as_null, next_unit, Opened, Outgoing, Step};
use super::{Reason, SessionError};
use crate::wire::command::Command;
use crate::wire::frame::{FrameHead, MAX_HEAD_LEN};
use crate::wire::greeting::{Greeting, Mechanism, GREETING_LEN};

/// The longest handshake command taken: a HELLO of two 255-byte fields, an INITIATE (`\x08`
/// and its name) with as much metadata as the READY it becomes may hold.
pub const MAX_HANDSHAKE: u64 = super::READY_METADATA_MAX as u64 + 9;
/// A `tx` buffer this large takes any command [`Server::open`] writes (WELCOME, ERROR).
pub const TX_ROOM: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Greeting,
    Hello,
    Initiate,
    /// The handshake is done; our READY is owed until the session's is seen.
    Active {
        owe_ready: bool,
    },
    Failed,
}

/// A PLAIN server connection; see the module docs.
#[derive(Debug)]
pub struct Server {
    phase: Phase,
    /// Bytes of the session's own (NULL) greeting still to drop.
    greeting_left: u8,
}

impl Default for Server {
    fn default() -> Self {
        Server::new()
    }
}

impl Server {
    /// A server waiting for the client's greeting.
    pub const fn new() -> Server {
        Server {
            phase: Phase::Greeting,
            greeting_left: GREETING_LEN as u8,
        }
    }

    /// Our greeting, to send first.
    pub fn greeting(&self) -> [u8; GREETING_LEN] {
        Greeting::ours(Mechanism::Plain, true).encode()
    }

    /// Bytes of the session's own greeting it still drops from what the session sends.
    pub fn session_greeting_left(&self) -> usize {
        usize::from(self.greeting_left)
    }

    /// The peer's greeting has not come in whole yet.
    pub fn awaits_greeting(&self) -> bool {
        self.phase == Phase::Greeting
    }

    /// The handshake is done.
    pub fn is_active(&self) -> bool {
        matches!(self.phase, Phase::Active { .. })
    }

    /// Our READY waits for the session's.
    pub fn owes_metadata(&self) -> bool {
        self.phase == Phase::Active { owe_ready: true }
    }

    /// Take the next unit at the start of `input` (see [`super::layer`]). `allowed` judges a
    /// HELLO's user name and password; a refused one ends the connection with
    /// [`SessionError::Denied`] (send ERROR "400", as libzmq's ZAP refusal, before closing).
    pub fn open(
        &mut self,
        input: &mut [u8],
        tx: &mut [u8],
        allowed: impl FnOnce(&[u8], &[u8]) -> bool,
    ) -> Result<Opened, SessionError> {
        let r = self.open_unit(input, tx, allowed);
        if r.is_err() {
            self.phase = Phase::Failed;
        }
        r
    }

    fn open_unit(
        &mut self,
        input: &mut [u8],
        tx: &mut [u8],
        allowed: impl FnOnce(&[u8], &[u8]) -> bool,
    ) -> Result<Opened, SessionError> {
        match self.phase {
            Phase::Failed => return Err(SessionError::Closed),
            Phase::Greeting => return self.on_greeting(input),
            // Frames pass through as they are, as much as there is.
            Phase::Active { .. } if input.is_empty() => return Ok(Opened::NeedMore(1)),
            Phase::Active { .. } => {
                return Ok(Opened::Step(Step {
                    consumed: input.len(),
                    deliver: 0..input.len(),
                    sent: 0,
                }))
            }
            Phase::Hello | Phase::Initiate => {}
        }
        let Some((head, hl)) = FrameHead::decode(input)? else {
            return Ok(Opened::NeedMore(MAX_HEAD_LEN.min(input.len() + 1)));
        };
        if head.len > MAX_HANDSHAKE {
            return Err(SessionError::CommandTooLarge {
                len: head.len,
                limit: MAX_HANDSHAKE as usize,
            });
        }
        if !head.command {
            return Err(SessionError::DataBeforeReady);
        }
        let end = hl + head.len as usize;
        if input.len() < end {
            return Ok(Opened::NeedMore(end));
        }
        let body = &input[hl..end];
        if body.starts_with(b"\x05ERROR") {
            return match Command::parse(body)? {
                Command::Error { reason } => Err(SessionError::PeerError(Reason::new(reason))),
                _ => Err(SessionError::UnexpectedCommand),
            };
        }
        if self.phase == Phase::Hello {
            let (user, password) = hello(body).ok_or(SessionError::UnexpectedCommand)?;
            if !allowed(user, password) {
                return Err(SessionError::Denied);
            }
            let welcome = b"\x04\x08\x07WELCOME";
            tx.get_mut(..welcome.len())
                .ok_or(SessionError::Closed)?
                .copy_from_slice(welcome);
            self.phase = Phase::Initiate;
            return Ok(Opened::Step(Step {
                consumed: end,
                deliver: 0..0,
                sent: welcome.len(),
            }));
        }
        let md = body
            .strip_prefix(b"\x08INITIATE")
            .ok_or(SessionError::UnexpectedCommand)?
            .len();
        // A READY for the session in place: "\x05READY" and its header before the metadata.
        const NAME: &[u8] = b"\x05READY";
        let head = FrameHead {
            more: false,
            command: true,
            len: (NAME.len() + md) as u64,
        }
        .encode();
        let start = end - md - NAME.len() - head.as_slice().len();
        input[start..start + head.as_slice().len()].copy_from_slice(head.as_slice());
        input[end - md - NAME.len()..end - md].copy_from_slice(NAME);
        self.phase = Phase::Active { owe_ready: true };
        Ok(Opened::Step(Step {
            consumed: end,
            deliver: start..end,
            sent: 0,
        }))
    }

    fn on_greeting(&mut self, input: &mut [u8]) -> Result<Opened, SessionError> {
        if !greeting_as_null(input, Mechanism::Plain)? {
            return Ok(Opened::NeedMore(GREETING_LEN));
        }
        self.phase = Phase::Hello;
        Ok(Opened::Step(Step {
            consumed: GREETING_LEN,
            deliver: 0..GREETING_LEN,
            sent: 0,
        }))
    }

    /// Take the next unit of what the session sends (its greeting's bytes, dropped; then
    /// whole frames, passed on as they are, its READY once the handshake owes it) into
    /// `out`, which needs room for the frame.
    pub fn take_outgoing(
        &mut self,
        plain: &[u8],
        out: &mut [u8],
    ) -> Result<Outgoing, SessionError> {
        let (head, hl, end) = match next_unit(&mut self.greeting_left, plain)? {
            Ok(frame) => frame,
            Err(done) => return Ok(done),
        };
        let ready = head.command && plain[hl..end].starts_with(b"\x05READY");
        match self.phase {
            Phase::Active { owe_ready: false } => {}
            Phase::Active { owe_ready: true } if ready => {
                self.phase = Phase::Active { owe_ready: false };
            }
            _ if ready => return Ok(Outgoing::Early),
            // An ERROR before the handshake is done goes as it is.
            _ if head.command => {}
            _ => return Err(SessionError::DataBeforeReady),
        }
        let out = out.get_mut(..end).ok_or(SessionError::Closed)?;
        out.copy_from_slice(&plain[..end]);
        Ok(Outgoing::Taken {
            consumed: end,
            written: end,
        })
    }
}

/// A HELLO's user name and password: `\x05HELLO`, a length byte and the name, a length byte
/// and the password, nothing after.
fn hello(body: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = body.strip_prefix(b"\x05HELLO")?;
    let (&ulen, rest) = rest.split_first()?;
    let (user, rest) = rest.split_at_checked(usize::from(ulen))?;
    let (&plen, rest) = rest.split_first()?;
    let (password, rest) = rest.split_at_checked(usize::from(plen))?;
    rest.is_empty().then_some((user, password))
}

#[cfg(test)]
mod tests;
