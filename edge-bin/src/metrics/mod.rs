//! Prometheus metrics (`--metrics ADDR`, `[metrics] listen = "ADDR"`): the text format
//! (version 0.0.4) at `GET /metrics`, for every device of the process, from what each device
//! thread publishes every [`BEAT`](crate::worker::BEAT) (nothing here touches a device), and
//! the standard `process_*` metrics from `/proc/self`.
//!
//! Names follow Prometheus' rules: snake case, base units, `_total` on counters, labels for
//! device, side and reason, none per peer. The server runs on the main thread: at most
//! [`MAX_CONNECTIONS`] at once (one more closes the oldest still sending its request), a
//! request head of at most [`MAX_REQUEST`] bytes within [`REQUEST_TIMEOUT`], one response per
//! connection. `render.rs` writes the text format.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_executor::{LocalExecutor, Task};
use async_io::{Async, Timer};
use futures_lite::future;
use log::{debug, warn};
use zedge_core::device::Kind;

use crate::gateway::Roster;
use crate::report::WARN_EVERY;
use crate::worker::Snapshot;

mod render;

pub use render::render;

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
