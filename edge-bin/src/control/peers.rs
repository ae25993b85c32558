//! `PEERS [FROM]`: one JSON frame listing the device's peers, [`PEERS_MAX`] at most per
//! answer (the first FROM left out), so that a device of thousands of peers answers in a
//! bounded turn of its thread:
//!
//! ```json
//! {"device":"gw","kind":"queue","total":2,"from":0,"listed":2,"truncated":false,
//!  "peers":[{"side":"frontend","address":"127.0.0.1:41234","socket_type":"REQ",
//!  "zmtp":"3.1","identity":"6f702d37","since":1764563211.123,"connected_s":12.5,
//!  "messages_in":4,"bytes_in":80,"messages_out":4,"bytes_out":96,"queued_bytes":0,
//!  "dropped":0}, ...]}
//! ```
//!
//! A peer still in its handshake has `null` for its socket type and ZMTP version; the
//! identity is hex, `null` when it sent none.

use std::fmt::Write as _;

use zedge_core::device::PeerView;

use super::json_str;
use crate::admit::side_name;
use crate::host::{DeviceHost, PeerLine};
use crate::setup::kind_name;

/// The most peers one answer lists: about 300 bytes each, a few hundred microseconds of the
/// device's thread for all of them (`PEERS FROM` asks for the next ones).
pub const PEERS_MAX: usize = 1000;

/// The answer to `PEERS` with `args` (after the command and a space, if any): the JSON, or
/// an `ERROR` line.
pub fn answer(host: &DeviceHost, args: &[u8]) -> String {
    let from = match std::str::from_utf8(args).map(str::trim) {
        Ok("") => 0,
        Ok(n) => match n.parse::<usize>() {
            Ok(n) => n,
            Err(_) => return format!("ERROR PEERS takes a number, the peers to skip: {n:?}"),
        },
        Err(_) => return "ERROR PEERS takes a number, the peers to skip".to_owned(),
    };
    peers_json(host, from)
}

/// The peers after the first `from`, as JSON.
pub fn peers_json(host: &DeviceHost, from: usize) -> String {
    let kind = host.peek(|d| d.config().kind);
    let mut body = String::with_capacity(4096);
    let mut listed = 0usize;
    let total = host.each_peer(from, PEERS_MAX, |view, line| {
        if listed > 0 {
            body.push(',');
        }
        listed += 1;
        peer_json(&mut body, view, &line);
    });
    let mut j = String::with_capacity(body.len() + 160);
    let _ = write!(
        j,
        "{{\"device\":{},\"kind\":\"{}\",\"total\":{total},\"from\":{from},\"listed\":{listed},\
         \"truncated\":{},\"peers\":[{body}]}}",
        json_str(host.name()),
        kind_name(kind),
        from.saturating_add(listed) < total,
    );
    j
}

fn peer_json(j: &mut String, v: &PeerView, line: &PeerLine<'_>) {
    let t = &v.traffic;
    let since = line
        .since
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let connected = std::time::SystemTime::now()
        .duration_since(line.since)
        .unwrap_or_default();
    let _ = write!(
        j,
        "{{\"side\":\"{}\",\"address\":{},\"socket_type\":{},\"zmtp\":{},\"identity\":{},\
         \"since\":{:.3},\"connected_s\":{:.3},\"messages_in\":{},\"bytes_in\":{},\
         \"messages_out\":{},\"bytes_out\":{},\"queued_bytes\":{},\"dropped\":{}}}",
        side_name(v.side),
        json_str(line.addr),
        v.socket_type
            .map_or_else(|| "null".to_owned(), |t| format!("\"{t}\"")),
        v.zmtp.map_or_else(
            || "null".to_owned(),
            |(major, minor)| format!("\"{major}.{minor}\"")
        ),
        line.identity.map_or_else(
            || "null".to_owned(),
            |i| format!("\"{}\"", crate::host::hex(i))
        ),
        since.as_secs_f64(),
        connected.as_secs_f64(),
        t.msgs_in,
        t.bytes_in,
        t.msgs_out,
        t.bytes_out,
        v.queued,
        v.dropped,
    );
}
