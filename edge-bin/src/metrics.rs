//! Prometheus metrics (`--metrics ADDR`, `[metrics] listen = "ADDR"`): the text format
//! (version 0.0.4) at `GET /metrics`, for every device of the process, from what each device
//! thread publishes every [`BEAT`](crate::worker::BEAT) (nothing here touches a device), and
//! the standard `process_*` metrics from `/proc/self`.
//!
//! Names follow Prometheus' rules: snake case, base units, `_total` on counters, labels for
//! device, side and reason, none per peer. The server runs on the main thread: at most
//! [`MAX_CONNECTIONS`] at once (one more closes the oldest), a request head of at most
//! [`MAX_REQUEST`] bytes within [`REQUEST_TIMEOUT`], one response per connection.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_executor::{LocalExecutor, Task};
use async_io::{Async, Timer};
use futures_lite::future;
use log::{debug, warn};
use zedge_core::device::{Kind, SideStats};

use crate::gateway::Roster;
use crate::report::WARN_EVERY;
use crate::setup::kind_name;
use crate::worker::Snapshot;

/// The port of `[metrics]` without `listen` (on loopback): next to the devices' 5559-5562.
pub const DEFAULT_PORT: u16 = 9559;

/// Where a `[metrics]` table without `listen` serves: loopback only.
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT))
}

/// Connections at once; one more closes the oldest.
pub const MAX_CONNECTIONS: usize = 16;
/// The longest request head read.
pub const MAX_REQUEST: usize = 8 << 10;
/// A client that has not sent its whole request head (or not read the response) in this time
/// is dropped.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Bind the metrics address; a non-loopback one gets a warning (the counters are not
/// secret, but the endpoint has no authentication).
pub fn bind(addr: SocketAddr) -> io::Result<Async<TcpListener>> {
    let l = Async::<TcpListener>::bind(addr)?;
    if !addr.ip().is_loopback() {
        warn!("metrics on {addr}: reachable beyond this host, without authentication");
    }
    Ok(l)
}

/// A connection being served, and whether it has started writing its response (such a one
/// is never closed to make room: a slow scrape is not cut short by a crowd of idle ones).
struct Served {
    task: Task<()>,
    responding: Rc<Cell<bool>>,
}

/// The last body rendered, and when: scrapes within [`CACHE_FOR`] of it get it again (the
/// figures change once per beat anyway), so clients scraping in a loop cost little.
type Cache = Rc<RefCell<Option<(Instant, Rc<String>)>>>;

/// How long a rendered body is served again.
const CACHE_FOR: Duration = Duration::from_millis(100);

/// Answer requests on `l` for as long as the process runs.
pub async fn serve(ex: Rc<LocalExecutor<'static>>, l: Async<TcpListener>, roster: Roster) {
    let cache: Cache = Rc::default();
    let mut live: VecDeque<Served> = VecDeque::new();
    let mut warned: Option<Instant> = None;
    loop {
        // The main thread's other tasks (signals, reload, systemd) run between accepts.
        future::yield_now().await;
        let (stream, peer) = match l.accept().await {
            Ok(c) => c,
            Err(e) => {
                if warned.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                    warned = Some(Instant::now());
                    warn!("metrics: accept failed: {e}");
                }
                Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        live.retain(|s| !s.task.is_finished());
        if live.len() >= MAX_CONNECTIONS {
            // The oldest still reading its request makes room; if all are answering, the
            // new one waits for another time.
            match live.iter().position(|s| !s.responding.get()) {
                Some(at) => {
                    if let Some(s) = live.remove(at) {
                        s.task.cancel().await;
                    }
                }
                None => continue,
            }
        }
        let (roster, cache) = (roster.clone(), cache.clone());
        let responding = Rc::new(Cell::new(false));
        let flag = responding.clone();
        let task = ex.spawn(async move {
            let answered = future::or(answer(stream, &roster, &cache, &flag), async {
                Timer::after(REQUEST_TIMEOUT).await;
                Err(io::ErrorKind::TimedOut.into())
            });
            if let Err(e) = answered.await {
                debug!("metrics: {peer}: {e}");
            }
        });
        live.push_back(Served { task, responding });
    }
}

/// Read one request head and answer it.
async fn answer(
    mut stream: Async<TcpStream>,
    roster: &Roster,
    cache: &Cache,
    responding: &Cell<bool>,
) -> io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        if head.len() >= MAX_REQUEST {
            responding.set(true);
            return respond(&mut stream, "431 Request Header Fields Too Large", "").await;
        }
        let n = stream.read_with(|s| (&*s).read(&mut buf)).await?;
        if n == 0 {
            return Ok(());
        }
        // Only the new bytes and the three before them can complete the blank line.
        let from = head.len().saturating_sub(3);
        head.extend_from_slice(&buf[..n]);
        if head[from..].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    responding.set(true);
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut words = line.split(|&b| b == b' ');
    let (method, target) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
    );
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    match (method, path) {
        (b"GET", b"/metrics") => {
            let body = body(roster, cache);
            respond(&mut stream, "200 OK", &body).await
        }
        (b"GET", _) => respond(&mut stream, "404 Not Found", "see /metrics\n").await,
        _ => respond(&mut stream, "405 Method Not Allowed", "GET /metrics\n").await,
    }
}

