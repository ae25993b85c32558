//! systemd's notify protocol (sd_notify(3)), by hand: a datagram of `KEY=value` lines to the
//! Unix socket named by `$NOTIFY_SOCKET`, a path or an abstract name written `@name`.
//!
//! The driver sends `READY=1` once every endpoint of every device is bound and `STOPPING=1` on
//! SIGTERM; [`run`], a task on the main thread, sends `WATCHDOG=1` every half
//! `$WATCHDOG_USEC` while every device thread beats (a wedged device thread, or a wedged main
//! thread, stops the petting, and systemd restarts us) and `STATUS=` with the devices'
//! counters when they change. Without `$NOTIFY_SOCKET` (not started by systemd) nothing is
//! sent. A lost datagram is not an error worth stopping for: it is logged once and forgotten.
//!
//! By hand rather than with the `sd-notify` crate (0.5.0, the newest), for its behaviour: it
//! connects to `@name` as a relative path (ENOENT: no abstract sockets; with it the
//! `systemd_notify` test of one fails), opens a blocking socket for each message (a full
//! receive queue would hold the event loop), and takes `WATCHDOG_USEC=0` as a zero period and
//! an unreadable `WATCHDOG_PID` as ours. Not for size: measured, the stripped x86_64 release
//! binary was 1,792 bytes larger with it (911,632 against 909,840); it brings only `libc`,
//! already in the tree.

use std::cell::Cell;
use std::fmt::Write as _;
use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::StreamExt;
use log::{debug, warn};
use zedge_core::device::Stats;

/// STATUS= is refreshed this often, when a counter changed.
const STATUS_EVERY: Duration = Duration::from_secs(2);

