//! CurveZMQ (RFC 26), the CURVE security mechanism, as libzmq implements it: where the RFC
//! and libzmq differ, libzmq wins (72 bytes of HELLO padding, MESSAGE nonce prefixes
//! `CurveZMQMESSAGEC` and `CurveZMQMESSAGES`).
//!
//! Sans-IO like the rest of the core: randomness comes in from the caller (transient keys,
//! nonces, the cookie key), and nothing here allocates. Every length is checked before
//! anything is decrypted, and a box that does not open is an error, never a panic.
//!
//! - [`crypto`]: key pairs, the NaCl boxes (`crypto_box`, `crypto_secretbox`) in their wire
//!   layout, nonces, and the refusal of low-order public keys.
//! - [`salsa`]: XSalsa20 and Poly1305, written for the compiler to vectorize.
//! - [`hello`]: the HELLO and WELCOME commands, both roles.
//! - [`initiate`]: the INITIATE and READY commands, both roles.
//! - [`message`]: MESSAGE, every frame after the handshake.
//! - [`link`]: one connection, either role, between the socket and a NULL session.

pub mod crypto;
pub mod hello;
pub mod initiate;
pub mod link;
pub mod message;
pub mod salsa;

use core::fmt;

/// Why a CURVE command was refused. The connection ends; nothing of it is trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CurveError {
    /// The command is not the one expected now, or not the length its kind has.
    Malformed,
    /// A version this implementation does not speak (HELLO: 1.0 only).
    Version,
    /// A box did not open: wrong keys, a forged or corrupted command, or a wrong nonce.
    Box,
    /// A public key of small order (its shared secret would be all zeros): refused before it
    /// is used, as libsodium refuses it.
    LowOrderKey,
    /// A short nonce not greater than the last one taken in its direction: a replayed or
    /// reordered command.
    Replay,
    /// The client's long-term key is not on the server's allow-list.
    Denied,
    /// A frame to seal before the handshake let it (a caller's mistake).
    NotReady,
    /// The server closed the connection after our HELLO, without a WELCOME: it could not open
    /// the HELLO, most likely because it is not the server whose key we were given.
    NoWelcome,
    /// The peer closed the connection after our greeting, its own cut short after the
    /// signature: libzmq does so when the mechanisms differ (a NULL peer at a CURVE endpoint).
    NotCurve,
}

impl fmt::Display for CurveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CurveError::Malformed => "malformed CURVE command",
            CurveError::Version => "unsupported CurveZMQ version",
            CurveError::Box => "CURVE box did not open (wrong key or forged command)",
            CurveError::LowOrderKey => "CURVE public key of small order",
            CurveError::Replay => "CURVE nonce replayed or out of order",
            CurveError::Denied => "CURVE client key not allowed",
            CurveError::NotReady => "CURVE frame sealed before the handshake finished",
            CurveError::NotCurve => {
                "peer closed the connection during the greeting, as one that does not speak CURVE does (a NULL peer?)"
            }
            CurveError::NoWelcome => {
                "CURVE server closed the connection after our HELLO (is curve_server_key its public key?)"
            }
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CurveError {}

#[cfg(test)]
mod tests;
