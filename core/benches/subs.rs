//! The forwarder's subscription index: matching a message against 10,000 subscriptions (100
//! subscribers x 100 of 1,000 topics), and adding, cancelling, listing and dropping 100,000
//! (1,000 subscribers x 100 of 10,000 topics). Prints nanoseconds per operation.
//!
//! `cargo bench -p zedge-core --bench subs`. No framework: `std::time` and `black_box`; each
//! matching figure is the mean over at least two seconds.

use std::hint::black_box;
use std::time::Instant;

use zedge_core::device::{PeerSubs, SubTable, SubscriptionLimits};

/// Topic `t` of a set of 1,000 (`t000`) or 10,000 (`u0000`).
fn topic(t: u32, wide: bool) -> Vec<u8> {
    if wide {
        format!("u{t:04}").into_bytes()
    } else {
        format!("t{t:03}").into_bytes()
    }
}

/// Subscriber `p`'s `i`-th of 100 topics out of `n`: spread, distinct per subscriber.
fn pick(p: u32, i: u32, n: u32) -> u32 {
    (p.wrapping_mul(7919) + i * (n / 100)) % n
}

fn report(name: &str, ops: u64, secs: f64) {
    println!(
        "{name:<44} {:>12.1} ns/op  ({ops} ops)",
        secs * 1e9 / ops as f64
    );
}

fn limits(max: usize) -> SubscriptionLimits {
    SubscriptionLimits {
        max,
        max_per_peer: 1000,
        ..SubscriptionLimits::DEFAULT
    }
}

/// Match every topic's message in turn for two seconds.
fn bench_match(name: &str, t: &SubTable<'_>, topics: u32, wide: bool) {
    let msgs: Vec<Vec<u8>> = (0..topics)
        .map(|i| [&topic(i, wide)[..], b" payload...."].concat())
        .collect();
    let start = Instant::now();
    let (mut ops, mut sum) = (0u64, 0u64);
    while start.elapsed().as_secs_f64() < 2.0 {
        for m in &msgs {
            t.matches(black_box(m), |p| sum += u64::from(p));
        }
        ops += msgs.len() as u64;
    }
    black_box(sum);
    report(name, ops, start.elapsed().as_secs_f64());
}

fn main() {
    let seed = [0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210];

    let l = limits(10_000);
    let mut store = vec![0u8; SubTable::storage_bytes(&l)];
    let mut t = SubTable::new(&mut store, l, seed);
    let mut peers: Vec<PeerSubs> = (0..100).map(PeerSubs::new).collect();
    for (p, subs) in (0..).zip(&mut peers) {
        for i in 0..100 {
            t.add(subs, &topic(pick(p, i, 1000), false))
                .expect("the table has room");
        }
    }
    bench_match("match, 10,000 subscriptions", &t, 1000, false);

    let l = limits(100_000);
    let mut store = vec![0u8; SubTable::storage_bytes(&l)];
    let mut t = SubTable::new(&mut store, l, seed);
    let mut peers: Vec<PeerSubs> = (0..1000).map(PeerSubs::new).collect();
    let all: Vec<(usize, Vec<u8>)> = (0..1000u32)
        .flat_map(|p| (0..100).map(move |i| (p as usize, topic(pick(p, i, 10_000), true))))
        .collect();
    let start = Instant::now();
    for (p, tp) in &all {
        t.add(&mut peers[*p], black_box(tp))
            .expect("the table has room");
    }
    report(
        "add 100,000",
        all.len() as u64,
        start.elapsed().as_secs_f64(),
    );
    bench_match("match, 100,000 subscriptions", &t, 10_000, true);
    let start = Instant::now();
    let mut n = 0;
    t.topics(|_| n += 1);
    report(
        "topics() over the 100,000 (per topic)",
        n,
        start.elapsed().as_secs_f64(),
    );
    let start = Instant::now();
    for (p, tp) in &all {
        black_box(t.remove(&mut peers[*p], black_box(tp)));
    }
    report(
        "cancel 100,000",
        all.len() as u64,
        start.elapsed().as_secs_f64(),
    );
    for (p, tp) in &all {
        t.add(&mut peers[*p], tp).expect("the table has room");
    }
    let start = Instant::now();
    let mut orphaned = 0u64;
    for subs in &mut peers {
        t.remove_peer(subs, |_| orphaned += 1);
    }
    report(
        "remove_peer x 1,000 (per subscription)",
        all.len() as u64,
        start.elapsed().as_secs_f64(),
    );
    black_box(orphaned);
}
