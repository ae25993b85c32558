//! Why the device refuses a peer or wants one closed.

use core::fmt;

use crate::conn::SessionError;

/// The device has no free slot for another peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PeerTableFull;

impl fmt::Display for PeerTableFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("peer table full (raise max peers)")
    }
}

/// How a session's timers ended it ([`Session::handle_timeout`](crate::conn::Session)): all a
/// [`CloseReason`] keeps of the [`SessionError`], whose larger variants (a peer's ERROR
/// reason) would make every slot of the peer table 48 bytes larger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Expired {
    /// The peer did not finish its handshake in time.
    Handshake,
    /// It stopped answering our PINGs.
    Heartbeat,
    /// It went silent past the TTL it asked for.
    Ttl,
    /// The session had ended before, or a timer ended it some other way.
    Closed,
}

impl Expired {
    /// What a timer's error was.
    pub const fn of(e: SessionError) -> Self {
        match e {
            SessionError::HandshakeTimeout => Expired::Handshake,
            SessionError::HeartbeatTimeout => Expired::Heartbeat,
            SessionError::TtlExpired => Expired::Ttl,
            _ => Expired::Closed,
        }
    }

    /// The error it stands for.
    pub const fn error(self) -> SessionError {
        match self {
            Expired::Handshake => SessionError::HandshakeTimeout,
            Expired::Heartbeat => SessionError::HeartbeatTimeout,
            Expired::Ttl => SessionError::TtlExpired,
            Expired::Closed => SessionError::Closed,
        }
    }
}

/// Why the device wants a connection closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CloseReason {
    /// The session's own timers ended it (errors found while feeding come back from
    /// `handle_input`).
    Session(Expired),
    /// The peer was taking a message whose sender left mid-way, and part of it had already
    /// been written to the peer's socket.
    SenderAborted,
    /// The peer's queue could not take what the protocol owes it (a publisher that does not
    /// read its subscriptions, or a queue smaller than `queue_capacity`).
    Overflow,
    /// Bytes owed to the peer were lost on the way
    /// ([`Device::fail_peer`](super::Device::fail_peer)): its stream has a gap, so nothing
    /// more may be written to it.
    Lost,
    /// The peer was sending a message too large to store first, and none of its bytes moved
    /// for the progress timeout: the message was aborted to free its receivers. Or it was
    /// sending one into memory that others waited for, and too little of it came for the
    /// progress timeout ([`Device::stall_peer`](super::Device::stall_peer)).
    Stalled,
    /// The peer's queue could not grow for the rest of a message that had started to be
    /// written to it (the memory budget was spent), so the message could be neither finished
    /// nor taken back.
    OutOfMemory,
    /// A queue client that has been behind (its queue not emptied) for `client_stall`, and
    /// whose queue could not grow for its next reply for want of memory: it is closed to give
    /// back what it holds to the peers that read.
    Unread,
    /// A forwarder's subscriber that lagged ([`ByteQueue::lags`](super::ByteQueue::lags))
    /// while memory was spent and a subscriber that keeps up found no room: it is closed, its
    /// queue emptied at once, to give back what it held to the ones that keep up.
    Lagging,
    /// A capture reader whose socket took nothing for the progress timeout while it lost
    /// copies: its slot (one of [`MAX_CAPTURE_READERS`](super::MAX_CAPTURE_READERS)) goes to
    /// a reader that reads. Peers of ZMTP 3.0 are never pinged, so this is what frees the
    /// slot of one that stalled.
    ReaderStalled,
    /// The peer was sending a message too large to store first, which held its receivers
    /// while another source wanted one of them, and not all of it came within
    /// [`OVERDUE_AFTER`](super::OVERDUE_AFTER) progress timeouts of that: the message was
    /// aborted to free them.
    Overdue,
    /// A queue's or streamer's worker that held its sender in the middle of a message (too
    /// large to store first) and whose socket took less than
    /// [`PROGRESS_BYTES`](super::PROGRESS_BYTES) of its output for the progress timeout: it
    /// is closed, the message lost, so that the sender goes on to the workers that read.
    Deaf,
}

impl CloseReason {
    /// Whether what the peer's queue still holds should be written before its connection
    /// closes. Not for a client closed because it does not read (its queue is the memory its
    /// closing gives back, at once), one whose stream has a gap, or one reset in the middle of
    /// a message.
    pub const fn flushes(self) -> bool {
        !matches!(
            self,
            CloseReason::Unread
                | CloseReason::Lost
                | CloseReason::OutOfMemory
                | CloseReason::Lagging
                | CloseReason::ReaderStalled
                | CloseReason::Deaf
        )
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Session(e) => write!(f, "{}", e.error()),
            CloseReason::SenderAborted => {
                f.write_str("reset: the sender of a message in progress left")
            }
            CloseReason::Overflow => f.write_str("outbound queue overflow"),
            CloseReason::Lost => f.write_str("output lost on the way to it"),
            CloseReason::Stalled => f.write_str(
                "a message it was sending made no progress for the progress timeout; aborted",
            ),
            CloseReason::Overdue => f.write_str(
                "a message it was sending held its receivers while others waited for them, and did not all come within four progress timeouts; aborted",
            ),
            CloseReason::OutOfMemory => f.write_str(
                "reset: memory_max could not take the rest of a message being written to it",
            ),
            CloseReason::Unread => f.write_str(
                "closed: behind on its replies for client_stall while memory_max was spent",
            ),
            CloseReason::Lagging => f.write_str(
                "closed: a subscriber lagging while memory_max was spent and one that keeps up needed room",
            ),
            CloseReason::ReaderStalled => f.write_str(
                "closed: a capture reader that read nothing for the progress timeout while losing copies",
            ),
            CloseReason::Deaf => f.write_str(
                "closed: a worker that read too little of a message for the progress timeout while its sender waited; the message is lost",
            ),
        }
    }
}
