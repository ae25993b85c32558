//! What devices cost, [`Memory`], by itself: the figures of each device, their sum, the
//! check against `memory_max` and its message; `both_paths` has the check through the command
//! line and the config file.

use std::mem::size_of;

use zedge_core::device::{Kind, Slot};

use super::memory::{CONNECTION_BYTES, SLOT_BYTES};
use super::opt::MEMORY_MAX_CEILING;
use super::*;
use crate::queue::HeapQueue;

fn device(name: &str, kind: Kind, given: &[(Opt, &str)]) -> DeviceSetup {
    let mut w = Written::new(name.into(), kind);
    for &(opt, text) in given {
        w.set(opt, Value::Str(text.into()), Origin::Flag);
    }
    w.build().unwrap()
}

fn budget(memory_max: u64) -> Process {
    Process {
        memory_max: memory_max as usize,
        metrics: None,
    }
}

const FWD: Kind = Kind::Forwarder { classic: false };

const INPUT: u64 = (1 << 20) + HEADS_ROOM as u64;

#[test]
fn a_default_device_costs_its_tables_its_connections_and_one_input_buffer() {
    let slot = size_of::<Slot<HeapQueue>>() as u64;
    let fwd = DeviceMemory::of(&device("f", FWD, &[]));
    assert_eq!(fwd.peer_slots, 2048);
    assert_eq!(fwd.peer_table, 2048 * slot);
    assert_eq!(fwd.connections, 2048 * CONNECTION_BYTES);
    assert_eq!(
        CONNECTION_BYTES,
        2048 + 512 + 4096,
        "task, first queue buffer, input kept"
    );
    let table = device("f", FWD, &[]).subscription_bytes() as u64;
    assert_eq!(fwd.subscriptions, table);
    assert_eq!(fwd.input, INPUT);
    assert_eq!(
        fwd.kept,
        2 * INPUT,
        "one message arriving whole, one queued"
    );
    assert_eq!(fwd.pipe_fds, 0);
    assert_eq!(
        fwd.fixed(),
        2048 * (slot + CONNECTION_BYTES) + table + INPUT
    );
    assert_eq!(fwd.descriptors(), 2048);
    let queue = DeviceMemory::of(&device("q", Kind::Queue, &[]));
    assert_eq!((queue.subscriptions, queue.pipe_fds), (0, 64));
    assert_eq!(queue.fixed(), 2048 * (slot + CONNECTION_BYTES) + INPUT);
    assert_eq!(queue.descriptors(), 2048 + 64);
}

#[test]
fn the_defaults_fit_the_default_budget_with_room() {
    let devices = [device("f", FWD, &[]), device("q", Kind::Queue, &[])];
    let m = Memory::check(&devices, &Process::default(), Via::ConfigFile).unwrap();
    assert_eq!(m.need(), m.fixed() + m.kept());
    assert_eq!(m.kept(), 4 * INPUT);
    assert_eq!(m.budget(), m.memory_max - m.need());
    assert!(
        m.budget() > m.memory_max / 4 * 3,
        "three quarters left for traffic: {} of {}",
        Mib(m.budget()),
        Mib(m.memory_max)
    );
}

#[test]
fn the_budget_is_what_the_devices_leave_and_never_less_than_nothing() {
    let devices = [device("s", Kind::Streamer, &[])];
    let need = Memory::of(&devices, &Process::default()).need();
    for (memory_max, left) in [(need, 0), (need + 1, 1), (need - 1, 0), (0, 0)] {
        assert_eq!(Memory::of(&devices, &budget(memory_max)).budget(), left);
    }
}

#[test]
fn the_budget_is_met_to_the_byte() {
    let devices = [device("s", Kind::Streamer, &[])];
    let need = Memory::of(&devices, &Process::default()).need();
    assert!(Memory::check(&devices, &budget(need), Via::ConfigFile).is_ok());
    let e = Memory::check(&devices, &budget(need - 1), Via::ConfigFile).unwrap_err();
    assert_eq!((e.fixed + e.kept, e.memory_max), (need, need - 1));
}

#[test]
fn a_memory_max_without_its_unit_is_told_so() {
    let d = device("s", Kind::Streamer, &[]);
    let e = Memory::check(&[d], &budget(64), Via::ConfigFile).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.ends_with("or raise memory_max (a number without a unit is bytes: \"64M\" is 64 MiB)"),
        "{msg}"
    );
}

