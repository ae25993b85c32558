//! Sockets for endpoints: binding and connecting them, and the non-blocking streams that
//! connections read and write.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::task::{Context, Poll};

use async_io::Async;

use crate::endpoint::{Addr, Endpoint, Host};

/// A connection, TCP or Unix, non-blocking.
#[derive(Debug)]
pub enum Stream {
    Tcp(Async<TcpStream>),
    Unix(Async<UnixStream>),
}

impl Stream {
    /// One non-blocking read; `WouldBlock` when nothing is there.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        retry(|| match self {
            Stream::Tcp(s) => s.get_ref().read(buf),
            Stream::Unix(s) => s.get_ref().read(buf),
        })
    }

    /// [`Stream::read`] into the spare capacity of `buf`, which grows by the bytes read: the
    /// same `recv(2)` without zero-filling the room first.
    pub fn read_spare(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        use rustix::buffer::spare_capacity;
        use rustix::net::{recv, RecvFlags};
        retry(|| Ok(recv(self, spare_capacity(buf), RecvFlags::empty())?.0))
    }

    /// Bytes that can be read right now without waiting (FIONREAD).
    pub fn readable(&self) -> io::Result<u64> {
        Ok(rustix::io::ioctl_fionread(self)?)
    }

    /// Whether bytes are waiting to be read, without reading them.
    pub fn has_input(&self) -> bool {
        use rustix::net::{recv, RecvFlags};
        let mut byte = [0u8; 1];
        let peek = retry(|| Ok(recv(self, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT)?.0));
        matches!(peek, Ok(1..))
    }

    /// Whether the peer closed its side with nothing left to read (`Ok(true)`), or bytes wait
    /// (`Ok(false)`), without reading them; `WouldBlock` if neither.
    pub fn at_end(&self) -> io::Result<bool> {
        use rustix::net::{recv, RecvFlags};
        let mut byte = [0u8; 1];
        retry(|| Ok(recv(self, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT)?.0))
            .map(|n| n == 0)
    }

    /// One non-blocking vectored write.
    pub fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        retry(|| match self {
            Stream::Tcp(s) => s.get_ref().write_vectored(bufs),
            Stream::Unix(s) => s.get_ref().write_vectored(bufs),
        })
    }

    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Tcp(s) => s.poll_readable(cx),
            Stream::Unix(s) => s.poll_readable(cx),
        }
    }

    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Tcp(s) => s.poll_writable(cx),
            Stream::Unix(s) => s.poll_writable(cx),
        }
    }

    /// Until the socket can be written to. Unlike [`Stream::poll_writable`], which serves the
    /// task that owns the connection, any number of other tasks may wait on this at once.
    /// Until the reactor has seen the socket readable or writable (at its next look, if it is
    /// either already). An error is left for the next read or write to meet.
    pub async fn ready(&self) {
        let readable = poll_fn(|cx| self.poll_readable(cx));
        let writable = poll_fn(|cx| self.poll_writable(cx));
        let _ = futures_lite::future::or(readable, writable).await;
    }

    pub async fn writable(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.writable().await,
            Stream::Unix(s) => s.writable().await,
        }
    }

    /// Keep at most `bytes` written but not yet sent in the kernel (TCP_NOTSENT_LOWAT): the
    /// socket reads as writable only below that. Nothing for IPC. Failure only costs pacing.
    pub fn limit_unsent(&self, bytes: u32) {
        if let Stream::Tcp(s) = self {
            if let Err(e) = socket2::SockRef::from(s.get_ref()).set_tcp_notsent_lowat(bytes) {
                log::debug!("cannot set TCP_NOTSENT_LOWAT: {e}");
            }
        }
    }

    /// Let the kernel hold at most about `bytes` for this connection, counting its own
    /// bookkeeping (SO_SNDBUF, given half: the kernel doubles it for that): what was written
    /// and not yet sent, and what was sent and not yet acknowledged. Without it the kernel's
    /// autotuning gives a TCP connection up to `tcp_wmem` (4 MiB), all of it held by a peer
    /// that stops reading (one that advertised a large window and then cannot take what it
    /// was sent holds what is unacknowledged, too). A Unix socket's is fixed, and set the
    /// same. Failure is logged: the kernel's default stays.
    pub fn limit_send_buffer(&self, bytes: u32) {
        let half = usize::try_from(bytes / 2).unwrap_or(usize::MAX);
        let r = match self {
            Stream::Tcp(s) => socket2::SockRef::from(s.get_ref()).set_send_buffer_size(half),
            Stream::Unix(s) => socket2::SockRef::from(s.get_ref()).set_send_buffer_size(half),
        };
        if let Err(e) = r {
            log::debug!("cannot set SO_SNDBUF: {e}");
        }
    }

    /// Bytes written to the socket that the peer has not taken yet (SIOCOUTQ): for TCP, those
    /// its kernel has not acknowledged (with its window shut, until its reader makes room);
    /// for a Unix stream, those its reader has not read (with the kernel's overhead per
    /// buffer). `None` if the kernel does not say.
    pub fn unsent(&self) -> Option<u32> {
        let fd = match self {
            Stream::Tcp(s) => std::os::fd::AsRawFd::as_raw_fd(s.get_ref()),
            Stream::Unix(s) => std::os::fd::AsRawFd::as_raw_fd(s.get_ref()),
        };
        let mut n: libc::c_int = 0;
        // SAFETY: `fd` is this open socket's; SIOCOUTQ (TIOCOUTQ) writes one c_int to the
        // live one it is given.
        #[allow(unsafe_code)]
        let r = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, std::ptr::from_mut(&mut n)) };
        (r == 0).then(|| u32::try_from(n).ok()).flatten()
    }

    /// Let a read (and the reactor's readiness) wait until `bytes` can be read at once
    /// (SO_RCVLOWAT; 1 is the default, any byte). TCP only: poll(2) ignores it on Unix
    /// sockets, so `false` there and on failure, and nothing changes.
    pub fn wait_for_bytes(&self, bytes: u32) -> bool {
        let Stream::Tcp(s) = self else { return false };
        let value = libc::c_int::try_from(bytes.max(1)).unwrap_or(libc::c_int::MAX);
        let fd = std::os::fd::AsRawFd::as_raw_fd(s.get_ref());
        // SAFETY: `fd` is this open socket's, and the option's value is a live c_int whose
        // size is passed with it; setsockopt reads no more than that.
        #[allow(unsafe_code)]
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                std::ptr::from_ref(&value).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r != 0 {
            log::debug!("cannot set SO_RCVLOWAT: {}", io::Error::last_os_error());
        }
        r == 0
    }

    /// Stop both ways at once, dropping what is queued: the stream can carry nothing more that
    /// the peer could make sense of. Errors do not matter, the socket is closing anyway.
    pub fn shutdown(&self) {
        let _ = match self {
            Stream::Tcp(s) => s.get_ref().shutdown(Shutdown::Both),
            Stream::Unix(s) => s.get_ref().shutdown(Shutdown::Both),
        };
    }

    /// Once closed, reset the connection instead of sending what the kernel still holds for
    /// it (`SO_LINGER` 0): for a peer closed because its stream is broken or because what it
    /// was sent is the memory its closing gives back. A slow subscriber closed as lagging held
    /// 2.5-2.8 MB of unsent bytes in FIN-WAIT-1 for as long as it took to read them, and only
    /// then learned it had been closed (attacker round 6). A Unix socket holds no unsent bytes
    /// of its own: nothing to do there. Errors do not matter, the socket is closing anyway.
    pub fn reset_on_close(&self) {
        if let Stream::Tcp(s) = self {
            let _ = socket2::SockRef::from(s.get_ref()).set_linger(Some(std::time::Duration::ZERO));
        }
    }

    /// Send FIN after the last bytes; errors do not matter, the socket is closing anyway.
    pub fn shutdown_write(&self) {
        let _ = match self {
            Stream::Tcp(s) => s.get_ref().shutdown(Shutdown::Write),
            Stream::Unix(s) => s.get_ref().shutdown(Shutdown::Write),
        };
    }
}

