//! The peer table `zedge peers` prints: a heading per device, one row per peer.
//!
//! ```text
//! gw (queue): 1 peer
//!   SIDE      ADDRESS          TYPE  ZMTP   UP  MSGS IN  BYTES IN  MSGS OUT  BYTES OUT  QUEUED  DROPS  IDENTITY
//!   frontend  127.0.0.1:41234  REQ   3.1   12s        4      80 B         4       96 B     0 B      0  "op-7"
//! ```

use std::fmt::Write as _;

use super::json::Value;
use crate::host::{show, Human, Secs};

/// The pages of each device's answer, as one table per device.
pub fn render(pages: &[Value]) -> String {
    let Some(first) = pages.first() else {
        return String::new();
    };
    let name = first.get("device").and_then(Value::str).unwrap_or("");
    let kind = first.get("kind").and_then(Value::str).unwrap_or("device");
    let total = first.get("total").map_or(0, Value::u64);
    let rows: Vec<Vec<String>> = pages
        .iter()
        .filter_map(|p| match p.get("peers") {
            Some(Value::Arr(peers)) => Some(peers),
            _ => None,
        })
        .flatten()
        .map(row)
        .collect();
    let mut out = String::new();
    let title = if name.is_empty() {
        kind.to_owned()
    } else {
        format!("{name} ({kind})")
    };
    let s = if total == 1 { "" } else { "s" };
    let _ = writeln!(out, "{title}: {total} peer{s}");
    if rows.is_empty() {
        out.push('\n');
        return out;
    }
    let heads = [
        "SIDE",
        "ADDRESS",
        "TYPE",
        "ZMTP",
        "UP",
        "MSGS IN",
        "BYTES IN",
        "MSGS OUT",
        "BYTES OUT",
        "QUEUED",
        "DROPS",
        "IDENTITY",
    ];
    let mut widths: Vec<usize> = heads.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            // Words to the left, numbers (from UP on, but the identity) to the right.
            if (4..11).contains(&i) {
                let _ = write!(l, "  {cell:>w$}");
            } else {
                let _ = write!(l, "  {cell:<w$}");
            }
        }
        l.truncate(l.trim_end().len());
        l.push('\n');
        l
    };
    out.push_str(&line(&heads));
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        out.push_str(&line(&cells));
    }
    let listed = rows.len() as u64;
    if listed < total {
        let _ = writeln!(
            out,
            "  ({} more came and went while listing)",
            total - listed
        );
    }
    out.push('\n');
    out
}

/// One peer's cells, in the heading's order.
fn row(p: &Value) -> Vec<String> {
    let text = |k: &str| p.get(k).and_then(Value::str).unwrap_or("-").to_owned();
    let num = |k: &str| p.get(k).map_or(0, Value::u64);
    let identity = p
        .get("identity")
        .and_then(Value::str)
        .and_then(unhex)
        .map_or_else(String::new, |i| show(&i));
    vec![
        text("side"),
        text("address"),
        text("socket_type"),
        text("zmtp"),
        Secs(p.get("connected_s").map_or(0.0, Value::f64) as u64).to_string(),
        num("messages_in").to_string(),
        Human(num("bytes_in")).to_string(),
        num("messages_out").to_string(),
        Human(num("bytes_out")).to_string(),
        Human(num("queued_bytes")).to_string(),
        num("dropped").to_string(),
        identity,
    ]
}

/// Hex back to bytes; `None` if it is not hex.
fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::json::parse;
    use super::*;

    #[test]
    fn a_row_per_peer_under_a_heading_per_device() {
        let page = parse(
            r#"{"device":"","kind":"queue","total":2,"from":0,"listed":2,"truncated":false,
            "peers":[{"side":"frontend","address":"127.0.0.1:41234","socket_type":"REQ",
            "zmtp":"3.1","identity":"6f702d37","since":1.0,"connected_s":12.5,"messages_in":4,
            "bytes_in":80,"messages_out":4,"bytes_out":2048,"queued_bytes":0,"dropped":0},
            {"side":"backend","address":"ipc:///run/w","socket_type":null,"zmtp":null,
            "identity":null,"since":1.0,"connected_s":0.2,"messages_in":0,"bytes_in":0,
            "messages_out":0,"bytes_out":0,"queued_bytes":0,"dropped":0}]}"#,
        )
        .unwrap();
        let t = render(&[page]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "queue: 2 peers");
        assert!(
            lines[1].starts_with("  SIDE      ADDRESS          TYPE  ZMTP"),
            "{t}"
        );
        assert!(
            lines[2].contains("frontend  127.0.0.1:41234  REQ   3.1"),
            "{t}"
        );
        assert!(lines[2].contains("2.0 KiB"), "{t}");
        assert!(lines[2].ends_with("\"op-7\""), "{t}");
        assert!(
            lines[3].contains("backend   ipc:///run/w     -     -"),
            "{t}"
        );
        assert_eq!(unhex("0aFF"), Some(vec![10, 255]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
    }
}
