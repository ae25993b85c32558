//! Property tests of the public API: the wire decoders read back what the encoders write, a
//! session reads every split of a valid stream the same way, and nothing a peer sends makes it
//! panic, hand over more than its limits allow, or come back to life after an error.
//!
//! Valid streams are checked against a model of what the session should report (messages,
//! subscriptions, PONGs owed, and the first limit broken); garbage is checked against the
//! invariants alone. The reader and its invariants are `session_check/`, which the `session`
//! fuzz target shares.

use proptest::prelude::*;
use zedge_core::time::Instant;

#[path = "../session_check/mod.rs"]
mod session_check;

mod caller;
mod model;
mod sessions;
mod strategies;
mod v1;
mod wire;

const NOW: Instant = Instant::ZERO;

/// Few enough cases that the file runs in seconds in debug builds. Failures are not persisted:
/// shrinking prints the minimal case, which belongs in a unit test beside the code it breaks.
fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
