//! INITIATE and READY (RFC 26, libzmq's `curve_client_tools` and `curve_server`): the
//! handshake's last two commands, for both roles.
//!
//! - INITIATE, client to server: `\x08INITIATE`, the cookie as WELCOME gave it, a short nonce,
//!   and `Box[C + vouch nonce + vouch + metadata](C' -> S')` under `CurveZMQINITIATE`. The
//!   vouch, `Box[C' + S](C -> S')` under `VOUCH---` and a 16-byte nonce, proves that the owner
//!   of the long-term key C made this connection's transient key C'.
//! - READY, server to client: `\x05READY`, a short nonce, and `Box[metadata](S' -> C')` under
//!   `CurveZMQREADY---`.
//!
//! The metadata are ZMTP READY properties (Socket-Type, Identity), as in NULL's READY.

use super::crypto::{long_nonce, short_nonce, CryptoBox, KeyPair, KEY_LEN, MAC_LEN};
use super::hello::{open_cookie, Welcome, COOKIE_LEN};
use super::CurveError;

const INITIATE_NAME: &[u8] = b"\x08INITIATE";
const READY_NAME: &[u8] = b"\x05READY";
const INITIATE_PREFIX: &[u8; 16] = b"CurveZMQINITIATE";
const READY_PREFIX: &[u8; 16] = b"CurveZMQREADY---";
/// Where an INITIATE's cookie, short nonce and box start.
const COOKIE_AT: usize = 9;
const NONCE_AT: usize = COOKIE_AT + COOKIE_LEN;
const BOX_AT: usize = NONCE_AT + 8;
/// Bytes of the box's plaintext before the metadata: C, the vouch nonce and the vouch.
const VOUCHED: usize = KEY_LEN + 16 + MAC_LEN + 2 * KEY_LEN;
/// Bytes of an INITIATE without metadata.
pub const INITIATE_MIN: usize = BOX_AT + MAC_LEN + VOUCHED;
/// Bytes of a READY without metadata.
pub const READY_MIN: usize = READY_NAME.len() + 8 + MAC_LEN;

/// The client's keys and what WELCOME told it, for its INITIATE.
#[derive(Debug)]
pub struct ClientKeys<'a> {
    /// The server's long-term public key S.
    pub server: &'a [u8; KEY_LEN],
    /// The client's long-term pair (C, c).
    pub client: &'a KeyPair,
    /// Its transient pair (C', c').
    pub transient: &'a KeyPair,
    /// The WELCOME it answers.
    pub welcome: &'a Welcome,
}

/// The client's INITIATE with short nonce `nonce`, vouch nonce `vouch_nonce` (random) and
/// `metadata`, into `out`; its length. `out` must hold [`INITIATE_MIN`] + the metadata.
pub fn write_initiate(
    keys: &ClientKeys<'_>,
    nonce: u64,
    vouch_nonce: &[u8; 16],
    metadata: &[u8],
    out: &mut [u8],
) -> Result<usize, CurveError> {
    let len = INITIATE_MIN + metadata.len();
    let out = out.get_mut(..len).ok_or(CurveError::Malformed)?;
    out[..COOKIE_AT].copy_from_slice(INITIATE_NAME);
    out[COOKIE_AT..NONCE_AT].copy_from_slice(&keys.welcome.cookie);
    out[NONCE_AT..BOX_AT].copy_from_slice(&nonce.to_be_bytes());
    let boxed = &mut out[BOX_AT..];
    let plain = &mut boxed[MAC_LEN..];
    plain[..KEY_LEN].copy_from_slice(&keys.client.public);
    plain[KEY_LEN..KEY_LEN + 16].copy_from_slice(vouch_nonce);
    let vouch = &mut plain[KEY_LEN + 16..VOUCHED];
    vouch[MAC_LEN..MAC_LEN + KEY_LEN].copy_from_slice(&keys.transient.public);
    vouch[MAC_LEN + KEY_LEN..].copy_from_slice(keys.server);
    let server_transient = &keys.welcome.server_transient;
    CryptoBox::new(server_transient, keys.client.secret())?
        .seal(&long_nonce(b"VOUCH---", vouch_nonce), vouch)?;
    plain[VOUCHED..].copy_from_slice(metadata);
    CryptoBox::new(server_transient, keys.transient.secret())?
        .seal(&short_nonce(INITIATE_PREFIX, nonce), boxed)?;
    Ok(len)
}

/// What the server keeps between its WELCOME and the INITIATE: the cookie key, and the
/// HELLO's client transient key and nonce.
#[derive(Clone, Copy)]
pub struct Welcomed {
    /// The key the cookie was sealed under.
    pub cookie_key: [u8; KEY_LEN],
    /// The client transient key C' of the HELLO.
    pub client_transient: [u8; KEY_LEN],
    /// The HELLO's short nonce: the INITIATE's must be greater.
    pub hello_nonce: u64,
}

