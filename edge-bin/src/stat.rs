//! `zedge stat [--watch] [--json] [ADDR]`: a running zedge's devices at a glance, read from its
//! metrics endpoint (`crate::metrics`): peers per side, messages and bytes per second in and
//! out (from two samples a second apart), drops by cause, queued bytes. ADDR is the one given,
//! or `[metrics] listen` of `/etc/zedge/zedge.toml`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// Where `zedge stat` looks for the address when none is given.
pub const DEFAULT_CONFIG: &str = "/etc/zedge/zedge.toml";
const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest response read.
const MAX_RESPONSE: u64 = 16 << 20;

/// One sample's numbers: device -> metric (with its other labels) -> value.
type Sample = BTreeMap<String, BTreeMap<String, f64>>;

/// What `zedge stat` was asked.
#[derive(Debug, PartialEq, Eq)]
pub struct StatOptions {
    pub addr: Option<SocketAddr>,
    pub watch: bool,
    pub json: bool,
}

/// Print the table (once, or every second with `--watch`); `Err` with what went wrong.
pub fn run(o: &StatOptions) -> Result<(), String> {
    let addr = match o.addr {
        Some(a) => a,
        None => configured(Path::new(DEFAULT_CONFIG))?,
    };
    let mut before = (Instant::now(), fetch(addr)?);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let now = (Instant::now(), fetch(addr)?);
        let secs = now.0.duration_since(before.0).as_secs_f64();
        let out = if o.json {
            json(&before.1, &now.1, secs)
        } else {
            table(&before.1, &now.1, secs)
        };
        if o.watch && !o.json {
            // Clear the screen and go home, as `watch` does.
            crate::stdout::print("\x1b[H\x1b[2J");
        }
        crate::stdout::print(&out);
        if !o.watch {
            return Ok(());
        }
        before = now;
    }
}

/// ADDR as given: `127.0.0.1:9559`, or the URL zedge prints (`http://127.0.0.1:9559/metrics`);
/// a host name resolved.
pub fn parse_addr(given: &str) -> Option<SocketAddr> {
    let bare = given.strip_prefix("http://").unwrap_or(given);
    let bare = bare.strip_suffix('/').unwrap_or(bare);
    let bare = bare.strip_suffix("/metrics").unwrap_or(bare);
    if let Ok(addr) = bare.parse() {
        return Some(addr);
    }
    use std::net::ToSocketAddrs;
    bare.contains(':')
        .then(|| bare.to_socket_addrs().ok()?.next())
        .flatten()
}

/// `[metrics] listen` of the config file at `path`.
fn configured(path: &Path) -> Result<SocketAddr, String> {
    let cfg = crate::config::load_addresses(path).map_err(|e| e.to_string())?;
    cfg.process.metrics.ok_or_else(|| {
        format!(
            "{}: no [metrics] table; give the address (zedge stat 127.0.0.1:9559) or add \
             [metrics] to the file",
            path.display()
        )
    })
}

/// One scrape, as device -> `name{other labels}` -> value.
fn fetch(addr: SocketAddr) -> Result<Sample, String> {
    let fail = |e: std::io::Error| format!("http://{addr}/metrics: {e}");
    let bytes = match request(addr) {
        Ok(bytes) => bytes,
        // A ZeroMQ endpoint sends its greeting, reads "G" and closes, so the request or the
        // answer may be cut by a reset before the greeting is read: ask again, only listening.
        Err(_) if speaks_zmtp(&greeting(addr).unwrap_or_default()) => {
            return Err(zmtp_error(addr));
        }
        Err(e) => return Err(fail(e)),
    };
    if speaks_zmtp(&bytes) {
        return Err(zmtp_error(addr));
    }
    let body = String::from_utf8_lossy(&bytes);
    let Some((head, text)) = body.split_once("\r\n\r\n") else {
        return Err(format!("http://{addr}/metrics: not an HTTP response"));
    };
    if !head.starts_with("HTTP/1.1 200") {
        let status = head.lines().next().unwrap_or_default();
        return Err(format!("http://{addr}/metrics: {status}"));
    }
    Ok(parse(text))
}

