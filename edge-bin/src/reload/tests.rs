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
