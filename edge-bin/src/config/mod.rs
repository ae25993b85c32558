//! The config file of `zedge run --config FILE` and `zedge check-config FILE`.
//!
//! TOML: an optional `[log]` table and one `[[device]]` table per device, keys spelled as the
//! command-line flags with `_` for `-`. serde checks the structure (unknown, missing and
//! repeated keys), [`Spanned`] keeps where each value was written, and the checks that span
//! devices (names, endpoints bound twice) run after. Every error names the file, the line, the
//! device and the key, and says what would be accepted. `board/zedge.toml` documents each key
//! and its default.

mod explain;
mod raw;

use std::fmt;
use std::ops::Range;
use std::path::Path;

use log::LevelFilter;
use serde::Deserialize;
use toml::de::DeTable;
use toml::Spanned;
use zedge_core::device::Kind;

use crate::endpoint::{Addr, Endpoint, Host, Mode};
use crate::setup::{kind_name, Bytes, DeviceSetup, Tuning};
use explain::{explain, line_of};
use raw::{Count, RawFile, Size};

/// A name shows in logs and in `systemctl status`; keep it short and plain.
const MAX_NAME: usize = 32;

/// A config file, checked.
#[derive(Debug)]
pub struct Config {
    /// `[log] level`, the level when neither `-v` nor `ZEDGE_LOG` asks for another.
    pub log_level: Option<LevelFilter>,
    pub devices: Vec<DeviceSetup>,
}

