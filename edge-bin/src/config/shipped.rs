//! The shipped `board/zedge.toml` (valid, every key and default documented and true), what
//! `check-config` prints, and devices that cannot fit `memory_max`.

use zedge_core::device::Kind;

use super::tests::{err, ok, ONE};
use super::*;
use crate::setup::{
    kind_name, Mib, Opt, Process, Tuning, CONNECTION_BYTES, HEADS_ROOM, SLOT_BYTES,
};

/// The example and default config shipped in the package.
const BOARD: &str = include_str!("../../../board/zedge.toml");

#[test]
fn the_shipped_config_is_valid_and_runs_what_it_says() {
    let cfg = ok(BOARD);
    let names: Vec<&str> = cfg.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["telemetry", "rpc", "jobs"]);
    let t = &cfg.devices[0];
    assert_eq!(t.kind, Kind::Forwarder { classic: false });
    assert_eq!(t.tuning, Tuning::default());
    assert_eq!(t.backends[1].to_string(), "ipc:///run/zedge/telemetry.ipc");
    assert_eq!(cfg.devices[1].kind, Kind::Queue);
    assert_eq!(cfg.devices[1].tuning.heartbeat_ivl_ms, 5000);
    assert_eq!(cfg.devices[2].kind, Kind::Streamer);
    assert_eq!(cfg.devices[2].tuning, Tuning::default());
    assert!(
        !cfg.devices[2].has_spool(),
        "no spool unless the operator gives one"
    );
    assert_eq!(cfg.log_level, None);
    // Metrics on loopback, where `zedge stat` and a local agent find them.
    let metrics = Some(crate::metrics::default_listen());
    assert_eq!(
        cfg.process,
        Process {
            metrics,
            ..Process::default()
        }
    );
}

/// As shipped, nothing listens beyond this host: every device binds loopback or IPC until
/// the operator opens it (Mosquitto 2's default).
#[test]
fn the_shipped_config_listens_on_this_host_only() {
    for d in ok(BOARD).devices {
        let eps: Vec<_> = crate::gateway::all_endpoints(&d).collect();
        assert!(!eps.is_empty());
        for ep in eps {
            let here = ep.to_string();
            let local = here.starts_with("tcp://127.0.0.1:") || here.starts_with("ipc://");
            assert!(local, "{}: {here}", d.name);
        }
        assert!(d.open_to_anyone().is_empty());
    }
}

