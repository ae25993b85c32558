//! Frame headers (RFC 23 §"Framing"): a flags byte, then a 1-byte or 8-byte big-endian size.
//!
//! Only headers are handled here. Bodies are never copied by this layer: the session hands
//! them to its caller as slices of the caller's own input.

use core::fmt;

/// Another frame of the same message follows.
pub const FLAG_MORE: u8 = 0x01;
/// The size is 8 bytes, not 1.
pub const FLAG_LONG: u8 = 0x02;
/// The frame is a command, not message data.
pub const FLAG_COMMAND: u8 = 0x04;
const RESERVED: u8 = !(FLAG_MORE | FLAG_LONG | FLAG_COMMAND);

/// The longest header: flags plus an 8-byte size.
pub const MAX_HEAD_LEN: usize = 9;

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FrameHead {
    /// The MORE flag: more frames of this message follow.
    pub more: bool,
    /// The COMMAND flag: a command frame, not part of any message.
    pub command: bool,
    /// Body length as announced; check it against a limit before trusting it.
    pub len: u64,
}

/// A header that breaks the framing rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameError {
    /// Bits 3-7 of the flags byte must be zero.
    ReservedFlags(u8),
    /// Commands are single frames.
    CommandWithMore,
    /// A ZMTP 1.0 frame's length counts its flags byte: 0 leaves no room for it.
    NoFlags,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::ReservedFlags(b) => write!(f, "frame flags {b:#04x} set reserved bits"),
            FrameError::CommandWithMore => f.write_str("command frame has the MORE flag set"),
            FrameError::NoFlags => f.write_str("ZMTP 1.0 frame of length 0 (no flags byte)"),
        }
    }
}

/// An encoded header, ready to write.
#[derive(Clone, Copy, Debug)]
pub struct HeadBytes {
    buf: [u8; MAX_HEAD_LEN],
    len: u8,
}

impl HeadBytes {
    /// The header's bytes: 2 in the short form, 9 in the long.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// All [`MAX_HEAD_LEN`] bytes, the header's first and zeros after it: for a caller that
    /// copies a fixed size (no call to `memcpy`) and then writes over what follows.
    pub fn padded(&self) -> &[u8; MAX_HEAD_LEN] {
        &self.buf
    }
}

impl FrameHead {
    /// The header of a data frame with a `len`-byte body; `more` if frames of the same message
    /// follow.
    pub const fn data(len: u64, more: bool) -> Self {
        FrameHead {
            more,
            command: false,
            len,
        }
    }

    /// The header of a command frame with a `len`-byte body (commands never carry MORE).
    pub const fn command(len: u64) -> Self {
        FrameHead {
            more: false,
            command: true,
            len,
        }
    }

    /// Decode a header from the start of `input`: `Ok(None)` if more bytes are needed,
    /// otherwise the header and how many bytes it took.
    pub fn decode(input: &[u8]) -> Result<Option<(FrameHead, usize)>, FrameError> {
        let Some(&flags) = input.first() else {
            return Ok(None);
        };
        if flags & RESERVED != 0 {
            return Err(FrameError::ReservedFlags(flags));
        }
        let more = flags & FLAG_MORE != 0;
        let command = flags & FLAG_COMMAND != 0;
        if command && more {
            return Err(FrameError::CommandWithMore);
        }
        let (len, used) = if flags & FLAG_LONG != 0 {
            let Some(size) = input.get(1..MAX_HEAD_LEN) else {
                return Ok(None);
            };
            let mut be = [0u8; 8];
            be.copy_from_slice(size);
            (u64::from_be_bytes(be), MAX_HEAD_LEN)
        } else {
            let Some(&size) = input.get(1) else {
                return Ok(None);
            };
            (u64::from(size), 2)
        };
        Ok(Some((FrameHead { more, command, len }, used)))
    }

    /// The header's bytes; the short form whenever the size fits in one byte.
    pub fn encode(&self) -> HeadBytes {
        let mut buf = [0u8; MAX_HEAD_LEN];
        let mut flags = 0;
        if self.more {
            flags |= FLAG_MORE;
        }
        if self.command {
            flags |= FLAG_COMMAND;
        }
        let len = if self.len <= 0xff {
            buf[1] = self.len as u8;
            2
        } else {
            flags |= FLAG_LONG;
            buf[1..].copy_from_slice(&self.len.to_be_bytes());
            MAX_HEAD_LEN as u8
        };
        buf[0] = flags;
        HeadBytes { buf, len }
    }

    /// Header length once encoded.
    pub const fn encoded_len(&self) -> usize {
        if self.len <= 0xff {
            2
        } else {
            MAX_HEAD_LEN
        }
    }
}