/// What a connection reads and writes: its socket, or its socket through a security layer
/// ([`Secured`](crate::secure::Secured)).
pub trait Wire {
    /// [`Stream::read`].
    fn read(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// [`Stream::read_spare`].
    fn read_spare(&self, buf: &mut Vec<u8>) -> io::Result<usize>;
    /// [`Stream::write_vectored`].
    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    /// Whether the input may take its device's lane to read: a read may give bytes without this wire first needing memory of its own: so
    /// for a socket read as it is; a CURVE layer only once it has a whole frame to open or
    /// plaintext to hand on. The input takes its device's lane only then
    /// ([`crate::input::Input`]): holding it while the wire waits for the cipher lane would
    /// keep it from the cipher lane's holder, which needs it to hand its frame on.
    fn lane_ok(&self) -> bool {
        true
    }
    /// A CURVE layer brings its bytes, and the message they are in goes on in a frame still
    /// to come through it (which may need its device's cipher lane).
    fn unfinished(&self) -> bool {
        false
    }
    /// The input says whether it holds its device's input lane, before it reads.
    fn input_lane(&self, _holds: bool) {}
    /// The input can take nothing now (it waits for memory): a wire that needs bytes of its
    /// own before it can give any (a CURVE layer's frame) reads them, by its own rules.
    fn pump(&self) -> io::Result<()> {
        Ok(())
    }
    /// Bytes a read can give without this wire reading its socket, if it knows: a CURVE
    /// layer's plaintext opened or a whole frame's. The input asks the budget for room only
    /// for those ([`crate::input::Input`]); what a read brings beyond them is the layer's to
    /// hold, by its own memory rules. `None` for a socket read as it is.
    fn ready(&self) -> Option<usize> {
        None
    }
    /// Its messages come as a flow that keeps up: the input keeps its buffer for the next
    /// when it drains ([`crate::secure::LINGER_MS`]).
    fn lingers(&self) -> bool {
        false
    }
}

impl Wire for Stream {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        Stream::read(self, buf)
    }

