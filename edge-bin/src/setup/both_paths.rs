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
    both_ways_with(kind, args, "", keys)
}

/// [`both_ways`], with `top` (process options) at the top of the file, before the device.
fn both_ways_with(
    kind: &str,
    args: &[&str],
    top: &str,
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
    let text = format!("{top}{}{keys}\n", file_head(kind));
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

/// The same mistakes, made on the command line and in a config file: `{ivl}` and `{subs}`
/// stand for the heartbeat interval and the subscription table size as each names them.
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
        &["--heartbeat-ivl", "0", "--heartbeat-timeout", "5s"],
        "heartbeat_ivl = 0\nheartbeat_timeout = \"5s\"",
        Opt::HeartbeatTimeout,
        "only applies with heartbeats on; set {ivl} too",
    ),
    (
        "queue",
        &["--max-subscriptions-per-peer", "10"],
        "max_subscriptions_per_peer = 10",
        Opt::MaxSubscriptionsPerPeer,
        "applies to forwarders only, and this device is a queue, which keeps no \
         subscriptions; remove it",
    ),
    (
        "forwarder",
        &[
            "--max-subscriptions",
            "100",
            "--max-subscriptions-per-peer",
            "101",
        ],
        "max_subscriptions = 100\nmax_subscriptions_per_peer = 101",
        Opt::MaxSubscriptionsPerPeer,
        "must be at most {subs} (100); lower it or raise {subs}",
    ),
    (
        "forwarder",
        &["--max-subscriptions-per-peer", "5000"],
        "max_subscriptions_per_peer = 5000",
        Opt::MaxSubscriptionsPerPeer,
        "must be at most {subs} (4096); lower it or raise {subs}",
    ),
    (
        "streamer",
        &["--store-forward-max", "32K"],
        "store_forward_max = \"32K\"",
        Opt::StoreForwardMax,
        "must be at least 65536 (bytes)",
    ),
    (
        "queue",
        &["--max-splices", "100000"],
        "max_splices = 100000",
        Opt::MaxSplices,
        "must be at most 1024 (splices)",
    ),
    (
        "queue",
        &["--max-handshaking", "0"],
        "max_handshaking = 0",
        Opt::MaxHandshaking,
        "must be at least 1 (connections)",
    ),
    (
        "forwarder",
        &["--max-peers-per-address", "lots"],
        "max_peers_per_address = \"lots\"",
        Opt::MaxPeersPerAddress,
        "expected a whole number, not \"lots\"",
    ),
    (
        "queue",
        &["--progress-timeout", "1.5s"],
        "progress_timeout = \"1.5s\"",
        Opt::ProgressTimeout,
        "expected a duration, like 500 (milliseconds), \"500ms\", \"5s\" or \"2m\", not \"1.5s\"",
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
        let on_cli = core
            .replace("{ivl}", Opt::HeartbeatIvl.flag())
            .replace("{subs}", Opt::MaxSubscriptions.flag());
        let in_file = core
            .replace("{ivl}", Opt::HeartbeatIvl.key())
            .replace("{subs}", Opt::MaxSubscriptions.key());
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

/// A process option, wrong on the command line and at the top of a config file.
#[test]
fn a_process_mistake_gets_the_same_words_on_both_paths() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "lots",
            "\"lots\"",
            "expected bytes, like 65536, \"64K\" or \"64M\", not \"lots\"",
        ),
        (
            "2048G",
            "\"2048G\"",
            "must be at most 1099511627776 (bytes)",
        ),
    ];
    for &(arg, value, want) in cases {
        let top = format!("memory_max = {value}\n");
        let (cli, file) = both_ways_with("queue", &["--memory-max", arg], &top, "");
        assert_eq!(cli.unwrap_err(), format!("--memory-max: {want}"));
        assert_eq!(
            file.unwrap_err(),
            format!("z.toml:1: key \"memory_max\": {want}")
        );
    }
}

/// Settings that cannot fit `memory_max`: the same figures and the same advice, in each
/// path's names.
#[test]
fn a_device_over_memory_max_is_refused_the_same_on_both_paths() {
    let cases: &[(&str, &[&str], &str, &str)] = &[
        (
            "queue",
            &["--max-peers", "100000000"],
            "",
            "max_peers = 100000000",
        ),
        (
            "streamer",
            &["--max-peers", "9223372036854775807"],
            "",
            "max_peers = 9223372036854775807",
        ),
        (
            "forwarder",
            &["--max-subscriptions", "300000", "--memory-max", "16M"],
            "memory_max = \"16M\"\n",
            "max_subscriptions = 300000",
        ),
        (
            "streamer",
            &["--store-forward-max", "100M"],
            "",
            "store_forward_max = \"100M\"",
        ),
    ];
    for &(kind, args, top, keys) in cases {
        let (cli, file) = both_ways_with(kind, args, top, keys);
        let (cli, file) = (cli.unwrap_err(), file.unwrap_err());
        assert!(cli.starts_with("the settings need "), "{cli}");
        assert!(cli.contains(" at worst ("), "{cli}");
        let line = 1 + top.lines().count();
        let as_cli = file
            .replace(
                &format!("z.toml:{line}: device \"d\" needs "),
                "the settings need ",
            )
            .replace(" on device \"d\"", "");
        let as_cli = Opt::DEVICE
            .into_iter()
            .chain(Opt::PROCESS)
            .fold(as_cli, |m, o| m.replace(o.key(), o.flag()));
        assert_eq!(as_cli, cli, "{file}");
    }
}
