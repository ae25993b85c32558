//! MESSAGE (RFC 26 as libzmq 4.3 writes it): every frame after the handshake, data or
//! command, travels as a MESSAGE command: `\x07MESSAGE`, a short nonce, and
//! `Box[flags + frame](C' -> S')` (or back) under `CurveZMQMESSAGEC` (from the client) or
//! `CurveZMQMESSAGES` (from the server). The flags byte carries ZMTP's MORE (0x01) and
//! COMMAND (0x02) bits, so that PING, PONG, SUBSCRIBE and CANCEL travel encrypted too. On
//! the wire libzmq 4.3 sends each MESSAGE as a final data frame, neither MORE nor COMMAND set
//! on it (`tests/tests/curve_interop.rs` reads one): the frame's own bits are in the box.
//!
//! Short nonces strictly increase in each direction: a MESSAGE whose nonce is not greater
//! than the last one taken is a replay or a reordering, and ends the connection.

use super::crypto::{CryptoBox, MAC_LEN};
use super::salsa::{self, Sealer, Subkey};
use super::CurveError;

const NAME: &[u8] = b"\x07MESSAGE";
/// Bytes a MESSAGE adds to its frame: name, nonce, MAC and flags.
pub const OVERHEAD: usize = NAME.len() + 8 + MAC_LEN + 1;
/// The flag of a frame followed by more of its message.
pub const MORE: u8 = 0x01;
/// The flag of a frame that is a command (PING, PONG, SUBSCRIBE, CANCEL...).
pub const COMMAND: u8 = 0x02;

/// Who sends: the nonce prefix of its MESSAGEs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum From {
    /// The client (the side that sent HELLO).
    Client,
    /// The server.
    Server,
}

impl From {
    fn prefix(self) -> &'static [u8; 16] {
        match self {
            From::Client => b"CurveZMQMESSAGEC",
            From::Server => b"CurveZMQMESSAGES",
        }
    }
}

/// A session's MESSAGE keys: XSalsa20's subkey for each direction's nonce prefix, made once
/// when the handshake ends rather than for each MESSAGE.
#[derive(Debug)]
pub struct Keys {
    client: Subkey,
    server: Subkey,
}

impl Keys {
    /// The keys of the session whose box is `session`.
    pub fn new(session: &CryptoBox) -> Keys {
        Keys {
            client: Subkey::new(session.key(), From::Client.prefix()),
            server: Subkey::new(session.key(), From::Server.prefix()),
        }
    }

    fn of(&self, from: From) -> &Subkey {
        match from {
            From::Client => &self.client,
            From::Server => &self.server,
        }
    }
}

/// A frame, its `body` in `parts` one after the other, with `flags` ([`MORE`], [`COMMAND`]) as
/// a MESSAGE from `from` with short nonce `nonce`, into `out` (it needs [`OVERHEAD`] bytes
/// more than the frame); its length.
pub fn write_message(
    keys: &Keys,
    from: From,
    nonce: u64,
    flags: u8,
    body: &[&[u8]],
    out: &mut [u8],
) -> Result<usize, CurveError> {
    let len = OVERHEAD + body.iter().map(|p| p.len()).sum::<usize>();
    let out = out.get_mut(..len).ok_or(CurveError::Malformed)?;
    out[..NAME.len()].copy_from_slice(NAME);
    out[8..16].copy_from_slice(&nonce.to_be_bytes());
    out[16 + MAC_LEN] = flags & (MORE | COMMAND);
    let mut at = 16 + MAC_LEN + 1;
    for part in body {
        out[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    if !salsa::seal_with(keys.of(from), &nonce.to_be_bytes(), &mut out[16..]) {
        return Err(CurveError::Malformed);
    }
    Ok(len)
}

/// A MESSAGE sealed as it goes out, for a frame too long to seal in one buffer: its MAC is
/// taken first, in a pass of the keystream over the whole frame where it lies
/// ([`begin_message`]), then its ciphertext is made a piece at a time ([`Sealing::seal_next`])
/// from the same plaintext, which must not change in between. What it holds is the same
/// whatever the frame's length: the keystream's state.
#[derive(Debug)]
pub struct Sealing {
    sealer: Sealer,
    left: usize,
}

impl Sealing {
    /// Bytes of the frame not sealed yet.
    pub fn left(&self) -> usize {
        self.left
    }

    /// Seal the next bytes of the frame, from `plain` into `out`, as many as both hold (and
    /// the frame has left); the count.
    pub fn seal_next(&mut self, plain: &[u8], out: &mut [u8]) -> usize {
        let n = plain.len().min(out.len()).min(self.left);
        out[..n].copy_from_slice(&plain[..n]);
        self.sealer.xor(&mut out[..n]);
        self.left -= n;
        n
    }
}

/// The start of a MESSAGE as [`write_message`] makes it (the frame's `body` in `parts`, all of
/// it) into `out`: its name, nonce, MAC and flags; the frame's ciphertext comes after, from
/// the [`Sealing`].
pub fn begin_message(
    keys: &Keys,
    from: From,
    nonce: u64,
    flags: u8,
    body: &[&[u8]],
    out: &mut [u8; OVERHEAD],
) -> Sealing {
    let (sub, short) = (keys.of(from), nonce.to_be_bytes());
    let mut flags = [flags & (MORE | COMMAND)];
    let plain = core::iter::once(&flags[..]).chain(body.iter().copied());
    let mac = Sealer::mac(sub, &short, plain);
    out[..NAME.len()].copy_from_slice(NAME);
    out[8..16].copy_from_slice(&nonce.to_be_bytes());
    out[16..16 + MAC_LEN].copy_from_slice(&mac);
    let mut sealer = Sealer::new(sub, &short);
    sealer.xor(&mut flags);
    out[16 + MAC_LEN] = flags[0];
    Sealing {
        sealer,
        left: body.iter().map(|p| p.len()).sum(),
    }
}

/// A MESSAGE, opened.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened<'a> {
    /// Its short nonce: the next must be greater.
    pub nonce: u64,
    /// Its flags ([`MORE`], [`COMMAND`]); other bits are dropped, as libzmq drops them.
    pub flags: u8,
    /// The frame, decrypted in the caller's buffer.
    pub body: &'a [u8],
}

/// Open a MESSAGE from `from` (its body, name first, in a buffer of the caller's) whose nonce
/// must be greater than `last`, the last one taken in that direction.
pub fn read_message<'a>(
    cmd: &'a mut [u8],
    keys: &Keys,
    from: From,
    last: u64,
) -> Result<Opened<'a>, CurveError> {
    if cmd.len() < OVERHEAD || !cmd.starts_with(NAME) {
        return Err(CurveError::Malformed);
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&cmd[8..16]);
    let nonce = u64::from_be_bytes(n);
    if nonce <= last {
        return Err(CurveError::Replay);
    }
    if !salsa::open_with(keys.of(from), &n, &mut cmd[16..]) {
        return Err(CurveError::Box);
    }
    let flags = cmd[16 + MAC_LEN] & (MORE | COMMAND);
    Ok(Opened {
        nonce,
        flags,
        body: &cmd[16 + MAC_LEN + 1..],
    })
}
