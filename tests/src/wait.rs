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

/// The child's exit status once it exits, or `None` if it is still running after `timeout`.
pub fn exit_within(
    child: &mut std::process::Child,
    timeout: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => return None,
            Err(e) => panic!("cannot wait for process {}: {e}", child.id()),
        }
    }
}
