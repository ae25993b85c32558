//! The wire layer: ZMTP 3.x bytes, with no state beyond one call.
//!
//! - [`greeting`]: the 64-byte greeting, judged prefix by prefix.
//! - [`frame`]: frame headers, short and long, with their flags.
//! - [`command`]: READY, ERROR, SUBSCRIBE, CANCEL, PING, PONG.
//! - [`metadata`]: socket types and READY properties.
//!
//! Decoders borrow from the caller's input and report "need more" as `Ok(None)`; encoders write
//! into caller buffers through [`Writer`] and either write a whole unit or nothing.

pub mod command;
pub mod frame;
pub mod greeting;
pub mod metadata;
pub mod z85;

#[cfg(test)]
#[allow(dead_code)] // captured for reference; not every vector has a test of its own
pub(crate) mod vectors;

use core::fmt;

/// The caller's buffer has no room for the whole unit; nothing was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Full;

impl fmt::Display for Full {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("output buffer full")
    }
}

/// A cursor over a caller's output buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    /// A writer that fills `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room left; a unit longer than this is refused whole, as [`Full`].
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.len
    }

    /// Append `bytes` whole, or nothing.
    pub fn put(&mut self, bytes: &[u8]) -> Result<(), Full> {
        let end = self.len.checked_add(bytes.len()).ok_or(Full)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(Full)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}
