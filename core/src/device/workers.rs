//! The ring of ready workers (queue and streamer backends), linked through their peers: new
//! work goes round-robin to the next one that is free and below its high-water mark.

use super::peer::{turn, WorkerLink};
use super::{ByteQueue, Device};

impl<Q: ByteQueue> Device<'_, Q> {
    /// The next ready worker, round-robin, that is free, below its high-water mark, has fewer
    /// unanswered requests than `worker_inflight` (a queue's), and has room for the message
    /// being routed. A message cut through goes to a worker from an address that held a
    /// sender up lately ([`Device::strike`]) only when no other can take it: closed for not
    /// reading a message cut through to it, a worker that connected again at once was given
    /// the next one, and held its producer again (attacker round 8: a producer of 4 MiB
    /// messages beside one such worker got 5 to its normal worker in 30 s instead of 7,000).
    ///
    /// Likewise a worker whose socket has taken nothing of what its queue holds for a turn of
    /// the progress timeout gets more only when no other can take it:
    /// every message given to a worker that stopped reading waits there until it reads again
    /// or leaves (attacker round 16, K1b: 50 such PULL workers took 2,942 of 3,000 messages
    /// from the one that read). So does one whose work was given to the others
    /// ([`Device::take_back_output`]), though its queue is empty, until its socket takes some.
    pub(super) fn pick_worker(&mut self) -> Option<u32> {
        self.pick(false)
    }

    /// [`Device::pick_worker`] for a spool's source, whose messages wait on disk at no cost:
    /// a worker that lags gets one only when every worker lags, never while one that reads
    /// is merely full (attacker round 22, F4: the spool's messages given to a worker that
    /// stopped reading, for want of room at the one that reads, pinned its cursor).
    pub(super) fn pick_worker_patiently(&mut self) -> Option<u32> {
        self.pick(true)
    }

    fn pick(&mut self, patient: bool) -> Option<u32> {
        let start = self.workers?;
        let (hwm, need, now) = (self.cfg.queue_hwm, self.need, self.last_now);
        let inflight = self.cfg.inflight_limit();
        let cutting = self.cutting;
        // A worker lags once its socket has taken nothing of its queue for this long (never,
        // with the progress timeout off).
        let turn = (!self.cfg.progress_timeout.is_zero()).then(|| turn(self.cfg.progress_timeout));
        let mut struck = None;
        // A worker that reads has no room now.
        let mut reader_busy = false;
        let mut w = start;
        loop {
            let p = self.peer_mut(w)?;
            let link = p.worker?;
            if p.queue.is_empty() && !p.taken_back {
                // Idle, not stalled: its time to take what it is given starts now.
                p.took_at = now;
            }
            let holds = !p.queue.is_empty() || p.taken_back;
            let lagging = turn.is_some_and(|t| holds && now.saturating_since(p.took_at) >= t);
            let free = p.held.is_none() && p.close.is_none() && p.unanswered < inflight;
            if free && p.queue.len() < hwm {
                if lagging || (cutting && p.struck_until.is_some_and(|t| t > now)) {
                    struck.get_or_insert(w);
                } else if p.queue.reserve(need) {
                    self.workers = Some(link.next);
                    return Some(w);
                } else {
                    self.memory_blocked = true;
                    reader_busy = true;
                }
            } else if !lagging && p.close.is_none() {
                reader_busy = true;
            }
            w = link.next;
            if w == start {
                break;
            }
        }
        if patient && reader_busy {
            return None;
        }

        let w = struck?;
        let p = self.peer_mut(w)?;
        let next = p.worker?.next;
        if !p.queue.reserve(need) {
            self.memory_blocked = true;
            return None;
        }
        self.workers = Some(next);
        Some(w)
    }

    /// Whether [`Device::pick_worker`] could find a worker for a small message.
    pub(super) fn a_worker_has_room(&self) -> bool {
        let Some(start) = self.workers else {
            return false;
        };
        let (hwm, inflight) = (self.cfg.queue_hwm, self.cfg.inflight_limit());
        let mut w = start;
        loop {
            let Some(p) = self.peer(w) else { return false };
            let Some(link) = p.worker else { return false };
            let free = p.held.is_none() && p.close.is_none() && p.unanswered < inflight;
            if free && p.queue.len() < hwm {
                return true;
            }
            w = link.next;
            if w == start {
                return false;
            }
        }
    }

    /// Whether no worker could take work however long the source waited: there is none, or
    /// every one is at its high-water mark or closing.
    pub(super) fn workers_all_full(&self) -> bool {
        let Some(start) = self.workers else {
            return true;
        };
        let hwm = self.cfg.queue_hwm;
        let mut w = start;
        loop {
            let Some(p) = self.peer(w) else { return true };
            let Some(link) = p.worker else { return true };
            if p.close.is_none() && p.queue.len() < hwm {
                return false;
            }
            w = link.next;
            if w == start {
                return true;
            }
        }
    }

    pub(super) fn link_worker(&mut self, idx: u32) {
        let Some(cursor) = self.workers else {
            if let Some(p) = self.peer_mut(idx) {
                p.worker = Some(WorkerLink {
                    next: idx,
                    prev: idx,
                });
            }
            self.workers = Some(idx);
            return;
        };
        // Insert just before the cursor: the newcomer is the last to be tried in this round.
        let Some(prev) = self.peer(cursor).and_then(|c| c.worker).map(|l| l.prev) else {
            return;
        };
        if let Some(p) = self.peer_mut(idx) {
            p.worker = Some(WorkerLink { next: cursor, prev });
        }
        if let Some(l) = self.peer_mut(prev).and_then(|p| p.worker.as_mut()) {
            l.next = idx;
        }
        if let Some(l) = self.peer_mut(cursor).and_then(|p| p.worker.as_mut()) {
            l.prev = idx;
        }
    }

    pub(super) fn unlink_worker(&mut self, idx: u32) {
        let Some(WorkerLink { next, prev }) = self.peer_mut(idx).and_then(|p| p.worker.take())
        else {
            return;
        };
        if next == idx {
            self.workers = None;
            return;
        }
        if let Some(l) = self.peer_mut(prev).and_then(|p| p.worker.as_mut()) {
            l.next = next;
        }
        if let Some(l) = self.peer_mut(next).and_then(|p| p.worker.as_mut()) {
            l.prev = prev;
        }
        if self.workers == Some(idx) {
            self.workers = Some(next);
        }
    }
}
