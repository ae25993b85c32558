//! The command line by itself: what each flag sets, and the one-line usage errors.

use super::*;

use zedge_core::device::Kind;

use zedge_core::conn::Heartbeat;
use zedge_core::time::Duration;

fn run(args: &[&str]) -> Result<Options, UsageError> {
    match parse(args.iter().map(OsString::from))? {
        Command::Device(o) => Ok(*o),
        other => panic!("{other:?}"),
    }
}

fn err(args: &[&str]) -> String {
    run(args).expect_err("should fail").0
}

#[test]
fn defaults() {
    let o = run(&["streamer"]).unwrap();
    let (s, t) = (&o.setup, &o.setup.tuning);
    assert_eq!(s.kind, Kind::Streamer);
    assert_eq!(
        s.frontends,
        vec![Endpoint::parse("tcp://127.0.0.1:5559").unwrap()]
    );
    assert_eq!(
        s.backends,
        vec![Endpoint::parse("tcp://127.0.0.1:5560").unwrap()]
    );
    assert_eq!(t.max_msg_size, 64 << 20);
    assert_eq!(t.queue_hwm, 1 << 20);
    assert_eq!((t.max_peers, t.max_subscriptions), (1024, 4096));
    assert_eq!(t.max_splices, 32);
    assert_eq!((t.max_peers_per_address, t.max_handshaking), (256, 64));
    assert_eq!(t.max_subscriptions_per_peer, 1024);
    assert_eq!(
        (t.store_forward_max, t.progress_timeout_ms),
        (1 << 20, 5000)
    );
    assert_eq!(o.process, Process::default());
    let cfg = o.setup.device_config();
    assert_eq!(
        cfg.heartbeat,
        Heartbeat::every(Duration::from_millis(10_000))
    );
    assert_eq!(cfg.handshake_timeout, Duration::from_millis(10_000));
}

#[test]
fn everything() {
    let o = run(&[
        "-vv",
        "forwarder",
        "--classic",
        "--frontend",
        "tcp://127.0.0.1:1",
        "--frontend=>tcp://[::1]:2",
        "--backend",
        "ipc:///tmp/b.ipc",
        "--max-msg-size",
        "1M",
        "--queue-hwm=256k",
        "--max-peers",
        "10",
        "--max-subscriptions",
        "0",
        "--heartbeat-ivl",
        "1000",
        "--heartbeat-timeout",
        "2500",
        "--handshake-timeout",
        "500",
        "--max-peers-per-address",
        "5",
        "--max-handshaking=6",
        "--store-forward-max",
        "256K",
        "--progress-timeout",
        "1s",
        "--memory-max",
        "64M",
    ])
    .unwrap();
    assert_eq!(o.setup.kind, Kind::Forwarder { classic: true });
    let t = o.setup.tuning;
    assert_eq!((t.max_peers_per_address, t.max_handshaking), (5, 6));
    assert_eq!(
        (t.store_forward_max, t.progress_timeout_ms),
        (256 << 10, 1000)
    );
    assert_eq!(
        t.max_subscriptions_per_peer, 0,
        "follows max_subscriptions down"
    );
    assert_eq!(o.process.memory_max, 64 << 20);
    assert_eq!(o.setup.frontends.len(), 2);
    assert_eq!(o.setup.backends[0].to_string(), "ipc:///tmp/b.ipc");
    assert_eq!(o.verbosity, 2);
    let cfg = o.setup.device_config();
    assert_eq!(cfg.limits.max_message_size, 1 << 20);
    assert_eq!(cfg.queue_hwm, 256 << 10);
    assert_eq!(cfg.heartbeat.interval, Duration::from_millis(1000));
    assert_eq!(cfg.heartbeat.timeout, Duration::from_millis(2500));
    assert_eq!(cfg.handshake_timeout, Duration::from_millis(500));
}

