//! The caller: a stream read through `session_check` in reads of given sizes, and one wire
//! unit written and a command's body read back.

use crate::session_check::{self, Outcome, Reads};
use zedge_core::conn::{Limits, Session, SessionConfig};
use zedge_core::time::Duration;
use zedge_core::wire::frame::FrameHead;
use zedge_core::wire::metadata::SocketType;
use zedge_core::wire::{Full, Writer};

/// Read `stream` in reads of `chunks` sizes (in turn) into a buffer of `min_input_capacity() +
/// spare` bytes, the clock standing still; `session_check::run` checks every step.
pub(crate) fn run(
    cfg: SessionConfig,
    stream: &[u8],
    chunks: &[usize],
    spare: usize,
) -> (Outcome, Session) {
    let reads = Reads {
        sizes: chunks,
        spare,
        tick: Duration::ZERO,
    };
    let (outcome, session, _) = session_check::run(cfg, stream, reads);
    (outcome, session)
}

pub(crate) fn config(ours: SocketType, limits: Limits) -> SessionConfig {
    SessionConfig {
        limits,
        ..SessionConfig::new(ours)
    }
}

pub(crate) fn written(f: impl FnOnce(&mut Writer<'_>) -> Result<(), Full>) -> Vec<u8> {
    let mut buf = vec![0u8; 64 << 10];
    let mut w = Writer::new(&mut buf);
    f(&mut w).expect("room for one unit");
    let n = w.len();
    buf.truncate(n);
    buf
}

pub(crate) fn command_body(frame: &[u8]) -> &[u8] {
    let (head, used) = FrameHead::decode(frame)
        .expect("a valid header")
        .expect("a whole header");
    assert!(head.command);
    assert_eq!(
        used as u64 + head.len,
        frame.len() as u64,
        "one whole frame"
    );
    &frame[used..]
}
