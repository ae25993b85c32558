//! HELLO and WELCOME (RFC 26 and libzmq's `curve_client_tools`, `curve_server`): the first
//! two commands of the handshake, for both roles. Lengths are fixed, and checked before any
//! box is opened.
//!
//! - HELLO, client to server, 200 bytes: `\x05HELLO`, version 1.0, 72 bytes of padding (libzmq's
//!   number; RFC 26 says 70), the client's transient public key C', a short nonce, and
//!   `Box[64 zeros](C' -> S)` under `CurveZMQHELLO---` and that nonce: proof that the client
//!   knows the server's public key S.
//! - WELCOME, server to client, 168 bytes: `\x07WELCOME`, a 16-byte random nonce, and
//!   `Box[S' + cookie](S -> C')` under `WELCOME-` and it. The cookie (96 bytes: a 16-byte
//!   nonce and `SecretBox[C' + s'](K)` under `COOKIE--` and it) carries the server's
//!   transient secret s' back to it in INITIATE, under a key K only the server knows, so that
//!   it need keep nothing of the connection but K until then.

use super::crypto::{long_nonce, short_nonce, CryptoBox, KeyPair, SecretBox, KEY_LEN, MAC_LEN};
use super::CurveError;

/// Bytes of a HELLO command's body, its name included.
pub const HELLO_LEN: usize = 200;
/// Bytes of a WELCOME command's body, its name included.
pub const WELCOME_LEN: usize = 168;
/// Bytes of a cookie.
pub const COOKIE_LEN: usize = 96;

const HELLO_NAME: &[u8] = b"\x05HELLO";
const WELCOME_NAME: &[u8] = b"\x07WELCOME";
const HELLO_PREFIX: &[u8; 16] = b"CurveZMQHELLO---";
/// Where a HELLO's client transient key, short nonce and signature box start.
const HELLO_KEY: usize = 80;
const HELLO_NONCE: usize = 112;
const HELLO_BOX: usize = 120;

/// What a HELLO told the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The client's transient public key C'.
    pub client_transient: [u8; KEY_LEN],
    /// Its short nonce: the client's next ones must be greater.
    pub nonce: u64,
}

/// The client's HELLO (the command's body, name first) with its transient pair and short
/// nonce `nonce`, to a server whose long-term public key is `server`.
pub fn write_hello(
    server: &[u8; KEY_LEN],
    transient: &KeyPair,
    nonce: u64,
    out: &mut [u8; HELLO_LEN],
) -> Result<(), CurveError> {
    out.fill(0);
    out[..HELLO_NAME.len()].copy_from_slice(HELLO_NAME);
    out[6] = 1; // version 1.0; the padding is the zeros up to the key
    out[HELLO_KEY..HELLO_NONCE].copy_from_slice(&transient.public);
    out[HELLO_NONCE..HELLO_BOX].copy_from_slice(&nonce.to_be_bytes());
    let signature = &mut out[HELLO_BOX..]; // the MAC and 64 zeros
    CryptoBox::new(server, transient.secret())?.seal(&short_nonce(HELLO_PREFIX, nonce), signature)
}

/// The server reads a HELLO (the command's body, name first) with its long-term pair.
pub fn read_hello(cmd: &[u8], server: &KeyPair) -> Result<Hello, CurveError> {
    read_hello_boxed(cmd, server).map(|(hello, _)| hello)
}

/// [`read_hello`], with the box between the client's transient key and the server's
/// long-term one, which WELCOME is sealed in too ([`write_welcome_boxed`]): one X25519 less.
pub fn read_hello_boxed(cmd: &[u8], server: &KeyPair) -> Result<(Hello, CryptoBox), CurveError> {
    if cmd.len() != HELLO_LEN || !cmd.starts_with(HELLO_NAME) {
        return Err(CurveError::Malformed);
    }
    if cmd[6..8] != [1, 0] {
        return Err(CurveError::Version);
    }
    let mut client_transient = [0u8; KEY_LEN];
    client_transient.copy_from_slice(&cmd[HELLO_KEY..HELLO_NONCE]);
    let mut n = [0u8; 8];
    n.copy_from_slice(&cmd[HELLO_NONCE..HELLO_BOX]);
    let nonce = u64::from_be_bytes(n);
    let mut signature = [0u8; MAC_LEN + 64];
    signature.copy_from_slice(&cmd[HELLO_BOX..]);
    let boxed = CryptoBox::new(&client_transient, server.secret())?;
    boxed.open(&short_nonce(HELLO_PREFIX, nonce), &mut signature)?;
    if signature[MAC_LEN..].iter().any(|&b| b != 0) {
        return Err(CurveError::Box);
    }
    let hello = Hello {
        client_transient,
        nonce,
    };
    Ok((hello, boxed))
}

