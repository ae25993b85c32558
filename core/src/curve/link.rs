//! One CURVE connection, either role: the layer between the socket and an unchanged NULL
//! [`Session`](crate::conn::Session).
//!
//! The session runs as if the peer spoke NULL: the link hands it a NULL greeting in place of
//! the peer's CURVE greeting, a READY carrying the metadata of the peer's INITIATE (server) or
//! READY (client) once the handshake is done, and then every MESSAGE's frame, decrypted. Going
//! out, the caller parses the session's bytes into frames: the NULL greeting is dropped (the
//! link has its own), the session's READY gives the metadata the link sends in its READY or
//! INITIATE ([`Link::send_metadata`]), and every frame after it is [`Link::seal`]ed into a
//! MESSAGE. Heartbeats, subscriptions, limits and the handshake timeout stay the session's.
//!
//! # Calling order
//!
//! 1. Send [`Link::greeting`] when the connection is up.
//! 2. Call [`Link::open`] on the received bytes: it takes one unit (the greeting or one
//!    frame) at a time, decrypts it *in the caller's buffer*, and says which bytes of that
//!    buffer to give the session (`deliver`) and how many bytes it wrote to `tx` (a command of
//!    the handshake) to send before anything else. [`Opened::NeedMore`] says how many bytes
//!    the unit needs in all: a frame is opened only once all of it is here, as its MAC covers
//!    all of it.
//! 3. Whenever [`Link::owes_metadata`] and the session's READY has been seen, call
//!    [`Link::send_metadata`]; once [`Link::can_seal`], seal every frame the session sends.
//!
//! Randomness comes in at [`Link::server`] or [`Link::client`]; nothing allocates. Any `Err`
//! is final. A server that refuses the client's key sends ERROR "400" ([`Link::write_error`])
//! before closing, as libzmq does for a ZAP refusal.

use core::ops::Range;

use super::crypto::{CryptoBox, KeyPair, KEY_LEN};
use super::hello::{self, Welcome, WelcomeRandom, HELLO_LEN, WELCOME_LEN};
use super::initiate::{self, Welcomed};
use super::message::{self, From, Keys, COMMAND, MORE, OVERHEAD};
use super::CurveError;
use crate::conn::layer::greeting_as_null;
pub use crate::conn::layer::{Opened, Outgoing, Step};
use crate::conn::{Reason, SessionError};
use crate::wire::command::Command;
use crate::wire::frame::{FrameHead, MAX_HEAD_LEN};
use crate::wire::greeting::{Greeting, Mechanism, GREETING_LEN};

/// Random bytes a server link needs: its transient secret, the cookie key, the cookie's and
/// WELCOME's nonces.
pub const SERVER_RANDOM: usize = 96;
/// Random bytes a client link needs: its transient secret and the vouch's nonce.
pub const CLIENT_RANDOM: usize = 48;
/// A `tx` buffer this large takes any command [`Link::open`] writes (HELLO, WELCOME).
pub const TX_ROOM: usize = 256;
/// The most [`Link::seal_long`] writes: a frame header and a MESSAGE's name, nonce, MAC and
/// flags.
pub const SEAL_START: usize = MAX_HEAD_LEN + OVERHEAD;
/// Frames whose body is longer than this are best sealed as they go out
/// ([`Link::seal_long`]): the keystream is made twice, once for the MAC and once for the
/// ciphertext, but the sender holds none of the frame's ciphertext beyond what the socket
/// takes next.
pub const SEAL_WHOLE_MAX: usize = 256 << 10;
/// The longest handshake command taken: an INITIATE with as much metadata as the READY it
/// becomes for the session may hold under the default command limit
/// ([`READY_METADATA_MAX`](crate::conn::READY_METADATA_MAX), 4,090 bytes). Before the client
/// is known, no more is buffered for it.
pub const MAX_HANDSHAKE: u64 =
    crate::conn::READY_METADATA_MAX as u64 + initiate::INITIATE_MIN as u64;

/// Bytes `tx` needs for [`Link::send_metadata`] with `metadata_len` bytes of metadata.
pub const fn metadata_room(metadata_len: usize) -> usize {
    MAX_HEAD_LEN + initiate::INITIATE_MIN + metadata_len
}

/// Bytes [`Link::seal`] writes for a frame of `len` bytes.
pub const fn sealed_len(len: usize) -> usize {
    let boxed = OVERHEAD + len;
    if boxed <= 0xff {
        2 + boxed
    } else {
        MAX_HEAD_LEN + boxed
    }
}

/// Which end of the handshake we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We wait for HELLO: a bind endpoint's peer.
    Server,
    /// We send HELLO to the server with this long-term public key.
    Client {
        /// The server's long-term public key S.
        server: [u8; KEY_LEN],
    },
}

