//! The shared check of a device as written, [`Written::build`], by itself; `both_paths` has it
//! through the command line and the config file.

use zedge_core::conn::Heartbeat;
use zedge_core::device::Kind;
use zedge_core::time::Duration;

use super::opt::Problem;
use super::*;

#[test]
fn kind_names_go_both_ways() {
    for kind in KINDS {
        assert_eq!(kind_from_name(kind_name(kind)), Some(kind));
    }
    assert_eq!(kind_name(Kind::Forwarder { classic: true }), "forwarder");
    assert_eq!(kind_from_name("router"), None);
    assert_eq!(kind_names(), "forwarder, queue, streamer");
}

#[test]
fn bytes_print_in_the_largest_exact_unit() {
    assert_eq!(Bytes(64 << 20).to_string(), "64 MiB");
    assert_eq!(Bytes(1 << 30).to_string(), "1 GiB");
    assert_eq!(Bytes(1536).to_string(), "1536 B");
    assert_eq!(Bytes(2048).to_string(), "2 KiB");
    assert_eq!(Bytes(0).to_string(), "0 B");
}

fn build(kind: Kind, given: &[(Opt, Value)]) -> Result<DeviceSetup, SettingError> {
    let mut w = Written::new(String::new(), kind);
    for (opt, value) in given {
        w.set(*opt, value.clone(), Origin::Flag);
    }
    w.build()
}

fn problem(kind: Kind, given: &[(Opt, Value)]) -> (Opt, Problem) {
    match build(kind, given) {
        Err(SettingError::Option { opt, problem, .. }) => (opt, problem),
        other => panic!("{given:?}: {other:?}"),
    }
}

fn str(s: &str) -> Value {
    Value::Str(s.into())
}

#[test]
fn nothing_written_is_the_defaults() {
    for kind in KINDS {
        let d = build(kind, &[]).unwrap();
        assert_eq!(d.kind, kind);
        assert_eq!(d.tuning, Tuning::default());
        assert_eq!(d.frontends[0].to_string(), DEFAULT_FRONTEND);
        assert_eq!(d.backends[0].to_string(), DEFAULT_BACKEND);
        assert_eq!((d.frontends.len(), d.backends.len()), (1, 1));
    }
}

#[test]
fn an_option_is_refused_on_a_kind_it_means_nothing_to() {
    use Opt::*;
    let (fwd, queue, streamer) = (KINDS[0], Kind::Queue, Kind::Streamer);
    let only: [(Opt, &[Kind]); 18] = [
        (Spool, &[streamer, fwd]),
        (SpoolMax, &[streamer, fwd]),
        (SpoolFsync, &[streamer, fwd]),
        (SpoolRate, &[streamer, fwd]),
        (LastValue, &[fwd]),
        (LastValueMaxTopics, &[fwd]),
        (LastValueMaxBytes, &[fwd]),
        (LastValueTtl, &[fwd]),
        (LastValuePrefix, &[fwd]),
        (Classic, &[fwd]),
        (MaxSubscriptions, &[fwd]),
        (MaxSubscriptionsPerPeer, &[fwd]),
        (UpstreamRate, &[fwd]),
        (UpstreamBurst, &[fwd]),
        (MaxSplices, &[queue, streamer]),
        (SpliceStall, &[queue, streamer]),
        (ClientStall, &[queue]),
        (WorkerInflight, &[queue]),
    ];
    for opt in Opt::DEVICE {
        let kinds = only
            .iter()
            .find(|(o, _)| *o == opt)
            .map_or(&KINDS[..], |(_, k)| k);
        let value = match opt {
            Classic | Legacy | LastValue => Value::Bool(false),
            StoreForwardMax => str("64K"),
            KernelSendMax => str("4K"),
            Spool => str("/var/lib/zedge/x"),
            SpoolMax => str("2M"),
            SpoolFsync => Value::Int(10),
            _ => Value::Int(1),
        };
        // A timeout needs heartbeats on.
        let ivl = (HeartbeatIvl, Value::Int(100));
        for kind in KINDS {
            let result = build(kind, &[(opt, value.clone()), ivl.clone()]);
            if opt == Spool && kind == fwd {
                // Only with an uplink: `a_forwarders_spool_needs_an_uplink`.
                assert_eq!(
                    problem(kind, &[(opt, value.clone())]),
                    (opt, Problem::NoUplink)
                );
            } else if kinds.contains(&kind) {
                assert!(result.is_ok(), "{opt:?} on {kind:?}: {result:?}");
            } else {
                assert_eq!(
                    problem(kind, &[(opt, value.clone())]),
                    (opt, Problem::NotFor(kind))
                );
            }
        }
    }
    let e = build(queue, &[(MaxSubscriptions, Value::Int(1))]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "applies to forwarders only, and this device is a queue, which keeps no \
         subscriptions; remove it"
    );
    let e = build(queue, &[(MaxSubscriptionsPerPeer, Value::Int(1))]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "applies to forwarders only, and this device is a queue, which keeps no \
         subscriptions; remove it"
    );
    // The kind is checked before the range: out of range and for another kind, it is the
    // kind that is wrong.
    assert_eq!(
        problem(fwd, &[(MaxSplices, Value::Int(5000))]),
        (MaxSplices, Problem::NotFor(fwd))
    );
    let e = build(fwd, &[(MaxSplices, Value::Int(0))]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "applies to queues and streamers only, and this device is a forwarder, which never \
         splices (a message may go to many subscribers); remove it"
    );
    // Even off: a switch for another kind is a misunderstanding worth pointing out.
    assert_eq!(
        build(streamer, &[(Classic, Value::Bool(false))])
            .unwrap_err()
            .to_string(),
        "applies to forwarders only, and this device is a streamer; remove it"
    );
}