#[test]
fn durations_take_a_unit_and_a_bare_number_is_milliseconds() {
    let o = run(&[
        "queue",
        "--heartbeat-ivl",
        "5s",
        "--heartbeat-timeout=2m",
        "--handshake-timeout",
        "500",
        "--max-splices",
        "0",
    ])
    .unwrap();
    let t = o.setup.tuning;
    assert_eq!(t.heartbeat_ivl_ms, 5000);
    assert_eq!(t.heartbeat_timeout_ms, Some(120_000));
    assert_eq!(t.handshake_timeout_ms, 500);
    assert_eq!(t.max_splices, 0);
    let t = run(&["queue", "--handshake-timeout", "500ms"])
        .unwrap()
        .setup
        .tuning;
    assert_eq!(t.handshake_timeout_ms, 500);
}

#[test]
fn heartbeat_timeout_defaults_to_three_intervals() {
    let cfg = run(&["queue", "--heartbeat-ivl", "200"])
        .unwrap()
        .setup
        .device_config();
    assert_eq!(cfg.heartbeat.timeout, Duration::from_millis(600));
}

#[test]
fn help_and_version() {
    let p = |a: &[&str]| parse(a.iter().map(OsString::from)).unwrap();
    assert!(matches!(p(&["--help"]), Command::Help(Page::Main)));
    assert!(matches!(p(&["queue", "-h"]), Command::Help(Page::Main)));
    assert!(matches!(p(&["--version"]), Command::Version));
    for d in [
        "64M", "1M", "1024", "4096", "10000", "3 * ivl", "10s", "256M",
    ] {
        assert!(Page::Main.text().contains(d), "{d}");
    }
}

/// pub, push and req connect to a device's frontend (5559 by default), sub, pull and rep to
/// its backend (5560); each client's page says which.
#[test]
fn each_client_page_names_the_side_it_connects_to() {
    for (command, side, port, other) in [
        ("pub", "frontend", "5559", "5560"),
        ("push", "frontend", "5559", "5560"),
        ("req", "frontend", "5559", "5560"),
        ("sub", "backend", "5560", "5559"),
        ("pull", "backend", "5560", "5559"),
        ("rep", "backend", "5560", "5559"),
    ] {
        let page = Page::ALL
            .into_iter()
            .find(|(c, _)| *c == command)
            .expect("a page")
            .1
            .text();
        let said = format!("EP is the device's {side}, which it binds (tcp://127.0.0.1:{port}");
        assert!(page.contains(&said), "{command}: {page}");
        assert!(!page.contains(other), "{command}: {page}");
    }
}

#[test]
fn each_command_has_its_page_by_help_and_by_its_own_help_option() {
    let p = |a: &[&str]| match parse(a.iter().map(OsString::from)) {
        Ok(Command::Help(page)) => page,
        other => panic!("{a:?}: {other:?}"),
    };
    assert_eq!(p(&["help"]), Page::Main);
    for (command, page) in Page::ALL.into_iter().skip(1) {
        assert_eq!(p(&["help", command]), page);
        let usage = format!("Usage: zedge {command}");
        assert!(page.text().starts_with(&usage), "{command}");
    }
    assert_eq!(p(&["run", "--help"]), Page::Run);
    assert_eq!(p(&["run", "--config", "x.toml", "-h"]), Page::Run);
    assert_eq!(p(&["check-config", "--help"]), Page::CheckConfig);
    assert_eq!(p(&["stat", "--help"]), Page::Stat);
    assert_eq!(p(&["peers", "-h"]), Page::Peers);
    assert_eq!(p(&["keygen", "--help"]), Page::Keygen);
    assert_eq!(p(&["help", "streamer"]), Page::Main);
    assert_eq!(p(&["forwarder", "--help"]), Page::Main);
    let e = |a: &[&str]| {
        parse(a.iter().map(OsString::from))
            .expect_err("should fail")
            .0
    };
    assert_eq!(
        e(&["help", "stats"]),
        "no help for 'stats'; did you mean stat?; the commands are forwarder, queue, \
         streamer, run, check-config, sub, pub, push, pull, req, rep, stat, peers, keygen, help"
    );
}