#[test]
fn huge_counts_saturate_and_are_refused_with_what_they_cost() {
    let d = device(
        "s",
        Kind::Streamer,
        &[(Opt::MaxPeers, "9223372036854775807")],
    );
    let m = DeviceMemory::of(&d);
    assert_eq!((m.peer_table, m.fixed()), (u64::MAX, u64::MAX));
    let e = Memory::check(&[d], &Process::default(), Via::ConfigFile).unwrap_err();
    let per_peer = SLOT_BYTES + CONNECTION_BYTES;
    assert_eq!(
        e.to_string(),
        format!(
            "device \"s\" needs over 18446744073709551615 bytes (over 16 EiB) at worst (over \
             16 EiB fixed, 2.01 MiB kept for whole messages), more than memory_max 256 \
             MiB: lower max_peers on device \"s\" (9223372036854775807 peers per side cost \
             over 16 EiB, {per_peer} B for each on either side) or raise memory_max"
        )
    );
    let d = device("s", Kind::Streamer, &[(Opt::MaxPeers, "100000000")]);
    let peers = 200_000_000 * per_peer;
    let e = Memory::check(&[d], &Process::default(), Via::CommandLine).unwrap_err();
    let need = peers + 3 * INPUT;
    assert_eq!(
        e.to_string(),
        format!(
            "the settings need {need} bytes ({}) at worst ({} fixed, 2.01 MiB kept for whole \
             messages), more than --memory-max 256 MiB: lower --max-peers (100000000 \
             peers per side cost {}, {per_peer} B for each on either side) or raise \
             --memory-max",
            Mib(need),
            Mib(need - 2 * INPUT),
            Mib(peers)
        )
    );
}

#[test]
fn the_costliest_setting_of_any_device_is_named() {
    let small = device("small", Kind::Queue, &[]);
    let subs = device("subs", FWD, &[(Opt::MaxSubscriptions, "1000000")]);
    let table = subs.subscription_bytes() as u64;
    let e = Memory::check(&[small.clone(), subs], &budget(64 << 20), Via::ConfigFile).unwrap_err();
    assert_eq!((e.device, e.name.as_str()), (1, "subs"));
    assert_eq!(e.costliest.opt, Opt::MaxSubscriptions);
    assert_eq!(e.costliest.cost, table);
    let msg = e.to_string();
    assert!(msg.starts_with("the 2 devices need "), "{msg}");
    assert!(
        msg.ends_with(&format!(
            ": lower max_subscriptions on device \"subs\" (1000000 subscriptions cost {}) \
             or raise memory_max",
            Mib(e.costliest.cost)
        )),
        "{msg}"
    );
    let big = device("big", Kind::Streamer, &[(Opt::StoreForwardMax, "100M")]);
    let e = Memory::check(&[big, small], &budget(64 << 20), Via::ConfigFile).unwrap_err();
    assert_eq!((e.device, e.costliest.opt), (0, Opt::StoreForwardMax));
    let input = (100 << 20) + HEADS_ROOM as u64;
    assert!(
        e.to_string().contains(&format!(
            "lower store_forward_max on device \"big\" (100 MiB costs {}: the input buffer \
             and the messages kept)",
            Mib(3 * input)
        )),
        "{e}"
    );
}

#[test]
fn devices_add_up() {
    let one = [device("a", Kind::Streamer, &[])];
    let two = [one[0].clone(), device("b", Kind::Streamer, &[])];
    let (m1, m2) = (
        Memory::of(&one, &Process::default()),
        Memory::of(&two, &Process::default()),
    );
    assert_eq!(m2.fixed(), 2 * m1.fixed());
    assert_eq!(m2.kept(), 2 * m1.kept());
    assert!(Memory::check(&two, &budget(m1.need() * 2 - 1), Via::ConfigFile).is_err());
}

/// The core indexes peer slots in 32 bits: the largest table any allowed `memory_max`
/// admits must fit that.
#[test]
fn the_memory_ceiling_keeps_peer_slots_within_32_bits() {
    assert!(MEMORY_MAX_CEILING / SLOT_BYTES <= u64::from(u32::MAX));
    let ceiling = budget(MEMORY_MAX_CEILING);
    let most = MEMORY_MAX_CEILING / SLOT_BYTES / 2;
    let d = device("p", Kind::Queue, &[(Opt::MaxPeers, &most.to_string())]);
    let e = Memory::check(&[d], &ceiling, Via::ConfigFile).unwrap_err();
    assert_eq!(e.costliest.opt, Opt::MaxPeers);
}

#[test]
fn mebibytes_round_up_to_a_hundredth() {
    assert_eq!(Mib(0).to_string(), "0.00 MiB");
    assert_eq!(Mib(1).to_string(), "0.01 MiB");
    assert_eq!(Mib(1 << 20).to_string(), "1.00 MiB");
    assert_eq!(Mib((1 << 20) + 1).to_string(), "1.01 MiB");
    assert_eq!(Mib(u64::MAX - 1).to_string(), "17592186044416.00 MiB");
    assert_eq!(Mib(u64::MAX).to_string(), "over 16 EiB");
}
