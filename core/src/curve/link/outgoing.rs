//! A link's outgoing side: the session's READY properties as our READY or INITIATE, and
//! every frame after the handshake as a MESSAGE, sealed whole or as it goes out.

use super::{shift_under_head, Link, Phase, Role, SEAL_START};
use crate::conn::layer::{next_unit, Outgoing};
use crate::conn::SessionError;
use crate::curve::crypto::{CryptoBox, KEY_LEN};
use crate::curve::initiate::{self, ClientKeys};
use crate::curve::message::{self, From, Keys, Sealing, COMMAND, MORE, OVERHEAD};
use crate::curve::CurveError;
use crate::wire::frame::{FrameHead, HeadBytes, MAX_HEAD_LEN};
use crate::wire::Writer;

impl Link {
    /// Send the session's READY properties (`metadata`, without READY's name) as our READY
    /// (server) or INITIATE (client) into `tx`, which needs [`metadata_room`](super::metadata_room) bytes; the bytes
    /// written. Nothing while the handshake does not owe them.
    pub fn send_metadata(&mut self, metadata: &[u8], tx: &mut [u8]) -> Result<usize, SessionError> {
        let body = tx.get_mut(MAX_HEAD_LEN..).ok_or(CurveError::Malformed)?;
        let (len, next) = match &self.phase {
            Phase::Initiating(welcome) => {
                let (Role::Client { server }, Some(transient)) = (&self.role, &self.transient)
                else {
                    return Err(SessionError::Closed);
                };
                let mut vouch_nonce = [0u8; 16];
                vouch_nonce.copy_from_slice(&self.random[KEY_LEN..KEY_LEN + 16]);
                let keys = ClientKeys {
                    server,
                    client: &self.keys,
                    transient,
                    welcome,
                };
                let n = self.tx_nonce;
                let len = initiate::write_initiate(&keys, n, &vouch_nonce, metadata, body)?;
                let session = CryptoBox::new(&welcome.server_transient, transient.secret())?;
                (len, Phase::Ready(session))
            }
            Phase::Active {
                session,
                owe_ready: true,
                ..
            } => {
                let len = initiate::write_ready(session, self.tx_nonce, metadata, body)?;
                let Phase::Active { session, keys, .. } =
                    core::mem::replace(&mut self.phase, Phase::Failed)
                else {
                    return Err(SessionError::Closed);
                };
                (
                    len,
                    Phase::Active {
                        session,
                        keys,
                        owe_ready: false,
                    },
                )
            }
            _ => return Ok(0),
        };
        self.tx_nonce += 1;
        self.phase = next;
        // The command's header right before it.
        Ok(shift_under_head(tx, len, true))
    }

    /// Who we are, in the MESSAGEs we send.
    fn from(&self) -> From {
        match self.role {
            Role::Server => From::Server,
            Role::Client { .. } => From::Client,
        }
    }

    /// A frame the session sends (`more`, `command`: its flags; its body in `body`'s parts,
    /// one after the other), as a MESSAGE into `out`, which needs [`sealed_len`](super::sealed_len) bytes; the
    /// bytes written.
    pub fn seal(
        &mut self,
        more: bool,
        command: bool,
        body: &[&[u8]],
        out: &mut [u8],
    ) -> Result<usize, SessionError> {
        let len = body.iter().map(|p| p.len()).sum::<usize>();
        let (keys, flags, head) = self.message_frame(more, command, len)?;
        let hl = head.as_slice().len();
        let boxed = OVERHEAD + len;
        let out = out.get_mut(..hl + boxed).ok_or(CurveError::Malformed)?;
        out[..hl].copy_from_slice(head.as_slice());
        message::write_message(
            keys,
            self.from(),
            self.tx_nonce,
            flags,
            body,
            &mut out[hl..],
        )?;
        self.tx_nonce += 1;
        Ok(hl + boxed)
    }

    /// What a sealed frame starts with: the session's MESSAGE keys (once the handshake is
    /// done and our READY went), the MESSAGE's flags, and the frame header of a MESSAGE
    /// around `len` bytes of frame.
    fn message_frame(
        &self,
        more: bool,
        command: bool,
        len: usize,
    ) -> Result<(&Keys, u8, HeadBytes), SessionError> {
        let Phase::Active {
            keys,
            owe_ready: false,
            ..
        } = &self.phase
        else {
            return Err(CurveError::NotReady.into());
        };
        let flags = if more { MORE } else { 0 } | if command { COMMAND } else { 0 };
        let head = FrameHead {
            more: false,
            command: false,
            len: (OVERHEAD + len) as u64,
        }
        .encode();
        Ok((keys, flags, head))
    }

    /// As [`Link::seal`], for a frame too long to seal in one buffer: its frame header and
    /// the start of its MESSAGE (all but the frame's ciphertext, [`SEAL_START`] bytes at
    /// most) into `out`, the bytes written, and the [`Sealing`] that makes the rest.
    pub fn seal_long(
        &mut self,
        more: bool,
        command: bool,
        body: &[&[u8]],
        out: &mut [u8; SEAL_START],
    ) -> Result<(usize, Sealing), SessionError> {
        let len = body.iter().map(|p| p.len()).sum::<usize>();
        let (keys, flags, head) = self.message_frame(more, command, len)?;
        let hl = head.as_slice().len();
        out[..hl].copy_from_slice(head.as_slice());
        let mut start = [0u8; OVERHEAD];
        let from = self.from();
        let sealing = message::begin_message(keys, from, self.tx_nonce, flags, body, &mut start);
        out[hl..hl + OVERHEAD].copy_from_slice(&start);
        self.tx_nonce += 1;
        Ok((hl + OVERHEAD, sealing))
    }

    /// Take the next unit of what the session sends (its greeting's bytes, dropped, or one
    /// whole frame, at the start of `plain`), writing what goes to the peer in its place into
    /// `out`: [`metadata_room`](super::metadata_room) for its READY, [`sealed_len`](super::sealed_len) for a frame, at least.
    pub fn take_outgoing(
        &mut self,
        plain: &[u8],
        out: &mut [u8],
    ) -> Result<Outgoing, SessionError> {
        let (head, hl, end) = match next_unit(&mut self.greeting_left, plain)? {
            Ok(frame) => frame,
            Err(done) => return Ok(done),
        };
        let body = &plain[hl..end];
        let taken = |written| {
            Ok(Outgoing::Taken {
                consumed: end,
                written,
            })
        };
        if self.can_seal() {
            return taken(self.seal(head.more, head.command, &[body], out)?);
        }
        if !head.command {
            return Err(CurveError::NotReady.into());
        }
        if let Some(metadata) = body.strip_prefix(b"\x05READY") {
            if !self.owes_metadata() {
                return Ok(Outgoing::Early);
            }
            return taken(self.send_metadata(metadata, out)?);
        }
        if body.starts_with(b"\x05ERROR") {
            // Before the handshake ends, ERROR goes in the clear.
            let len = body.len().min(out.len().saturating_sub(hl));
            out[..hl].copy_from_slice(&plain[..hl]);
            out[hl..hl + len].copy_from_slice(&body[..len]);
            return taken(if len == body.len() { hl + len } else { 0 });
        }
        Err(CurveError::NotReady.into())
    }

    /// An ERROR command in the clear (`reason`: "400" for a refused client, as libzmq's ZAP
    /// refusal), into `tx`; the bytes written.
    pub fn write_error(reason: &[u8], tx: &mut [u8]) -> usize {
        let mut w = Writer::new(tx);
        match crate::wire::command::write_error(&mut w, reason) {
            Ok(()) => w.len(),
            Err(_) => 0,
        }
    }
}