#[test]
fn a_mistyped_option_or_command_is_answered_with_what_was_meant() {
    assert_eq!(
        err(&["queue", "--fronted", "tcp://*:1"]),
        "unknown option '--fronted'; did you mean --frontend?; see zedge --help"
    );
    assert_eq!(
        err(&["queue", "-frontend", "tcp://*:1"]),
        "unknown option '-f' (in '-frontend'); long options take two dashes: --frontend; see \
         zedge --help"
    );
    assert_eq!(
        err(&["queue", "-max-peers=3"]),
        "unknown option '-m' (in '-max-peers=3'); long options take two dashes: --max-peers; \
         see zedge --help"
    );
    assert_eq!(
        err(&["queue", "--curve-secrets", "x"]),
        "unknown option '--curve-secrets'; did you mean --curve-secret?; see zedge --help"
    );
    let e = |a: &[&str]| {
        parse(a.iter().map(OsString::from))
            .expect_err("should fail")
            .0
    };
    assert_eq!(
        e(&["stat", "--wacth"]),
        "unknown option '--wacth'; did you mean --watch?; see zedge stat --help"
    );
    assert_eq!(
        e(&["run", "--confg", "x"]),
        "unknown option '--confg'; did you mean --config?; see zedge run --help"
    );
    // run takes no device options: none is suggested to it.
    assert_eq!(
        e(&["run", "-frontend", "tcp://*:1"]),
        "unknown option '-f' (in '-frontend'); see zedge run --help"
    );
    assert_eq!(
        e(&["check-config", "--verbos"]),
        "unknown option '--verbos'; did you mean --verbose?; see zedge check-config --help"
    );
    assert_eq!(
        err(&["forwader"]),
        "unknown device 'forwader'; did you mean forwarder?; expected one of forwarder, \
         queue, streamer (or run, check-config; see zedge --help)"
    );
    assert!(err(&["router"]).starts_with("unknown device 'router'; expected"));
    // A mistyped command with its arguments is named, not its first argument.
    assert_eq!(
        e(&["sbu", "tcp://127.0.0.1:5560", "topic"]),
        "unknown device 'sbu'; did you mean sub?; expected one of forwarder, queue, streamer \
         (or run, check-config; see zedge --help)"
    );
    assert!(e(&["fowarder", "--frontend", "tcp://*:1"])
        .starts_with("unknown device 'fowarder'; did you mean forwarder?"));
}

/// The test clients: a hint names the port their side of a default device listens on;
/// `--rate` only for those that send; a topic no device takes is refused before connecting.
#[test]
fn client_usage_errors_say_what_fits() {
    let e = |a: &[&str]| {
        parse(a.iter().map(OsString::from))
            .expect_err("should fail")
            .0
    };
    assert_eq!(
        e(&["pub"]),
        "pub needs an endpoint, e.g. zedge pub tcp://127.0.0.1:5559; see zedge pub --help"
    );
    assert_eq!(
        e(&["sub"]),
        "sub needs an endpoint, e.g. zedge sub tcp://127.0.0.1:5560; see zedge sub --help"
    );
    for tool in ["sub", "pull", "rep"] {
        assert_eq!(
            e(&[tool, "--rate", "5", "tcp://127.0.0.1:5560"]),
            format!(
                "{tool} --rate: only pub, push and req send at a rate; {tool} takes what comes"
            )
        );
    }
    for tool in ["pub", "push", "req"] {
        assert!(parse(
            [tool, "--rate", "5", "tcp://127.0.0.1:5559"]
                .iter()
                .map(OsString::from)
        )
        .is_ok());
    }
    let most = "t".repeat(16 << 10);
    assert!(parse(
        ["sub", "tcp://127.0.0.1:5560", &most]
            .iter()
            .map(OsString::from)
    )
    .is_ok());
    let over = format!("{most}t");
    assert_eq!(
        e(&["sub", "tcp://127.0.0.1:5560", "a", &over]),
        "sub: a topic of 16385 bytes; a device takes topics of at most 16 KiB (16384 bytes)"
    );
}