/// Whether `input` starts with a whole message: data frames up to and including one without
/// MORE (commands between them are stepped over). Anything malformed answers `false`; the
/// session reports the error when it reaches it.
pub fn holds_message(input: &[u8]) -> bool {
    match FrameHead::decode(input) {
        Ok(Some((head, used))) => holds_message_after(input, head, used),
        _ => false,
    }
}

/// [`holds_message`] for a caller that has decoded the first frame's head already: `head`,
/// `head_len` bytes at the start of `input`.
pub fn holds_message_after(input: &[u8], head: FrameHead, head_len: usize) -> bool {
    message_missing(input, head, head_len) == Some(0)
}

/// How many bytes of the message that starts at `input` (with `head`, `head_len` bytes,
/// decoded already) are still to come, when that is known: `Some(0)` when all of it is here,
/// `Some(n)` when every frame head is here and the last frame lacks `n` body bytes, `None`
/// when a frame head is not here yet (or is malformed: the session reports that).
// Always inlined: the pump asks it once a routed message, and left to itself the compiler
// stopped inlining it there when the pump grew by a call (25 instructions a message more,
// tools/bench-callgrind streamer).
#[inline(always)]
pub fn message_missing(input: &[u8], head: FrameHead, head_len: usize) -> Option<u64> {
    message_extent(input, head, head_len).0
}

/// [`message_missing`], and how many bytes of `input` are the message's: its length, heads
/// included, when all of it is here; else all of `input`.
#[inline(always)]
pub fn message_extent(input: &[u8], head: FrameHead, head_len: usize) -> (Option<u64>, usize) {
    // What `MessageScan::missing` does, without keeping where it got to: the message path
    // asks this of every message, nearly all whole.
    let (mut head, mut used) = (head, head_len);
    let mut at = 0usize;
    loop {
        let Some(body_at) = at.checked_add(used) else {
            return (None, input.len());
        };
        let have = input.len().saturating_sub(body_at) as u64;
        if have < head.len {
            // Only the last frame may be cut short for the count to be known.
            let missing = (!head.command && !head.more).then(|| head.len - have);
            return (missing, input.len());
        }
        // head.len <= have, which is a usize: the cast is exact.
        at = body_at + head.len as usize;
        if !head.command && !head.more {
            return (Some(0), at);
        }
        (head, used) = match FrameHead::decode(&input[at..]) {
            Ok(Some(next)) => next,
            _ => return (None, input.len()),
        };
    }
}

/// Where [`message_missing`] got to in a message that is not all here yet: the last frame
/// whose head it has read. Kept while the input it walked stays where it was (its
/// [`MessageScan::position`] is all that needs keeping), it answers again for more input from
/// there, so a message arriving in many pieces costs one walk of its frames in all, not one per
/// piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MessageScan {
    /// Where that frame's head starts.
    at: usize,
    head: FrameHead,
    /// Its head's length.
    used: usize,
    /// Frame heads read since it was made or resumed.
    frames: u32,
}

impl MessageScan {
    /// A scan of the message whose first frame's head, `head_len` bytes, starts the input.
    pub const fn new(head: FrameHead, head_len: usize) -> Self {
        MessageScan {
            at: 0,
            head,
            used: head_len,
            frames: 0,
        }
    }

    /// The scan of `input` that stood at `position` (a [`MessageScan::position`] of the same
    /// input), or `None` if `input` does not reach that far.
    pub fn resume(input: &[u8], position: usize) -> Option<Self> {
        let (head, used) = FrameHead::decode(input.get(position..)?).ok()??;
        Some(MessageScan {
            at: position,
            head,
            used,
            frames: 0,
        })
    }

    /// Where the last frame head it read starts.
    pub const fn position(&self) -> usize {
        self.at
    }

    /// Where the message ends, once [`MessageScan::missing`] said all of it is here.
    pub const fn end(&self) -> usize {
        self.at
            .saturating_add(self.used)
            .saturating_add(self.head.len as usize)
    }

    /// Frame heads it has read since it was made or resumed: its work.
    pub const fn frames(&self) -> u32 {
        self.frames
    }

    /// [`message_missing`] for `input`, which starts with the bytes scanned so far; the scan
    /// moves on to the last frame head found.
    #[inline]
    pub fn missing(&mut self, input: &[u8]) -> Option<u64> {
        loop {
            let body_at = self.at.checked_add(self.used)?;
            let have = input.len().saturating_sub(body_at) as u64;
            if have < self.head.len {
                // Only the last frame may be cut short for the count to be known.
                let last = !self.head.command && !self.head.more;
                return last.then(|| self.head.len - have);
            }
            if !self.head.command && !self.head.more {
                return Some(0);
            }
            // head.len <= have, which is a usize: the cast is exact.
            let at = body_at + self.head.len as usize;
            let (head, used) = FrameHead::decode(&input[at..]).ok()??;
            *self = MessageScan {
                at,
                head,
                used,
                frames: self.frames.saturating_add(1),
            };
        }
    }
}

#[cfg(test)]
mod tests;
