//! The caller the fuzz targets play: the session invariant checker of the property tests
//! (`core/tests/session_check/`, included here so the two cannot drift apart), fed in chunks
//! picked by the fuzz input's control bytes.

use zedge_core::conn::{Heartbeat, Limits, SessionConfig, SessionError};
use zedge_core::time::Duration;
use zedge_core::wire::command;
use zedge_core::wire::greeting::{Greeting, Mechanism};
use zedge_core::wire::metadata::SocketType;
use zedge_core::wire::Writer;

#[path = "../../tests/session_check/mod.rs"]
pub mod session_check;

use session_check::{assert_closed, Reads};

/// A greeting and a READY from a peer our socket type accepts.
pub fn handshake(ours: SocketType) -> Vec<u8> {
    let theirs = SocketType::ALL
        .into_iter()
        .find(|t| ours.accepts(*t))
        .expect("every type has a peer type");
    let mut bytes = Greeting::ours(Mechanism::Null, false).encode().to_vec();
    let mut buf = [0u8; 128];
    let mut w = Writer::new(&mut buf);
    command::write_ready(&mut w, theirs, b"fuzz").expect("READY fits");
    let n = w.len();
    bytes.extend_from_slice(&buf[..n]);
    bytes
}

/// Feed `stream` to a fresh session in reads of at most `setup.chunk` bytes into a buffer of
/// `min_input_capacity()` bytes, with the clock moving 10 ms per read and timers fired when
/// due. Panics if any invariant of `session_check` breaks; returns how the session ended.
pub fn drive(setup: Setup, stream: &[u8]) -> Result<(), SessionError> {
    let Setup { cfg, chunk } = setup;
    let reads = Reads {
        sizes: &[chunk],
        spare: 0,
        tick: Duration::from_millis(10),
    };
    let (outcome, mut session, now) = session_check::run(cfg, stream, reads);
    if outcome.end.is_err() {
        assert_closed(&mut session, now, &handshake(SocketType::Pair));
    }
    outcome.end
}

/// Read sizes the second nibble of the control byte picks from.
const CHUNKS: [usize; 16] = [
    1,
    2,
    3,
    5,
    7,
    8,
    13,
    31,
    64,
    100,
    255,
    256,
    511,
    1000,
    4096,
    usize::MAX,
];

/// What the three control bytes at the start of a fuzz input pick.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    pub cfg: SessionConfig,
    pub chunk: usize,
}

impl Setup {
    /// Byte 0: socket type (low nibble), read size (high nibble). Byte 1: message limit (low
    /// nibble, x 20) and command limit (high nibble, x 10), small so fuzzed lengths cross them
    /// both ways. Byte 2: head bytes (low 7 bits, x 4) and heartbeats on (bit 7).
    pub fn from_bytes(control: [u8; 3]) -> Self {
        let [kind, limits, extra] = control;
        let ours = SocketType::ALL[usize::from(kind & 0x0f) % SocketType::ALL.len()];
        let heartbeat = if extra & 0x80 != 0 {
            Heartbeat::every(Duration::from_millis(300))
        } else {
            Heartbeat::OFF
        };
        let cfg = SessionConfig {
            limits: Limits {
                max_message_size: u64::from(limits & 0x0f) * 20,
                max_command_size: usize::from(limits >> 4) * 10,
                head_bytes: usize::from(extra & 0x7f) * 4,
                max_topic: usize::from(extra >> 7) * 64 + usize::from(limits >> 4),
            },
            heartbeat,
            ..SessionConfig::new(ours)
        };
        Setup {
            cfg,
            chunk: CHUNKS[usize::from(kind >> 4)],
        }
    }
}
