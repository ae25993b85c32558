//! How a connection's task is told to run by others: the device woke it (another
//! connection's input gave it output or room), the device wants it closed, or admission
//! closed it to make room ([`Close`]).
//!
//! A flag and a waker rather than a channel: wake-ups coalesce, and a close request keeps its
//! first reason, so signalling never allocates or fails.

use std::cell::{Cell, RefCell};
use std::task::{Context, Poll, Waker};

use zedge_core::device::CloseReason;

/// Why a connection's task is told to close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Close {
    /// The device wants it closed: write what it is owed if that is quick, then close.
    Device(CloseReason),
    /// Admission closed it, still in its handshake, to make room for a newer connection: it
    /// is out of the device and its socket is shut down already.
    Displaced,
    /// A CURVE client whose key a reload took off the allow-list.
    Revoked,
}

#[derive(Debug, Default)]
pub struct Signal {
    woken: Cell<bool>,
    close: Cell<Option<Close>>,
    waker: RefCell<Option<Waker>>,
}

impl Signal {
    pub fn wake(&self) {
        self.woken.set(true);
        let waker = self.waker.borrow_mut().take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Ask the task to close the connection; a reason already given stands.
    pub fn close(&self, reason: CloseReason) {
        self.end(Close::Device(reason));
    }

    /// Tell the task its connection was closed to make room; a reason already given stands.
    pub fn displaced(&self) {
        self.end(Close::Displaced);
    }

    /// Tell the task its CURVE client is no longer allowed; a reason already given stands.
    pub fn revoked(&self) {
        self.end(Close::Revoked);
    }

    fn end(&self, why: Close) {
        if self.close.get().is_none() {
            self.close.set(Some(why));
        }
        self.wake();
    }

    /// Forget a wake-up already given (the round that follows does what it asked); whether
    /// there was one.
    pub fn take_wake(&self) -> bool {
        self.woken.replace(false)
    }

    pub fn take_close(&self) -> Option<Close> {
        self.close.take()
    }

    /// Ready once woken or asked to close.
    pub fn poll(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.woken.replace(false) || self.close.get().is_some() {
            return Poll::Ready(());
        }
        let mut waker = self.waker.borrow_mut();
        if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_close_reason_stands_until_taken() {
        let s = Signal::default();
        s.close(CloseReason::Overflow);
        s.close(CloseReason::Lost);
        s.displaced();
        assert_eq!(s.take_close(), Some(Close::Device(CloseReason::Overflow)));
        assert_eq!(s.take_close(), None);
        s.displaced();
        assert_eq!(s.take_close(), Some(Close::Displaced));
    }
}
