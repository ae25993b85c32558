//! A device's control endpoint (`--control EP`, `control = "EP"`): it answers REQ clients (or
//! DEALER clients that put an empty delimiter first) as a REP socket would, with libzmq's
//! `zmq_proxy_steerable` commands and zedge's own.
//!
//! | command | does | answer |
//! |---|---|---|
//! | `PAUSE` | no message starts moving from either side ([`Device::pause`]) | an empty frame |
//! | `RESUME` | messages move again | an empty frame |
//! | `TERMINATE` | stops this device (flushes and closes; the process exits 0 when it was the last) | an empty frame |
//! | `STATISTICS` | | 8 frames of 8-byte unsigned integers, host byte order, libzmq's order ([`ProxyStats`]) |
//! | `STATS` | | one frame: every counter of the device, as JSON ([`stats_json`]) |
//! | `PEERS [FROM]` | | one frame: the device's peers, as JSON ([`peers`]) |
//! | anything else | | one frame: `ERROR unknown command ...` |
//!
//! PAUSE and RESUME follow libzmq master (4.3.5 swaps them). The endpoint runs on the
//! device's thread, beside its peers: at most [`MAX_CONTROL_PEERS`] connections at once
//! (one more closes the oldest), commands of at most [`COMMAND_MAX`] bytes, and a client that
//! does not read its answer for [`WRITE_TIMEOUT`](zmtp::WRITE_TIMEOUT) is dropped.
//!
//! [`Device::pause`]: zedge_core::device::Device::pause
//! [`ProxyStats`]: zedge_core::device::ProxyStats

pub mod peers;
pub mod zmtp;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

use async_channel::Sender;
use async_executor::{LocalExecutor, Task};
use async_io::Timer;
use log::{debug, info, warn};
use zedge_core::conn::SessionConfig;
use zedge_core::device::{Side, SideStats, Stats};
use zedge_core::time::Duration as CoreDuration;
use zedge_core::wire::metadata::SocketType;

use crate::endpoint::Endpoint;
use crate::host::DeviceHost;
use crate::net::{self, Listener, Stream};
use crate::setup::kind_name;
use zmtp::Channel;

/// Control connections at once, per device; one more closes the oldest.
pub const MAX_CONTROL_PEERS: usize = 8;
/// The longest command (all frames of a request together), in bytes.
pub const COMMAND_MAX: u64 = 256;
/// A control client that has not finished its handshake this long after connecting is
/// dropped.
const HANDSHAKE_TIMEOUT: CoreDuration = CoreDuration::from_secs(5);
/// Between attempts to reach a `>` control endpoint.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

/// The commands, as the error answer lists them.
const COMMANDS: &str = "PAUSE, RESUME, TERMINATE, STATISTICS, STATS, PEERS";

/// Where a device's control endpoint is, bound or to connect to.
#[derive(Debug)]
pub enum ControlEndpoint {
    Listen(Listener, Endpoint),
    Connect(Endpoint),
}

/// What a control connection needs beyond the device: how to ask the main thread to stop
/// the device's thread (its [`DeviceThread::id`](crate::worker::DeviceThread) goes to it).
#[derive(Clone, Debug)]
pub struct Steering {
    pub terminate: Sender<u64>,
    /// Set by [`DeviceThread::spawn`](crate::worker::DeviceThread::spawn).
    pub thread: u64,
}

/// Serve the control endpoint, forever (the device's thread cancels it when it stops).
pub async fn serve(
    host: Rc<DeviceHost>,
    ex: Rc<LocalExecutor<'static>>,
    ep: ControlEndpoint,
    steering: Steering,
) {
    match ep {
        ControlEndpoint::Listen(l, ep) => accept_loop(host, ex, l, ep, steering).await,
        ControlEndpoint::Connect(ep) => loop {
            match net::connect(&ep).await {
                Ok(stream) => {
                    debug!("{}control: connected to {ep}", host.tag());
                    converse(&host, stream, &steering).await;
                }
                Err(e) => debug!("{}control: cannot connect to {ep}: {e}", host.tag()),
            }
            Timer::after(RECONNECT_EVERY).await;
        },
    }
}

