//! ZMTP 1.0 (RFC 13) under a NULL [`Session`](super::Session), as a layer ([`super::layer`]):
//! what libzmq 4.3 speaks to a peer whose first bytes tell it runs libzmq 2.x
//! ([`Detected::V1`](crate::wire::greeting::Detected::V1)).
//!
//! ZMTP 1.0 has no greeting, no mechanism, no socket type and no commands. Each side first
//! sends an identity frame; then frames follow, each a length that counts the flags byte
//! after it (one byte, or `0xff` and eight bytes, big-endian) and the body. Our identity frame
//! is the signature every ZMTP 2.0+ greeting starts with, already sent when the peer's first
//! bytes told what it speaks: `ff`, a length of 1, flags `7f` (libzmq's trick), an empty
//! identity.
//!
//! The session sees a ZMTP 3.0 NULL peer of the socket type the caller names (what the
//! endpoint expects: 1.0 has none to check): once the peer's identity frame is here, the
//! layer writes a 3.0 NULL greeting and a READY in its place (the peer's identity as its
//! Identity), in room the caller keeps before the peer's first byte ([`PREAMBLE_ROOM`]), and
//! for a SUB peer a subscription to everything after it, as libzmq's XPUB injects for a 1.0
//! subscriber (which filters for itself and sends none). A 3.0 peer gets no PING and its
//! subscriptions as messages, as 1.0's are. Then each frame's header is rewritten in place
//! (a 1.0 header is never shorter than the 3.x one) and its body passed on as it comes,
//! without waiting for all of it; going out, the session's greeting and commands are dropped
//! and each data frame's header rewritten, its body passed on as it is.

use super::layer::{Opened, Outgoing, Step};
use super::SessionError;
use crate::wire::command::write_ready;
use crate::wire::frame::{FrameError, FrameHead, FLAG_MORE, MAX_HEAD_LEN};
use crate::wire::greeting::{Greeting, GreetingError, Mechanism, GREETING_LEN, SIGNATURE_LEN};
use crate::wire::metadata::SocketType;
use crate::wire::Writer;

/// The longest identity a 1.0 peer may send (as a READY's Identity).
pub const MAX_IDENTITY: usize = 255;
/// The longest 1.0 frame header: `0xff`, an 8-byte length, the flags.
pub const MAX_V1_HEAD_LEN: usize = 10;
/// Bytes the caller keeps before the peer's first byte, for the greeting, the READY (with an
/// Identity of up to [`MAX_IDENTITY`] bytes) and the subscription the session is to see in
/// place of the peer's identity frame.
pub const PREAMBLE_ROOM: usize = 384;
/// The subscription to everything a SUB peer is taken to have sent: a 3.x data frame of the
/// one byte `\x01`.
const SUBSCRIBE_ALL: [u8; 3] = [0x00, 0x01, 0x01];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The peer's identity frame is awaited (after the caller's room).
    Identity,
    /// Frames pass on: so many bytes of the body of the one part-way here are still to come.
    Active {
        body_left: u64,
    },
    Failed,
}

/// The socket type a 1.0 peer of `ours` is taken for (1.0 says none): the one that talks to
/// it (a DEALER for a ROUTER or DEALER: a REQ's or REP's envelope is a DEALER's on the wire).
pub const fn peer_for(ours: SocketType) -> SocketType {
    use SocketType::*;
    match ours {
        Pair => Pair,
        Req => Rep,
        Rep => Req,
        Dealer | Router => Dealer,
        Pub | XPub => Sub,
        Sub | XSub => Pub,
        Push => Pull,
        Pull => Push,
    }
}

/// A ZMTP 1.0 connection under a NULL session; see the module docs.
#[derive(Debug)]
pub struct Link {
    phase: Phase,
    /// The socket type the session is told the peer runs.
    peer: SocketType,
    /// The largest frame body taken.
    max_frame: u64,
    /// Bytes of the session's own greeting still to take: the first of them, up to the end
    /// of its signature, are our identity frame's header and go on as they are
    /// (`signature_left`); the others are dropped.
    greeting_left: u8,
    signature_left: u8,
    /// Bytes of the body of the session's frame part-way out, passed on as they are.
    out_left: u64,
    /// The last unit [`Link::open`] handed on was a frame's header: its flags.
    head_flags: Option<u8>,
}

impl Link {
    /// A 1.0 peer taken for a `peer` socket (what the endpoint expects), its frames no
    /// larger than `max_frame` bytes; `sent` bytes of the session's greeting went to the peer
    /// before the layer came (no more than its signature, which a 1.0 peer is owed).
    pub const fn new(peer: SocketType, max_frame: u64, sent: usize) -> Link {
        let sent = if sent < SIGNATURE_LEN {
            sent
        } else {
            SIGNATURE_LEN
        } as u8;
        Link {
            phase: Phase::Identity,
            peer,
            max_frame,
            greeting_left: GREETING_LEN as u8 - sent,
            signature_left: SIGNATURE_LEN as u8 - sent,
            out_left: 0,
            head_flags: None,
        }
    }