/// board/README.md section 5, applied to the shipped file as it says: the telemetry device's
/// frontend opened, with CURVE on that side only, so the backend's loopback and IPC
/// subscribers of section 2 still get in without the server key, and nothing is open to
/// anyone.
#[test]
fn opening_the_shipped_telemetry_device_as_the_board_readme_says_keeps_local_subscribers() {
    const README: &str = include_str!("../../../board/README.md");
    let section = README
        .split("## 5. Open it to the network")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("board/README.md section 5");
    let keys: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("#   "))
        .collect();
    assert!(
        keys.iter().any(|k| k.starts_with("curve_sides = ")),
        "{keys:?}"
    );
    let dir = std::env::temp_dir().join(format!("zedge-recipe5-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let pair = zedge_core::curve::crypto::KeyPair::from_secret([7; 32]);
    crate::cert::save(&dir.join("telemetry"), &pair).expect("certificate");
    let secret = dir.join("telemetry_secret").display().to_string();
    let mut table = String::new();
    for key in &keys {
        table.push_str(&key.replace("/etc/zedge/telemetry_secret", &secret));
        table.push('\n');
    }
    let text = BOARD
        .lines()
        .filter(|l| !l.starts_with("frontend = [\"tcp://127.0.0.1:5559\"]"))
        .map(|l| {
            if l.starts_with("name = \"telemetry\"") {
                format!("{l}\n{table}")
            } else {
                format!("{l}\n")
            }
        })
        .collect::<String>();
    let cfg = ok(&text);
    let t = &cfg.devices[0];
    assert_eq!(t.frontends[0].to_string(), "tcp://*:5559");
    let curve = t.curve.as_ref().expect("CURVE");
    assert!(curve.on(zedge_core::device::Side::Frontend, false));
    assert!(
        !curve.on(zedge_core::device::Side::Backend, false),
        "the local subscribers would need the server key"
    );
    assert!(t.open_to_anyone().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `# key = value` lines in the shipped file document the defaults: uncommenting every one of
/// them must change nothing.
#[test]
fn the_defaults_the_shipped_config_documents_are_the_real_ones() {
    let mut uncommented = 0;
    let text: String = BOARD
        .lines()
        .map(|line| {
            let Some(rest) = line.strip_prefix("# ") else {
                return format!("{line}\n");
            };
            let Some((key, value)) = rest.split_once(" = ") else {
                return format!("{line}\n");
            };
            let plain_key = key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            if !plain_key || value.starts_with('(') {
                return format!("{line}\n");
            }
            uncommented += 1;
            format!("{rest}\n")
        })
        .collect();
    assert!(uncommented >= 8, "only {uncommented} documented defaults");
    let (base, all) = (ok(BOARD), ok(&text));
    assert_eq!(base.devices, all.devices);
    assert_eq!(all.process, base.process);
    assert_eq!(all.log_level, Some(LevelFilter::Warn));
}

/// Every key a device accepts, and every key at the top, is documented in the shipped file.
#[test]
fn the_shipped_config_documents_every_key() {
    let in_device = err(&format!("{ONE}zzz = 1\n"));
    let at_top = err(&format!("zzz = 1\n{ONE}"));
    let keys = [in_device, at_top].map(|e| {
        let (_, keys) = e.split_once("expected one of ").expect(&e);
        keys.to_owned()
    });
    let keys = keys.iter().flat_map(|k| k.split(", "));
    for key in keys.filter(|&k| !matches!(k, "device" | "log" | "metrics")) {
        let documented = BOARD
            .lines()
            .any(|l| l.trim_start_matches("# ").starts_with(&format!("{key} = ")));
        assert!(documented, "key {key:?} is not in board/zedge.toml");
    }
}

/// Each option's documented default, written into a device of a kind it applies to (or at the
/// top, for a process option), is `Tuning::default()`'s (`Process::default()`'s): the shipped
/// file cannot drift from the code.
#[test]
fn each_documented_default_is_the_one_in_tuning_default() {
    for opt in Opt::PROCESS {
        let prefix = format!("# {} = ", opt.key());
        let value = BOARD
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("board/zedge.toml documents no default for {}", opt.key()));
        let cfg = ok(&format!("{} = {value}\n{ONE}", opt.key()));
        assert_eq!(cfg.process, Process::default(), "{}", opt.key());
    }
    for opt in Opt::DEVICE {
        let prefix = format!("# {} = ", opt.key());
        let value = BOARD
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("board/zedge.toml documents no default for {}", opt.key()));
        if opt == Opt::Spool {
            // None unless given.
            assert!(value.starts_with("(none)"), "{value}");
            continue;
        }
        if opt == Opt::HeartbeatTimeout {
            // Not a value: what none means, which the core decides.
            assert!(value.starts_with("(3 x ivl)"), "{value}");
            assert_eq!(Tuning::default().heartbeat_timeout_ms, None);
            continue;
        }
        let kind = opt.kinds()[0];
        let device = ONE.replace("streamer", kind_name(kind));
        let cfg = ok(&format!("{device}{} = {value}\n", opt.key()));
        assert_eq!(cfg.devices[0].tuning, Tuning::default(), "{}", opt.key());
        assert_eq!(cfg.devices[0].kind, kind, "{}", opt.key());
    }
}

#[test]
fn summary_lists_each_device() {
    let s = summary(&ok(BOARD), "/etc/zedge/zedge.toml", false);
    assert!(
        s.starts_with("/etc/zedge/zedge.toml: ok, 3 devices\n"),
        "{s}"
    );
    assert!(s.contains("  telemetry: forwarder\n"), "{s}");
    assert!(
        s.contains("    backend   tcp://127.0.0.1:5560 ipc:///run/zedge/telemetry.ipc\n"),
        "{s}"
    );
    assert!(
        s.contains(
            "1024 peers per side (256 per address, 64 handshaking), 64 MiB messages, 1 MiB \
             per-peer queue, 4096 subscriptions (1024 per peer)\n"
        ),
        "{s}"
    );
    assert!(s.contains("    messages  whole up to 1 MiB, cut through above; a stalled one aborts its sender after 5000 ms\n"), "{s}");
    assert!(
        s.contains("heartbeat PING every 5000 ms, timeout 15000 ms"),
        "{s}"
    );
    assert!(
        s.contains("heartbeat PING every 10000 ms, timeout 30000 ms"),
        "{s}"
    );
}

#[test]
fn summary_shows_what_each_device_costs_and_the_total() {
    let cfg = ok(BOARD);
    let s = summary(&cfg, "z.toml", false);
    let (fwd, queue) = (&cfg.memory.devices[0], &cfg.memory.devices[1]);
    let slots = format!("({} slots of {SLOT_BYTES} B)", 2048);
    let conns = format!(
        "{} connections ({CONNECTION_BYTES} B each)",
        Mib(2048 * CONNECTION_BYTES)
    );
    let fwd_line = format!(
        "    memory    {} peer table {slots} + {conns} + {} subscriptions + {} input = {} fixed; \
         {} kept for whole messages\n",
        Mib(fwd.peer_table),
        Mib(fwd.subscriptions),
        Mib(fwd.input),
        Mib(fwd.fixed()),
        Mib(fwd.kept)
    );
    assert!(s.contains(&fwd_line), "{fwd_line}\n{s}");
    let queue_line = format!(
        "    memory    {} peer table {slots} + {conns} + {} input = {} fixed; {} kept for whole \
         messages; 64 pipe descriptors\n",
        Mib(queue.peer_table),
        Mib(queue.input),
        Mib(queue.fixed()),
        Mib(queue.kept)
    );
    assert!(s.contains(&queue_line), "{queue_line}\n{s}");
    let m = &cfg.memory;
    assert_eq!(m.kept(), 6 * ((1 << 20) + HEADS_ROOM as u64));
    assert_eq!(m.budget(), (256 << 20) - m.need());
    let total = format!(
        "  total: {} fixed + 6.03 MiB kept = {} of memory_max 256 MiB; the other {} is the \
         budget the devices share for queued messages and input as traffic needs; 6272 \
         descriptors at most\n  metrics: http://127.0.0.1:9559/metrics\n",
        Mib(m.fixed()),
        Mib(m.need()),
        Mib(m.budget())
    );
    assert!(s.ends_with(&total), "{total}\n{s}");
}

#[test]
fn devices_that_cannot_fit_memory_max_are_refused_at_their_line() {
    let two = format!(
        "memory_max = \"8M\"\n{ONE}{}",
        ONE.replace("\"a\"", "\"b\"")
            .replace("7001", "7011")
            .replace("7002", "7012")
            .replace("streamer\"", "streamer\"\nmax_peers = 5000")
    );
    let e = err(&two);
    assert!(e.starts_with("z.toml:9: the 2 devices need "), "{e}");
    assert!(e.contains(", more than memory_max 8 MiB: "), "{e}");
    let per_peer = SLOT_BYTES + CONNECTION_BYTES;
    let cost = Mib(10_000 * per_peer);
    assert!(
        e.ends_with(&format!(
            "lower max_peers on device \"b\" (5000 peers per side cost {cost}, {per_peer} B \
             for each on either side) or raise memory_max"
        )),
        "{e}"
    );
    let e = err(&format!("{ONE}max_peers = 100000000\n"));
    assert!(e.starts_with("z.toml:2: device \"a\" needs "), "{e}");
    // Raised far enough, the same device fits.
    let e = err(&format!("{ONE}max_peers = 10000000\n"));
    assert!(e.starts_with("z.toml:2: device \"a\" needs "), "{e}");
    let cfg = ok(&format!(
        "memory_max = \"200G\"\n{ONE}max_peers = 10000000\n"
    ));
    assert_eq!(cfg.memory.devices[0].peer_slots, 20_000_000);
}
