use zedge_core::device::Kind;

use super::*;
use crate::setup::{Opt, Tuning};

pub(super) fn ok(text: &str) -> Config {
    parse(text, "z.toml").unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn err(text: &str) -> String {
    parse(text, "z.toml")
        .expect_err("should be refused")
        .to_string()
}

pub(super) const ONE: &str = r#"
[[device]]
name = "a"
kind = "streamer"
frontend = "tcp://*:7001"
backend = ["tcp://*:7002"]
"#;

/// Each key sets its own option: a value it cannot take is reported under that key.
#[test]
fn each_key_sets_its_own_option() {
    for opt in Opt::DEVICE {
        let e = err(&format!("{ONE}{} = []\n", opt.key()));
        let want = format!("z.toml:7: device \"a\": key \"{}\": expected ", opt.key());
        assert!(e.starts_with(&want), "{e}");
    }
    for opt in Opt::PROCESS {
        let e = err(&format!("# top\n{} = []\n{ONE}", opt.key()));
        let want = format!("z.toml:2: key \"{}\": expected ", opt.key());
        assert!(e.starts_with(&want), "{e}");
    }
}

#[test]
fn everything_a_device_can_set() {
    let cfg = ok(r#"
memory_max = "64M"

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
max_peers_per_address = 2
handshake_rate_per_address = 7
max_handshaking = 3
max_subscriptions = 100
max_subscriptions_per_peer = 50
upstream_rate = "64K"
upstream_burst = 0
store_forward_max = "128K"
progress_timeout = "2s"
heartbeat_ivl = "1s"
heartbeat_timeout = 2500
handshake_timeout = "500ms"
kernel_send_max = "16K"
legacy = false
last_value = true
last_value_max_topics = 500
last_value_max_bytes = "2M"
last_value_ttl = "10m"
last_value_prefix = 12

[[device]]
name = "jobs"
kind = "queue"
frontend = "tcp://127.0.0.1:7001"
backend = "tcp://127.0.0.1:7002"
max_splices = 0
client_stall = "1500ms"
worker_inflight = 0
splice_stall = 5
kernel_send_max = 0
"#);
    assert_eq!(cfg.log_level, Some(LevelFilter::Debug));
    assert_eq!(cfg.process.memory_max, 64 << 20);
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
            max_peers_per_address: 2,
            max_handshaking: 3,
            handshake_rate_per_address: 7,
            max_subscriptions: 100,
            max_subscriptions_per_peer: 50,
            upstream_rate: 64 << 10,
            upstream_burst: 0,
            max_splices: Tuning::default().max_splices,
            store_forward_max: 128 << 10,
            progress_timeout_ms: 2000,
            heartbeat_ivl_ms: 1000,
            heartbeat_timeout_ms: Some(2500),
            handshake_timeout_ms: 500,
            client_stall_ms: 250,
            worker_inflight: 1000,
            splice_stall_ms: 20,
            kernel_send_max: 16 << 10,
            legacy: false,
            last_value: true,
            last_value_max_topics: 500,
            last_value_max_bytes: 2 << 20,
            last_value_ttl_ms: 600_000,
            last_value_prefix: 12,
            ..Tuning::default()
        }
    );
    // The forwarder never splices: max_splices is a queue's and a streamer's.
    let jobs = &cfg.devices[1].tuning;
    assert_eq!(jobs.max_splices, 0);
    assert_eq!((jobs.client_stall_ms, jobs.splice_stall_ms), (1500, 5));
    assert_eq!(jobs.worker_inflight, 0);
    assert_eq!(jobs.kernel_send_max, 0, "0: the kernel's own limit");
    assert!(jobs.legacy, "legacy peers are spoken to unless turned off");
}

