//! Each setting of the isolation work by itself: what it reads, its default, its floor or
//! ceiling, the rules between it and the others, and the process option `memory_max`.

use zedge_core::device::Kind;

use super::opt::Problem;
use super::opt::{KERNEL_SEND_FLOOR, MAX_SPLICES_CEILING, MEMORY_MAX_CEILING, STORE_FORWARD_FLOOR};
use super::*;

const FWD: Kind = Kind::Forwarder { classic: false };

fn build(kind: Kind, given: &[(Opt, &str)]) -> Result<DeviceSetup, SettingError> {
    let mut w = Written::new(String::new(), kind);
    for &(opt, text) in given {
        w.set(opt, Value::Str(text.into()), Origin::Flag);
    }
    w.build()
}

fn tuning(kind: Kind, given: &[(Opt, &str)]) -> Tuning {
    build(kind, given)
        .unwrap_or_else(|e| panic!("{given:?}: {e}"))
        .tuning
}

fn refusal(kind: Kind, given: &[(Opt, &str)]) -> String {
    build(kind, given)
        .expect_err("should be refused")
        .to_string()
}

#[test]
fn the_defaults_of_the_isolation_settings() {
    let t = Tuning::default();
    assert_eq!(t.max_peers, 1024);
    assert_eq!(t.max_peers_per_address, 256);
    assert_eq!(t.max_handshaking, 64);
    assert_eq!(t.max_subscriptions_per_peer, 1024);
    assert_eq!(t.store_forward_max, 1 << 20);
    assert_eq!(t.progress_timeout_ms, 5_000);
    assert_eq!(t.heartbeat_ivl_ms, 10_000);
    assert_eq!(Process::default().memory_max, 256 << 20);
}

#[test]
fn each_setting_reads_into_its_own_field() {
    let t = tuning(
        Kind::Queue,
        &[
            (Opt::MaxPeersPerAddress, "3"),
            (Opt::MaxHandshaking, "4"),
            (Opt::StoreForwardMax, "128K"),
            (Opt::ProgressTimeout, "2m"),
        ],
    );
    assert_eq!(t.max_peers_per_address, 3);
    assert_eq!(t.max_handshaking, 4);
    assert_eq!(t.store_forward_max, 128 << 10);
    assert_eq!(t.progress_timeout_ms, 120_000);
    let t = tuning(FWD, &[(Opt::MaxSubscriptionsPerPeer, "7")]);
    assert_eq!(t.max_subscriptions_per_peer, 7);
}

#[test]
fn max_peers_is_per_side_and_the_table_holds_both_sides() {
    let d = build(Kind::Streamer, &[(Opt::MaxPeers, "10")]).unwrap();
    assert_eq!(d.tuning.max_peers, 10);
    assert_eq!(d.peer_slots(), 20);
    // Counts only compared against may exceed the total: they then never bind.
    let t = tuning(
        Kind::Streamer,
        &[
            (Opt::MaxPeers, "10"),
            (Opt::MaxPeersPerAddress, "256"),
            (Opt::MaxHandshaking, "64"),
        ],
    );
    assert_eq!((t.max_peers_per_address, t.max_handshaking), (256, 64));
    // Derived counts saturate; memory_max, not arithmetic, refuses such a device.
    let d = build(Kind::Streamer, &[(Opt::MaxPeers, "18446744073709551615")]).unwrap();
    assert_eq!(d.peer_slots(), usize::MAX);
}

#[test]
fn store_forward_max_has_a_floor_and_sizes_the_input_buffer() {
    assert_eq!(STORE_FORWARD_FLOOR, 64 << 10);
    let d = build(Kind::Queue, &[(Opt::StoreForwardMax, "64K")]).unwrap();
    assert_eq!(d.input_capacity(), (64 << 10) + HEADS_ROOM);
    assert_eq!(
        refusal(Kind::Queue, &[(Opt::StoreForwardMax, "65535")]),
        "must be at least 65536 (bytes)"
    );
    let d = build(
        Kind::Queue,
        &[(Opt::StoreForwardMax, "18446744073709551615")],
    )
    .unwrap();
    assert_eq!(d.input_capacity(), usize::MAX);
}

#[test]
fn kernel_send_max_is_zero_or_a_page_and_at_most_what_the_kernel_takes() {
    assert_eq!(
        Tuning::default().kernel_send_max,
        256 << 10,
        "bounded: the kernel's own let stalled peers hold 4 MiB each (round 16, K1)"
    );
    for kind in [FWD, Kind::Queue, Kind::Streamer] {
        assert_eq!(
            tuning(kind, &[(Opt::KernelSendMax, "0")]).kernel_send_max,
            0
        );
        assert_eq!(
            tuning(kind, &[(Opt::KernelSendMax, "4K")]).kernel_send_max,
            4 << 10
        );
    }
    assert_eq!(KERNEL_SEND_FLOOR, 4 << 10);
    assert_eq!(
        refusal(Kind::Streamer, &[(Opt::KernelSendMax, "4095")]),
        "must be at least 4096 (bytes, or 0 for the kernel's own limit)"
    );
    let most = u32::MAX.to_string();
    assert_eq!(
        tuning(Kind::Queue, &[(Opt::KernelSendMax, &most)]).kernel_send_max,
        u32::MAX
    );
    assert_eq!(
        refusal(Kind::Queue, &[(Opt::KernelSendMax, "4G")]),
        "must be at most 4294967295 (bytes)"
    );
}