enum Phase {
    /// Waiting for the peer's greeting.
    Greeting,
    /// Server: waiting for HELLO.
    Hello,
    /// Server: waiting for INITIATE; only the cookie key and the HELLO are kept.
    Initiate(Welcomed),
    /// Client: HELLO sent, waiting for WELCOME.
    Welcome,
    /// Client: WELCOME read; INITIATE goes once the session's metadata is known.
    Initiating(Welcome),
    /// Client: INITIATE sent, waiting for READY.
    Ready(CryptoBox),
    /// Handshake done. A server owes its READY until the session's metadata is known.
    Active {
        session: CryptoBox,
        /// The MESSAGE subkeys of `session`.
        keys: Keys,
        owe_ready: bool,
    },
    Failed,
}

/// One CURVE connection; see the module docs.
pub struct Link {
    keys: KeyPair,
    role: Role,
    phase: Phase,
    /// Frames (and handshake commands) larger than this are refused before being buffered.
    max_frame: u64,
    /// Server: WELCOME's random draws; client: the transient secret and the vouch nonce.
    random: [u8; SERVER_RANDOM],
    /// Client: the transient pair.
    transient: Option<KeyPair>,
    /// The short nonce of our next command.
    tx_nonce: u64,
    /// The last short nonce taken from the peer.
    rx_nonce: u64,
    /// Server: the client's long-term key, once its INITIATE opened.
    client: Option<[u8; KEY_LEN]>,
    /// Bytes of the session's own (NULL) greeting still to drop from what it sends.
    greeting_left: u8,
}

impl core::fmt::Debug for Link {
    /// Nothing secret.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Link")
            .field("role", &self.role)
            .field("public", &self.keys.public)
            .finish_non_exhaustive()
    }
}

impl Link {
    /// A server with the long-term pair `keys`; `random` is fresh from the caller's RNG.
    pub fn server(keys: KeyPair, random: [u8; SERVER_RANDOM], max_frame: u64) -> Link {
        Link::new(keys, Role::Server, random, max_frame)
    }

    /// A client of the server whose long-term public key is `server`.
    pub fn client(
        keys: KeyPair,
        server: [u8; KEY_LEN],
        random: [u8; CLIENT_RANDOM],
        max_frame: u64,
    ) -> Link {
        let mut all = [0u8; SERVER_RANDOM];
        all[..CLIENT_RANDOM].copy_from_slice(&random);
        Link::new(keys, Role::Client { server }, all, max_frame)
    }

    fn new(keys: KeyPair, role: Role, random: [u8; SERVER_RANDOM], max_frame: u64) -> Link {
        Link {
            keys,
            role,
            phase: Phase::Greeting,
            max_frame,
            random,
            transient: None,
            tx_nonce: 1,
            rx_nonce: 0,
            client: None,
            greeting_left: GREETING_LEN as u8,
        }
    }

    /// We are the server of the handshake.
    pub fn is_server(&self) -> bool {
        self.role == Role::Server
    }

    /// Our greeting, to send first.
    pub fn greeting(&self) -> [u8; GREETING_LEN] {
        Greeting::ours(Mechanism::Curve, self.role == Role::Server).encode()
    }

    /// Server: the client's long-term public key, once its INITIATE opened (whether or not
    /// the allow-list let it in).
    pub fn client_key(&self) -> Option<&[u8; KEY_LEN]> {
        self.client.as_ref()
    }

    /// The handshake is done (our READY may still be owed).
    pub fn is_active(&self) -> bool {
        matches!(self.phase, Phase::Active { .. })
    }

    /// Bytes of the session's own greeting it still drops from what the session sends
    /// (which may come in pieces, as the session's greeting goes out).
    pub fn session_greeting_left(&self) -> usize {
        usize::from(self.greeting_left)
    }

    /// The peer's greeting has not come in whole yet.
    pub fn awaits_greeting(&self) -> bool {
        matches!(self.phase, Phase::Greeting)
    }

    /// A client that sent HELLO and has had no WELCOME: a server that closes the connection
    /// now did not take the HELLO (most likely, it is not the key it was made for).
    pub fn awaits_welcome(&self) -> bool {
        matches!(self.phase, Phase::Welcome)
    }

    /// The handshake waits for the session's metadata (its READY's properties).
    pub fn owes_metadata(&self) -> bool {
        matches!(
            self.phase,
            Phase::Initiating(_)
                | Phase::Active {
                    owe_ready: true,
                    ..
                }
        )
    }