#[test]
fn an_address_bound_twice_is_refused_before_anything_is_bound() {
    assert_eq!(
        err(&[
            "queue",
            "--frontend",
            "tcp://*:7000",
            "--backend",
            "tcp://127.0.0.1:7000"
        ]),
        "--backend tcp://127.0.0.1:7000: --frontend tcp://*:7000 binds this address already; \
         bind each address in one place only"
    );
    assert_eq!(
        err(&[
            "streamer",
            "--backend",
            "ipc:///tmp/z",
            "--capture",
            "ipc:///tmp/z"
        ]),
        "--capture ipc:///tmp/z: --backend ipc:///tmp/z binds this address already; bind each \
         address in one place only"
    );
    assert!(run(&[
        "queue",
        "--frontend",
        "tcp://*:7000",
        "--backend",
        ">tcp://h:7000"
    ])
    .is_ok());
    assert!(run(&[
        "queue",
        "--frontend",
        "tcp://[::1]:7000",
        "--backend",
        "tcp://127.0.0.1:7000"
    ])
    .is_ok());
}

#[test]
fn usage_errors_are_one_clear_line() {
    assert_eq!(
        err(&["queue", "--bogus"]),
        "unknown option '--bogus'; see zedge --help"
    );
    assert_eq!(err(&["queue", "--frontend"]), "--frontend needs a value");
    assert!(err(&["queue", "--frontend", "tcp://x"]).starts_with("bad endpoint 'tcp://x'"));
    assert!(err(&["router"]).starts_with("unknown device 'router'"));
    assert!(err(&[]).starts_with("which device?"));
    assert!(err(&["queue", "extra"]).starts_with("unexpected argument 'extra'"));
    assert_eq!(
        err(&["queue", "--classic"]),
        "--classic: applies to forwarders only, and this device is a queue; remove it"
    );
    assert!(err(&["queue", "--max-msg-size", "12X"]).contains("not \"12X\""));
    assert!(err(&["queue", "--max-peers", "-1"]).contains("whole number"));
    assert!(err(&["queue", "--max-peers", "0"]).contains("at least 1"));
    assert!(err(&["queue", "--heartbeat-ivl", "1 hour"]).contains("a duration"));
    assert!(err(&["queue", "--max-peers", "100000000"]).starts_with("the settings need "));
    assert!(err(&["queue", "--memory-max", "1"])
        .ends_with("or raise --memory-max (a number without a unit is bytes: \"1M\" is 1 MiB)"));
    for args in [
        &["queue", "--bogus"][..],
        &["queue", "--frontend", "tcp://x"],
    ] {
        assert!(!err(args).contains('\n'));
    }
}

#[test]
fn config_file_commands() {
    let p = |a: &[&str]| parse(a.iter().map(OsString::from));
    match p(&["run", "--config", "/etc/zedge/zedge.toml", "-v"]).unwrap() {
        Command::Run { config, verbosity } => {
            assert_eq!(config, PathBuf::from("/etc/zedge/zedge.toml"));
            assert_eq!(verbosity, 1);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        p(&["run", "-c", "z.toml"]).unwrap(),
        Command::Run { .. }
    ));
    match p(&["check-config", "z.toml"]).unwrap() {
        Command::CheckConfig(f) => assert_eq!(f, PathBuf::from("z.toml")),
        other => panic!("{other:?}"),
    }
    let e = |a: &[&str]| p(a).expect_err("should fail").0;
    assert!(e(&["run"]).starts_with("run needs --config FILE"));
    assert!(e(&["check-config"]).starts_with("check-config needs a file"));
    assert!(e(&["check-config", "a", "b"]).starts_with("unexpected argument 'b'"));
    assert!(e(&["run", "--config", "z", "--max-peers", "5"])
        .starts_with("--max-peers is for a device on the command line"));
    assert_eq!(
        e(&["check-config", "z", "--memory-max", "1G"]),
        "--memory-max is for a device on the command line; with a config file, set \
         memory_max at the top of the file"
    );
    assert!(e(&["queue", "--config", "z"]).starts_with("--config goes with run"));
}

