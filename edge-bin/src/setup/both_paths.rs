//! The shared check through both front ends: the same mistake on the command line and in a
//! config file meets the same check and the same words, only the place in front differs; the
//! same settings make the same device.

use std::ffi::OsString;

use super::{DeviceSetup, Opt};
use crate::cli::{self, Command};
use crate::config;

/// A device on the command line, and the same in a config file's only `[[device]]`: the
/// `(flag value)` pairs of `args`, and the `key = value` lines of `keys`.
fn both_ways(
    kind: &str,
    args: &[&str],
    keys: &str,
) -> (Result<DeviceSetup, String>, Result<DeviceSetup, String>) {
    let endpoints = [
        kind,
        "--frontend",
        "tcp://*:7001",
        "--backend",
        "tcp://*:7002",
    ];
    let cli = match cli::parse(endpoints.iter().chain(args).map(OsString::from)) {
        Ok(Command::Device(o)) => Ok(o.setup),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e.to_string()),
    };
    let text = format!("{}{keys}\n", file_head(kind));
    let file = config::parse(&text, "z.toml")
        .map(|mut c| c.devices.remove(0))
        .map_err(|e| e.to_string());
    (cli, file)
}

/// Lines 1 to 5 of the files of [`both_ways`]; its keys start on line 6.
fn file_head(kind: &str) -> String {
    format!(
        "[[device]]\nname = \"d\"\nkind = \"{kind}\"\nfrontend = \"tcp://*:7001\"\n\
         backend = \"tcp://*:7002\"\n"
    )
}

/// The same mistakes, made on the command line and in a config file: `{ivl}` stands for the
/// heartbeat interval as each names it.
const SAME_MISTAKES: &[(&str, &[&str], &str, Opt, &str)] = &[
    (
        "queue",
        &["--classic"],
        "classic = true",
        Opt::Classic,
        "applies to forwarders only, and this device is a queue; remove it",
    ),
    (
        "streamer",
        &["--max-subscriptions", "100"],
        "max_subscriptions = 100",
        Opt::MaxSubscriptions,
        "applies to forwarders only, and this device is a streamer, which keeps no \
         subscriptions; remove it",
    ),
    (
        "forwarder",
        &["--max-splices", "0"],
        "max_splices = 0",
        Opt::MaxSplices,
        "applies to queues and streamers only, and this device is a forwarder, which never \
         splices (a message may go to many subscribers); remove it",
    ),
    (
        "queue",
        &["--max-peers", "0"],
        "max_peers = 0",
        Opt::MaxPeers,
        "must be at least 1 (peers)",
    ),
    (
        "queue",
        &["--queue-hwm", "0K"],
        "queue_hwm = \"0K\"",
        Opt::QueueHwm,
        "must be at least 1 (bytes)",
    ),
    (
        "queue",
        &["--max-peers", "many"],
        "max_peers = \"many\"",
        Opt::MaxPeers,
        "expected a whole number, not \"many\"",
    ),
    (
        "streamer",
        &["--max-msg-size", "12X"],
        "max_msg_size = \"12X\"",
        Opt::MaxMsgSize,
        "expected bytes, like 65536, \"64K\" or \"64M\", not \"12X\"",
    ),
    (
        "queue",
        &["--heartbeat-ivl", "1 hour"],
        "heartbeat_ivl = \"1 hour\"",
        Opt::HeartbeatIvl,
        "expected a duration, like 500 (milliseconds), \"500ms\", \"5s\" or \"2m\", not \"1 hour\"",
    ),
    (
        "streamer",
        &["--heartbeat-timeout", "5s"],
        "heartbeat_timeout = \"5s\"",
        Opt::HeartbeatTimeout,
        "only applies with heartbeats on; set {ivl} too",
    ),
    (
        "forwarder",
        &["--heartbeat-ivl", "0", "--heartbeat-timeout", "100"],
        "heartbeat_ivl = 0\nheartbeat_timeout = 100",
        Opt::HeartbeatTimeout,
        "only applies with heartbeats on; set {ivl} too",
    ),
];

#[test]
fn the_same_mistake_gets_the_same_words_on_both_paths() {
    for &(kind, args, keys, opt, core) in SAME_MISTAKES {
        let (cli, file) = both_ways(kind, args, keys);
        let line = 6 + keys
            .lines()
            .position(|l| l.starts_with(opt.key()))
            .unwrap_or(0);
        let on_cli = core.replace("{ivl}", Opt::HeartbeatIvl.flag());
        let in_file = core.replace("{ivl}", Opt::HeartbeatIvl.key());
        assert_eq!(
            cli.unwrap_err(),
            format!("{}: {on_cli}", opt.flag()),
            "{args:?}"
        );
        assert_eq!(
            file.unwrap_err(),
            format!(
                "z.toml:{line}: device \"d\": key \"{}\": {in_file}",
                opt.key()
            ),
            "{keys}"
        );
    }
}

#[test]
fn the_same_settings_make_the_same_device_on_both_paths() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("queue", &[], ""),
        (
            "forwarder",
            &["--classic", "--max-subscriptions", "10", "--max-peers", "3"],
            "classic = true\nmax_subscriptions = 10\nmax_peers = 3",
        ),
        (
            "streamer",
            &[
                "--max-msg-size",
                "64K",
                "--queue-hwm",
                "65536",
                "--max-splices",
                "0",
            ],
            "max_msg_size = \"64K\"\nqueue_hwm = 65536\nmax_splices = 0",
        ),
        (
            "queue",
            &[
                "--heartbeat-ivl",
                "500",
                "--heartbeat-timeout",
                "5s",
                "--handshake-timeout",
                "2m",
            ],
            "heartbeat_ivl = 500\nheartbeat_timeout = \"5s\"\nhandshake_timeout = \"2m\"",
        ),
        (
            "queue",
            &["--heartbeat-ivl", "500ms", "--handshake-timeout", "10"],
            "heartbeat_ivl = \"500ms\"\nhandshake_timeout = \"10\"",
        ),
    ];
    for &(kind, args, keys) in cases {
        let (cli, file) = both_ways(kind, args, keys);
        let (cli, mut file) = (cli.unwrap(), file.unwrap());
        file.name.clear();
        assert_eq!(cli, file, "{args:?}");
    }
}
