//! The test clients (`zedge sub`, `pub`...) as processes of their own, for the tests that use
//! them as peers.

use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::broker::zedge_bin;

/// `zedge ARGS` started, its stdin, stdout and stderr piped.
pub fn client(args: &[&str]) -> Child {
    Command::new(zedge_bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a zedge client")
}

/// Wait for a client to exit within `within`: its output. Killed, and the test failed, if it
/// does not.
pub fn finish(mut c: Child, within: Duration) -> Output {
    let deadline = Instant::now() + within;
    while c.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = c.kill();
            let out = c.wait_with_output().expect("output");
            panic!(
                "the client did not finish within {within:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
    c.wait_with_output().expect("output")
}
