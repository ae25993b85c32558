//! The streamer (PULL frontend, PUSH backend): each message from a producer goes whole to
//! the next worker with room; when none has room, producers wait (or, with a spool, their
//! messages go to disk: `spool.rs`). Nothing is dropped.

use super::pump::Route;
use super::{ByteQueue, Device};

impl<Q: ByteQueue> Device<'_, Q> {
    /// A producer's message: to the next free worker, or wait.
    pub(super) fn route_work(&mut self, idx: u32) -> Route {
        if let Some(s) = self.spool {
            return self.route_spooled(idx, s);
        }
        let Some(worker) = self.pick_worker() else {
            return Route::Blocked;
        };
        self.hold(idx, worker);
        Route::Go
    }
}
