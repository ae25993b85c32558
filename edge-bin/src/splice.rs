//! Frame bodies moved from one socket to another through a pipe with splice(2), never copied
//! through user space: the kernel's part of carrying out the device's
//! [`bypass_target`](zedge_core::device::Device::bypass_target) of a large body; when and where to is the
//! connection's.
//!
//! A [`Pipe`] holds what was taken from the source's socket and not yet written to the
//! destination's. Pipes come from a device's [`Pipes`], which keeps a few idle ones and creates
//! at most its limit: each costs two descriptors, so a device never holds more than
//! `2 * limit`. When there is none to be had, or the kernel cannot splice these sockets, the
//! connection copies the body through the device instead, which always works.

use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, OwnedFd};

use log::{debug, info};
use rustix::io::Errno;
use rustix::pipe::{pipe_with, splice, PipeFlags, SpliceFlags};

/// Idle pipes kept for reuse.
const KEEP_IDLE: usize = 4;

const FLAGS: SpliceFlags = SpliceFlags::MOVE.union(SpliceFlags::NONBLOCK);

/// The most a destination's queued output put ahead of a body may be: a pipe takes a write of
/// up to `PIPE_BUF` bytes whole or not at all.
pub const PREFIX_MAX: usize = 4096;

/// A pipe holding body bytes on their way from one socket to another, maybe behind bytes the
/// device had queued for the destination (the body's frame head, usually).
#[derive(Debug)]
pub struct Pipe {
    rd: OwnedFd,
    wr: OwnedFd,
    /// Bytes in the pipe.
    len: usize,
    /// Bytes at its front that are the destination's queued output, not the source's input.
    prefix: usize,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let (rd, wr) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        Ok(Pipe {
            rd,
            wr,
            len: 0,
            prefix: 0,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Some of the destination's queued output is still in the pipe.
    pub fn has_prefix(&self) -> bool {
        self.prefix > 0
    }

    /// Put `bufs` (at most [`PREFIX_MAX`] bytes) into the empty pipe, ahead of the body that
    /// follows them to the same destination, so that both leave in one write. All of them or,
    /// with an error, none that count: a pipe that took part of them must not be used.
    pub fn put_prefix(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<()> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total > PREFIX_MAX || self.len > 0 {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        let n = retry(|| rustix::io::writev(&self.wr, bufs))?;
        self.len += n;
        if n != total {
            // An empty pipe takes a write of up to PIPE_BUF bytes whole; this cannot happen.
            return Err(io::ErrorKind::WriteZero.into());
        }
        self.prefix += n;
        Ok(())
    }

    /// Move up to `max` bytes from the socket `from` into the pipe. `Ok(0)`: the peer closed.
    pub fn fill(&mut self, from: impl AsFd, max: usize) -> io::Result<usize> {
        let n = retry(|| splice(from.as_fd(), None, &self.wr, None, max, FLAGS))?;
        self.len += n;
        Ok(n)
    }

    /// Move what the pipe holds to the socket `to`, as much as it takes: the bytes moved, and
    /// how many of them were body bytes (not prefix).
    pub fn drain(&mut self, to: impl AsFd) -> io::Result<(usize, usize)> {
        let n = retry(|| splice(&self.rd, None, to.as_fd(), None, self.len, FLAGS))?;
        self.len -= n;
        let prefix = n.min(self.prefix);
        self.prefix -= prefix;
        Ok((n, n - prefix))
    }

    /// Take the body bytes the pipe holds back into memory; a prefix still there is dropped
    /// (its destination is gone or failing).
    pub fn take_body(&mut self) -> io::Result<Vec<u8>> {
        Ok(self.take_all()?.1)
    }

    /// Take everything the pipe holds back into memory: what is left of the prefix, and the
    /// body bytes.
    pub fn take_all(&mut self) -> io::Result<(Vec<u8>, Vec<u8>)> {
        let mut buf = vec![0; self.len];
        let mut got = 0;
        while got < buf.len() {
            match retry(|| rustix::io::read(&self.rd, &mut buf[got..]))? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => got += n,
            }
        }
        let body = buf.split_off(self.prefix);
        self.len = 0;
        self.prefix = 0;
        Ok((buf, body))
    }
}

fn retry(mut f: impl FnMut() -> rustix::io::Result<usize>) -> io::Result<usize> {
    loop {
        match f() {
            Err(Errno::INTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// Whether an error from splice(2) says these descriptors cannot be spliced at all (an old or
/// emulated kernel), rather than that a socket failed.
pub fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(Errno::from_raw_os_error),
        Some(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP)
    )
}

/// A device's pipes: a few kept idle, at most `limit` in all.
#[derive(Debug)]
pub struct Pipes {
    idle: RefCell<Vec<Pipe>>,
    /// Pipes that exist, idle or lent.
    count: Cell<usize>,
    limit: usize,
    /// Splicing failed in a way that will not get better; bodies are copied from now on.
    off: Cell<bool>,
}

impl Pipes {
    pub fn new(limit: usize) -> Self {
        Pipes {
            idle: RefCell::new(Vec::new()),
            count: Cell::new(0),
            limit,
            off: Cell::new(limit == 0),
        }
    }

    /// Splicing is off: limited to none, or the kernel said it cannot.
    pub fn is_off(&self) -> bool {
        self.off.get()
    }

    /// An empty pipe, or `None` if none may or can be had now.
    pub fn take(&self) -> Option<Pipe> {
        if self.off.get() {
            return None;
        }
        if let Some(p) = self.idle.borrow_mut().pop() {
            return Some(p);
        }
        if self.count.get() >= self.limit {
            return None;
        }
        match Pipe::new() {
            Ok(p) => {
                self.count.set(self.count.get() + 1);
                Some(p)
            }
            Err(e) => {
                debug!("cannot create a pipe: {e}; copying this body");
                None
            }
        }
    }

    /// Return a pipe; an empty one is kept for reuse (if few are idle), others are closed.
    pub fn give(&self, p: Pipe) {
        let mut idle = self.idle.borrow_mut();
        if p.is_empty() && idle.len() < KEEP_IDLE && !self.off.get() {
            idle.push(p);
        } else {
            self.count.set(self.count.get() - 1);
        }
    }

    /// Stop splicing: the kernel said it cannot.
    pub fn turn_off(&self, e: &io::Error) {
        if !self.off.replace(true) {
            info!("splice(2) not available ({e}); large bodies are copied");
            let closed = self.idle.borrow_mut().drain(..).count();
            self.count.set(self.count.get() - closed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    #[test]
    fn bytes_go_from_socket_to_socket_through_the_pipe() {
        let (mut tx, src) = UnixStream::pair().unwrap();
        let (dst, mut rx) = UnixStream::pair().unwrap();
        src.set_nonblocking(true).unwrap();
        let pipes = Pipes::new(2);
        let mut pipe = pipes.take().unwrap();
        let err = pipe.fill(&src, 100).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);

        let data: Vec<u8> = (0..50_000u32).map(|i| i as u8).collect();
        tx.write_all(&data).unwrap();
        let mut got = Vec::new();
        while got.len() < data.len() {
            let n = pipe.fill(&src, 20_000).unwrap();
            assert!(n > 0 && n <= 20_000);
            while !pipe.is_empty() {
                let (total, body) = pipe.drain(&dst).unwrap();
                assert_eq!(total, body, "no prefix");
            }
            let mut buf = vec![0; n];
            rx.read_exact(&mut buf).unwrap();
            got.extend(buf);
        }
        assert_eq!(got, data);

        drop(tx);
        assert_eq!(pipe.fill(&src, 100).unwrap(), 0, "end of stream");
    }

    #[test]
    fn a_prefix_leaves_first_and_is_not_counted_as_body() {
        let (mut tx, src) = UnixStream::pair().unwrap();
        let (dst, mut rx) = UnixStream::pair().unwrap();
        let mut pipe = Pipe::new().unwrap();
        let put = pipe.put_prefix(&[IoSlice::new(b"he"), IoSlice::new(b"ad:")]);
        put.unwrap();
        let again = pipe.put_prefix(&[IoSlice::new(b"x")]);
        assert!(again.is_err(), "only into an empty pipe");
        tx.write_all(b"body").unwrap();
        assert_eq!(pipe.fill(&src, 4).unwrap(), 4);
        assert_eq!(
            pipe.drain(&dst).unwrap(),
            (9, 4),
            "all moved, 4 of them body"
        );
        let mut got = [0u8; 9];
        rx.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"head:body");
        let big = vec![0u8; PREFIX_MAX + 1];
        assert!(pipe.put_prefix(&[IoSlice::new(&big)]).is_err());
    }

    #[test]
    fn held_body_bytes_can_be_taken_back_without_the_prefix() {
        let (mut tx, src) = UnixStream::pair().unwrap();
        let mut pipe = Pipe::new().unwrap();
        pipe.put_prefix(&[IoSlice::new(b"head")]).unwrap();
        tx.write_all(b"hello, pipe").unwrap();
        assert_eq!(pipe.fill(&src, 5).unwrap(), 5);
        assert_eq!(pipe.take_body().unwrap(), b"hello");
        assert!(pipe.is_empty());
    }

    #[test]
    fn the_limit_holds_and_returned_pipes_are_reused() {
        let pipes = Pipes::new(2);
        let a = pipes.take().unwrap();
        let b = pipes.take().unwrap();
        assert!(pipes.take().is_none(), "limit of 2");
        pipes.give(a);
        let c = pipes.take().expect("the returned one");
        pipes.give(b);
        pipes.give(c);
        assert_eq!(pipes.count.get(), 2);
        pipes.turn_off(&io::Error::from(io::ErrorKind::Unsupported));
        assert!(pipes.take().is_none());
        assert_eq!(pipes.count.get(), 0);
        assert!(
            Pipes::new(0).take().is_none(),
            "a limit of 0 turns splicing off"
        );
    }
}