#[test]
fn a_value_not_in_the_options_form_is_quoted_back() {
    let cases = [
        (Opt::MaxPeers, str("many"), "expected a whole number, not \"many\""),
        (Opt::MaxPeers, Value::Int(-1), "expected a whole number, not -1"),
        (Opt::MaxPeers, Value::Float(2.0), "expected a whole number, not 2.0"),
        (Opt::MaxPeers, Value::Bool(true), "expected a whole number, not true"),
        (Opt::QueueHwm, Value::List, "expected bytes, like 65536, \"64K\" or \"64M\", not a list"),
        (
            Opt::HandshakeTimeout,
            str("1.5s"),
            "expected a duration, like 500 (milliseconds), \"500ms\", \"5s\" or \"2m\", not \"1.5s\"",
        ),
        (Opt::Classic, str("yes"), "expected a boolean, not \"yes\""),
    ];
    for (opt, value, want) in cases {
        let kind = opt.kinds()[0];
        let e = build(kind, &[(opt, value.clone())]).unwrap_err();
        assert_eq!(
            problem(kind, &[(opt, value.clone())]),
            (opt, Problem::Invalid(value))
        );
        assert_eq!(e.to_string(), want);
    }
}

#[test]
fn zero_is_refused_where_it_cannot_work() {
    for (opt, unit) in [
        (Opt::MaxMsgSize, "bytes"),
        (Opt::QueueHwm, "bytes"),
        (Opt::MaxPeers, "peers"),
        (Opt::MaxPeersPerAddress, "peers"),
        (Opt::MaxHandshaking, "connections"),
    ] {
        let e = build(Kind::Queue, &[(opt, str("0"))]).unwrap_err();
        assert_eq!(e.to_string(), format!("must be at least 1 ({unit})"));
    }
    // Elsewhere zero means none, or off.
    let zero = |opt| (opt, Value::Int(0));
    let d = build(
        KINDS[0],
        &[
            zero(Opt::MaxSubscriptions),
            zero(Opt::HeartbeatIvl),
            zero(Opt::HandshakeTimeout),
            zero(Opt::ProgressTimeout),
        ],
    )
    .unwrap();
    assert_eq!(d.tuning.max_subscriptions, 0);
    assert_eq!(d.tuning.max_subscriptions_per_peer, 0);
    assert_eq!(d.tuning.progress_timeout_ms, 0);
    assert_eq!(
        build(Kind::Queue, &[zero(Opt::MaxSplices)])
            .unwrap()
            .tuning
            .max_splices,
        0
    );
}

