//! What a stopping device could not deliver: the messages (and their bytes) still queued for
//! its peers when the flush deadline passed, logged per device at warn, or at info when every
//! message was written. Messages are counted by [`OutFrames`](crate::outframes::OutFrames);
//! bytes left that are no message's (a greeting, a PING) are not worth a warning. Then the
//! messages it dropped while it ran, by cause, if any.

use log::{info, warn};

use crate::host::DeviceHost;

/// Log what `host`'s device leaves undelivered as it stops.
pub fn report(host: &DeviceHost) {
    let (q, copies) = host.queued();
    if q.messages == 0 && q.unfollowed == 0 {
        info!("{}stopped: every queued message written", host.tag());
    } else {
        warn!(
            "{}stopped with output not delivered: {q} when the flush deadline passed",
            host.tag()
        );
    }
    // Capture readers lose copies by design: not worth a warning.
    if copies.messages > 0 || copies.unfollowed > 0 {
        info!(
            "{}capture copies not written when the flush deadline passed: {copies}",
            host.tag()
        );
    }
    let d = host.stats().dropped;
    if d.messages() > 0 {
        info!(
            "{}dropped {} messages while running: {} above a high-water mark, {} for memory, {} \
             unroutable, {} aborted, {} busy",
            host.tag(),
            d.messages(),
            d.hwm,
            d.memory,
            d.unroutable,
            d.aborted,
            d.busy
        );
    }
}
