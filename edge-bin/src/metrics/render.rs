//! The text format itself: every device's families, then the process's.

use std::fmt::Write as _;

use zedge_core::device::{Kind, Side, SideStats};

use crate::host::{LaneView, SpoolView};
use crate::setup::kind_name;
use crate::worker::Snapshot;

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

/// The sides, in [`Side::ALL`]'s order (a device without a capture endpoint has no capture
/// readers: zeros).
const SIDES: [&str; 3] = [
    Side::ALL[0].name(),
    Side::ALL[1].name(),
    Side::ALL[2].name(),
];

/// A counter kept per side: its name, its help, and where it is in [`SideStats`].
type SideCounter = (&'static str, &'static str, fn(&SideStats) -> u64);

/// Every device's metrics, then the process's.
pub fn render(devices: &[(String, Kind, Snapshot)]) -> String {
    let mut out = String::with_capacity(4096 + devices.len() * 4096);
    let per_side = |s: &Snapshot| Side::ALL.map(|side| *s.stats.side(side));
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
    let name = "zedge_capture_copies_dropped_total";
    let mut f = Family::new(
        &mut out,
        name,
        "counter",
        "Copies a capture reader lost: it was behind, or out of memory (one per reader and message).",
    );
    for (dev, _, snap) in devices {
        f.sample(name, &[("device", dev)], snap.stats.dropped.capture);
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
        let st = &s.stats;
        let peers = [st.frontend().peers, st.backend().peers, st.capture().peers];
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
        for (side, n) in SIDES.iter().zip(s.queued) {
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
    let name = "zedge_last_value_topics";
    let mut f = Family::new(out, name, "gauge", "Topics the last-value cache holds.");
    for (dev, _, s) in devices {
        if let Some(v) = &s.last_value {
            f.sample(name, &[("device", dev)], v.topics);
        }
    }
    let name = "zedge_last_value_bytes";
    let mut f = Family::new(
        out,
        name,
        "gauge",
        "Bytes of the messages the last-value cache holds (drawn from memory_max).",
    );
    for (dev, _, s) in devices {
        if let Some(v) = &s.last_value {
            f.sample(name, &[("device", dev)], v.bytes);
        }
    }
    let name = "zedge_last_value_messages_total";
    let mut f = Family::new(
        out,
        name,
        "counter",
        "Messages of the last-value cache: stored, evicted for room, expired, refused \
         (larger than the cache, out of memory or cut through), given to new subscriptions, \
         echoed (an upstream broker's cache repeating a kept value, not passed on).",
    );
    for (dev, _, s) in devices {
        if let Some(v) = &s.last_value {
            let c = &v.stats;
            let events = [
                ("stored", c.stored),
                ("evicted", c.evicted),
                ("expired", c.expired),
                ("refused", c.refused),
                ("given", c.given),
                ("echoed", c.echoed),
            ];
            for (event, n) in events {
                f.sample(name, &[("device", dev), ("event", event)], n);
            }
        }
    }
    spool_gauges(out, devices);
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

/// A streamer's store-and-forward spool (`host/spool.rs`).
fn spool_gauges(out: &mut String, devices: &[(String, Kind, Snapshot)]) {
    let spools = || {
        devices
            .iter()
            .filter_map(|(d, _, s)| Some((d, s.spool.as_ref()?)))
    };
    type Gauge = (&'static str, &'static str, fn(&SpoolView) -> u64);
    let gauges: [Gauge; 4] = [
        (
            "zedge_spool_messages",
            "Messages in the spool not yet sent (to the uplink furthest behind).",
            |v| v.messages,
        ),
        (
            "zedge_spool_bytes",
            "Bytes of the spool's segment files and of the messages gathered for the next block.",
            |v| v.bytes,
        ),
        (
            "zedge_spool_spooling",
            "1 while new work goes to the spool (no worker could take it, or the spool still \
             holds older work).",
            |v| u64::from(v.spooling),
        ),
        (
            "zedge_spool_errors_total",
            "Disk errors of the spool (writing, reading or syncing).",
            |v| v.errors,
        ),
    ];
    for (name, help, get) in gauges {
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        let mut f = Family::new(out, name, kind, help);
        for (dev, v) in spools() {
            f.sample(name, &[("device", dev)], get(v));
        }
    }
    let name = "zedge_spool_oldest_age_seconds";
    let mut f = Family::new(
        out,
        name,
        "gauge",
        "Age of the oldest unsent message on the spool's disk (0 when none).",
    );
    for (dev, v) in spools() {
        f.sample(name, &[("device", dev)], v.oldest_ms as f64 / 1000.0);
    }
    let name = "zedge_spool_messages_total";
    let mut f = Family::new(
        out,
        name,
        "counter",
        "Messages of the spool: appended, sent (given back to the workers), dropped (with the \
         oldest segment, past spool_max), recovered (queued for a worker that left or stalled, not \
         begun, sent again ahead of the spool), refused (over max_msg_size when sent, after it was \
         lowered, or otherwise refused by the device).",
    );
    for (dev, v) in spools() {
        let events = [
            ("appended", v.stats.appended),
            ("sent", v.stats.taken),
            ("dropped", v.stats.dropped),
            ("recovered", v.recovered),
            ("refused", v.refused),
        ];
        for (event, n) in events {
            f.sample(name, &[("device", dev), ("event", event)], n);
        }
    }
    let name = "zedge_spool_bytes_total";
    let mut f = Family::new(
        out,
        name,
        "counter",
        "Bytes of the spool: appended (messages), written (to segment files, block headers \
         included; written / appended is the write amplification).",
    );
    for (dev, v) in spools() {
        let kinds = [
            ("appended", v.stats.appended_bytes),
            ("written", v.stats.written),
        ];
        for (what, n) in kinds {
            f.sample(name, &[("device", dev), ("what", what)], n);
        }
    }
    let name = "zedge_spool_syncs_total";
    let mut f = Family::new(out, name, "counter", "fdatasync calls of the spool.");
    for (dev, v) in spools() {
        f.sample(name, &[("device", dev)], v.stats.syncs);
    }
    lane_gauges(out, devices);
}

/// A forwarder's spool, per uplink endpoint (its lane).
fn lane_gauges(out: &mut String, devices: &[(String, Kind, Snapshot)]) {
    let lanes = || {
        let spools = devices
            .iter()
            .filter_map(|(d, _, s)| Some((d, s.spool.as_ref()?)));
        spools.flat_map(|(d, v)| v.lanes.iter().map(move |l| (d, l)))
    };
    type Gauge = (&'static str, &'static str, fn(&LaneView) -> f64);
    let gauges: [Gauge; 3] = [
        (
            "zedge_spool_lane_messages",
            "Messages in a forwarder's spool not yet sent to one uplink endpoint.",
            |l| l.messages as f64,
        ),
        (
            "zedge_spool_lane_spooling",
            "1 while publications for one uplink endpoint go to the spool (it is away, at its \
             high-water mark, or has spooled messages to get first); 0 while it gets them live.",
            |l| f64::from(u8::from(l.spooling)),
        ),
        (
            "zedge_spool_lane_oldest_age_seconds",
            "Age of the oldest message on the spool's disk not yet sent to one uplink endpoint \
             (0 when none).",
            |l| l.oldest_ms as f64 / 1000.0,
        ),
    ];
    for (name, help, get) in gauges {
        let mut f = Family::new(out, name, "gauge", help);
        for (dev, l) in lanes() {
            f.sample(name, &[("device", dev), ("uplink", &l.uplink)], get(l));
        }
    }
}
