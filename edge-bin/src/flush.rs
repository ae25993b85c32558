//! What a stopping device could not deliver: the messages (and their bytes) still queued for
//! its peers when the flush deadline passed, logged per device at warn, or at info when every
//! message was written. Messages are counted by [`OutFrames`](crate::outframes::OutFrames);
//! bytes left that are no message's (a greeting, a PING) are not worth a warning.

use std::fmt;

use log::{info, warn};

use crate::host::DeviceHost;

/// Output still queued, summed over a device's connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Queued {
    /// Peers with anything queued.
    pub peers: usize,
    pub bytes: u64,
    /// Messages not wholly written, of the peers whose output could be followed.
    pub messages: u64,
    /// Peers whose output could not be followed (not counted in `messages`).
    pub unfollowed: usize,
}

impl fmt::Display for Queued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.peers == 1 { "" } else { "s" };
        let m = if self.messages == 1 { "" } else { "s" };
        write!(
            f,
            "{} message{m} ({} bytes) queued for {} peer{s}",
            self.messages, self.bytes, self.peers
        )?;
        if self.unfollowed > 0 {
            write!(f, ", and more for {} of them", self.unfollowed)?;
        }
        Ok(())
    }
}

/// Log what `host`'s device leaves undelivered as it stops.
pub fn report(host: &DeviceHost) {
    let q = host.queued();
    if q.messages == 0 && q.unfollowed == 0 {
        info!("{}stopped: every queued message written", host.tag());
    } else {
        warn!(
            "{}stopped with output not delivered: {q} when the flush deadline passed",
            host.tag()
        );
    }
}
