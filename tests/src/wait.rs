//! Bounded waiting: everything a test waits for has a deadline, and missing it fails the test
//! with what was awaited.

use std::time::{Duration, Instant};

/// `secs` from now.
pub fn deadline(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

/// Call `attempt` until it returns true; panics with `what` once `deadline` has passed.
/// `attempt` should itself wait a little (a receive with a short timeout, say).
pub fn until(deadline: Instant, what: &str, mut attempt: impl FnMut() -> bool) {
    while !attempt() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
    }
}
