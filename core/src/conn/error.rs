//! Why a session ended. Every variant is final: the caller closes the connection.

use core::fmt;

use crate::wire::command::CommandError;
use crate::wire::frame::FrameError;
use crate::wire::greeting::{GreetingError, Mechanism};
use crate::wire::metadata::{MetadataError, SocketType};

/// The start of an ERROR reason a peer sent, kept for the log.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Reason {
    buf: [u8; 48],
    len: u8,
}

impl Reason {
    pub(crate) fn new(reason: &[u8]) -> Self {
        let mut buf = [0u8; 48];
        let len = reason.len().min(buf.len());
        buf[..len].copy_from_slice(&reason[..len]);
        Reason {
            buf,
            len: len as u8,
        }
    }

    /// The reason as the peer sent it, cut to 48 bytes; not necessarily UTF-8.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.as_bytes().escape_ascii())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Reason {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=[u8]:a}", self.as_bytes())
    }
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SessionError {
    /// The peer's greeting is not ZMTP 3.x or names an unknown mechanism.
    Greeting(GreetingError),
    /// The peer's greeting names a security mechanism other than the one we run.
    MechanismMismatch {
        /// The mechanism we are configured with.
        ours: Mechanism,
        /// The mechanism the peer's greeting names.
        theirs: Mechanism,
    },
    /// The peer sent a frame header that breaks the framing rules.
    Frame(FrameError),
    /// The peer sent a command whose body does not parse.
    Command(CommandError),
    /// The peer's READY carries a property that does not parse.
    Metadata(MetadataError),
    /// A command frame larger than `Limits::max_command_size`.
    CommandTooLarge {
        /// Body length the peer announced in the frame header.
        len: u64,
        /// `Limits::max_command_size`.
        limit: usize,
    },
    /// A message larger than `Limits::max_message_size`, known from a frame header.
    MessageTooLarge {
        /// Bytes of the message so far, counting the frame just announced.
        len: u64,
        /// `Limits::max_message_size`.
        limit: u64,
    },
    /// A data frame before the handshake finished.
    DataBeforeReady,
    /// A command that makes no sense where it came (READY twice, SUBSCRIBE during the handshake...).
    UnexpectedCommand,
    /// READY without a Socket-Type property.
    MissingSocketType,
    /// READY with a Socket-Type we do not know.
    UnknownSocketType,
    /// The peer's socket type cannot talk to ours; an ERROR command was queued for it.
    IncompatibleSocketType {
        /// Our socket type.
        ours: SocketType,
        /// The socket type the peer's READY names.
        theirs: SocketType,
    },
    /// An Identity property longer than 255 bytes.
    IdentityTooLong,
    /// The peer closed the connection once it had our READY, before sending its own: libzmq
    /// does so when our socket type cannot talk to its own ([`Session::hang_up_reason`]).
    ///
    /// [`Session::hang_up_reason`]: crate::conn::Session::hang_up_reason
    ClosedOnReady,
    /// The peer sent an ERROR command.
    PeerError(Reason),
    /// The peer did not finish its greeting and READY within `SessionConfig::handshake_timeout`.
    HandshakeTimeout,
    /// No traffic from a peer within the heartbeat timeout after our PING.
    HeartbeatTimeout,
    /// No traffic within the TTL the peer asked for in its PING.
    TtlExpired,
    /// The session already ended; nothing more is processed.
    Closed,
    /// A PLAIN client's user name and password are not on the server's list.
    Denied,
    /// The CURVE handshake or a MESSAGE failed.
    #[cfg(feature = "curve")]
    Curve(crate::curve::CurveError),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Greeting(e) => write!(f, "bad greeting: {e}"),
            SessionError::MechanismMismatch { ours, theirs } => write!(
                f,
                "peer uses security mechanism {theirs:?}, this endpoint requires {ours:?}; configure both alike"
            ),
            SessionError::Frame(e) => write!(f, "bad frame: {e}"),
            SessionError::Command(e) => write!(f, "bad command: {e}"),
            SessionError::Metadata(e) => write!(f, "bad READY metadata: {e}"),
            SessionError::CommandTooLarge { len, limit } => {
                write!(f, "peer announced a {len}-byte command; the limit is {limit} bytes")
            }
            SessionError::MessageTooLarge { len, limit } => write!(
                f,
                "peer announced a message of at least {len} bytes; the limit is {limit} (raise max message size if this is expected)"
            ),
            SessionError::DataBeforeReady => f.write_str("peer sent data before finishing the handshake"),
            SessionError::UnexpectedCommand => f.write_str("peer sent a command out of place"),
            SessionError::MissingSocketType => f.write_str("peer's READY has no Socket-Type"),
            SessionError::UnknownSocketType => f.write_str("peer names a socket type zedge does not know (in its READY, or its ZMTP 2.0 greeting)"),
            SessionError::IncompatibleSocketType { ours, theirs } => write!(
                f,
                "this {ours} socket and its {theirs} peer cannot talk (ZeroMQ's socket-type rules); check which side of the device each belongs on"
            ),
            SessionError::IdentityTooLong => f.write_str("peer's Identity is longer than 255 bytes"),
            SessionError::ClosedOnReady => f.write_str(
                "peer closed the connection on our READY, before sending its own (libzmq does so when this endpoint's socket type cannot talk to its own)"
            ),
            SessionError::PeerError(r) => write!(f, "peer sent ERROR: {}", r.as_bytes().escape_ascii()),
            SessionError::HandshakeTimeout => f.write_str("peer did not finish the handshake in time"),
            SessionError::HeartbeatTimeout => f.write_str("peer stopped answering heartbeats"),
            SessionError::TtlExpired => f.write_str("peer went silent past the TTL it asked for"),
            SessionError::Closed => f.write_str("session already closed"),
            SessionError::Denied => f.write_str("user name or password not accepted"),
            #[cfg(feature = "curve")]
            SessionError::Curve(e) => write!(f, "{e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SessionError {}

impl From<GreetingError> for SessionError {
    fn from(e: GreetingError) -> Self {
        SessionError::Greeting(e)
    }
}

impl From<FrameError> for SessionError {
    fn from(e: FrameError) -> Self {
        SessionError::Frame(e)
    }
}

impl From<CommandError> for SessionError {
    fn from(e: CommandError) -> Self {
        SessionError::Command(e)
    }
}

impl From<MetadataError> for SessionError {
    fn from(e: MetadataError) -> Self {
        SessionError::Metadata(e)
    }
}