/// `GET /metrics` and the whole answer (at most [`MAX_RESPONSE`] bytes).
fn request(addr: SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    s.set_write_timeout(Some(TIMEOUT))?;
    let ask = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(ask.as_bytes())?;
    let mut bytes = Vec::new();
    s.take(MAX_RESPONSE).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// What `addr` sends first without being asked (an HTTP server sends nothing).
fn greeting(addr: SocketAddr) -> std::io::Result<Vec<u8>> {
    let s = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    let mut bytes = Vec::new();
    s.take(10).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A ZMTP greeting: 0xff, 8 bytes of length, 0x7f.
fn speaks_zmtp(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0xff) && bytes.get(9).is_none_or(|&b| b == 0x7f)
}

fn zmtp_error(addr: SocketAddr) -> String {
    format!(
        "{addr} is no metrics endpoint: it speaks ZeroMQ (a device's endpoint?); give the \
         address of [metrics] listen, or --metrics"
    )
}

/// The samples of a text-format body that carry a `device` label.
pub fn parse(text: &str) -> Sample {
    let mut out = Sample::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut device = None;
        let mut others = Vec::new();
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let Some((k, v)) = pair.split_once("=\"") else {
                continue;
            };
            let v = v.trim_end_matches('"');
            if k == "device" {
                device = Some(v.to_owned());
            } else {
                others.push(format!("{k}={v}"));
            }
        }
        if let Some(d) = device {
            let key = format!("{name}{{{}}}", others.join(","));
            out.entry(d).or_default().insert(key, value);
        }
    }
    out
}

fn get(s: &BTreeMap<String, f64>, key: &str) -> f64 {
    s.get(key).copied().unwrap_or(0.0)
}

/// Per second between two values of a counter (0 if it went down: a device restarted).
fn rate(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>, key: &str, secs: f64) -> f64 {
    ((get(b, key) - get(a, key)) / secs.max(0.001)).max(0.0)
}

/// The sides a device's table shows: the capture side only where readers came.
fn sides(now: &BTreeMap<String, f64>) -> Vec<&'static str> {
    let mut sides = vec!["frontend", "backend"];
    if get(now, "zedge_connections_total{side=capture}") > 0.0 {
        sides.push("capture");
    }
    sides
}

