use zedge_core::device::Kind;

use super::*;
use crate::setup::{kind_name, Opt, Tuning};

/// The example and default config shipped in the package.
const BOARD: &str = include_str!("../../../board/zedge.toml");

fn ok(text: &str) -> Config {
    parse(text, "z.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> String {
    parse(text, "z.toml")
        .expect_err("should be refused")
        .to_string()
}

const ONE: &str = r#"
[[device]]
name = "a"
kind = "streamer"
frontend = "tcp://*:7001"
backend = ["tcp://*:7002"]
"#;

#[test]
fn the_shipped_config_is_valid_and_runs_what_it_says() {
    let cfg = ok(BOARD);
    let names: Vec<&str> = cfg.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["telemetry", "rpc"]);
    let t = &cfg.devices[0];
    assert_eq!(t.kind, Kind::Forwarder { classic: false });
    assert_eq!(t.tuning, Tuning::default());
    assert_eq!(t.backends[1].to_string(), "ipc:///run/zedge/telemetry.ipc");
    assert_eq!(cfg.devices[1].kind, Kind::Queue);
    assert_eq!(cfg.devices[1].tuning.heartbeat_ivl_ms, 5000);
    assert_eq!(cfg.log_level, None);
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
    assert_eq!(all.log_level, Some(LevelFilter::Warn));
}

/// Every key a device accepts is documented in the shipped file.
#[test]
fn the_shipped_config_documents_every_key() {
    let e = err(&format!("{ONE}zzz = 1\n"));
    let (_, keys) = e.split_once("expected one of ").expect(&e);
    for key in keys.split(", ") {
        let documented = BOARD
            .lines()
            .any(|l| l.trim_start_matches("# ").starts_with(&format!("{key} = ")));
        assert!(documented, "key {key:?} is not in board/zedge.toml");
    }
}

