//! The caller's half of the harness: how it moves bytes between the device and the remotes,
//! as edge-bin does with sockets.

use std::mem;

use super::harness::{Net, MINOR_AT, P};
use super::remote::End;
use crate::device::PeerId;
use crate::time::Instant;

impl Net<'_> {
    /// Move bytes until nothing moves, doing the device's waiting work
    /// ([`Device::has_work`](crate::device::Device::has_work)) between rounds, as a caller's
    /// timer does.
    pub fn pump(&mut self) {
        for _ in 0..100_000 {
            let mut moved = self.dispatch();
            if self.dev.has_work() {
                self.dev.handle_timeout(self.now);
                moved = true;
            }
            // The peers the device woke run first, in its order, as tasks woken by their
            // signals do in edge-bin; then every peer, for what came in on its own.
            for p in mem::take(&mut self.wake_order) {
                moved |= self.feed(p);
            }
            for p in 0..self.remotes.len() {
                moved |= self.feed(p);
                moved |= self.bypass_body(p);
                moved |= self.deliver(p);
            }
            if !moved {
                return;
            }
        }
        panic!("pump() never went idle");
    }

    /// Fire the device's timers in their order up to `t`, moving bytes after each, and leave
    /// the clock at `t`.
    pub fn run_until(&mut self, t: Instant) {
        while let Some(next) = self.dev.poll_timeout().filter(|&n| n > self.now && n <= t) {
            self.now = next;
            self.dev.handle_timeout(next);
            self.pump();
        }
        self.now = t;
        self.dev.handle_timeout(t);
        self.pump();
    }

    /// Write the device's output to the remote (unless paused), and let the remote read it.
    pub fn deliver(&mut self, p: P) -> bool {
        let r = &self.remotes[p];
        if !r.attached {
            return false;
        }
        let wrote = !r.paused && self.write(p, usize::MAX) > 0;
        self.remotes[p].read(self.now) || wrote
    }

    /// Write at most `max` bytes of the device's output to the remote.
    pub fn write(&mut self, p: P, max: usize) -> usize {
        let r = &mut self.remotes[p];
        if !r.attached {
            return 0;
        }
        let mut written = 0;
        // The output shows the oldest bytes, a slice per shared piece: as many writes as
        // it takes.
        while written < max {
            let (a, b) = self.dev.output(r.id);
            let n = (a.len() + b.len()).min(max - written);
            if n == 0 {
                break;
            }
            let from_a = n.min(a.len());
            let start = r.wire.len();
            r.wire.extend_from_slice(&a[..from_a]);
            r.wire.extend_from_slice(&b[..n - from_a]);
            if r.old && (start..r.wire.len()).contains(&MINOR_AT) {
                r.wire[MINOR_AT] = 0;
            }
            self.dev.consume_output(r.id, n);
            written += n;
        }
        written
    }

    /// Take the device's wake-ups and carry out its closes.
    pub(super) fn dispatch(&mut self) -> bool {
        let mut moved = false;
        // A socket to try: every remote unpaused is written to in each round (`deliver`), as
        // if it always read as writable; one that passes on what it holds, unseen, reads.
        while let Some(id) = self.dev.poll_probe() {
            if let Some(p) = self.find(id) {
                self.remotes[p].probes += 1;
                if self.remotes[p].passes_on {
                    self.dev.socket_took(id);
                }
            }
        }
        while let Some(id) = self.dev.poll_wake() {
            if let Some(p) = self.find(id) {
                self.remotes[p].woken = true;
                self.wake_order.push(p);
                self.wakes += 1;
                moved = true;
            }
        }
        while let Some((id, reason)) = self.dev.poll_close() {
            let p = self.find(id).expect("a close for a connected peer");
            self.closes.push((p, reason));
            self.remotes[p].end.get_or_insert(End::Closed(reason));
            self.hang_up(p);
            moved = true;
        }
        moved
    }

    /// Read what the remote sent into the caller's buffer and feed it to the device.
    pub(super) fn feed(&mut self, p: P) -> bool {
        let cap = self.dev.config().input_capacity;
        let r = &mut self.remotes[p];
        if r.end.is_some() {
            return false;
        }
        let mut moved = false;
        // A call that took some of the buffer may have stopped at its bound on work
        // (`MAX_STEPS`): the rest is fed again even if nothing new came in.
        let mut again = false;
        while self.dev.wants_read(r.id) {
            if self.bypass.is_some() && r.inbuf.is_empty() && self.dev.bypass_target(r.id).is_some()
            {
                break;
            }
            let n = (cap - r.inbuf.len()).min(r.sent.len() - r.sent_read);
            r.inbuf
                .extend_from_slice(&r.sent[r.sent_read..r.sent_read + n]);
            r.sent_read += n;
            let woken = mem::take(&mut r.woken);
            if n == 0 && !woken && !mem::take(&mut again) {
                break;
            }
            moved |= n > 0;
            match self.dev.handle_input(r.id, &r.inbuf, self.now) {
                Ok(0) => {
                    assert!(
                        !self.dev.input_stuck(r.id, r.inbuf.len()),
                        "remote {p}: a full buffer that is wanted and not read"
                    );
                    if n == 0 {
                        break;
                    }
                }
                Ok(used) => {
                    r.inbuf.drain(..used);
                    moved = true;
                    again = !r.inbuf.is_empty();
                }
                Err(e) => {
                    r.end = Some(End::Failed(e));
                    if self.remove_failed {
                        self.hang_up(p);
                    }
                    return true;
                }
            }
        }
        moved
    }

    /// Move body bytes the device lets by from the remote's socket to its destination's,
    /// after what the device holds for the destination, unless that remote is paused.
    pub(super) fn bypass_body(&mut self, p: P) -> bool {
        let Some(chunk) = self.bypass else {
            return false;
        };
        let r = &self.remotes[p];
        if r.end.is_some() || !r.inbuf.is_empty() {
            return false;
        }
        let Some((dest, left)) = self.dev.bypass_target(r.id) else {
            return false;
        };
        let d = self.find(dest).expect("bypass names a connected peer");
        if self.remotes[d].paused {
            return false;
        }
        self.write(d, usize::MAX);
        let r = &mut self.remotes[p];
        let n = (r.sent.len() - r.sent_read).min(chunk).min(left as usize);
        if n == 0 {
            return false;
        }
        let bytes = r.sent[r.sent_read..r.sent_read + n].to_vec();
        r.sent_read += n;
        let id = r.id;
        self.remotes[d].wire.extend_from_slice(&bytes);
        self.dev.bypassed(id, n as u64, self.now);
        self.bypassed += n as u64;
        true
    }

    /// Write what the device holds for the remote, then close the connection.
    pub(super) fn hang_up(&mut self, p: P) {
        self.write(p, usize::MAX);
        let r = &mut self.remotes[p];
        r.read(self.now);
        self.dev.remove_peer(r.id);
        r.attached = false;
    }

    pub(super) fn find(&self, id: PeerId) -> Option<P> {
        self.remotes.iter().position(|r| r.attached && r.id == id)
    }
}
