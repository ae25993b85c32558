//! What a stopping device could not deliver: the output still queued for its peers when the
//! flush deadline passed, logged per device at warn (or at info when nothing was left).

use std::fmt;

use log::{info, warn};

use crate::host::DeviceHost;

/// Output still queued, summed over a device's connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Queued {
    /// Peers with anything queued.
    pub peers: usize,
    pub bytes: u64,
}

impl fmt::Display for Queued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.peers == 1 { "" } else { "s" };
        write!(f, "{} bytes queued for {} peer{s}", self.bytes, self.peers)
    }
}

/// Log what `host`'s device leaves undelivered as it stops.
pub fn report(host: &DeviceHost) {
    let q = host.queued();
    if q.peers == 0 {
        info!("{}stopped: all queued output written", host.tag());
    } else {
        warn!(
            "{}stopped with output not delivered: {q} when the flush deadline passed",
            host.tag()
        );
    }
}