    /// The flags (3.x: MORE is bit 0) of the frame whose header the last unit handed on was,
    /// if it was one.
    pub fn head_flags(&self) -> Option<u8> {
        self.head_flags
    }

    /// Room [`Link::take_outgoing`] needs in `out` for the next unit of a session's output of
    /// `plain` bytes: a header, or as much of a body as there is.
    pub fn out_room(&self, plain: usize) -> usize {
        if self.greeting_left > 0 {
            return usize::from(self.signature_left);
        }
        match usize::try_from(self.out_left) {
            Ok(0) => MAX_V1_HEAD_LEN,
            Ok(left) => left.min(plain),
            Err(_) => plain,
        }
    }

    /// The peer's identity frame has come: frames pass.
    pub fn is_active(&self) -> bool {
        matches!(self.phase, Phase::Active { .. })
    }

    /// Bytes of the session's own greeting it still drops from what the session sends.
    pub fn session_greeting_left(&self) -> usize {
        usize::from(self.greeting_left)
    }

    /// Take the next unit of `input` (see [`super::layer`]): first, at `input[PREAMBLE_ROOM..]`,
    /// the peer's identity frame, whose place and the room before it become the greeting,
    /// READY (and subscription) the session sees; then frame headers, rewritten as 3.x ones,
    /// and bodies, passed on as they come.
    pub fn open(&mut self, input: &mut [u8]) -> Result<Opened, SessionError> {
        self.head_flags = None;
        let r = self.open_unit(input);
        if r.is_err() {
            self.phase = Phase::Failed;
        }
        r
    }

    fn open_unit(&mut self, input: &mut [u8]) -> Result<Opened, SessionError> {
        match self.phase {
            Phase::Failed => Err(SessionError::Closed),
            Phase::Identity => self.on_identity(input),
            Phase::Active { body_left: 0 } => self.on_head(input),
            Phase::Active { body_left } => {
                if input.is_empty() {
                    return Ok(Opened::NeedMore(1));
                }
                let n = usize::try_from(body_left).map_or(input.len(), |b| b.min(input.len()));
                self.phase = Phase::Active {
                    body_left: body_left - n as u64,
                };
                Ok(Opened::Step(Step {
                    consumed: n,
                    deliver: 0..n,
                    sent: 0,
                }))
            }
        }
    }

    fn on_identity(&mut self, input: &mut [u8]) -> Result<Opened, SessionError> {
        let frame = input.get(PREAMBLE_ROOM..).unwrap_or_default();
        // Its flags are not looked at, as libzmq does not (its own signature, the header of
        // its identity frame for a 1.0 peer, has them all set but one).
        let Some(head) = V1Head::decode(frame).map_err(|_| GreetingError::BadSignature)? else {
            return Ok(Opened::NeedMore(
                PREAMBLE_ROOM + MAX_V1_HEAD_LEN.min(frame.len() + 1),
            ));
        };
        if head.body > MAX_IDENTITY as u64 {
            return Err(SessionError::IdentityTooLong);
        }
        let end = PREAMBLE_ROOM + head.len + head.body as usize;
        if input.len() < end {
            return Ok(Opened::NeedMore(end));
        }
        let mut identity = [0u8; MAX_IDENTITY];
        let id_len = head.body as usize;
        identity[..id_len].copy_from_slice(&input[PREAMBLE_ROOM + head.len..end]);
        let mut preamble = [0u8; PREAMBLE_ROOM];
        let greeting = Greeting {
            minor: 0,
            ..Greeting::ours(Mechanism::Null, false)
        };
        preamble[..GREETING_LEN].copy_from_slice(&greeting.encode());
        let mut w = Writer::new(&mut preamble[GREETING_LEN..]);
        write_ready(&mut w, self.peer, &identity[..id_len]).map_err(|_| SessionError::Closed)?;
        if self.peer == SocketType::Sub {
            w.put(&SUBSCRIBE_ALL).map_err(|_| SessionError::Closed)?;
        }
        let n = GREETING_LEN + w.len();
        input[end - n..end].copy_from_slice(&preamble[..n]);
        self.phase = Phase::Active { body_left: 0 };
        Ok(Opened::Step(Step {
            consumed: end,
            deliver: end - n..end,
            sent: 0,
        }))
    }