/// The metrics as of now, or as of the last render if that was within [`CACHE_FOR`].
fn body(roster: &Roster, cache: &Cache) -> Rc<String> {
    if let Some((at, body)) = cache.borrow().as_ref() {
        if at.elapsed() < CACHE_FOR {
            return body.clone();
        }
    }
    let devices: Vec<(String, Kind, Snapshot)> = roster
        .borrow()
        .iter()
        .map(|(name, p)| (name.clone(), p.kind(), p.snapshot()))
        .collect();
    let body = Rc::new(render(&devices));
    *cache.borrow_mut() = Some((Instant::now(), body.clone()));
    body
}

async fn respond(stream: &mut Async<TcpStream>, status: &str, body: &str) -> io::Result<()> {
    let out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut bytes = out.as_bytes();
    while !bytes.is_empty() {
        let n = stream.write_with(|s| (&*s).write(bytes)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
    }
    Ok(())
}

/// One metric family: its HELP and TYPE lines, then its samples.
struct Family<'a> {
    out: &'a mut String,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &str, kind: &str, help: &str) -> Family<'a> {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        Family { out }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// A label value as the text format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

const SIDES: [&str; 2] = ["frontend", "backend"];

/// A counter kept per side: its name, its help, and where it is in [`SideStats`].
type SideCounter = (&'static str, &'static str, fn(&SideStats) -> u64);

/// Every device's metrics, then the process's.
pub fn render(devices: &[(String, Kind, Snapshot)]) -> String {
    let mut out = String::with_capacity(4096 + devices.len() * 4096);
    let per_side = |s: &Snapshot| [s.stats.frontend, s.stats.backend];
    let side_counters: [SideCounter; 5] = [
        (
            "zedge_messages_received_total",
            "Whole messages received from the side's peers.",
            |s| s.msgs_in,
        ),
        (
            "zedge_messages_sent_total",
            "Whole messages queued to the side's peers (a fanned-out message once per copy).",
            |s| s.msgs_out,
        ),
        (
            "zedge_bytes_received_total",
            "Body bytes of the messages received from the side's peers.",
            |s| s.bytes_in,
        ),
        (
            "zedge_bytes_sent_total",
            "Body bytes of the messages queued to the side's peers.",
            |s| s.bytes_out,
        ),
        (
            "zedge_connections_total",
            "Connections the side has taken.",
            |s| s.connections,
        ),
    ];
    for (name, help, get) in side_counters {
        let mut f = Family::new(&mut out, name, "counter", help);
        for (dev, _, snap) in devices {
            for (side, s) in SIDES.iter().zip(per_side(snap)) {
                f.sample(name, &[("device", dev), ("side", side)], get(&s));
            }
        }
    }
    let name = "zedge_messages_dropped_total";
    let mut f = Family::new(
        &mut out,
        name,
        "counter",
        "Messages not delivered, by the side they were for and why.",
    );
    for (dev, kind, snap) in devices {
        for (side, reason, n) in drops(*kind, snap) {
            f.sample(
                name,
                &[("device", dev), ("side", side), ("reason", reason)],
                n,
            );
        }
    }
    let name = "zedge_upstream_data_dropped_total";
    let mut f = Family::new(
        &mut out,
        name,
        "counter",
        "Data messages from a side whose messages go nowhere (subscribers, PULL workers).",
    );
    for (dev, _, snap) in devices {
        f.sample(name, &[("device", dev)], snap.stats.dropped.upstream_data);
    }
    let name = "zedge_handshake_failures_total";
    let mut f = Family::new(
        &mut out,
        name,
        "counter",
        "Connections that ended before their handshake was done, by reason.",
    );
    for (dev, _, snap) in devices {
        for (side, s) in SIDES.iter().zip(per_side(snap)) {
            for (reason, n) in s.handshake_failures.by_reason() {
                f.sample(
                    name,
                    &[("device", dev), ("side", side), ("reason", reason)],
                    n,
                );
            }
        }
    }
    gauges(&mut out, devices);
    process(&mut out);
    out
}

/// Each cause of a drop with the side whose peers the message was for.
fn drops(kind: Kind, s: &Snapshot) -> Vec<(&'static str, &'static str, u64)> {
    let d = &s.stats.dropped;
    match kind {
        Kind::Forwarder { .. } => vec![
            ("backend", "hwm", d.hwm),
            ("backend", "memory", d.memory),
            ("backend", "busy", d.busy),
            ("backend", "aborted", d.aborted),
        ],
        // An aborted request was for the backend, an aborted reply for the frontend: one
        // count for both.
        Kind::Queue => vec![
            ("frontend", "hwm", d.hwm),
            ("frontend", "memory", d.memory),
            ("frontend", "unroutable", d.unroutable),
            ("either", "aborted", d.aborted),
        ],
        Kind::Streamer => vec![("backend", "aborted", d.aborted)],
    }
}

fn gauges(out: &mut String, devices: &[(String, Kind, Snapshot)]) {
    let name = "zedge_peers";
    let mut f = Family::new(out, name, "gauge", "Peers connected now.");
    for (dev, _, s) in devices {
        let peers = [s.stats.frontend.peers, s.stats.backend.peers];
        for (side, n) in SIDES.iter().zip(peers) {
            f.sample(name, &[("device", dev), ("side", side)], n);
        }
    }
    let name = "zedge_queued_bytes";
    let mut f = Family::new(
        out,
        name,
        "gauge",
        "Bytes queued for the side's peers, not yet written to their sockets.",
    );
    for (dev, _, s) in devices {
        for (side, n) in SIDES.iter().zip([s.queued.0, s.queued.1]) {
            f.sample(name, &[("device", dev), ("side", side)], n);
        }
    }
    let name = "zedge_subscriptions";
    let mut f = Family::new(out, name, "gauge", "Subscriptions held (forwarders).");
    for (dev, kind, s) in devices {
        if matches!(kind, Kind::Forwarder { .. }) {
            f.sample(name, &[("device", dev)], s.subscriptions);
        }
    }
    let name = "zedge_subscriptions_refused_total";
    let mut f = Family::new(out, name, "counter", "Subscriptions refused, by reason.");
    for (dev, kind, s) in devices {
        if matches!(kind, Kind::Forwarder { .. }) {
            let r = &s.stats.refused_subscriptions;
            let causes = [
                ("table_full", r.table_full),
                ("topic_bytes_full", r.topic_bytes_full),
                ("peer_share", r.peer_share),
                ("too_long", r.too_long),
            ];
            for (reason, n) in causes {
                f.sample(name, &[("device", dev), ("reason", reason)], n);
            }
        }
    }
    let name = "zedge_peers_closed_total";
    let mut f = Family::new(
        out,
        name,
        "counter",
        "Peers the device closed to protect the others, by reason.",
    );
    for (dev, _, s) in devices {
        let st = &s.stats;
        let causes = [
            ("reset", st.resets),
            ("stalled", st.stalled),
            ("unread", st.unread),
            ("lagging", st.lagging),
        ];
        for (reason, n) in causes {
            f.sample(name, &[("device", dev), ("reason", reason)], n);
        }
    }
    let name = "zedge_paused";
    let mut f = Family::new(out, name, "gauge", "1 while PAUSE holds the device.");
    for (dev, kind, s) in devices {
        let k = kind_name(*kind);
        f.sample(name, &[("device", dev), ("kind", k)], u8::from(s.paused));
    }
    let name = "zedge_build_info";
    let mut f = Family::new(out, name, "gauge", "Always 1; the version as a label.");
    f.sample(name, &[("version", env!("CARGO_PKG_VERSION"))], 1);
}

/// The standard process metrics, from `/proc/self`.
fn process(out: &mut String) {
    let page = rustix::param::page_size() as u64;
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let mut pages = statm
        .split_whitespace()
        .map(|w| w.parse::<u64>().unwrap_or(0));
    let (vsize, rss) = (pages.next().unwrap_or(0), pages.next().unwrap_or(0));
    let ticks = rustix::param::clock_ticks_per_second().max(1) as f64;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|w| w.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of stat(5); `after` starts at field 3.
    let cpu = (fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0)) as f64;
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
    let max_fds = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    // Field 22 of stat(5), in ticks since boot, and the boot time from /proc/stat.
    let since_boot = fields.get(19).copied().unwrap_or(0) as f64 / ticks;
    let boot = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let btime = boot
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let start = btime as f64 + since_boot;
    let samples: [(&str, &str, &str, String); 6] = [
        (
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time spent, in seconds.",
            format!("{:.2}", cpu / ticks),
        ),
        (
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            (rss * page).to_string(),
        ),
        (
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            (vsize * page).to_string(),
        ),
        (
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch, in seconds.",
            format!("{start:.3}"),
        ),
        (
            "process_open_fds",
            "gauge",
            "Open file descriptors.",
            fds.to_string(),
        ),
        (
            "process_max_fds",
            "gauge",
            "The most file descriptors the process may open.",
            max_fds.to_string(),
        ),
    ];
    for (name, kind, help, value) in samples {
        Family::new(out, name, kind, help).sample(name, &[], value);
    }
}
