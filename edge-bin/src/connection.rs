//! One task per connection: socket bytes into the device, the device's output onto the socket.
//!
//! Each round reads once (as much as fits), feeds everything the connection holds to
//! [`Device::handle_input`](zedge_core::device::Device::handle_input), writes the peer's output
//! until the socket would block, and hands the device's wake and close lists to the other
//! connections. A round that moved bytes yields to the executor, so a busy peer cannot starve
//! the rest; one that did not waits for readability (if the device wants input), writability
//! (if output is pending) or a [`Signal`] from another connection.
//!
//! Reads go into one scratch buffer shared by every connection (the executor is single-threaded
//! and no borrow is held across an await); only unconsumed bytes are kept per connection. So
//! an idle peer costs no input buffer at all.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::future;
use log::{debug, info, warn};
use zedge_core::conn::SessionError;
use zedge_core::device::PeerId;

use crate::driver::{Dev, Shared};
use crate::endpoint::Stream;

/// How long a connection being closed by us may take to write what it still owes.
const CLOSE_FLUSH: Duration = Duration::from_secs(1);

/// Kept leftovers above this size are freed once they are consumed.
const KEEP_PENDING: usize = 4096;

/// How one connection tells another's task to run: wake it, or ask it to close.
#[derive(Debug, Default)]
pub struct Signal {
    woken: Cell<bool>,
    close: RefCell<Option<String>>,
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

    pub fn close(&self, reason: String) {
        self.close.borrow_mut().get_or_insert(reason);
        self.wake();
    }

    fn take_close(&self) -> Option<String> {
        self.close.borrow_mut().take()
    }

