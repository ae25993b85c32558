//! What `zedge check-config` prints for a good file: each device as it will run, and what it
//! costs at worst.

use zedge_core::device::Kind;

use super::Config;
use crate::endpoint::{Endpoint, Mode};
use crate::setup::{kind_name, Bytes, DeviceMemory, Mib, Opt, CONNECTION_BYTES, SLOT_BYTES};

/// What `zedge check-config` prints for a good file.
/// `fails_here`: the file is right but `run` would fail on this host (`preflight`), and the
/// first line says so instead of "ok".
pub fn summary(cfg: &Config, file: &str, fails_here: bool) -> String {
    use std::fmt::Write;
    let n = cfg.devices.len();
    let with = if cfg.drop_ins.is_empty() {
        String::new()
    } else {
        format!(" with {}", cfg.drop_ins.join(", "))
    };
    let verdict = if fails_here {
        "right, but run would fail here (see below);"
    } else {
        "ok,"
    };
    let mut out = format!(
        "{file}{with}: {verdict} {n} device{}\n",
        if n == 1 { "" } else { "s" }
    );
    for (d, dm) in cfg.devices.iter().zip(&cfg.memory.devices) {
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
        if let Some(c) = &d.control {
            let _ = writeln!(out, "    control   {}", list(std::slice::from_ref(c)));
        }
        if let Some(c) = &d.capture {
            let _ = writeln!(out, "    capture   {}", list(std::slice::from_ref(c)));
        }
        if let Some(c) = &d.curve {
            let _ = writeln!(out, "    curve     {}", c.summary());
        }
        if let Some(p) = &d.plain {
            let where_ = if p.anywhere {
                "any address"
            } else {
                "loopback and IPC"
            };
            let _ = writeln!(
                out,
                "    plain     users from {} ({where_}; passwords travel in the clear)",
                p.passwords.display()
            );
        }
        if let Some(dir) = d.spool.as_deref().filter(|_| d.has_spool()) {
            let rate = match t.spool_rate {
                0 => "as fast as the workers take them".to_owned(),
                n => format!("at most {}/s", Bytes(n)),
            };
            let _ = writeln!(
                out,
                "    spool     {} (at most {}, synced every {} ms, sent {rate})",
                dir.display(),
                Bytes(t.spool_max),
                t.spool_fsync_ms
            );
        }
        let subs = match d.kind {
            Kind::Forwarder { .. } if t.last_value => format!(
                ", {} subscriptions ({} per peer), last values of {} topics in {} (the budget's){}",
                t.max_subscriptions,
                t.max_subscriptions_per_peer,
                t.last_value_max_topics,
                Mib(t.last_value_max_bytes as u64),
                match t.last_value_ttl_ms {
                    0 => String::new(),
                    ms => format!(" for {} s", ms as f64 / 1000.0),
                }
            ),
            Kind::Forwarder { .. } => format!(
                ", {} subscriptions ({} per peer)",
                t.max_subscriptions, t.max_subscriptions_per_peer
            ),
            // Every byte of a CURVE peer is decrypted or encrypted in passing: no pipes.
            _ if d.curve.is_some() || d.plain.is_some() => {
                ", no splices (CURVE or PLAIN)".to_owned()
            }
            _ => format!(", {} splices", t.max_splices),
        };
        let rate = match t.handshake_rate_per_address {
            _ if d.curve.is_none() && d.plain.is_none() => String::new(),
            0 => ", handshakes not rate-limited".to_owned(),
            n => format!(", {n} handshakes a second per address"),
        };
        let _ = writeln!(
            out,
            "    limits    {} peers per side ({} per address, {} handshaking{rate}), {} \
             messages, {} per-peer queue{subs}",
            t.max_peers,
            t.max_peers_per_address,
            t.max_handshaking,
            Bytes(t.max_msg_size),
            Bytes(t.queue_hwm as u64),
        );
        let stalled = match t.progress_timeout_ms {
            0 => "a stalled one waits forever".to_owned(),
            ms => format!("a stalled one aborts its sender after {ms} ms"),
        };
        let _ = if t.store_forward_max as u64 >= t.max_msg_size {
            let why = match d.input_sized_by() {
                Opt::MaxMsgSize => " (CURVE frames are sealed whole)",
                _ => "",
            };
            writeln!(out, "    messages  all received whole{why}")
        } else {
            writeln!(
                out,
                "    messages  whole up to {}, cut through above; {stalled}",
                Bytes(t.store_forward_max as u64)
            )
        };
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
        let _ = writeln!(out, "    memory    {}", device_memory(dm));
        let _ = writeln!(out, "    kernel    {}", kernel_output(t));
    }
    let m = &cfg.memory;
    let _ = writeln!(
        out,
        "  total: {} fixed + {} kept = {} of memory_max {}; the other {} is the budget the \
         devices share for queued messages and input as traffic needs; {} descriptors at most",
        Mib(m.fixed()),
        Mib(m.kept()),
        Mib(m.need()),
        Bytes(m.memory_max),
        Mib(m.budget()),
        m.descriptors(),
    );
    if let Some(addr) = cfg.process.metrics {
        let _ = writeln!(out, "  metrics: http://{addr}/metrics");
    }
    out
}

/// `0.98 MiB peer table (2048 slots of 504 B) + 13.00 MiB connections (6656 B each) + ... =
/// 16.0 MiB fixed; 2.01 MiB kept for whole messages; 64 pipe descriptors`.
fn device_memory(dm: &DeviceMemory) -> String {
    let mut parts = vec![
        format!(
            "{} peer table ({} slots of {SLOT_BYTES} B)",
            Mib(dm.peer_table),
            dm.peer_slots
        ),
        format!(
            "{} connections ({CONNECTION_BYTES} B each)",
            Mib(dm.connections)
        ),
    ];
    if dm.subscriptions > 0 {
        parts.push(format!("{} subscriptions", Mib(dm.subscriptions)));
    }
    if dm.last_values > 0 {
        parts.push(format!("{} last-value table", Mib(dm.last_values)));
    }
    parts.push(format!("{} input", Mib(dm.input)));
    let mut line = format!(
        "{} = {} fixed; {} kept for whole messages",
        parts.join(" + "),
        Mib(dm.fixed()),
        Mib(dm.kept)
    );
    if dm.pipe_fds > 0 {
        line.push_str(&format!("; {} pipe descriptors", dm.pipe_fds));
    }
    line
}

/// What the kernel may hold of a device's output, outside `memory_max`: per connection, and
/// with every peer it takes (both sides) stalled.
fn kernel_output(t: &crate::setup::Tuning) -> String {
    match u64::from(t.kernel_send_max) {
        0 => "output as the kernel gives each connection (kernel_send_max 0: up to tcp_wmem, \
              4 MiB a TCP connection), outside memory_max"
            .to_owned(),
        per => format!(
            "{} of output per connection at most, {} with all {} peers stalled, outside \
             memory_max",
            Bytes(per),
            Mib(per.saturating_mul(2 * t.max_peers as u64)),
            2 * t.max_peers
        ),
    }
}
