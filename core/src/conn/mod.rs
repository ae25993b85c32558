//! The connection layer: one [`Session`] per TCP or IPC connection.
//!
//! A session runs the ZMTP 3.x state machine over the wire layer: greeting, the security
//! handshake (NULL for now), then traffic with heartbeats. It checks the peer's socket type,
//! enforces the [`Limits`] before buffering anything, answers PINGs, and reports data frames,
//! subscriptions and the peer's identity as [`Event`]s borrowed from the caller's input.
//!
//! Mechanisms other than NULL (CURVE, RFC 26; PLAIN, RFC 24) fit behind the same interface as
//! further handshake states between the greeting and `Active`; `SessionConfig::mechanism` and
//! the greeting check already carry the choice.

mod config;
mod error;
mod heartbeat;
pub mod layer;
pub mod plain;
mod session;
pub mod v1;

pub use config::{Heartbeat, LegacyMode, Limits, SessionConfig, MAX_TOPIC, READY_METADATA_MAX};
pub use error::{Reason, SessionError};
pub use session::{Event, FrameStart, Input, PeerReady, Session, TRANSMIT_BUFFER};

#[cfg(test)]
mod sim;