/// Where systemd listens, and whether it wants watchdog pings.
#[derive(Debug)]
pub struct Notifier {
    sock: UnixDatagram,
    addr: SocketAddr,
    name: String,
    watchdog: Option<Duration>,
    warned: Cell<bool>,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID`; `None` without a socket.
    pub fn from_env() -> Option<Notifier> {
        let name = std::env::var("NOTIFY_SOCKET").ok()?;
        let watchdog = watchdog_period(
            std::env::var("WATCHDOG_USEC").ok().as_deref(),
            std::env::var("WATCHDOG_PID").ok().as_deref(),
            std::process::id(),
        );
        match Notifier::open(&name, watchdog) {
            Ok(n) => Some(n),
            Err(e) => {
                warn!("NOTIFY_SOCKET={name}: {e}; systemd will not hear from zedge");
                None
            }
        }
    }

    fn open(name: &str, watchdog: Option<Duration>) -> io::Result<Notifier> {
        let addr = address(name)?;
        let sock = UnixDatagram::unbound()?;
        // systemd reads promptly; if it does not, a ping is dropped rather than the loop held.
        sock.set_nonblocking(true)?;
        Ok(Notifier {
            sock,
            addr,
            name: name.to_owned(),
            watchdog,
            warned: Cell::new(false),
        })
    }

    /// How often to send `WATCHDOG=1`: half the watchdog timeout, if systemd set one for us.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Send one or more `KEY=value` lines in one datagram.
    pub fn send(&self, state: &str) {
        match self.sock.send_to_addr(state.as_bytes(), &self.addr) {
            Ok(_) => {}
            Err(e) if !self.warned.replace(true) => {
                warn!(
                    "cannot notify systemd at {}: {e} (further failures not reported)",
                    self.name
                );
            }
            Err(e) => debug!("cannot notify systemd: {e}"),
        }
    }
}

/// Pet systemd's watchdog while `healthy` says every device runs, and keep its STATUS=
/// current from `sent` (the text READY=1 came with: a reload before this task first runs
/// still changes it). `status` gives the STATUS= text ([`status_line`]), or `None` once the
/// process is stopping: STATUS= then says so and stays.
pub async fn run(
    n: Rc<Notifier>,
    sent: String,
    status: impl Fn() -> Option<String>,
    mut healthy: impl FnMut() -> bool,
) {
    let watchdog = n.watchdog();
    let mut ticks = Timer::interval(watchdog.map_or(STATUS_EVERY, |w| w.min(STATUS_EVERY)));
    let mut last = sent;
    let mut last_at = Instant::now();
    loop {
        ticks.next().await;
        if watchdog.is_some() && healthy() {
            n.send("WATCHDOG=1");
        }
        // Ticks come a little early or late: a millisecond or two short still counts as due.
        if last_at.elapsed() + Duration::from_millis(5) < STATUS_EVERY {
            continue;
        }
        if let Some(now) = status() {
            last_at = Instant::now();
            if now != last {
                n.send(&format!("STATUS={now}"));
                last = now;
            }
        }
    }
}

/// `telemetry: 3 peers, 120 msgs in, 360 msgs out; rpc: 0 peers, 0 msgs in, 0 msgs out`, from
/// each device's name and counters.
pub fn status_line<'a>(devices: impl IntoIterator<Item = (&'a str, Stats)>) -> String {
    let mut out = String::new();
    for (i, (name, st)) in devices.into_iter().enumerate() {
        let (f, b) = (st.frontend(), st.backend());
        if i > 0 {
            out.push_str("; ");
        }
        let _ = write!(
            out,
            "{}: {} peers, {} msgs in, {} msgs out",
            name,
            f.peers + b.peers,
            f.msgs_in + b.msgs_in,
            f.msgs_out + b.msgs_out
        );
        let dropped = st.dropped.messages();
        if dropped > 0 {
            let _ = write!(out, ", {dropped} dropped");
        }
    }
    out
}

/// `/run/systemd/notify` or `@abstract-name`.
fn address(name: &str) -> io::Result<SocketAddr> {
    if let Some(abs) = name.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        return SocketAddr::from_abstract_name(abs.as_bytes());
    }
    if name.starts_with('/') {
        return SocketAddr::from_pathname(name);
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "expected an absolute path or an @abstract name",
    ))
}

/// Half of `WATCHDOG_USEC`, if it is set, positive, and meant for this process.
fn watchdog_period(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok()? != me {
            return None;
        }
    }
    // A timeout of a microsecond or two must not become a busy loop.
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_is_half_the_timeout_and_only_for_us() {
        let half = Some(Duration::from_millis(100));
        assert_eq!(watchdog_period(Some("200000"), None, 7), half);
        assert_eq!(watchdog_period(Some("200000"), Some("7"), 7), half);
        assert_eq!(watchdog_period(Some("200000"), Some("8"), 7), None);
        assert_eq!(watchdog_period(Some("200000"), Some("x"), 7), None);
        assert_eq!(watchdog_period(Some("0"), None, 7), None);
        assert_eq!(
            watchdog_period(Some("1"), None, 7),
            Some(Duration::from_millis(1))
        );
        assert_eq!(watchdog_period(Some("soon"), None, 7), None);
        assert_eq!(watchdog_period(None, Some("7"), 7), None);
    }

    #[test]
    fn sends_to_a_path_and_to_an_abstract_name() {
        let dir = std::env::temp_dir().join(format!("zedge-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let _ = std::fs::remove_file(&path);
        let rx = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::open(path.to_str().unwrap(), None).unwrap();
        n.send("READY=1\nSTATUS=up");
        let mut buf = [0u8; 64];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=up");
        std::fs::remove_dir_all(&dir).unwrap();

        use std::os::linux::net::SocketAddrExt;
        let abs = format!("zedge-notify-test-{}", std::process::id());
        let rx = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&abs).unwrap()).unwrap();
        let n = Notifier::open(&format!("@{abs}"), None).unwrap();
        n.send("WATCHDOG=1");
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
    }

    #[test]
    fn rejects_a_relative_name() {
        assert!(Notifier::open("notify", None).is_err());
    }
}