#[test]
fn a_test_client_takes_an_endpoint_its_arguments_and_options() {
    let c = |a: &[&str]| match parse(a.iter().map(OsString::from)) {
        Ok(Command::Client(o)) => *o,
        other => panic!("{a:?}: {other:?}"),
    };
    let o = c(&[
        "sub",
        "tcp://127.0.0.1:5560",
        "a/",
        "b/",
        "-n",
        "3",
        "-d",
        "|",
    ]);
    assert_eq!(o.tool, Tool::Sub);
    assert_eq!(o.endpoint.with_mode(), ">tcp://127.0.0.1:5560");
    assert_eq!(
        (o.args.as_slice(), o.count),
        (&["a/".to_owned(), "b/".to_owned()][..], Some(3))
    );
    assert_eq!(o.delimiter, "|");
    let o = c(&[
        "pub",
        ">ipc:///run/zedge/x.ipc",
        "t",
        "m",
        "--rate",
        "2.5",
        "--format",
        "hex",
    ]);
    assert_eq!((o.rate, o.format), (Some(2.5), Format::Hex));
    let o = c(&[
        "req",
        "tcp://h:1",
        "x",
        "--timeout",
        "2s",
        "--max-msg-size",
        "1M",
    ]);
    assert_eq!((o.timeout.as_millis(), o.max_msg_size), (2000, 1 << 20));
    assert_eq!(c(&["pull", "tcp://h:1"]).delimiter, "\t");
    let e = |a: &[&str]| {
        parse(a.iter().map(OsString::from))
            .expect_err("should fail")
            .0
    };
    assert_eq!(
        e(&["sub"]),
        "sub needs an endpoint, e.g. zedge sub tcp://127.0.0.1:5560; see zedge sub --help"
    );
    assert_eq!(
        e(&["rep", "@tcp://*:5562"]),
        "rep @tcp://*:5562: a test client connects; give the address a device binds, without @"
    );
    assert_eq!(
        e(&["pull", "tcp://*:5560"]),
        "pull tcp://*:5560: cannot connect to '*'; name the host (127.0.0.1 for this one)"
    );
    assert_eq!(
        e(&["pull", "tcp://h:1", "x"]),
        "pull: too many arguments; see zedge pull --help"
    );
    assert_eq!(
        e(&["pub", "tcp://h:1", "t", "m", "x"]),
        "pub: too many arguments; see zedge pub --help"
    );
    assert_eq!(
        e(&["push", "tcp://h:1", "--format", "bin"]),
        "push --format bin: expected text, hex or z85"
    );
    assert_eq!(
        e(&["push", "tcp://h:1", "--rate", "0"]),
        "push --rate 0: expected messages a second, above 0"
    );
    assert_eq!(
        e(&["push", "tcp://h:1", "-d", ""]),
        "push --delimiter: give at least one character"
    );
    assert_eq!(
        e(&["push", "tcp://h:1", "--curve-secret", "x"]),
        "push --curve-secret goes with --curve-server-key (the server's public key)"
    );
    assert!(e(&["push", "tcp://h:1", "--curve-server-key", "nope"])
        .starts_with("push --curve-server-key: \"nope\" is neither a Z85 public key"));
    assert_eq!(
        e(&["sub", "tcp://h:1", "--cout", "3"]),
        "unknown option '--cout'; did you mean --count?; see zedge sub --help"
    );
}
