//! What a stopping device could not deliver: the messages (and their bytes) still queued for
//! its peers when the flush deadline passed, logged per device at warn, or at info when every
//! message was written; what a spool's receivers had is in the spool, or goes to it, and is
//! said apart, at info. Messages are counted by [`OutFrames`](crate::outframes::OutFrames);
//! bytes left that are no message's (a greeting, a PING) are not worth a warning. Then the
//! messages it dropped while it ran, by cause, if any.

use log::{info, warn};

use crate::host::DeviceHost;

/// Log what `host`'s device leaves undelivered as it stops.
pub fn report(host: &DeviceHost) {
    let left = host.queued();
    let q = left.peers;
    if q.messages == 0 && q.unfollowed == 0 {
        info!("{}stopped: every queued message written", host.tag());
    } else {
        warn!(
            "{}stopped with output not delivered, lost: {q} when the flush deadline passed",
            host.tag()
        );
    }
    let s = left.spool;
    if s.messages > 0 || s.unfollowed > 0 {
        let more = if s.unfollowed > 0 {
            format!(", and more for {} of them", s.unfollowed)
        } else {
            String::new()
        };
        info!(
            "{}output not delivered that stays in the spool, or goes to it, sent after the \
             restart: {} messages ({} bytes) for its uplinks or workers{more}",
            host.tag(),
            s.messages,
            s.bytes
        );
    }
    // Capture readers lose copies by design: not worth a warning.
    let copies = left.copies;
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