#[test]
fn max_splices_has_a_ceiling() {
    let ceiling = MAX_SPLICES_CEILING.to_string();
    let t = tuning(Kind::Queue, &[(Opt::MaxSplices, &ceiling)]);
    assert_eq!(t.max_splices as u64, MAX_SPLICES_CEILING);
    assert_eq!(
        refusal(Kind::Streamer, &[(Opt::MaxSplices, "1025")]),
        "must be at most 1024 (splices)"
    );
    let d = build(Kind::Queue, &[(Opt::MaxSplices, "3")]).unwrap();
    assert_eq!(d.splices(), 3);
    assert_eq!(build(FWD, &[]).unwrap().splices(), 0);
}

#[test]
fn the_upstream_pace_reads_bytes_fits_the_core_and_zero_is_no_limit() {
    let t = tuning(
        FWD,
        &[(Opt::UpstreamRate, "1M"), (Opt::UpstreamBurst, "64K")],
    );
    assert_eq!((t.upstream_rate, t.upstream_burst), (1 << 20, 64 << 10));
    let d = build(FWD, &[(Opt::UpstreamRate, "0")]).unwrap();
    assert!(d.device_config().upstream.is_off());
    assert_eq!(
        build(FWD, &[]).unwrap().device_config().upstream,
        zedge_core::device::UpstreamPace::DEFAULT
    );
    assert_eq!(
        refusal(FWD, &[(Opt::UpstreamRate, "4G")]),
        "must be at most 4294967295 (bytes a second)"
    );
    assert!(
        refusal(Kind::Queue, &[(Opt::UpstreamBurst, "1K")]).contains("forwarders only"),
        "a queue sends no subscriptions"
    );
}

#[test]
fn worker_inflight_fits_the_core_s_count_and_zero_is_no_limit() {
    let most = u32::MAX.to_string();
    let t = tuning(Kind::Queue, &[(Opt::WorkerInflight, &most)]);
    assert_eq!(t.worker_inflight, u32::MAX);
    assert_eq!(
        refusal(Kind::Queue, &[(Opt::WorkerInflight, "4294967296")]),
        "must be at most 4294967295 (requests)"
    );
    let d = build(Kind::Queue, &[(Opt::WorkerInflight, "0")]).unwrap();
    assert_eq!(d.device_config().worker_inflight, 0);
    assert_eq!(
        build(Kind::Queue, &[])
            .unwrap()
            .device_config()
            .worker_inflight,
        1000
    );
}

#[test]
fn subscriptions_per_peer_are_at_most_the_table() {
    use Opt::{MaxSubscriptions as Total, MaxSubscriptionsPerPeer as PerPeer};
    // Written above the table, in either order: refused in the place's words.
    for given in [
        &[(Total, "100"), (PerPeer, "101")][..],
        &[(PerPeer, "101"), (Total, "100")],
        &[(PerPeer, "4097")],
    ] {
        let e = build(FWD, given).unwrap_err();
        let SettingError::Option { opt, problem, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(*opt, PerPeer);
        assert!(matches!(problem, Problem::AboveTotal { total: Total, .. }));
    }
    assert_eq!(
        refusal(FWD, &[(Total, "100"), (PerPeer, "101")]),
        "must be at most --max-subscriptions (100); lower it or raise --max-subscriptions"
    );
    let mut w = Written::new("x".into(), FWD);
    w.set(PerPeer, Value::Int(5), Origin::Key(1..2));
    w.set(Total, Value::Int(4), Origin::Key(3..4));
    assert_eq!(
        w.build().unwrap_err().to_string(),
        "must be at most max_subscriptions (4); lower it or raise max_subscriptions"
    );
    // Equal is fine; the default follows a smaller table down.
    let t = tuning(FWD, &[(Total, "100"), (PerPeer, "100")]);
    assert_eq!(t.max_subscriptions_per_peer, 100);
    let t = tuning(FWD, &[(Total, "100")]);
    assert_eq!(t.max_subscriptions_per_peer, 100);
    let t = tuning(FWD, &[(Total, "100000")]);
    assert_eq!(t.max_subscriptions_per_peer, 1024);
}

#[test]
fn zero_means_never_for_the_progress_timeout() {
    let t = tuning(Kind::Streamer, &[(Opt::ProgressTimeout, "0")]);
    assert_eq!(t.progress_timeout_ms, 0);
    assert_eq!(
        refusal(Kind::Streamer, &[(Opt::ProgressTimeout, "5 minutes")]),
        "expected a duration, like 500 (milliseconds), \"500ms\", \"5s\" or \"2m\", not \
         \"5 minutes\""
    );
}

fn process(given: &[(&str, Origin)]) -> Result<Process, SettingError> {
    let mut w = WrittenProcess::default();
    for (text, at) in given {
        w.set(Opt::MemoryMax, Value::Str((*text).into()), at.clone());
    }
    w.build()
}

#[test]
fn memory_max_reads_bytes_up_to_its_ceiling() {
    assert_eq!(process(&[]).unwrap(), Process::default());
    let p = process(&[("64M", Origin::Flag)]).unwrap();
    assert_eq!(p.memory_max, 64 << 20);
    let p = process(&[("1M", Origin::Flag), ("1G", Origin::Flag)]).unwrap();
    assert_eq!(p.memory_max, 1 << 30, "the last one counts");
    let ceiling = MEMORY_MAX_CEILING.to_string();
    assert_eq!(
        process(&[(&ceiling, Origin::Flag)]).unwrap().memory_max as u64,
        MEMORY_MAX_CEILING
    );
    let e = process(&[("1025G", Origin::Key(0..1))]).unwrap_err();
    assert_eq!(e.to_string(), "must be at most 1099511627776 (bytes)");
    let e = process(&[("lots", Origin::Flag)]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "expected bytes, like 65536, \"64K\" or \"64M\", not \"lots\""
    );
    assert!(matches!(
        e,
        SettingError::Option {
            opt: Opt::MemoryMax,
            ..
        }
    ));
}