    /// Frames may be sealed: the handshake is done and our READY (or INITIATE) has gone.
    pub fn can_seal(&self) -> bool {
        matches!(
            self.phase,
            Phase::Active {
                owe_ready: false,
                ..
            }
        )
    }

    /// Take the next unit at the start of `input`; see the module docs. `allowed` judges a
    /// client's long-term key (server only); a refused one ends the link with
    /// [`CurveError::Denied`].
    pub fn open(
        &mut self,
        input: &mut [u8],
        tx: &mut [u8],
        allowed: impl FnOnce(&[u8; KEY_LEN]) -> bool,
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
        allowed: impl FnOnce(&[u8; KEY_LEN]) -> bool,
    ) -> Result<Opened, SessionError> {
        if let Phase::Greeting = self.phase {
            return self.on_greeting(input, tx);
        }
        if let Phase::Failed = self.phase {
            return Err(SessionError::Closed);
        }
        let Some((head, hl)) = FrameHead::decode(input)? else {
            return Ok(Opened::NeedMore(MAX_HEAD_LEN.min(input.len() + 1)));
        };
        let handshaking = !matches!(self.phase, Phase::Active { .. });
        if handshaking && head.len > MAX_HANDSHAKE {
            return Err(SessionError::CommandTooLarge {
                len: head.len,
                limit: MAX_HANDSHAKE as usize,
            });
        }
        if head.len > self.max_frame {
            return Err(SessionError::MessageTooLarge {
                len: head.len,
                limit: self.max_frame,
            });
        }
        // Within max_frame, which the caller's buffer can hold: it fits a usize.
        let end = hl.saturating_add(usize::try_from(head.len).unwrap_or(usize::MAX));
        if input.len() < end {
            return Ok(Opened::NeedMore(end));
        }
        let body = &mut input[hl..end];
        let taken = |deliver: Range<usize>, sent: usize| {
            Ok(Opened::Step(Step {
                consumed: end,
                deliver,
                sent,
            }))
        };
        if body.starts_with(b"\x05ERROR") {
            return match Command::parse(body)? {
                Command::Error { reason } => Err(SessionError::PeerError(Reason::new(reason))),
                _ => Err(SessionError::UnexpectedCommand),
            };
        }
        // Until READY, only commands; after it, MESSAGEs as libzmq sends them (a final data
        // frame) or as RFC 26 says (a command).
        if head.more || (handshaking && !head.command) {
            return Err(CurveError::Malformed.into());
        }
        match &self.phase {
            Phase::Hello => {
                let (hello, boxed) = hello::read_hello_boxed(body, &self.keys)?;
                let random = self.welcome_random();
                let mut welcome = [0u8; WELCOME_LEN];
                hello::write_welcome_boxed(&hello, &boxed, &random, &mut welcome)?;
                let sent = put_command(tx, &welcome)?;
                self.phase = Phase::Initiate(Welcomed {
                    cookie_key: random.cookie_key,
                    client_transient: hello.client_transient,
                    hello_nonce: hello.nonce,
                });
                taken(0..0, sent)
            }
            Phase::Initiate(welcomed) => {
                let welcomed = *welcomed;
                let opened = initiate::read_initiate(body, &self.keys, &welcomed)?;
                // Kept even when refused: the key is what the operator needs to know.
                self.client = Some(opened.client);
                if !allowed(&opened.client) {
                    return Err(CurveError::Denied.into());
                }
                self.rx_nonce = opened.nonce;
                let md_len = opened.metadata.len();
                self.phase = Phase::Active {
                    keys: Keys::new(&opened.session),
                    session: opened.session,
                    owe_ready: true,
                };
                let deliver = ready_in_place(input, end - md_len, end);
                taken(deliver, 0)
            }
            Phase::Welcome => {
                let Role::Client { server } = &self.role else {
                    return Err(CurveError::Malformed.into());
                };
                let transient = self.transient.as_ref().ok_or(CurveError::Malformed)?;
                let welcome = hello::read_welcome(body, server, transient)?;
                self.phase = Phase::Initiating(welcome);
                taken(0..0, 0)
            }
            Phase::Ready(session) => {
                let (nonce, md) = initiate::read_ready(body, session)?;
                let md_len = md.len();
                if nonce <= self.rx_nonce {
                    return Err(CurveError::Replay.into());
                }
                self.rx_nonce = nonce;
                let Phase::Ready(session) = core::mem::replace(&mut self.phase, Phase::Failed)
                else {
                    return Err(SessionError::Closed);
                };
                self.phase = Phase::Active {
                    keys: Keys::new(&session),
                    session,
                    owe_ready: false,
                };
                taken(ready_in_place(input, end - md_len, end), 0)
            }
            Phase::Active { keys, .. } => {
                let from = match self.role {
                    Role::Server => From::Client,
                    Role::Client { .. } => From::Server,
                };
                let opened = message::read_message(body, keys, from, self.rx_nonce)?;
                self.rx_nonce = opened.nonce;
                let frame = FrameHead {
                    more: opened.flags & MORE != 0,
                    command: opened.flags & COMMAND != 0,
                    len: opened.body.len() as u64,
                };
                let head = frame.encode();
                let start = end - opened.body.len() - head.as_slice().len();
                input[start..start + head.as_slice().len()].copy_from_slice(head.as_slice());
                taken(start..end, 0)
            }
            // The server speaks before our INITIATE.
            Phase::Initiating(_) => Err(SessionError::UnexpectedCommand),
            Phase::Greeting | Phase::Failed => Err(SessionError::Closed),
        }
    }