async fn accept_loop(
    host: Rc<DeviceHost>,
    ex: Rc<LocalExecutor<'static>>,
    l: Listener,
    ep: Endpoint,
    steering: Steering,
) {
    // The connections, oldest first: one too many closes the oldest, so idle or hostile
    // connections cannot keep an operator out.
    let mut live: VecDeque<Task<()>> = VecDeque::new();
    loop {
        let (stream, _) = match l.accept().await {
            Ok(c) => c,
            Err(e) => {
                warn!("{}control {ep}: accept failed: {e}", host.tag());
                Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        live.retain(|t| !t.is_finished());
        if live.len() >= MAX_CONTROL_PEERS {
            debug!(
                "{}control {ep}: {MAX_CONTROL_PEERS} connections: the oldest is closed",
                host.tag()
            );
            drop(live.pop_front());
        }
        let (host2, steering) = (host.clone(), steering.clone());
        live.push_back(ex.spawn(async move { converse(&host2, stream, &steering).await }));
        // A flood of connections takes turns with the device's peers.
        l.ready().await;
    }
}

/// Answer one client's requests until it leaves or breaks the protocol.
async fn converse(host: &DeviceHost, stream: Stream, steering: &Steering) {
    // Older peers as the device speaks to them (a ZMTP 2.0 REQ asks as a 3.x one does).
    let legacy = host.peek(|dev| dev.config().legacy);
    let cfg = SessionConfig {
        limits: zmtp::small_messages(COMMAND_MAX),
        handshake_timeout: HANDSHAKE_TIMEOUT,
        legacy,
        ..SessionConfig::new(SocketType::Rep)
    };
    let mut ch = match Channel::open(stream, cfg, host.clock()).await {
        Ok(ch) => ch,
        Err(e) => return debug!("{}control: {e}", host.tag()),
    };
    loop {
        let msg = match ch.recv().await {
            Ok(Some(msg)) => msg,
            Ok(None) => return,
            Err(e) => return debug!("{}control: {e}", host.tag()),
        };
        // A REP socket's envelope: the frames up to the empty delimiter go back first.
        let Some(delimiter) = msg.iter().position(Vec::is_empty) else {
            debug!(
                "{}control: a request without an empty delimiter: dropped",
                host.tag()
            );
            continue;
        };
        let (envelope, body) = msg.split_at(delimiter + 1);
        let (answer, then) = answer(host, body);
        let mut frames: Vec<&[u8]> = envelope.iter().map(Vec::as_slice).collect();
        frames.extend(answer.iter().map(Vec::as_slice));
        if let Err(e) = ch.send(&frames).await {
            return debug!("{}control: {e}", host.tag());
        }
        if then == Then::Terminate {
            info!(
                "{}TERMINATE from the control endpoint: stopping",
                host.tag()
            );
            let _ = steering.terminate.try_send(steering.thread);
        }
        ch.take_turns().await;
    }
}

/// What to do once the answer is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Then {
    Nothing,
    Terminate,
}

/// The answer to a request's body (the frames after the delimiter).
fn answer(host: &DeviceHost, body: &[Vec<u8>]) -> (Vec<Vec<u8>>, Then) {
    let empty = vec![Vec::new()];
    let [command] = body else {
        let e = format!("ERROR a command is one frame, got {}", body.len());
        return (vec![e.into_bytes()], Then::Nothing);
    };
    match command.as_slice() {
        b"PAUSE" => {
            host.with_device(|d| d.pause(true));
            info!(
                "{}PAUSE from the control endpoint: no message moves until RESUME",
                host.tag()
            );
            (empty, Then::Nothing)
        }
        b"RESUME" => {
            host.with_device(|d| d.pause(false));
            info!("{}RESUME from the control endpoint", host.tag());
            (empty, Then::Nothing)
        }
        b"TERMINATE" => (empty, Then::Terminate),
        b"STATISTICS" => {
            let numbers = host.stats().proxy().libzmq_order();
            let frames = numbers.iter().map(|n| n.to_ne_bytes().to_vec()).collect();
            (frames, Then::Nothing)
        }
        b"STATS" => (vec![stats_json(host).into_bytes()], Then::Nothing),
        [b'P', b'E', b'E', b'R', b'S', rest @ ..] if matches!(rest.first(), None | Some(b' ')) => {
            (vec![peers::answer(host, rest).into_bytes()], Then::Nothing)
        }
        other => {
            let shown = String::from_utf8_lossy(&other[..other.len().min(64)]).into_owned();
            let e = format!("ERROR unknown command {shown:?}; the commands are {COMMANDS}");
            (vec![e.into_bytes()], Then::Nothing)
        }
    }
}

/// Every counter of the device, as one JSON object.
pub fn stats_json(host: &DeviceHost) -> String {
    let (s, paused, (subs, subs_max), queued, kind, last) = host.peek(|d| {
        let at = (*d.stats(), d.paused(), d.subscriptions());
        (
            at.0,
            at.1,
            at.2,
            d.queued(),
            d.config().kind,
            d.last_values(),
        )
    });
    let mut j = String::with_capacity(1024);
    let _ = write!(
        j,
        "{{\"device\":{},\"kind\":\"{}\",\"uptime_s\":{:.3},\"paused\":{paused},",
        json_str(host.name()),
        kind_name(kind),
        host.uptime().as_secs_f64(),
    );
    for (side, queued) in Side::ALL.into_iter().zip(queued) {
        side_json(&mut j, side.name(), s.side(side), queued);
    }
    if let Some(v) = last {
        let c = &v.stats;
        let _ = write!(
            j,
            "\"last_value\":{{\"topics\":{},\"bytes\":{},\"stored\":{},\"evicted\":{},\
             \"expired\":{},\"refused\":{},\"given\":{},\"echoed\":{}}},",
            v.topics, v.bytes, c.stored, c.evicted, c.expired, c.refused, c.given, c.echoed
        );
    }
    if let Some(v) = host.spool_view() {
        let c = &v.stats;
        let _ = write!(
            j,
            "\"spool\":{{\"spooling\":{},\"messages\":{},\"bytes\":{},\"oldest_age_s\":{:.3},\
             \"appended\":{},\"sent\":{},\"dropped\":{},\"recovered\":{},\"refused\":{},\
             \"appended_bytes\":{},\"written_bytes\":{},\"syncs\":{},\"errors\":{},\"lanes\":[",
            v.spooling,
            v.messages,
            v.bytes,
            v.oldest_ms as f64 / 1000.0,
            c.appended,
            c.taken,
            c.dropped,
            v.recovered,
            v.refused,
            c.appended_bytes,
            c.written,
            c.syncs,
            v.errors
        );
        for (i, l) in v.lanes.iter().enumerate() {
            let _ = write!(
                j,
                "{}{{\"uplink\":{},\"spooling\":{},\"messages\":{},\"oldest_age_s\":{:.3}}}",
                if i > 0 { "," } else { "" },
                json_str(&l.uplink),
                l.spooling,
                l.messages,
                l.oldest_ms as f64 / 1000.0
            );
        }
        j.push_str("]},");
    }
    stats_rest(&mut j, &s, subs, subs_max);
    j
}

fn side_json(j: &mut String, name: &str, s: &SideStats, queued: u64) {
    let _ = write!(
        j,
        "\"{name}\":{{\"messages_in\":{},\"bytes_in\":{},\"messages_out\":{},\"bytes_out\":{},\
         \"peers\":{},\"connections\":{},\"refused\":{},\"queued_bytes\":{queued}}},",
        s.msgs_in, s.bytes_in, s.msgs_out, s.bytes_out, s.peers, s.connections, s.refused
    );
}

fn stats_rest(j: &mut String, s: &Stats, subs: usize, subs_max: usize) {
    let d = &s.dropped;
    let r = &s.refused_subscriptions;
    let p = s.proxy().libzmq_order();
    let _ = write!(
        j,
        "\"dropped\":{{\"hwm\":{},\"busy\":{},\"unroutable\":{},\"aborted\":{},\"memory\":{},\
         \"upstream_data\":{},\"subscriptions\":{},\"capture\":{}}},\
         \"refused_subscriptions\":{{\"table_full\":{},\"topic_bytes_full\":{},\
         \"peer_share\":{},\"too_long\":{}}},\
         \"subscriptions\":{subs},\"max_subscriptions\":{subs_max},\
         \"resets\":{},\"stalled\":{},\"unread\":{},\"lagging\":{},\
         \"statistics\":[{},{},{},{},{},{},{},{}]}}",
        d.hwm,
        d.busy,
        d.unroutable,
        d.aborted,
        d.memory,
        d.upstream_data,
        d.subscriptions,
        d.capture,
        r.table_full,
        r.topic_bytes_full,
        r.peer_share,
        r.too_long,
        s.resets,
        s.stalled,
        s.unread,
        s.lagging,
        p[0],
        p[1],
        p[2],
        p[3],
        p[4],
        p[5],
        p[6],
        p[7],
    );
}

/// `s` as a JSON string, quotes and escapes included.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::json_str;

    #[test]
    fn names_are_escaped_in_json() {
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
