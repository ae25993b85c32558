//! What a security layer under a NULL [`Session`](super::Session) says of the bytes it is
//! given: the CURVE link (`crate::curve::link`, feature `curve`) and the PLAIN server
//! ([`super::plain`]) both speak these, so their caller drives either the same way.
//!
//! A layer takes the peer's bytes one unit at a time (its greeting, or one frame), rewrites
//! them in the caller's buffer into what the session should see (a NULL greeting, a READY,
//! decrypted frames), and says which bytes to hand on and what to send first. Going out it
//! takes the session's bytes a frame at a time and writes what goes to the peer instead.

use core::ops::Range;

use super::SessionError;
use crate::wire::frame::{FrameHead, MAX_HEAD_LEN};
use crate::wire::greeting::{Greeting, Mechanism, GREETING_LEN};

/// What a layer's `open` did with the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// The next unit needs this many bytes of input in all; read more.
    NeedMore(usize),
    /// One unit was taken.
    Step(Step),
}

/// What a layer's `take_outgoing` did with the session's bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// The next frame needs this many bytes in all, in one piece.
    NeedMore(usize),
    /// The session's READY came before the handshake owes it (a server that has not had the
    /// INITIATE yet): keep it, and offer it again once the layer owes the metadata.
    Early,
    /// `consumed` bytes of the session's were taken, `written` bytes of `out` are to be sent.
    Taken {
        /// Bytes of the session's output taken.
        consumed: usize,
        /// Bytes written to `out`.
        written: usize,
    },
}

/// One unit taken by a layer's `open`.
#[derive(Debug, PartialEq, Eq)]
pub struct Step {
    /// Bytes of the input the unit took.
    pub consumed: usize,
    /// Bytes of the input, now plaintext, for the session (possibly empty), within
    /// `..consumed`.
    pub deliver: Range<usize>,
    /// Bytes written to `tx`, to send before anything else.
    pub sent: usize,
}

/// Where a layer's `take_outgoing` starts: what is left of the session's own greeting is
/// dropped (`Err(Outgoing::Taken)`, nothing written), then one whole frame is found
/// (`Ok((head, head_len, end))`, or `Err(Outgoing::NeedMore)`).
pub(crate) fn next_unit(
    greeting_left: &mut u8,
    plain: &[u8],
) -> Result<Result<(FrameHead, usize, usize), Outgoing>, SessionError> {
    if *greeting_left > 0 {
        let n = plain.len().min(usize::from(*greeting_left));
        *greeting_left -= n as u8;
        return Ok(Err(Outgoing::Taken {
            consumed: n,
            written: 0,
        }));
    }
    let Some((head, hl)) = FrameHead::decode(plain)? else {
        return Ok(Err(Outgoing::NeedMore(MAX_HEAD_LEN.min(plain.len() + 1))));
    };
    let end = hl.saturating_add(usize::try_from(head.len).unwrap_or(usize::MAX));
    if plain.len() < end {
        return Ok(Err(Outgoing::NeedMore(end)));
    }
    Ok(Ok((head, hl, end)))
}

/// The peer's greeting at the start of `input`, for a layer that runs `ours`: rewritten in
/// place as the NULL greeting its session is to see (`Ok(true)`), `Ok(false)` if not all of it
/// is here yet, and refused if the peer runs another mechanism. (libzmq 4.3 servers do not
/// set as-server, so it is not checked.)
pub(crate) fn greeting_as_null(input: &mut [u8], ours: Mechanism) -> Result<bool, SessionError> {
    let Some(greeting) = Greeting::decode(input)? else {
        return Ok(false);
    };
    if greeting.mechanism != ours {
        return Err(SessionError::MechanismMismatch {
            ours,
            theirs: greeting.mechanism,
        });
    }
    let null = Greeting {
        mechanism: Mechanism::Null,
        as_server: false,
        ..greeting
    };
    input[..GREETING_LEN].copy_from_slice(&null.encode());
    Ok(true)
}