    /// The peer's greeting: CURVE, and the other role than ours. Replaced in place by a NULL
    /// greeting of its version for the session. A client sends its HELLO.
    fn on_greeting(&mut self, input: &mut [u8], tx: &mut [u8]) -> Result<Opened, SessionError> {
        if !greeting_as_null(input, Mechanism::Curve)? {
            return Ok(Opened::NeedMore(GREETING_LEN));
        }
        let mut sent = 0;
        match self.role {
            Role::Server => self.phase = Phase::Hello,
            Role::Client { server } => {
                let mut secret = [0u8; KEY_LEN];
                secret.copy_from_slice(&self.random[..KEY_LEN]);
                let transient = KeyPair::from_secret(secret);
                let mut hello = [0u8; HELLO_LEN];
                hello::write_hello(&server, &transient, self.next_nonce(), &mut hello)?;
                sent = put_command(tx, &hello)?;
                self.transient = Some(transient);
                self.phase = Phase::Welcome;
            }
        }
        Ok(Opened::Step(Step {
            consumed: GREETING_LEN,
            deliver: 0..GREETING_LEN,
            sent,
        }))
    }

    fn welcome_random(&self) -> WelcomeRandom {
        let r = &self.random;
        let mut w = WelcomeRandom {
            transient_secret: [0; KEY_LEN],
            cookie_key: [0; KEY_LEN],
            cookie_nonce: [0; 16],
            welcome_nonce: [0; 16],
        };
        w.transient_secret.copy_from_slice(&r[..32]);
        w.cookie_key.copy_from_slice(&r[32..64]);
        w.cookie_nonce.copy_from_slice(&r[64..80]);
        w.welcome_nonce.copy_from_slice(&r[80..96]);
        w
    }

    fn next_nonce(&mut self) -> u64 {
        let n = self.tx_nonce;
        self.tx_nonce += 1;
        n
    }
}

/// A handshake command's body `cmd` as a command frame into `tx`; the bytes written.
fn put_command(tx: &mut [u8], cmd: &[u8]) -> Result<usize, CurveError> {
    let head = FrameHead {
        more: false,
        command: true,
        len: cmd.len() as u64,
    }
    .encode();
    let hl = head.as_slice().len();
    let out = tx.get_mut(..hl + cmd.len()).ok_or(CurveError::Malformed)?;
    out[..hl].copy_from_slice(head.as_slice());
    out[hl..].copy_from_slice(cmd);
    Ok(out.len())
}

/// `tx[MAX_HEAD_LEN..][..len]` holds a command's body: move it under its frame header at
/// the start of `tx`; the frame's length.
fn shift_under_head(tx: &mut [u8], len: usize, command: bool) -> usize {
    let head = FrameHead {
        more: false,
        command,
        len: len as u64,
    }
    .encode();
    let hl = head.as_slice().len();
    tx.copy_within(MAX_HEAD_LEN..MAX_HEAD_LEN + len, hl);
    tx[..hl].copy_from_slice(head.as_slice());
    hl + len
}

/// Write a READY command frame for the session, its properties being `input[md..end]`,
/// right before them (over bytes of the command they came in): its range.
fn ready_in_place(input: &mut [u8], md: usize, end: usize) -> Range<usize> {
    const NAME: &[u8] = b"\x05READY";
    let head = FrameHead {
        more: false,
        command: true,
        len: (NAME.len() + end - md) as u64,
    }
    .encode();
    let hl = head.as_slice().len();
    let start = md - NAME.len() - hl;
    input[start..start + hl].copy_from_slice(head.as_slice());
    input[start + hl..md].copy_from_slice(NAME);
    start..end
}

impl core::convert::From<CurveError> for SessionError {
    fn from(e: CurveError) -> Self {
        SessionError::Curve(e)
    }
}

mod outgoing;
#[cfg(test)]
mod tests;