/// The rows of one device: (label, a value per side of `sides`).
fn rows(
    a: &BTreeMap<String, f64>,
    b: &BTreeMap<String, f64>,
    secs: f64,
    sides: &[&str],
) -> Vec<(String, Vec<f64>)> {
    let per_side = |f: &dyn Fn(&str) -> f64| sides.iter().map(|s| f(s)).collect::<Vec<f64>>();
    let mut rows = vec![(
        "peers".to_owned(),
        per_side(&|s| get(b, &format!("zedge_peers{{side={s}}}"))),
    )];
    for (label, metric) in [
        ("messages/s in", "zedge_messages_received_total"),
        ("messages/s out", "zedge_messages_sent_total"),
        ("bytes/s in", "zedge_bytes_received_total"),
        ("bytes/s out", "zedge_bytes_sent_total"),
    ] {
        let v = per_side(&|s| rate(a, b, &format!("{metric}{{side={s}}}"), secs));
        rows.push((label.to_owned(), v));
    }
    rows.push((
        "queued bytes".to_owned(),
        per_side(&|s| get(b, &format!("zedge_queued_bytes{{side={s}}}"))),
    ));
    // Drops, by cause, where there were any.
    for (key, total) in b
        .iter()
        .filter(|(k, _)| k.starts_with("zedge_messages_dropped_total"))
    {
        if *total == 0.0 {
            continue;
        }
        let reason = key
            .split("reason=")
            .nth(1)
            .and_then(|r| r.split([',', '}']).next());
        let side = key
            .split("side=")
            .nth(1)
            .and_then(|r| r.split([',', '}']).next());
        let mut v = vec![0.0; sides.len()];
        let at = usize::from(side == Some("backend"));
        v[at] = *total;
        rows.push((format!("dropped ({})", reason.unwrap_or("?")), v));
    }
    if let Some(at) = sides.iter().position(|&s| s == "capture") {
        let mut v = vec![0.0; sides.len()];
        v[at] = get(b, "zedge_capture_copies_dropped_total{}");
        rows.push(("copies lost".to_owned(), v));
    }
    // A streamer's spool holds work for the backend: shown in its column.
    if b.contains_key("zedge_spool_messages{}") {
        let at = usize::from(sides.len() > 1);
        let spool = [
            ("spool messages", get(b, "zedge_spool_messages{}")),
            ("spool bytes", get(b, "zedge_spool_bytes{}")),
            (
                "spool oldest (s)",
                get(b, "zedge_spool_oldest_age_seconds{}"),
            ),
            (
                "spool dropped",
                get(b, "zedge_spool_messages_total{event=dropped}"),
            ),
        ];
        for (label, n) in spool {
            let mut v = vec![0.0; sides.len()];
            v[at] = n;
            rows.push((label.to_owned(), v));
        }
    }
    // A forwarder's spool, per uplink endpoint (its lane): what it has yet to send there.
    const LANE: &str = "zedge_spool_lane_messages{uplink=";
    for (key, n) in b.iter().filter(|(k, _)| k.starts_with(LANE)) {
        let ep = &key[LANE.len()..key.len().saturating_sub(1)];
        let spooling = get(b, &format!("zedge_spool_lane_spooling{{uplink={ep}}}")) > 0.0;
        let state = if spooling { ", spooling" } else { "" };
        let mut v = vec![0.0; sides.len()];
        v[usize::from(sides.len() > 1)] = *n;
        rows.push((format!("spool to {ep}{state}"), v));
    }
    rows
}

/// The width of the table's first column (the labels), and of each side's.
const LABELS: usize = 28;
const COLUMN: usize = 14;

fn table(a: &Sample, b: &Sample, secs: f64) -> String {
    let mut out = String::new();
    let empty = BTreeMap::new();
    for (dev, now) in b {
        let was = a.get(dev).unwrap_or(&empty);
        let kind = now
            .keys()
            .find_map(|k| k.strip_prefix("zedge_paused{kind="))
            .map(|k| k.trim_end_matches('}'))
            .unwrap_or("device");
        let paused = if get(now, &format!("zedge_paused{{kind={kind}}}")) > 0.0 {
            ", PAUSED"
        } else {
            ""
        };
        let sides = sides(now);
        // The title in the labels' column, or above it when it is wider.
        let title = format!("{dev} ({kind}{paused})");
        if title.chars().count() > LABELS {
            let _ = write!(out, "{title}\n{:LABELS$}", "");
        } else {
            let _ = write!(out, "{title:<LABELS$}");
        }
        for s in &sides {
            let _ = write!(out, "{s:>COLUMN$}");
        }
        out.push('\n');
        for (label, values) in rows(was, now, secs, &sides) {
            // A label wider than its column (an uplink's endpoint) has a line of its own.
            if label.chars().count() > LABELS - 2 {
                let _ = write!(out, "  {label}\n{:LABELS$}", "");
            } else {
                let _ = write!(out, "  {label:<w$}", w = LABELS - 2);
            }
            for v in values {
                let _ = write!(out, "{v:>COLUMN$.0}");
            }
            out.push('\n');
        }
        out.push('\n');
    }
    if b.is_empty() {
        out.push_str("no devices\n");
    }
    out
}

