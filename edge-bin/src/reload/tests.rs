use zedge_core::device::{Kind, Side};

use super::*;
use crate::setup::Written;

fn device(name: &str, kind: Kind, front: &[&str], back: &[&str]) -> DeviceSetup {
    let mut w = Written::new(name.to_owned(), kind);
    w.frontends = front.iter().map(|e| Endpoint::parse(e).unwrap()).collect();
    w.backends = back.iter().map(|e| Endpoint::parse(e).unwrap()).collect();
    w.build().unwrap()
}

fn ep(s: &str) -> Endpoint {
    Endpoint::parse(s).unwrap()
}

#[test]
fn same_file_changes_nothing() {
    let old = [
        device("a", Kind::Streamer, &["tcp://*:1"], &["tcp://*:2"]),
        device("b", Kind::Queue, &["tcp://*:3"], &[">tcp://up:4"]),
    ];
    let plan = Plan::new(&old, &old);
    assert!(plan.changes_nothing());
    assert_eq!(plan.unchanged, 2);
}

#[test]
fn added_removed_restarted_and_rewired() {
    let old = [
        device("keep", Kind::Streamer, &["tcp://*:1"], &["tcp://*:2"]),
        device("gone", Kind::Queue, &["tcp://*:3"], &["tcp://*:4"]),
        device("kind", Kind::Queue, &["tcp://*:5"], &["tcp://*:6"]),
        device(
            "wire",
            Kind::Streamer,
            &["tcp://*:7"],
            &["tcp://*:8", ">tcp://up:9"],
        ),
    ];
    let mut limits = device("keep", Kind::Streamer, &["tcp://*:1"], &["tcp://*:2"]);
    limits.tuning.max_peers = 10;
    let new = [
        device(
            "wire",
            Kind::Streamer,
            &["tcp://*:7", "tcp://*:17"],
            &["tcp://*:8"],
        ),
        limits.clone(),
        device("kind", Kind::Streamer, &["tcp://*:5"], &["tcp://*:6"]),
        device("new", Kind::Queue, &["tcp://*:10"], &["tcp://*:11"]),
    ];
    let plan = Plan::new(&old, &new);
    assert_eq!(plan.added, vec![new[3].clone()]);
    assert_eq!(plan.removed, vec!["gone".to_owned()]);
    assert_eq!(
        plan.restarted,
        vec![(limits, "limits"), (new[2].clone(), "kind")]
    );
    assert_eq!(
        plan.rewired,
        vec![Rewire {
            setup: new[0].clone(),
            add: vec![(Side::Frontend, ep("tcp://*:17"))],
            remove: vec![(Side::Backend, ep(">tcp://up:9"))],
        }]
    );
    assert_eq!(plan.unchanged, 0);
    let starting: Vec<&str> = plan.starting().map(|d| d.name.as_str()).collect();
    assert_eq!(starting, ["new", "keep", "kind"]);
}

#[test]
fn an_endpoint_moving_sides_is_removed_and_added() {
    let old = [device("d", Kind::Streamer, &["tcp://*:1"], &["tcp://*:2"])];
    let new = [device("d", Kind::Streamer, &["tcp://*:2"], &["tcp://*:1"])];
    let plan = Plan::new(&old, &new);
    let r = &plan.rewired[0];
    assert_eq!(
        r.add,
        [
            (Side::Frontend, ep("tcp://*:2")),
            (Side::Backend, ep("tcp://*:1"))
        ]
    );
    assert_eq!(
        r.remove,
        [
            (Side::Frontend, ep("tcp://*:1")),
            (Side::Backend, ep("tcp://*:2"))
        ]
    );
}

#[test]
fn a_forwarder_turning_classic_is_a_new_kind() {
    let old = [device(
        "f",
        Kind::Forwarder { classic: false },
        &["tcp://*:1"],
        &["tcp://*:2"],
    )];
    let mut new = old.clone();
    new[0].kind = Kind::Forwarder { classic: true };
    assert_eq!(
        Plan::new(&old, &new).restarted,
        vec![(new[0].clone(), "kind")]
    );
}

/// Attacker round 26, F3-F5: a spool added or moved, or a spooling forwarder's uplinks
/// changed, was rewired or taken for nothing changed; its spool is made when it starts.
#[test]
fn a_spool_added_or_moved_or_a_spooling_forwarders_uplinks_changed_restart_it() {
    let fwd = Kind::Forwarder { classic: false };
    let plain = device("f", fwd, &["tcp://*:1"], &["tcp://*:2", ">tcp://a:9"]);
    let mut spooled = plain.clone();
    spooled.spool = Some("/var/lib/zedge/f".into());
    let plan = Plan::new(std::slice::from_ref(&plain), std::slice::from_ref(&spooled));
    assert_eq!(plan.restarted, vec![(spooled.clone(), "spool")]);
    let mut moved = spooled.clone();
    moved.spool = Some("/var/lib/zedge/g".into());
    assert_eq!(
        Plan::new(&[spooled.clone()], &[moved.clone()]).restarted,
        vec![(moved, "spool")]
    );
    let mut added = device(
        "f",
        fwd,
        &["tcp://*:1"],
        &["tcp://*:2", ">tcp://a:9", ">tcp://b:9"],
    );
    added.spool = spooled.spool.clone();
    let why = "uplink endpoints (a lane each in its spool)";
    assert_eq!(
        Plan::new(&[spooled.clone()], &[added.clone()]).restarted,
        vec![(added.clone(), why)]
    );
    assert_eq!(
        Plan::new(&[added], &[spooled.clone()]).restarted,
        vec![(spooled.clone(), why)]
    );
    // A bound endpoint is rewired as ever; so is an uplink without a spool.
    let mut local = device("f", fwd, &["tcp://*:1"], &["tcp://*:3", ">tcp://a:9"]);
    local.spool = spooled.spool.clone();
    let plan = Plan::new(&[spooled], &[local]);
    assert!(plan.restarted.is_empty() && plan.rewired.len() == 1);
    let more = device("f", fwd, &["tcp://*:1"], &["tcp://*:2", ">tcp://b:9"]);
    let plan = Plan::new(&[plain], &[more]);
    assert!(plan.restarted.is_empty() && plan.rewired.len() == 1);
}