#[test]
fn errors_name_file_line_device_and_key_and_what_is_expected() {
    let cases: &[(&str, &str)] = &[
        (
            "kind = \"router\"",
            "z.toml:4: device \"a\": key \"kind\": expected one of forwarder, queue, streamer, not \"router\"",
        ),
        (
            "kind = \"forwader\"",
            "z.toml:4: device \"a\": key \"kind\": expected one of forwarder, queue, streamer, not \"forwader\"; did you mean forwarder?",
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
            "heartbeat_ivl = 0\nheartbeat_timeout = 100",
            "z.toml:8: device \"a\": key \"heartbeat_timeout\": only applies with heartbeats on; set heartbeat_ivl too",
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
            "z.toml:7: device \"a\": unknown key \"frontends\"; did you mean frontend?; expected one of name, kind, classic, frontend, backend, control, capture, max_msg_size, queue_hwm, max_peers, max_peers_per_address, max_handshaking, handshake_rate_per_address, max_subscriptions, max_subscriptions_per_peer, upstream_rate, upstream_burst, max_splices, store_forward_max, progress_timeout, heartbeat_ivl, heartbeat_timeout, handshake_timeout, client_stall, worker_inflight, splice_stall, kernel_send_max, legacy, last_value, last_value_max_topics, last_value_max_bytes, last_value_ttl, last_value_prefix, spool, spool_max, spool_fsync, spool_rate, curve_secret, curve_allow, curve_server_key, curve_sides, plain_passwords, plain_anywhere",
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

/// An integer over 64 bits (the parser reads up to 128, and refuses larger ones in its own
/// words) is answered as every other bad value is: what the key expects, and the value as
/// written.
#[test]
fn integers_over_64_bits_read_as_the_keys_own_error() {
    let bytes = "expected bytes, like 65536, \"64K\" or \"64M\", not";
    let cases = [
        (
            "queue_hwm = 99999999999999999999999".to_owned(),
            format!("z.toml:7: device \"a\": key \"queue_hwm\": {bytes} 99999999999999999999999"),
        ),
        (
            "heartbeat_ivl = -1_000_000_000_000_000_000_000".to_owned(),
            "z.toml:7: device \"a\": key \"heartbeat_ivl\": expected a duration, like 500 (milliseconds), \"500ms\", \"5s\" or \"2m\", not -1_000_000_000_000_000_000_000".to_owned(),
        ),
        (
            format!("max_peers = 0x{}", "f".repeat(40)),
            format!("z.toml:7: device \"a\": key \"max_peers\": expected a whole number, not 0x{}", "f".repeat(40)),
        ),
        (
            format!("store_forward_max = {}", "9".repeat(50)),
            format!("z.toml:7: device \"a\": key \"store_forward_max\": {bytes} {}", "9".repeat(50)),
        ),
    ];
    for (extra, want) in &cases {
        assert_eq!(&err(&format!("{ONE}{extra}\n")), want, "for {extra}");
    }
    let e = err(&format!("memory_max = 99999999999999999999999\n{ONE}"));
    assert_eq!(
        e,
        format!("z.toml:1: key \"memory_max\": {bytes} 99999999999999999999999")
    );
    // Keys that take no integer at all say what they take.
    let e = err(&ONE.replace("\"streamer\"", "99999999999999999999999"));
    assert_eq!(
        e,
        "z.toml:4: device \"a\": key \"kind\": expected one of forwarder, queue, streamer, not 99999999999999999999999"
    );
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
        "z.toml:8: unknown key \"logging\"; expected one of device, log, metrics, memory_max"
    );
    let e = err(&format!("{ONE}\n[logs]\nlevel = \"info\"\n"));
    assert_eq!(
        e,
        "z.toml:8: unknown key \"logs\"; did you mean log?; expected one of device, log, \
         metrics, memory_max"
    );
    let e = err(&ONE.replace("[[device]]", "[device]"));
    assert_eq!(
        e,
        "z.toml:2: [device]: write [[device]] (two brackets): each device is a table of the \
         list of devices"
    );
    let e = err(&format!("{ONE}memory_max = \"1G\"\n"));
    assert_eq!(
        e,
        "z.toml:7: device \"a\": unknown key \"memory_max\" here: it is the whole process's; \
         write it at the top of the file, before any [table]"
    );
    let e = err(&format!("[log]\nmemory_max = \"1G\"\n{ONE}"));
    assert_eq!(
        e,
        "z.toml:2: [log]: unknown key \"memory_max\" here: it is the whole process's; write \
         it at the top of the file, before any [table]"
    );
    let e = err(&format!("[log]\nlevel = \"loud\"\n{ONE}"));
    assert_eq!(
        e,
        "z.toml:2: [log]: key \"level\": expected one of error, warn, info, debug, trace, off, not \"loud\""
    );
    let e = err(&format!("[log]\nlevel = \"wran\"\n{ONE}"));
    assert_eq!(
        e,
        "z.toml:2: [log]: key \"level\": expected one of error, warn, info, debug, trace, off, not \"wran\"; did you mean warn?"
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
fn metrics_listen_on_loopback_unless_told_and_a_bad_address_is_refused_at_its_line() {
    assert_eq!(ok(ONE).process.metrics, None);
    let on = ok(&format!("[metrics]\n{ONE}"));
    assert_eq!(on.process.metrics, Some(crate::metrics::default_listen()));
    let there = ok(&format!("[metrics]\nlisten = \"[::1]:9100\"\n{ONE}"));
    assert_eq!(there.process.metrics, Some("[::1]:9100".parse().unwrap()));
    let e = err(&format!("[metrics]\nlisten = \"localhost\"\n{ONE}"));
    assert!(
        e.starts_with("z.toml:2: [metrics] key \"listen\": expected an address and port"),
        "{e}"
    );
    let e = err(&format!("[metrics]\nport = 1\n{ONE}"));
    assert!(e.contains("unknown key \"port\""), "{e}");
}

#[test]
fn a_control_endpoint_binds_its_own_address() {
    let ok_cfg = ok(&format!("{ONE}control = \"ipc:///run/zedge/a-ctl.ipc\"\n"));
    assert_eq!(
        ok_cfg.devices[0].control.as_ref().map(|e| e.to_string()),
        Some("ipc:///run/zedge/a-ctl.ipc".to_owned())
    );
    let e = err(&format!("{ONE}control = \"tcp://*:7002\"\n"));
    assert!(
        e.starts_with("z.toml:7: device \"a\": key \"control\": tcp://*:7002 is bound already"),
        "{e}"
    );
}

/// A config file `main` in a directory of its own, with `drop_ins` (name, text) in its
/// `conf.d`: the path of the main file.
fn with_drop_ins(tag: &str, main: &str, drop_ins: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("zedge-dropins-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("conf.d")).expect("mkdir");
    let path = dir.join("zedge.toml");
    std::fs::write(&path, main).expect("write the main file");
    for (name, text) in drop_ins {
        std::fs::write(dir.join("conf.d").join(name), text).expect("write a drop-in");
    }
    path
}

const DROPPED: &str = r#"
[[device]]
name = "b"
kind = "forwarder"
frontend = "tcp://*:7003"
backend = "tcp://*:7004"
"#;

/// Drop-ins in `conf.d` beside the file are read after it, in the order of their names: they
/// add devices, and their process options, [log] and [metrics] replace the main file's.
/// Files not named *.toml, and hidden ones, are not read.
#[test]
fn drop_ins_are_read_after_the_main_file_in_name_order() {
    let path = with_drop_ins(
        "order",
        &format!("memory_max = \"128M\"\n[log]\nlevel = \"warn\"\n{ONE}"),
        &[
            ("20-log.toml", "[log]\nlevel = \"debug\"\n"),
            ("10-b.toml", &format!("memory_max = \"200M\"\n{DROPPED}")),
            ("README", "not toml at all ["),
            (".30-hidden.toml", "not toml either ["),
            ("40-b.toml.dpkg-old", "nor this ["),
        ],
    );
    let cfg = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = cfg.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(cfg.process.memory_max, 200 << 20, "the drop-in's");
    assert_eq!(
        cfg.log_level,
        Some(LevelFilter::Debug),
        "the last drop-in's"
    );
    let dir = drop_in_dir(&path);
    let read: Vec<String> = ["10-b.toml", "20-log.toml"]
        .iter()
        .map(|n| dir.join(n).display().to_string())
        .collect();
    assert_eq!(cfg.drop_ins, read);
    let summary = summary(&cfg, &path.display().to_string(), false);
    let first = summary.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("{} with {}: ok, 2 devices", path.display(), read.join(", "))
    );
    // Without a conf.d, the file alone.
    std::fs::remove_dir_all(&dir).expect("rm conf.d");
    let cfg = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.devices.len(), 1);
    assert!(cfg.drop_ins.is_empty());
}

/// A mistake in a drop-in is reported at its file and line; a device named in two files, or
/// an address bound in two, names both places.
#[test]
fn drop_in_mistakes_name_the_drop_in() {
    let path = with_drop_ins(
        "bad",
        ONE,
        &[("b.toml", "[[device]]\nname = \"b\"\nkind = \"x\"\n")],
    );
    let dropped = drop_in_dir(&path).join("b.toml").display().to_string();
    let e = load(&path).expect_err("a bad kind").to_string();
    assert!(e.starts_with(&format!("{dropped}:3: ")), "{e}");

    let twice = DROPPED.replace("\"b\"", "\"a\"");
    let path = with_drop_ins("twice", ONE, &[("b.toml", &twice)]);
    let main = path.display().to_string();
    let dropped = drop_in_dir(&path).join("b.toml").display().to_string();
    let e = load(&path).expect_err("a name twice").to_string();
    assert_eq!(
        e,
        format!(
            "{dropped}:3: device \"a\": key \"name\": the device at {main}:2 has this name \
             already; names must differ"
        )
    );

    let bound = DROPPED.replace("tcp://*:7003", "tcp://*:7002");
    let path = with_drop_ins("bound", ONE, &[("b.toml", &bound)]);
    let main = path.display().to_string();
    let dropped = drop_in_dir(&path).join("b.toml").display().to_string();
    let e = load(&path).expect_err("an address twice").to_string();
    assert_eq!(
        e,
        format!(
            "{dropped}:5: device \"b\": key \"frontend\": tcp://*:7002 is bound already by \
             device \"a\" ({main}:6); bind each address in one place only"
        )
    );

    // A drop-in alone may hold every device: the main file then has none of its own.
    let path = with_drop_ins("only", "memory_max = \"64M\"\n", &[("a.toml", ONE)]);
    assert_eq!(
        load(&path).unwrap_or_else(|e| panic!("{e}")).devices.len(),
        1
    );
}

/// A config file or drop-in is a regular file of at most [`MAX_FILE`] bytes: `/dev/zero` is
/// not read for ever, a FIFO not waited on, a huge file not read whole; each says why.
#[test]
fn only_regular_files_of_at_most_a_mebibyte_are_read() {
    let e = load(Path::new("/dev/zero"))
        .expect_err("a device")
        .to_string();
    assert_eq!(
        e,
        "/dev/zero: the config file is not a regular file (a device, FIFO or socket); give a \
         TOML file"
    );
    let e = load(Path::new("/")).expect_err("a directory").to_string();
    assert_eq!(e, "/: the config file is a directory; give a TOML file");

    let path = with_drop_ins("big", "", &[]);
    let mut big = format!("{ONE}#");
    big.push_str(&"x".repeat(usize::try_from(MAX_FILE).unwrap() - big.len()));
    std::fs::write(&path, &big).expect("write");
    assert_eq!(load(&path).expect("1 MiB exactly").devices.len(), 1);
    big.push('x');
    std::fs::write(&path, &big).expect("write");
    let e = load(&path).expect_err("over 1 MiB").to_string();
    assert_eq!(
        e,
        format!(
            "{}: the config file is larger than 1024 KiB, the most zedge reads; is it the right \
             file?",
            path.display()
        )
    );

    let path = with_drop_ins("fifo", ONE, &[]);
    let fifo = drop_in_dir(&path).join("b.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let e = load(&path).expect_err("a FIFO").to_string();
    assert_eq!(
        e,
        format!(
            "{}: the drop-in is not a regular file (a device, FIFO or socket); give a TOML file",
            fifo.display()
        )
    );
}

#[test]
fn a_streamer_keeps_a_spool_in_a_directory_of_its_own() {
    let cfg = ok(&format!(
        "{ONE}spool = \"/var/lib/zedge/a\"\nspool_max = \"64M\"\nspool_fsync = \"250ms\"\n\
         spool_rate = \"1M\"\n"
    ));
    let d = &cfg.devices[0];
    assert_eq!(
        d.spool.as_deref(),
        Some(std::path::Path::new("/var/lib/zedge/a"))
    );
    assert!(d.has_spool());
    assert_eq!(
        (
            d.tuning.spool_max,
            d.tuning.spool_fsync_ms,
            d.tuning.spool_rate
        ),
        (64 << 20, 250, 1 << 20)
    );
    let shown = super::summary(&cfg, "z.toml", false);
    assert!(
        shown.contains(
            "    spool     /var/lib/zedge/a (at most 64 MiB, synced every 250 ms, sent at most \
             1 MiB/s)\n"
        ),
        "{shown}"
    );
    // Its two peers have slots of their own.
    assert_eq!(d.peer_slots(), 2 * d.tuning.max_peers + 2);
    let e = err(&format!("{ONE}spool = \"\"\n"));
    assert!(e.contains("key \"spool\": expected a path"), "{e}");
    let e = err(&format!("{ONE}spool = \"/s\"\nspool_max = \"1M\"\n"));
    assert!(
        e.contains("key \"spool_max\": must be at least 2097152"),
        "{e}"
    );
    let e = err(&format!("{ONE}spool = \"/s\"\nspool_fsync = 0\n"));
    assert!(
        e.contains("key \"spool_fsync\": must be at least 10"),
        "{e}"
    );
    let queue = ONE.replace("streamer", "queue");
    let e = err(&format!("{queue}spool = \"/s\"\n"));
    assert!(
        e.contains("applies to streamers and forwarders only, and this device is a queue"),
        "{e}"
    );
    let two = format!(
        "{ONE}spool = \"/s\"\n{}spool = \"/s\"\n",
        ONE.replace("\"a\"", "\"b\"").replace("700", "710")
    );
    let e = err(&two);
    assert!(e.contains("/s is the spool of device \"a\" already"), "{e}");
}