    fn poll(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.woken.replace(false) || self.close.borrow().is_some() {
            return Poll::Ready(());
        }
        let mut waker = self.waker.borrow_mut();
        if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// Why a connection ended.
enum End {
    Eof,
    Io(io::Error),
    Session(SessionError),
    Closed(String),
    Stuck,
}

struct Conn {
    id: PeerId,
    stream: Stream,
    /// Input the device has not consumed yet.
    pending: Vec<u8>,
    read_blocked: bool,
    write_blocked: bool,
    /// The peer closed its side; what it sent is still fed until the device has all of it.
    eof: bool,
}

/// Run a connection the device has already taken (`id`) until it ends, then forget it.
pub async fn run(sh: Rc<Shared>, id: PeerId, sig: Rc<Signal>, stream: Stream, label: String) {
    let mut conn = Conn {
        id,
        stream,
        pending: Vec::new(),
        read_blocked: false,
        write_blocked: false,
        eof: false,
    };
    let end = conn.serve(&sh, &sig).await;
    match &end {
        End::Eof => debug!("{label}: disconnected"),
        End::Io(e) if is_disconnect(e) => debug!("{label}: disconnected ({e})"),
        End::Io(e) => info!("{label}: connection error: {e}"),
        End::Session(e) => info!("{label}: {e}"),
        End::Closed(reason) => info!("{label}: closing: {reason}"),
        End::Stuck => warn!("{label}: input buffer full and the device took none of it; closing"),
    }
    if matches!(end, End::Session(_) | End::Closed(_)) {
        conn.flush(&sh, Instant::now() + CLOSE_FLUSH).await;
        conn.stream.shutdown_write();
    }
    sh.conns.borrow_mut().remove(&id);
    let mut dev = sh.dev.borrow_mut();
    dev.remove_peer(id);
    sh.dispatch(&mut dev);
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

impl Conn {
    async fn serve(&mut self, sh: &Shared, sig: &Signal) -> End {
        loop {
            if let Some(reason) = sig.take_close() {
                return End::Closed(reason);
            }
            let round = {
                let mut dev = sh.dev.borrow_mut();
                let r = self.round(sh, &mut dev);
                sh.dispatch(&mut dev);
                r
            };
            match round {
                Ok(true) => future::yield_now().await,
                Ok(false) => {
                    if let Err(e) = self.wait(sh, sig).await {
                        return End::Io(e);
                    }
                }
                Err(end) => return end,
            }
        }
    }

    /// Read, feed, write. `Ok(true)` if any byte moved.
    fn round(&mut self, sh: &Shared, dev: &mut Dev) -> Result<bool, End> {
        let mut moved = false;
        if !sh.stopping.get() && dev.wants_read(self.id) {
            moved |= self.read_and_feed(sh, dev)?;
        }
        moved |= self.write(dev)?;
        Ok(moved)
    }

    fn read_and_feed(&mut self, sh: &Shared, dev: &mut Dev) -> Result<bool, End> {
        let mut scratch = sh.scratch.borrow_mut();
        let cap = scratch.len();
        let mut len = self.pending.len();
        scratch[..len].copy_from_slice(&self.pending);
        self.pending.clear();
        let mut moved = false;
        if !self.eof && !self.read_blocked && len < cap {
            match retry(|| self.stream.read(&mut scratch[len..])) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    len += n;
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.read_blocked = true,
                Err(e) => return Err(End::Io(e)),
            }
        }
        if len > 0 {
            let used = dev
                .handle_input(self.id, &scratch[..len], sh.clock.now())
                .map_err(End::Session)?;
            moved |= used > 0;
            if used == 0 && len == cap && dev.wants_read(self.id) {
                return Err(End::Stuck);
            }
            self.pending.extend_from_slice(&scratch[used..len]);
        }
        if self.pending.is_empty() && self.pending.capacity() > KEEP_PENDING {
            self.pending = Vec::new();
        }
        // After EOF, input waiting for room stays until the device takes it: a producer that
        // sends and leaves loses nothing. What the device would take but cannot (a frame cut
        // short) is all there will ever be of it.
        if self.eof && (self.pending.is_empty() || dev.wants_read(self.id)) {
            return Err(End::Eof);
        }
        Ok(moved)
    }

    /// Write the peer's output until it is gone or the socket is full.
    fn write(&mut self, dev: &mut Dev) -> Result<bool, End> {
        let mut moved = false;
        while !self.write_blocked {
            let (a, b) = dev.output(self.id);
            if a.is_empty() && b.is_empty() {
                break;
            }
            match retry(|| {
                self.stream
                    .write_vectored(&[IoSlice::new(a), IoSlice::new(b)])
            }) {
                Ok(0) => return Err(End::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    dev.consume_output(self.id, n);
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.write_blocked = true,
                Err(e) => return Err(End::Io(e)),
            }
        }
        Ok(moved)
    }

    /// Until the socket can do what the device wants of it, or another connection signals.
    async fn wait(&mut self, sh: &Shared, sig: &Signal) -> io::Result<()> {
        poll_fn(|cx| {
            if sig.poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
            let dev = sh.dev.borrow();
            let mut ready = false;
            if self.read_blocked && !self.eof && !sh.stopping.get() && dev.wants_read(self.id) {
                if let Poll::Ready(r) = self.stream.poll_readable(cx) {
                    r?;
                    self.read_blocked = false;
                    ready = true;
                }
            }
            let (a, b) = dev.output(self.id);
            if self.write_blocked && !(a.is_empty() && b.is_empty()) {
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
        })
        .await
    }

    /// Write what the peer is still owed (an ERROR command, queued messages) until `deadline`.
    async fn flush(&mut self, sh: &Shared, deadline: Instant) {
        loop {
            let done = {
                let mut dev = sh.dev.borrow_mut();
                let r = self.write(&mut dev);
                sh.dispatch(&mut dev);
                let (a, b) = dev.output(self.id);
                r.is_err() || (a.is_empty() && b.is_empty())
            };
            if done {
                return;
            }
            let stream = &self.stream;
            let writable = async { poll_fn(|cx| stream.poll_writable(cx)).await.is_ok() };
            let expired = async {
                Timer::at(deadline).await;
                false
            };
            if !future::or(writable, expired).await {
                return;
            }
            self.write_blocked = false;
        }
    }
}

fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}