/// What is wrong with a config file, and where: `FILE:LINE: device "x": key "y": what to do`.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    file: String,
    line: Option<usize>,
    what: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.what),
            None => write!(f, "{}: {}", self.file, self.what),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Read and check `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &file),
        Err(e) => Err(ConfigError {
            file,
            line: None,
            what: format!("cannot read the config file: {e}"),
        }),
    }
}

/// Check `text`, the contents of `file` (named in errors).
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    let at = |span: Range<usize>, what: String| ConfigError {
        file: file.to_owned(),
        line: Some(line_of(text, span.start)),
        what,
    };
    // Parsed with recovery, so a syntax error is still placed in its device and key.
    let (doc, syntax) = DeTable::parse_recoverable(text);
    if let Some(e) = syntax.first() {
        let span = e.span().unwrap_or(0..0);
        let (msg, key) = match e.message() {
            // The first of the two is in `doc`; the error points at the second.
            "duplicate key" => (e.message().to_owned(), text.get(span.clone())),
            m => (format!("not valid TOML: {m}"), None),
        };
        return Err(at(span.clone(), explain(&doc, span.start, key, &msg)));
    }
    let raw = RawFile::deserialize(toml::de::Deserializer::from(doc.clone())).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        at(span.clone(), explain(&doc, span.start, None, e.message()))
    })?;
    let log_level = raw.log.and_then(|l| l.level).map(|l| l.into_inner().0);
    if raw.device.is_empty() {
        return Err(at(
            0..0,
            "no devices; add a [[device]] table with name, kind, frontend and backend".into(),
        ));
    }
    let mut devices: Vec<(DeviceSetup, usize)> = Vec::new();
    let mut binds: Vec<(Endpoint, String, usize)> = Vec::new();
    for (i, raw) in raw.device.into_iter().enumerate() {
        let header = line_of(text, raw.span().start);
        let raw = raw.into_inner();
        let name_span = raw.name.span();
        let name = raw.name.into_inner();
        let dev_label = if name.is_empty() {
            format!("device #{}", i + 1)
        } else {
            format!("device {name:?}")
        };
        let key_err = |span: Range<usize>, key: &str, what: String| {
            at(span, format!("{dev_label}: key \"{key}\": {what}"))
        };
        if let Err(why) = check_name(&name) {
            return Err(key_err(name_span, "name", why));
        }
        if let Some((_, line)) = devices.iter().find(|(d, _)| d.name == name) {
            return Err(key_err(
                name_span,
                "name",
                format!("the device at line {line} has this name already; names must differ"),
            ));
        }
        let kind = match (raw.kind.get_ref().0, raw.classic) {
            (Kind::Forwarder { .. }, c) => Kind::Forwarder {
                classic: c.is_some_and(|c| c.into_inner()),
            },
            (_, Some(c)) => {
                return Err(key_err(
                    c.span(),
                    "classic",
                    format!(
                        "applies to forwarders only, and this device is a {}; remove it",
                        kind_name(raw.kind.get_ref().0)
                    ),
                ))
            }
            (kind, None) => kind,
        };

        let mut tuning = Tuning::default();
        let nonzero = |v: Option<Spanned<u64>>, key: &str, what: &str| match v {
            Some(v) if v.get_ref() == &0 => Err(key_err(
                v.span(),
                key,
                format!("must be at least 1 ({what})"),
            )),
            Some(v) => Ok(Some(v.into_inner())),
            None => Ok(None),
        };
        let sized = |v: Option<Spanned<Size>>| v.map(|s| Spanned::new(s.span(), s.into_inner().0));
        let count = |v: Option<Spanned<Count>>| v.map(|s| Spanned::new(s.span(), s.into_inner().0));
        if let Some(n) = nonzero(sized(raw.max_msg_size), "max_msg_size", "bytes")? {
            tuning.max_msg_size = n;
        }
        if let Some(n) = nonzero(sized(raw.queue_hwm), "queue_hwm", "bytes")? {
            tuning.queue_hwm = to_usize(n);
        }
        if let Some(n) = nonzero(count(raw.max_peers), "max_peers", "peers")? {
            tuning.max_peers = to_usize(n);
        }
        if let Some(n) = raw.max_subscriptions {
            tuning.max_subscriptions = to_usize(n.into_inner().0);
        }
        if let Some(n) = raw.max_splices {
            tuning.max_splices = to_usize(n.into_inner().0);
        }
        if let Some(ms) = raw.handshake_timeout {
            tuning.handshake_timeout_ms = ms.into_inner().0;
        }
        if let Some(ms) = raw.heartbeat_ivl {
            tuning.heartbeat_ivl_ms = ms.into_inner().0;
        }
        if let Some(ms) = raw.heartbeat_timeout {
            if tuning.heartbeat_ivl_ms == 0 {
                return Err(key_err(
                    ms.span(),
                    "heartbeat_timeout",
                    "only applies with heartbeats on; set heartbeat_ivl too".into(),
                ));
            }
            tuning.heartbeat_timeout_ms = Some(ms.into_inner().0);
        }

        let mut sides = [Vec::new(), Vec::new()];
        for (side, key, eps) in [(0, "frontend", raw.frontend), (1, "backend", raw.backend)] {
            let list_span = eps.span();
            let eps = eps.into_inner().into_list(list_span.clone());
            if eps.is_empty() {
                return Err(key_err(
                    list_span,
                    key,
                    "needs at least one endpoint, like [\"tcp://*:5559\"]".into(),
                ));
            }
            for ep in eps {
                let span = ep.span();
                let ep = ep.into_inner().0;
                if ep.mode == Mode::Bind {
                    if let Some((_, owner, line)) = binds.iter().find(|(b, ..)| clash(b, &ep)) {
                        return Err(key_err(
                            span,
                            key,
                            format!(
                                "{ep} is bound already by {owner} (line {line}); \
                                 bind each address in one place only"
                            ),
                        ));
                    }
                    binds.push((ep.clone(), dev_label.clone(), line_of(text, span.start)));
                }
                sides[side].push(ep);
            }
        }
        let [frontends, backends] = sides;
        let setup = DeviceSetup {
            name,
            kind,
            tuning,
            frontends,
            backends,
        };
        if let Err(e) = setup.device_config().validate() {
            return Err(ConfigError {
                file: file.to_owned(),
                line: Some(header),
                what: format!("{dev_label}: {e}"),
            });
        }
        devices.push((setup, header));
    }
    Ok(Config {
        log_level,
        devices: devices.into_iter().map(|(d, _)| d).collect(),
    })
}

/// What `zedge check-config` prints for a good file.
pub fn summary(cfg: &Config, file: &str) -> String {
    use std::fmt::Write;
    let n = cfg.devices.len();
    let mut out = format!("{file}: ok, {n} device{}\n", if n == 1 { "" } else { "s" });
    for d in &cfg.devices {
        let t = &d.tuning;
        let kind = match d.kind {
            Kind::Forwarder { classic: true } => "forwarder (classic SUB/PUB)",
            k => kind_name(k),
        };
        let list = |eps: &[Endpoint]| {
            eps.iter()
                .map(|e| match e.mode {
                    Mode::Bind => e.to_string(),
                    Mode::Connect => format!(">{e}"),
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let _ = writeln!(out, "  {}: {kind}", d.name);
        let _ = writeln!(out, "    frontend  {}", list(&d.frontends));
        let _ = writeln!(out, "    backend   {}", list(&d.backends));
        let extra = match d.kind {
            Kind::Forwarder { .. } => format!(", {} subscriptions", t.max_subscriptions),
            _ => format!(", {} splices", t.max_splices),
        };
        let _ = writeln!(
            out,
            "    limits    {} peers, {} messages, {} per-peer queue{extra}",
            t.max_peers,
            Bytes(t.max_msg_size),
            Bytes(t.queue_hwm as u64),
        );
        let hb = d.device_config().heartbeat;
        let hb = if t.heartbeat_ivl_ms == 0 {
            "off".to_owned()
        } else {
            format!(
                "PING every {} ms, timeout {} ms",
                hb.interval.as_millis(),
                hb.timeout.as_millis()
            )
        };
        let _ = writeln!(
            out,
            "    timers    handshake {} ms, heartbeat {hb}",
            t.handshake_timeout_ms
        );
    }
    out
}

/// Names go into logs and STATUS lines: letters, digits, `-`, `_`, `.`.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "expected 1 to {MAX_NAME} letters, digits, '-', '_' or '.', not {name:?}"
        ))
    }
}

/// Whether binding `b` would fail because `a` is bound (Linux, without SO_REUSEPORT).
fn clash(a: &Endpoint, b: &Endpoint) -> bool {
    match (&a.addr, &b.addr) {
        (Addr::Ipc(x), Addr::Ipc(y)) => x == y,
        (Addr::Tcp { host: h1, port: p1 }, Addr::Tcp { host: h2, port: p2 }) => {
            p1 == p2 && (h1 == h2 || covers(h1, h2) || covers(h2, h1))
        }
        _ => false,
    }
}

/// `*` and `0.0.0.0` hold a port on every IPv4 address; `[::]` (dual-stack) on every address.
fn covers(wild: &Host, other: &Host) -> bool {
    match wild {
        Host::Any => matches!(other, Host::Any | Host::Ip(std::net::IpAddr::V4(_))),
        Host::Ip(ip) if ip.is_unspecified() && ip.is_ipv4() => {
            matches!(other, Host::Any | Host::Ip(std::net::IpAddr::V4(_)))
        }
        Host::Ip(ip) if ip.is_unspecified() => true,
        _ => false,
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests;