#[test]
fn a_heartbeat_timeout_needs_heartbeats_and_says_so_in_the_places_words() {
    let timeout = (Opt::HeartbeatTimeout, Value::Int(100));
    for ivl in [Value::Int(0), str("0s")] {
        let given = [timeout.clone(), (Opt::HeartbeatIvl, ivl)];
        assert_eq!(
            problem(Kind::Queue, &given),
            (Opt::HeartbeatTimeout, Problem::NoHeartbeat)
        );
    }
    let mut w = Written::new(String::new(), Kind::Queue);
    w.set(Opt::HeartbeatTimeout, Value::Int(100), Origin::Key(10..13));
    w.set(Opt::HeartbeatIvl, Value::Int(0), Origin::Key(20..21));
    let e = w.build().unwrap_err();
    assert_eq!(
        e.to_string(),
        "only applies with heartbeats on; set heartbeat_ivl too"
    );
    let off = (Opt::HeartbeatIvl, str("0"));
    let e = build(Kind::Queue, &[timeout.clone(), off]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "only applies with heartbeats on; set --heartbeat-ivl too"
    );
    let d = build(
        Kind::Queue,
        &[timeout.clone(), (Opt::HeartbeatIvl, str("50ms"))],
    )
    .unwrap();
    assert_eq!(d.tuning.heartbeat_timeout_ms, Some(100));
    // Heartbeats are on by default, so a timeout alone is fine.
    let d = build(Kind::Queue, &[timeout]).unwrap();
    assert_eq!(d.tuning.heartbeat_timeout_ms, Some(100));
}

#[test]
fn heartbeats_are_on_by_default_every_10_s_with_3_intervals_to_answer() {
    let cfg = build(Kind::Streamer, &[]).unwrap().device_config();
    assert_eq!(cfg.heartbeat.interval, Duration::from_millis(10_000));
    assert_eq!(cfg.heartbeat.timeout, Duration::from_millis(30_000));
    let off = build(Kind::Streamer, &[(Opt::HeartbeatIvl, Value::Int(0))]).unwrap();
    assert_eq!(off.device_config().heartbeat, Heartbeat::OFF);
}

#[test]
fn the_last_of_a_repeated_option_counts() {
    let d = build(
        Kind::Streamer,
        &[(Opt::MaxPeers, str("0")), (Opt::MaxPeers, str("7"))],
    )
    .unwrap();
    assert_eq!(d.tuning.max_peers, 7);
}

#[test]
fn flags_and_keys_name_the_same_options() {
    let all = Opt::DEVICE.into_iter().chain(Opt::PROCESS);
    for (i, opt) in all.enumerate() {
        assert_eq!(
            opt as usize, i,
            "Opt::DEVICE then Opt::PROCESS, in declaration order"
        );
        // A switch that is on by default is turned off by its flag.
        let flag = match opt {
            Opt::Legacy => format!("--no-{}", opt.key()),
            _ => format!("--{}", opt.key().replace('_', "-")),
        };
        assert_eq!(opt.flag(), flag);
        assert_eq!(Opt::from_flag(&opt.flag()[2..]), Some(opt));
        assert_eq!(opt.is_process(), i >= Opt::DEVICE.len());
    }
    assert_eq!(Opt::from_flag("frontend"), None);
}

/// The last-value table is fixed memory, under 64 bytes a topic, and none without the cache
/// or on another kind of device.
#[test]
fn the_last_value_table_costs_under_64_bytes_a_topic_and_only_when_on() {
    let fwd = KINDS[0];
    let on = build(fwd, &[(Opt::LastValue, Value::Bool(true))]).unwrap();
    let topics = on.tuning.last_value_max_topics as u64;
    assert_eq!(on.last_value_topics() as u64, topics);
    assert!(on.last_value_table_bytes() <= 64 * topics);
    assert!(on.last_value_table_bytes() > 0);
    let off = build(fwd, &[]).unwrap();
    assert_eq!(off.last_value_table_bytes(), 0);
}

#[test]
fn a_forwarders_spool_needs_an_uplink() {
    let fwd = KINDS[0];
    let spool = (Opt::Spool, str("/var/lib/zedge/x"));
    let e = build(fwd, std::slice::from_ref(&spool)).unwrap_err();
    assert!(e.to_string().contains("connects to none"), "{e}");
    let mut w = Written::new(String::new(), fwd);
    w.backends = vec![Endpoint::parse(">tcp://cloud.example:5557").unwrap()];
    w.set(spool.0, spool.1, Origin::Flag);
    let d = w.build().expect("a forwarder with an uplink takes a spool");
    assert!(d.has_spool());
    assert_eq!(d.peer_slots(), Tuning::default().max_peers * 2 + 2);
}