    fn read_spare(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        Stream::read_spare(self, buf)
    }

    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Stream::write_vectored(self, bufs)
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

/// Again while a call is interrupted by a signal.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// A bound endpoint. An IPC listener removes its socket file when dropped.
#[derive(Debug)]
pub enum Listener {
    Tcp(Async<TcpListener>),
    Unix(
        Async<UnixListener>,
        #[allow(dead_code, reason = "held for its drop, which removes the socket file")] SocketFile,
    ),
}

/// Removes an IPC socket file on drop.
#[derive(Debug)]
pub struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Why binding failed, worded for an operator.
#[derive(Debug)]
pub struct BindError {
    endpoint: String,
    why: String,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot bind {}: {}", self.endpoint, self.why)
    }
}

impl std::error::Error for BindError {}

impl BindError {
    /// Binding `addr` (a plain address, not a ZeroMQ endpoint) failed with `e`.
    pub fn on(addr: SocketAddr, e: io::Error) -> BindError {
        BindError {
            endpoint: format!("http://{addr}"),
            why: describe_bind_error(&e),
        }
    }
}

/// Bind now, synchronously: startup fails fast and clearly if an endpoint is unusable.
pub fn bind(ep: &Endpoint) -> Result<Listener, BindError> {
    let fail = |why: String| BindError {
        endpoint: ep.to_string(),
        why,
    };
    match &ep.addr {
        Addr::Tcp { host, port } => {
            let addr = match host {
                Host::Any => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), *port),
                Host::Ip(ip) => SocketAddr::new(*ip, *port),
                Host::Name(name) => SocketAddr::new(bind_name(name).map_err(fail)?, *port),
            };
            let listener =
                Async::<TcpListener>::bind(addr).map_err(|e| fail(describe_bind_error(&e)))?;
            deepen_backlog(listener.get_ref());
            Ok(Listener::Tcp(listener))
        }
        Addr::Ipc(path) => {
            remove_stale_socket(path).map_err(fail)?;
            let listener =
                Async::<UnixListener>::bind(path).map_err(|e| fail(describe_bind_error(&e)))?;
            deepen_backlog(listener.get_ref());
            Ok(Listener::Unix(listener, SocketFile(path.clone())))
        }
    }
}

/// The address a bind to `name` takes: an interface's ([`interface_addr`]), else what the
/// name resolves to; why not, if neither.
pub fn bind_name(name: &str) -> Result<IpAddr, String> {
    if let Some(ip) = interface_addr(name) {
        return Ok(ip);
    }
    (name, 0)
        .to_socket_addrs()
        .map_err(|e| format!("{name} is no network interface here, and cannot be resolved: {e}"))?
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| format!("{name} has no address"))
}

