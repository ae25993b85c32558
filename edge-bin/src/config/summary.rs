//! What `zedge check-config` prints for a good file: each device as it will run.

use zedge_core::device::Kind;

use super::Config;
use crate::endpoint::{Endpoint, Mode};
use crate::setup::{kind_name, Bytes};

/// What `zedge check-config` prints for a good file.
pub fn summary(cfg: &Config, file: &str) -> String {
    use std::fmt::Write;
    let n = cfg.devices.len();
    let mut out = format!("{file}: ok, {n} device{}\n", if n == 1 { "" } else { "s" });
    for d in &cfg.devices {
        let t = &d.tuning;
        let classic = match d.kind {
            Kind::Forwarder { classic: true } => " (classic SUB/PUB)",
            _ => "",
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
        let _ = writeln!(out, "  {}: {}{classic}", d.name, kind_name(d.kind));
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