/// Each option's documented default, written into a device of a kind it applies to, is
/// `Tuning::default()`'s: the shipped file cannot drift from the code.
#[test]
fn each_documented_default_is_the_one_in_tuning_default() {
    for opt in Opt::ALL {
        let prefix = format!("# {} = ", opt.key());
        let value = BOARD
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("board/zedge.toml documents no default for {}", opt.key()));
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

/// Each key sets its own option: a value it cannot take is reported under that key.
#[test]
fn each_key_sets_its_own_option() {
    for opt in Opt::ALL {
        let e = err(&format!("{ONE}{} = []\n", opt.key()));
        let want = format!("z.toml:7: device \"a\": key \"{}\": expected ", opt.key());
        assert!(e.starts_with(&want), "{e}");
    }
}

#[test]
fn everything_a_device_can_set() {
    let cfg = ok(r#"
[log]
level = "debug"

[[device]]
name = "up-link.1"
kind = "forwarder"
classic = true
frontend = [">tcp://broker.example.net:5559", "ipc:///tmp/f.ipc"]
backend = "tcp://127.0.0.1:7000"
max_msg_size = 1048576
queue_hwm = "256K"
max_peers = 10
max_subscriptions = 0
heartbeat_ivl = "1s"
heartbeat_timeout = 2500
handshake_timeout = "500ms"

[[device]]
name = "jobs"
kind = "queue"
frontend = "tcp://127.0.0.1:7001"
backend = "tcp://127.0.0.1:7002"
max_splices = 0
"#);
    assert_eq!(cfg.log_level, Some(LevelFilter::Debug));
    let d = &cfg.devices[0];
    assert_eq!(d.kind, Kind::Forwarder { classic: true });
    assert_eq!(d.frontends[0].mode, Mode::Connect);
    assert_eq!(d.frontends.len(), 2);
    assert_eq!(
        d.tuning,
        Tuning {
            max_msg_size: 1 << 20,
            queue_hwm: 256 << 10,
            max_peers: 10,
            max_subscriptions: 0,
            max_splices: Tuning::default().max_splices,
            heartbeat_ivl_ms: 1000,
            heartbeat_timeout_ms: Some(2500),
            handshake_timeout_ms: 500,
        }
    );
    // The forwarder never splices: max_splices is a queue's and a streamer's.
    assert_eq!(cfg.devices[1].tuning.max_splices, 0);
}

#[test]
fn errors_name_file_line_device_and_key_and_what_is_expected() {
    let cases: &[(&str, &str)] = &[
        (
            "kind = \"router\"",
            "z.toml:4: device \"a\": key \"kind\": expected one of forwarder, queue, streamer, not \"router\"",
        ),
        (
            "kind = 3",
            "z.toml:4: device \"a\": key \"kind\": expected one of forwarder, queue, streamer, not 3",
        ),
        (
            "max_peers = \"many\"",
            "z.toml:7: device \"a\": key \"max_peers\": expected a whole number, not \"many\"",
        ),
        (
            "max_peers = -1",
            "z.toml:7: device \"a\": key \"max_peers\": expected a whole number, not -1",
        ),
        (
            "max_peers = 0",
            "z.toml:7: device \"a\": key \"max_peers\": must be at least 1 (peers)",
        ),
        (
            "max_msg_size = \"12X\"",
            "z.toml:7: device \"a\": key \"max_msg_size\": expected bytes, like 65536, \"64K\" or \"64M\", not \"12X\"",
        ),
        (
            "heartbeat_ivl = \"1 hour\"",
            "z.toml:7: device \"a\": key \"heartbeat_ivl\": expected a duration, like 500 (milliseconds), \"500ms\", \"5s\" or \"2m\", not \"1 hour\"",
        ),
        (
            "heartbeat_timeout = 100",
            "z.toml:7: device \"a\": key \"heartbeat_timeout\": only applies with heartbeats on; set heartbeat_ivl too",
        ),
        (
            "classic = true",
            "z.toml:7: device \"a\": key \"classic\": applies to forwarders only, and this device is a streamer; remove it",
        ),
        (
            "classic = \"yes\"",
            "z.toml:7: device \"a\": key \"classic\": expected a boolean, not \"yes\"",
        ),
        (
            "frontends = [\"tcp://*:1\"]",
            "z.toml:7: device \"a\": unknown key \"frontends\"; expected one of name, kind, classic, frontend, backend, max_msg_size, queue_hwm, max_peers, max_subscriptions, max_splices, heartbeat_ivl, heartbeat_timeout, handshake_timeout",
        ),
        (
            "name = \"b\"",
            "z.toml:7: device \"a\": key \"name\": this key is given twice; keep one",
        ),
    ];
    for (extra, want) in cases {
        // `kind` cases replace line 4; the others are appended as line 7.
        let text = if extra.starts_with("kind") {
            ONE.replace("kind = \"streamer\"", extra)
        } else {
            format!("{ONE}{extra}\n")
        };
        assert_eq!(&err(&text), want, "for {extra}");
    }
}

#[test]
fn endpoints_are_checked_where_they_are_written() {
    let e = err(&ONE.replace("tcp://*:7002", "tcp://*:0"));
    assert_eq!(
        e,
        "z.toml:6: device \"a\": key \"backend\": bad endpoint 'tcp://*:0': the port must be a number from 1 to 65535"
    );
    let e = err(&ONE.replace("[\"tcp://*:7002\"]", "[]"));
    assert_eq!(
        e,
        "z.toml:6: device \"a\": key \"backend\": needs at least one endpoint, like [\"tcp://*:5559\"]"
    );
    let e = err(&ONE.replace("[\"tcp://*:7002\"]", "7002"));
    assert_eq!(
        e,
        "z.toml:6: device \"a\": key \"backend\": expected a list of endpoints, like [\"tcp://*:5559\"], not 7002"
    );
}

#[test]
fn missing_and_misplaced_keys() {
    let e =
        err("[[device]]\nkind = \"queue\"\nfrontend = \"tcp://*:1\"\nbackend = \"tcp://*:2\"\n");
    assert_eq!(e, "z.toml:1: device #1: missing key \"name\"");
    let e = err(&ONE.replace("backend = [\"tcp://*:7002\"]\n", ""));
    assert_eq!(e, "z.toml:2: device \"a\": missing key \"backend\"");
    let e = err(&format!("{ONE}\n[logging]\nlevel = \"info\"\n"));
    assert_eq!(
        e,
        "z.toml:8: unknown key \"logging\"; expected device or log"
    );
    let e = err(&format!("[log]\nlevel = \"loud\"\n{ONE}"));
    assert_eq!(
        e,
        "z.toml:2: [log]: key \"level\": expected one of error, warn, info, debug, trace, off, not \"loud\""
    );
    let e = err("# nothing here\n");
    assert_eq!(
        e,
        "z.toml:1: no devices; add a [[device]] table with name, kind, frontend and backend"
    );
}

#[test]
fn syntax_errors_have_a_line() {
    let e = err(&format!("{ONE}max_peers = \n"));
    assert!(e.starts_with("z.toml:7: device \"a\": "), "{e}");
    assert!(e.contains("not valid TOML: "), "{e}");
    let e = err("[[device]\nname = \"a\"\n");
    assert!(e.starts_with("z.toml:1: not valid TOML: "), "{e}");
}

#[test]
fn names_must_be_plain_and_different() {
    let two = format!(
        "{ONE}{}",
        ONE.replace("7001", "7011").replace("7002", "7012")
    );
    assert_eq!(
        err(&two),
        "z.toml:9: device \"a\": key \"name\": the device at line 2 has this name already; names must differ"
    );
    assert_eq!(
        err(&ONE.replace("\"a\"", "\"my device\"")),
        "z.toml:3: device \"my device\": key \"name\": expected 1 to 32 letters, digits, '-', '_' or '.', not \"my device\""
    );
    assert_eq!(
        err(&ONE.replace("\"a\"", "\"\"")),
        "z.toml:3: device #1: key \"name\": expected 1 to 32 letters, digits, '-', '_' or '.', not \"\""
    );
}

#[test]
fn an_address_is_bound_in_one_place_only() {
    let clash = |a: &str, b: &str| {
        let two = format!(
            "{}{}",
            ONE.replace("tcp://*:7001", a),
            ONE.replace("\"a\"", "\"b\"")
                .replace("tcp://*:7001", b)
                .replace("7002", "7012")
        );
        parse(&two, "z.toml").err().map(|e| e.to_string())
    };
    assert_eq!(
        clash("tcp://*:5559", "tcp://*:5559").as_deref(),
        Some("z.toml:11: device \"b\": key \"frontend\": tcp://*:5559 is bound already by device \"a\" (line 5); bind each address in one place only")
    );
    assert!(clash("tcp://*:5559", "tcp://127.0.0.1:5559").is_some());
    assert!(clash("tcp://127.0.0.1:5559", "tcp://0.0.0.0:5559").is_some());
    assert!(clash("tcp://[::]:5559", "tcp://127.0.0.1:5559").is_some());
    assert!(clash("ipc:///run/zedge/x.ipc", "ipc:///run/zedge/x.ipc").is_some());
    assert!(clash("tcp://127.0.0.1:5559", "tcp://127.0.0.2:5559").is_none());
    assert!(clash("tcp://*:5559", "tcp://[::1]:5559").is_none());
    assert!(clash("tcp://*:5559", ">tcp://127.0.0.1:5559").is_none());
    assert!(clash("ipc:///run/zedge/x.ipc", "ipc:///run/zedge/y.ipc").is_none());
    // Within one device too.
    let e = err(&ONE.replace("[\"tcp://*:7002\"]", "[\"tcp://*:7002\", \"tcp://*:7002\"]"));
    assert!(e.contains("bound already by device \"a\" (line 6)"), "{e}");
}

#[test]
fn summary_lists_each_device() {
    let s = summary(&ok(BOARD), "/etc/zedge/zedge.toml");
    assert!(
        s.starts_with("/etc/zedge/zedge.toml: ok, 2 devices\n"),
        "{s}"
    );
    assert!(s.contains("  telemetry: forwarder\n"), "{s}");
    assert!(
        s.contains("    backend   tcp://*:5560 ipc:///run/zedge/telemetry.ipc\n"),
        "{s}"
    );
    assert!(
        s.contains("1024 peers, 64 MiB messages, 1 MiB per-peer queue"),
        "{s}"
    );
    assert!(
        s.contains("heartbeat PING every 5000 ms, timeout 15000 ms"),
        "{s}"
    );
}