impl core::fmt::Debug for Welcomed {
    /// Not the cookie key.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Welcomed")
            .field("hello_nonce", &self.hello_nonce)
            .finish_non_exhaustive()
    }
}

/// A valid INITIATE, opened.
#[derive(Debug)]
pub struct Initiated<'a> {
    /// The client's long-term public key C, vouched for: the one an allow-list checks.
    pub client: [u8; KEY_LEN],
    /// Its short nonce.
    pub nonce: u64,
    /// The metadata (READY properties), decrypted in the caller's buffer.
    pub metadata: &'a [u8],
    /// The box between the client's and the server's transient keys, for READY and every
    /// MESSAGE.
    pub session: CryptoBox,
}

/// The server opens an INITIATE: `cmd` is the command's body (name first), copied into a
/// buffer of the caller's, where it is decrypted; `server` its long-term pair.
pub fn read_initiate<'a>(
    cmd: &'a mut [u8],
    server: &KeyPair,
    welcomed: &Welcomed,
) -> Result<Initiated<'a>, CurveError> {
    if cmd.len() < INITIATE_MIN || !cmd.starts_with(INITIATE_NAME) {
        return Err(CurveError::Malformed);
    }
    let mut cookie = [0u8; COOKIE_LEN];
    cookie.copy_from_slice(&cmd[COOKIE_AT..NONCE_AT]);
    // A cookie another connection (or key) made does not open; one made for another HELLO
    // names another client transient key.
    let (client_transient, server_secret) = open_cookie(&cookie, &welcomed.cookie_key)?;
    if client_transient != welcomed.client_transient {
        return Err(CurveError::Box);
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&cmd[NONCE_AT..BOX_AT]);
    let nonce = u64::from_be_bytes(n);
    if nonce <= welcomed.hello_nonce {
        return Err(CurveError::Replay);
    }
    let session = CryptoBox::new(&client_transient, &server_secret)?;
    let boxed = &mut cmd[BOX_AT..];
    session.open(&short_nonce(INITIATE_PREFIX, nonce), boxed)?;
    let plain = &mut boxed[MAC_LEN..];
    let mut client = [0u8; KEY_LEN];
    client.copy_from_slice(&plain[..KEY_LEN]);
    let mut vouch_nonce = [0u8; 16];
    vouch_nonce.copy_from_slice(&plain[KEY_LEN..KEY_LEN + 16]);
    let vouch = &mut plain[KEY_LEN + 16..VOUCHED];
    CryptoBox::new(&client, &server_secret)?.open(&long_nonce(b"VOUCH---", &vouch_nonce), vouch)?;
    // The vouch names this connection's transient key and this server.
    if vouch[MAC_LEN..MAC_LEN + KEY_LEN] != client_transient
        || vouch[MAC_LEN + KEY_LEN..] != server.public
    {
        return Err(CurveError::Box);
    }
    let metadata = &cmd[BOX_AT + MAC_LEN + VOUCHED..];
    Ok(Initiated {
        client,
        nonce,
        metadata,
        session,
    })
}

/// The server's READY with short nonce `nonce` and `metadata`, into `out`; its length.
pub fn write_ready(
    session: &CryptoBox,
    nonce: u64,
    metadata: &[u8],
    out: &mut [u8],
) -> Result<usize, CurveError> {
    let len = READY_MIN + metadata.len();
    let out = out.get_mut(..len).ok_or(CurveError::Malformed)?;
    out[..READY_NAME.len()].copy_from_slice(READY_NAME);
    out[6..14].copy_from_slice(&nonce.to_be_bytes());
    out[14 + MAC_LEN..].copy_from_slice(metadata);
    session.seal(&short_nonce(READY_PREFIX, nonce), &mut out[14..])?;
    Ok(len)
}

/// The client opens a READY (its body, name first, in a buffer of its own): the server's
/// short nonce and the metadata.
pub fn read_ready<'a>(
    cmd: &'a mut [u8],
    session: &CryptoBox,
) -> Result<(u64, &'a [u8]), CurveError> {
    if cmd.len() < READY_MIN || !cmd.starts_with(READY_NAME) {
        return Err(CurveError::Malformed);
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&cmd[6..14]);
    let nonce = u64::from_be_bytes(n);
    session.open(&short_nonce(READY_PREFIX, nonce), &mut cmd[14..])?;
    Ok((nonce, &cmd[14 + MAC_LEN..]))
}

#[cfg(test)]
mod tests;