/// The address a bind to interface `name` (`tcp://eth0:5559`) takes, as libzmq's: the
/// interface's first IPv4 address, else its first IPv6 one; `None` if no interface has that
/// name (or it has no address).
pub fn interface_addr(name: &str) -> Option<IpAddr> {
    let addrs = if_addrs::get_if_addrs().ok()?;
    let mine = || addrs.iter().filter(|i| i.name == name).map(|i| i.ip());
    mine().find(IpAddr::is_ipv4).or_else(|| mine().next())
}

/// std listens with a backlog of 128: a burst of connecting peers (a fleet reconnecting after
/// an outage) overflows it and each excess peer waits a 1 s SYN retransmit. Listening again
/// on a listening socket only changes the backlog; the kernel caps it at `somaxconn`.
fn deepen_backlog(l: impl std::os::fd::AsFd) {
    let _ = rustix::net::listen(l, 4096);
}

fn describe_bind_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::AddrInUse => "address in use (is another zedge running?)".into(),
        io::ErrorKind::AddrNotAvailable => "no interface of this host has that address".into(),
        io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need CAP_NET_BIND_SERVICE; check directory permissions for ipc)".into()
        }
        io::ErrorKind::NotFound => "the socket's directory does not exist".into(),
        _ => e.to_string(),
    }
}

/// A socket file left by a process that died is removed; one with a live listener is not.
fn remove_stale_socket(path: &Path) -> Result<(), String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    if !meta.file_type().is_socket() {
        return Err("a file that is not a socket is in the way".into());
    }
    if UnixStream::connect(path).is_ok() {
        return Err("address in use (is another zedge running?)".into());
    }
    std::fs::remove_file(path).map_err(|e| format!("cannot remove the stale socket file: {e}"))
}

/// Who is at the other end of an accepted connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remote {
    Tcp(SocketAddr),
    /// A process on this host; IPC peers have no address worth printing but the endpoint.
    Ipc,
}

impl Listener {
    /// Wait for the next connection; returns it with who is at the other end.
    pub async fn accept(&self) -> io::Result<(Stream, Remote)> {
        match self {
            Listener::Tcp(l) => {
                let (s, addr) = l.accept().await?;
                // Fails only for a peer gone already, which its first read will show.
                let _ = s.get_ref().set_nodelay(true);
                Ok((Stream::Tcp(s), Remote::Tcp(addr)))
            }
            Listener::Unix(l, _) => {
                let (s, _) = l.accept().await?;
                Ok((Stream::Unix(s), Remote::Ipc))
            }
        }
    }

    /// Until the reactor has seen a connection waiting (at its next look, if one is
    /// already). [`Listener::accept`] takes a waiting connection without asking the reactor.
    pub async fn ready(&self) {
        let _ = match self {
            Listener::Tcp(l) => l.readable().await,
            Listener::Unix(l, _) => l.readable().await,
        };
    }
}

/// Connect once: resolve (off the event loop), then try each address in turn.
pub async fn connect(ep: &Endpoint) -> io::Result<Stream> {
    match &ep.addr {
        Addr::Tcp { host, port } => {
            let addrs = match host {
                Host::Ip(ip) => vec![SocketAddr::new(*ip, *port)],
                Host::Name(name) => resolve(name.clone(), *port).await?,
                Host::Any => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
            };
            let mut last = io::Error::new(io::ErrorKind::NotFound, "host has no address");
            for addr in addrs {
                match Async::<TcpStream>::connect(addr).await {
                    Ok(s) => {
                        s.get_ref().set_nodelay(true)?;
                        return Ok(Stream::Tcp(s));
                    }
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
        Addr::Ipc(path) => Ok(Stream::Unix(Async::<UnixStream>::connect(path).await?)),
    }
}

/// `getaddrinfo` blocks, so it runs on a short-lived thread.
async fn resolve(name: String, port: u16) -> io::Result<Vec<SocketAddr>> {
    let (tx, rx) = async_channel::bounded(1);
    std::thread::Builder::new()
        .name("zedge-resolve".into())
        .spawn(move || {
            let r = (name.as_str(), port)
                .to_socket_addrs()
                .map(|a| a.collect::<Vec<_>>());
            let _ = tx.send_blocking(r);
        })?;
    rx.recv()
        .await
        .unwrap_or_else(|_| Err(io::Error::other("resolver thread died")))
}

#[cfg(test)]
mod tests;