    fn on_head(&mut self, input: &mut [u8]) -> Result<Opened, SessionError> {
        let Some(head) = V1Head::decode(input)? else {
            return Ok(Opened::NeedMore(MAX_V1_HEAD_LEN.min(input.len() + 1)));
        };
        if head.body > self.max_frame {
            return Err(SessionError::MessageTooLarge {
                len: head.body,
                limit: self.max_frame,
            });
        }
        let ours = FrameHead::data(head.body, head.more).encode();
        let ours = ours.as_slice();
        let start = head.len - ours.len();
        input[start..head.len].copy_from_slice(ours);
        self.head_flags = Some(ours[0]);
        self.phase = Phase::Active {
            body_left: head.body,
        };
        Ok(Opened::Step(Step {
            consumed: head.len,
            deliver: start..head.len,
            sent: 0,
        }))
    }

    /// Take the next unit of what the session sends into `out` ([`Link::out_room`]): the
    /// signature its greeting starts with goes as it is (what of it the peer has not had),
    /// the rest of its greeting and its commands are dropped, a data frame's header is
    /// rewritten as a 1.0 one, and its body passed on as it comes.
    pub fn take_outgoing(
        &mut self,
        plain: &[u8],
        out: &mut [u8],
    ) -> Result<Outgoing, SessionError> {
        if self.signature_left > 0 {
            let n = plain
                .len()
                .min(usize::from(self.signature_left))
                .min(out.len());
            out[..n].copy_from_slice(&plain[..n]);
            self.signature_left -= n as u8;
            self.greeting_left -= n as u8;
            return Ok(Outgoing::Taken {
                consumed: n,
                written: n,
            });
        }
        if self.greeting_left > 0 {
            let n = plain.len().min(usize::from(self.greeting_left));
            self.greeting_left -= n as u8;
            return Ok(Outgoing::Taken {
                consumed: n,
                written: 0,
            });
        }
        if self.out_left > 0 {
            let n = usize::try_from(self.out_left)
                .unwrap_or(usize::MAX)
                .min(plain.len())
                .min(out.len());
            if n == 0 {
                return Ok(Outgoing::NeedMore(1));
            }
            out[..n].copy_from_slice(&plain[..n]);
            self.out_left -= n as u64;
            return Ok(Outgoing::Taken {
                consumed: n,
                written: n,
            });
        }
        let Some((head, hl)) = FrameHead::decode(plain)? else {
            return Ok(Outgoing::NeedMore(MAX_HEAD_LEN.min(plain.len() + 1)));
        };
        if head.command {
            // 1.0 has no commands: the session's READY (and any other) goes no further.
            let end = hl.saturating_add(usize::try_from(head.len).unwrap_or(usize::MAX));
            if plain.len() < end {
                return Ok(Outgoing::NeedMore(end));
            }
            return Ok(Outgoing::Taken {
                consumed: end,
                written: 0,
            });
        }
        let written = V1Head::encode(head.len, head.more, out).ok_or(SessionError::Closed)?;
        self.out_left = head.len;
        Ok(Outgoing::Taken {
            consumed: hl,
            written,
        })
    }
}

/// A 1.0 frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct V1Head {
    /// Bytes of the body (the length on the wire, less the flags byte).
    pub body: u64,
    /// Frames of the same message follow.
    pub more: bool,
    /// Bytes of the header: 2, or 10 in the long form.
    pub len: usize,
}

impl V1Head {
    /// The header at the start of `input`: `Ok(None)` until all of it is here; a length of
    /// 0 (no room for the flags every frame has) is refused. Bits of the flags other than
    /// MORE are not looked at, as libzmq's 1.0 decoder does not.
    pub fn decode(input: &[u8]) -> Result<Option<V1Head>, FrameError> {
        let (len, at) = match input.first() {
            None => return Ok(None),
            Some(0xff) => match input.get(1..9) {
                Some(b) => (u64::from_be_bytes(b.try_into().unwrap_or([0; 8])), 9),
                None => return Ok(None),
            },
            Some(&b) => (u64::from(b), 1),
        };
        if len == 0 {
            return Err(FrameError::NoFlags);
        }
        let Some(&flags) = input.get(at) else {
            return Ok(None);
        };
        Ok(Some(V1Head {
            body: len - 1,
            more: flags & FLAG_MORE != 0,
            len: at + 1,
        }))
    }

    /// Write the header of a frame of `body` bytes into `out`: the bytes written, `None`
    /// if `out` is too short.
    pub fn encode(body: u64, more: bool, out: &mut [u8]) -> Option<usize> {
        let flags = if more { FLAG_MORE } else { 0 };
        let len = body.checked_add(1)?;
        if len < 0xff {
            out.get_mut(..2)?.copy_from_slice(&[len as u8, flags]);
            return Some(2);
        }
        let out = out.get_mut(..MAX_V1_HEAD_LEN)?;
        out[0] = 0xff;
        out[1..9].copy_from_slice(&len.to_be_bytes());
        out[9] = flags;
        Some(MAX_V1_HEAD_LEN)
    }
}

#[cfg(test)]
mod tests;
/// What libzmq 4.3 sends to and takes from 1.0 (and 2.0) peers, captured.
#[cfg(test)]
pub(crate) mod vectors;