fn json(a: &Sample, b: &Sample, secs: f64) -> String {
    let empty = BTreeMap::new();
    let mut out = String::from("{");
    for (i, (dev, now)) in b.iter().enumerate() {
        let was = a.get(dev).unwrap_or(&empty);
        let sep = if i > 0 { "," } else { "" };
        let _ = write!(
            out,
            "{sep}\"{}\":{{",
            dev.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let sides = sides(now);
        for (j, (label, values)) in rows(was, now, secs, &sides).iter().enumerate() {
            let sep = if j > 0 { "," } else { "" };
            let _ = write!(out, "{sep}\"{label}\":{{");
            for (k, (side, v)) in sides.iter().zip(values).enumerate() {
                let sep = if k > 0 { "," } else { "" };
                let _ = write!(out, "{sep}\"{side}\":{v:.1}");
            }
            out.push('}');
        }
        out.push('}');
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ZeroMQ endpoint that sends its signature and resets the connection on the first byte
    /// of the request: the answer names it whichever of the two comes first (CI once printed
    /// "Broken pipe").
    #[test]
    fn a_zeromq_endpoint_that_resets_is_named_as_one() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for c in listener.incoming() {
                let Ok(mut c) = c else { return };
                let mut sig = [0u8; 10];
                sig[0] = 0xff;
                sig[9] = 0x7f;
                let _ = c.write_all(&sig);
                c.set_read_timeout(Some(Duration::from_millis(300)))
                    .unwrap();
                // Closing with the request unread sends a reset.
                let _ = c.read(&mut [0u8; 1]);
            }
        });
        for _ in 0..2 {
            let err = fetch(addr).unwrap_err();
            assert!(err.contains("it speaks ZeroMQ"), "{err}");
        }
    }

    /// `zedge stat` needs only `[metrics] listen`: the key files are not read.
    #[test]
    fn the_address_is_read_without_the_key_files() {
        let file = crate::config::keys_out_of_reach("stat-keys");
        assert_eq!(configured(&file), Ok("127.0.0.1:9559".parse().unwrap()));
        let _ = std::fs::remove_dir_all(file.parent().unwrap());
    }

    #[test]
    fn samples_are_read_per_device_and_rates_from_two_of_them() {
        let a = parse(
            "# HELP x\nzedge_messages_received_total{device=\"a b\",side=\"frontend\"} 100\n\
             zedge_peers{device=\"a b\",side=\"backend\"} 2\nprocess_open_fds 9\n",
        );
        let b = parse(
            "zedge_messages_received_total{device=\"a b\",side=\"frontend\"} 300\n\
             zedge_peers{device=\"a b\",side=\"backend\"} 3\n\
             zedge_messages_dropped_total{device=\"a b\",side=\"backend\",reason=\"hwm\"} 7\n",
        );
        assert_eq!(a.len(), 1, "process metrics have no device");
        let rows = rows(&a["a b"], &b["a b"], 2.0, &sides(&b["a b"]));
        assert_eq!(rows[0], ("peers".to_owned(), vec![0.0, 3.0]));
        assert_eq!(rows[1], ("messages/s in".to_owned(), vec![100.0, 0.0]));
        assert_eq!(
            rows.last().cloned(),
            Some(("dropped (hwm)".to_owned(), vec![0.0, 7.0]))
        );
        let t = table(&a, &b, 2.0);
        assert!(t.starts_with("a b (device)"), "{t}");
        // Every line of the table ends at one column, the headings' too.
        let widths: Vec<usize> = t.lines().filter(|l| !l.is_empty()).map(str::len).collect();
        assert!(widths.iter().all(|&w| w == LABELS + 2 * COLUMN), "{t}");
        let long = parse("zedge_peers{device=\"a-device-with-a-long-name\",side=\"frontend\"} 1\n");
        let wide = table(&long, &long, 1.0);
        assert!(
            wide.starts_with("a-device-with-a-long-name (device)\n"),
            "{wide}"
        );
        let widths: Vec<usize> = wide
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(str::len)
            .collect();
        assert!(widths.iter().all(|&w| w == LABELS + 2 * COLUMN), "{wide}");
        assert!(
            t.contains("  messages/s in                        100             0\n"),
            "{t}"
        );
    }

    #[test]
    fn the_address_is_taken_bare_or_as_the_url_zedge_prints() {
        let want: SocketAddr = "127.0.0.1:9559".parse().unwrap();
        for given in [
            "127.0.0.1:9559",
            "http://127.0.0.1:9559/metrics",
            "http://127.0.0.1:9559/",
            "http://127.0.0.1:9559",
        ] {
            assert_eq!(parse_addr(given), Some(want), "{given}");
        }
        assert_eq!(parse_addr("localhost:9559").map(|a| a.port()), Some(9559));
        for bad in ["9559", "http://127.0.0.1/metrics", "ftp://127.0.0.1:9559"] {
            assert_eq!(parse_addr(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_streamer_with_a_spool_shows_it_in_the_backend_column() {
        let now = parse(
            "zedge_peers{device=\"s\",side=\"backend\"} 0\n\
             zedge_spool_messages{device=\"s\"} 1200\n\
             zedge_spool_bytes{device=\"s\"} 48000\n\
             zedge_spool_oldest_age_seconds{device=\"s\"} 12.5\n\
             zedge_spool_messages_total{device=\"s\",event=\"dropped\"} 3\n",
        );
        let t = table(&Sample::new(), &now, 1.0);
        for (label, n) in [
            ("spool messages", "1200"),
            ("spool bytes", "48000"),
            ("spool oldest (s)", "12"),
            ("spool dropped", "3"),
        ] {
            let line = t
                .lines()
                .find(|l| l.contains(label))
                .unwrap_or_else(|| panic!("{t}"));
            assert!(line.trim_end().ends_with(n), "{line}");
        }
    }

    #[test]
    fn a_forwarders_spool_shows_what_it_has_for_each_uplink_and_which_spool() {
        let now = parse(
            "zedge_peers{device=\"f\",side=\"backend\"} 2\n\
             zedge_spool_messages{device=\"f\"} 700\n\
             zedge_spool_lane_messages{device=\"f\",uplink=\"tcp://cloud.example.com:5555\"} 700\n\
             zedge_spool_lane_spooling{device=\"f\",uplink=\"tcp://cloud.example.com:5555\"} 1\n\
             zedge_spool_lane_messages{device=\"f\",uplink=\"tcp://b:1\"} 0\n\
             zedge_spool_lane_spooling{device=\"f\",uplink=\"tcp://b:1\"} 0\n",
        );
        let t = table(&Sample::new(), &now, 1.0);
        let lines: Vec<&str> = t.lines().collect();
        let at = |label: &str| {
            lines
                .iter()
                .position(|l| l.trim_start().starts_with(label))
                .unwrap_or_else(|| panic!("{label}: {t}"))
        };
        // One fits its column; the other has a line of its own, its figures below.
        let b = at("spool to tcp://b:1 ");
        assert!(lines[b].trim_end().ends_with(" 0"), "{t}");
        let a = at("spool to tcp://cloud.example.com:5555, spooling");
        assert!(lines[a].trim_end().ends_with("spooling"), "{t}");
        assert!(lines[a + 1].trim_end().ends_with(" 700"), "{t}");
        let j = json(&Sample::new(), &now, 1.0);
        let want = "\"spool to tcp://cloud.example.com:5555, spooling\":{\"frontend\":0.0,\"backend\":700.0}";
        assert!(j.contains(want), "{j}");
    }

    #[test]
    fn a_device_with_capture_readers_gets_a_capture_column_and_its_copies_lost() {
        let b = parse(
            "zedge_connections_total{device=\"t\",side=\"capture\"} 1\n\
             zedge_peers{device=\"t\",side=\"capture\"} 1\n\
             zedge_capture_copies_dropped_total{device=\"t\"} 12\n",
        );
        let t = table(&b, &b, 1.0);
        assert!(t.contains("frontend       backend       capture\n"), "{t}");
        assert!(
            t.contains(
                "  peers                                  0             0             1
"
            ),
            "{t}"
        );
        assert!(
            t.contains(
                "  copies lost                            0             0            12
"
            ),
            "{t}"
        );
        let j = json(&b, &b, 1.0);
        assert!(
            j.contains("\"copies lost\":{\"frontend\":0.0,\"backend\":0.0,\"capture\":12.0}"),
            "{j}"
        );
    }
}
