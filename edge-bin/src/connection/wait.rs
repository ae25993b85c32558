//! Where a connection's task waits between rounds: after one that moved bytes, for the others
//! to have their turn ([`FAIR_TURN`]); after one that did not, until its socket, a full
//! destination it has bytes for, another connection's [`Signal`] or the progress its lane owes
//! gives it something to do.

use std::future::poll_fn;
use std::io;
use std::task::Poll;
use std::time::Instant;

use async_io::Timer;
use futures_lite::future;

use super::{Conn, FAIR_TURN};
use crate::host::DeviceHost;
use crate::signal::Signal;

impl Conn {
    /// Let the others run after a round that moved bytes. A plain yield lets the other ready
    /// tasks run, but the reactor only looks at the sockets once no task is ready: a
    /// connection whose input never runs out would keep every other socket waiting. So after
    /// [`FAIR_TURN`] of busy rounds it waits for its own socket through the reactor, which
    /// sees to every other socket on the way (a signal from another connection also ends
    /// the wait).
    ///
    /// A wake-up given before the wait does not end it: a peer whose every round owes it
    /// output (a PONG for its PINGs) wakes itself each round, and would never wait. The round
    /// after the wait does what the wake-up asked; should our socket stay neither readable
    /// nor writable, a timer (through the reactor too) brings that round [`FAIR_TURN`] later.
    pub(super) async fn take_turns(&mut self, sig: &Signal) {
        let now = Instant::now();
        let since = *self.busy_since.get_or_insert(now);
        if now.duration_since(since) < FAIR_TURN {
            future::yield_now().await;
            return;
        }
        self.busy_since = None;
        let was_woken = sig.take_wake();
        let woken = poll_fn(|cx| sig.poll(cx));
        let late = async {
            if was_woken {
                Timer::after(FAIR_TURN).await;
            } else {
                future::pending::<()>().await;
            }
        };
        future::or(self.stream.ready(), future::or(woken, late)).await;
    }

    /// Until the socket can do what the device wants of it, a destination we have bytes for
    /// can take them, or another connection signals.
    pub(super) async fn wait(&mut self, host: &DeviceHost, sig: &Signal) -> io::Result<()> {
        // The lane's holder is looked at again when its progress is due (a timeout past any
        // clock's end is never due).
        let lane_at = self
            .lane
            .zip(host.progress_timeout())
            .and_then(|(turn, timeout)| turn.since.checked_add(timeout / self.lane_grain()));
        // A wait for the rest of a message in the socket ends when its patience does.
        // A CURVE buffer kept for a flow's next frame is let go when that ends.
        let linger_at = self.secure.as_ref().and_then(|s| {
            let ms = s.borrow().lingers_for()?;
            Instant::now().checked_add(std::time::Duration::from_millis(ms))
        });
        let due = [lane_at, self.whole.due(), linger_at]
            .into_iter()
            .flatten()
            .min();
        let dest = match self.dest_blocked.take() {
            // Gone: the next round gives what we held for it to the device.
            Some(d) => match host.stream(d) {
                Some(s) => Some(s),
                None => return Ok(()),
            },
            None => None,
        };
        let retry_at = self.retry_at.take();
        // A CURVE layer waiting for memory reads again when some is given back (a signal),
        // not when the socket is readable (it is: that is what it could not take).
        let starved = self.secure_starved();
        // Output waiting for memory waits for a signal too; input waiting for memory still
        // lets the socket take what is owed (a queue to this peer drains meanwhile: the
        // memory it gives back may be what the input waits for).
        let tx_starved = self
            .secure
            .as_ref()
            .is_some_and(|s| s.borrow().tx_starved());
        let dest_writable = async {
            match &dest {
                // An error shows in the next write to it. A destination that takes nothing
                // until `retry_at` has its bytes taken back in the next round.
                Some(s) => {
                    let writable = async { s.writable().await.unwrap_or(()) };
                    match retry_at {
                        Some(at) => {
                            let expired = async {
                                Timer::at(at).await;
                            };
                            future::or(writable, expired).await
                        }
                        None => writable.await,
                    }
                }
                None => future::pending().await,
            }
            Ok(())
        };
        let own = poll_fn(|cx| {
            // A signal ends the wait, but the socket is looked at all the same: a connection
            // signalled again and again (a publisher sent subscriptions, a subscriber sent
            // messages) would otherwise never see that its input came in.
            let mut ready = sig.poll(cx).is_ready();
            let wants_read = !starved
                && self.input.is_blocked()
                && !self.input.is_eof()
                && host.peek(|dev| self.takes_input(host, dev));
            if wants_read {
                if let Poll::Ready(r) = self.stream.poll_readable(cx) {
                    r?;
                    self.input.unblock();
                    ready = true;
                }
            }
            let owes = || host.peek(|dev| self.owes(dev));
            if self.write_blocked && !tx_starved && owes() {
                if let Poll::Ready(r) = self.stream.poll_writable(cx) {
                    r?;
                    self.write_blocked = false;
                    ready = true;
                }
            }
            if ready {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        });
        let lane_due = async {
            match due {
                Some(at) => {
                    Timer::at(at).await;
                }
                None => future::pending().await,
            }
            Ok(())
        };
        let r = future::or(future::or(own, dest_writable), lane_due).await;
        if starved {
            if let Some(s) = &self.secure {
                s.borrow_mut().retry();
            }
            self.input.unblock();
        }
        r
    }
}