/// What a server draws at random for each WELCOME: fresh for every connection. (No `Debug`:
/// it holds secrets.)
#[allow(missing_debug_implementations)]
pub struct WelcomeRandom {
    /// Its transient secret key s'.
    pub transient_secret: [u8; KEY_LEN],
    /// The cookie key K, kept until INITIATE.
    pub cookie_key: [u8; KEY_LEN],
    /// The cookie's nonce (after `COOKIE--`).
    pub cookie_nonce: [u8; 16],
    /// The WELCOME box's nonce (after `WELCOME-`).
    pub welcome_nonce: [u8; 16],
}

/// The server's WELCOME to `hello`, with its long-term pair and `random`'s draws.
pub fn write_welcome(
    hello: &Hello,
    server: &KeyPair,
    random: &WelcomeRandom,
    out: &mut [u8; WELCOME_LEN],
) -> Result<(), CurveError> {
    let boxed = CryptoBox::new(&hello.client_transient, server.secret())?;
    write_welcome_boxed(hello, &boxed, random, out)
}

/// [`write_welcome`] with the box [`read_hello_boxed`] gave.
pub fn write_welcome_boxed(
    hello: &Hello,
    boxed: &CryptoBox,
    random: &WelcomeRandom,
    out: &mut [u8; WELCOME_LEN],
) -> Result<(), CurveError> {
    let transient = KeyPair::from_secret(random.transient_secret);
    // The cookie: its nonce, then SecretBox[C' + s'](K).
    let mut cookie = [0u8; COOKIE_LEN];
    cookie[..16].copy_from_slice(&random.cookie_nonce);
    cookie[16 + MAC_LEN..16 + MAC_LEN + KEY_LEN].copy_from_slice(&hello.client_transient);
    cookie[16 + MAC_LEN + KEY_LEN..].copy_from_slice(transient.secret());
    SecretBox::new(&random.cookie_key).seal(
        &long_nonce(b"COOKIE--", &random.cookie_nonce),
        &mut cookie[16..],
    )?;
    out[..WELCOME_NAME.len()].copy_from_slice(WELCOME_NAME);
    out[8..24].copy_from_slice(&random.welcome_nonce);
    let sealed = &mut out[24..];
    sealed[MAC_LEN..MAC_LEN + KEY_LEN].copy_from_slice(&transient.public);
    sealed[MAC_LEN + KEY_LEN..].copy_from_slice(&cookie);
    boxed.seal(&long_nonce(b"WELCOME-", &random.welcome_nonce), sealed)
}

/// What a WELCOME told the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Welcome {
    /// The server's transient public key S'.
    pub server_transient: [u8; KEY_LEN],
    /// The cookie, to send back in INITIATE as it is.
    pub cookie: [u8; COOKIE_LEN],
}

/// The client reads a WELCOME (the command's body, name first) from the server whose
/// long-term public key is `server`, with its transient pair.
pub fn read_welcome(
    cmd: &[u8],
    server: &[u8; KEY_LEN],
    transient: &KeyPair,
) -> Result<Welcome, CurveError> {
    if cmd.len() != WELCOME_LEN || !cmd.starts_with(WELCOME_NAME) {
        return Err(CurveError::Malformed);
    }
    let mut nonce = [0u8; 16];
    nonce.copy_from_slice(&cmd[8..24]);
    let mut boxed = [0u8; WELCOME_LEN - 24];
    boxed.copy_from_slice(&cmd[24..]);
    CryptoBox::new(server, transient.secret())?
        .open(&long_nonce(b"WELCOME-", &nonce), &mut boxed)?;
    let mut server_transient = [0u8; KEY_LEN];
    server_transient.copy_from_slice(&boxed[MAC_LEN..MAC_LEN + KEY_LEN]);
    let mut cookie = [0u8; COOKIE_LEN];
    cookie.copy_from_slice(&boxed[MAC_LEN + KEY_LEN..]);
    Ok(Welcome {
        server_transient,
        cookie,
    })
}

/// What the server's cookie holds, once it is back in INITIATE: the client transient key it
/// was made for, and the server's transient secret.
pub fn open_cookie(
    cookie: &[u8; COOKIE_LEN],
    cookie_key: &[u8; KEY_LEN],
) -> Result<([u8; KEY_LEN], [u8; KEY_LEN]), CurveError> {
    let mut nonce = [0u8; 16];
    nonce.copy_from_slice(&cookie[..16]);
    let mut boxed = [0u8; COOKIE_LEN - 16];
    boxed.copy_from_slice(&cookie[16..]);
    SecretBox::new(cookie_key).open(&long_nonce(b"COOKIE--", &nonce), &mut boxed)?;
    let (mut client, mut secret) = ([0u8; KEY_LEN], [0u8; KEY_LEN]);
    client.copy_from_slice(&boxed[MAC_LEN..MAC_LEN + KEY_LEN]);
    secret.copy_from_slice(&boxed[MAC_LEN + KEY_LEN..]);
    Ok((client, secret))
}

#[cfg(test)]
mod tests;
