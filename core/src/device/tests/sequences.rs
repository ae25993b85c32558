//! Random operation sequences on a streamer against what must hold.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Removals {
    Never,
    /// Only workers with nothing queued, while no message is in flight.
    IdleOnly,
    Any,
}

#[derive(Clone, Debug)]
enum Op {
    AddWorker,
    RemoveWorker(Index),
    Send { producer: usize, sizes: Vec<usize> },
    Pump,
    TogglePause(Index),
}

fn op() -> impl Strategy<Value = Op> {
    let size = prop_oneof![3 => 0..300usize, 1 => 300..9000usize];
    let send = (0..2usize, proptest::collection::vec(size, 1..=3))
        .prop_map(|(producer, sizes)| Op::Send { producer, sizes });
    prop_oneof![
        1 => Just(Op::AddWorker),
        1 => any::<Index>().prop_map(Op::RemoveWorker),
        6 => send,
        3 => Just(Op::Pump),
        2 => any::<Index>().prop_map(Op::TogglePause),
    ]
}

/// Two producers and a changing set of workers on a streamer that cuts large messages through
/// and has a small high-water mark; with `bypass`, the caller moves bodies itself in chunks of
/// that size.
fn run_streamer(
    ops: &[Op],
    removals: Removals,
    bypass: Option<usize>,
) -> Result<(), TestCaseError> {
    let mut cfg = small_input(DeviceConfig::new(Kind::Streamer));
    cfg.queue_hwm = 8192;
    let mut store = Storage::new(16, 0);
    let mut net = Net::new(cfg, &mut store);
    net.bypass = bypass;
    let producers = [net.connect(Frontend, Push), net.connect(Frontend, Push)];
    let mut live = vec![net.connect(Backend, Pull)];
    let mut workers = live.clone();
    let mut sent = Vec::new();
    net.pump();
    for op in ops {
        match op {
            Op::AddWorker if live.len() < 10 => {
                let w = net.connect(Backend, Pull);
                live.push(w);
                workers.push(w);
            }
            Op::RemoveWorker(i) if !live.is_empty() => {
                let w = live[i.index(live.len())];
                let idle = net.queued(w) == 0 && producers.iter().all(|&p| net.pending(p) == 0);
                if removals == Removals::Any || (removals == Removals::IdleOnly && idle) {
                    net.disconnect(w);
                    live.retain(|&l| l != w);
                }
            }
            Op::Send { producer, sizes } => {
                let m = tagged(*producer as u32, sent.len() as u32, sizes);
                net.send(producers[*producer], &m);
                sent.push(m);
            }
            Op::Pump => net.pump(),
            Op::TogglePause(i) if !live.is_empty() => {
                let w = live[i.index(live.len())];
                let paused = net.remote(w).paused;
                net.pause(w, !paused);
            }
            Op::AddWorker | Op::RemoveWorker(_) | Op::TogglePause(_) => {}
        }
    }
    for &w in &live {
        net.pause(w, false);
    }
    if live.is_empty() {
        workers.push(net.connect(Backend, Pull));
    }
    net.pump();

    let everything = removals != Removals::Any;
    let mut seen = BTreeSet::new();
    for &w in &workers {
        let mut last: [Option<u32>; 2] = [None; 2];
        for m in net.msgs(w) {
            let (from, seq) = tag(m);
            prop_assert_eq!(Some(m), sent.get(seq as usize), "corrupted at worker {}", w);
            prop_assert!(seen.insert(seq), "{} delivered twice", seq);
            prop_assert!(last[from as usize] < Some(seq), "reordered at worker {}", w);
            last[from as usize] = Some(seq);
        }
    }
    if everything {
        prop_assert_eq!(seen.len(), sent.len(), "lost messages");
        prop_assert_eq!(net.dev.stats().backend.msgs_out, sent.len() as u64);
    }
    for p in producers {
        prop_assert_eq!(net.pending(p), 0, "producer {} stuck", p);
    }
    prop_assert_eq!(net.dev.stats().frontend.msgs_in, sent.len() as u64);
    net.assert_healthy();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn streamer_delivers_everything_once(
        ops in proptest::collection::vec(op(), 1..60),
        bypass in proptest::option::of(1..5000usize),
    ) {
        run_streamer(&ops, Removals::Never, bypass)?;
    }

    #[test]
    fn streamer_loses_nothing_when_idle_workers_leave(
        ops in proptest::collection::vec(op(), 1..60),
        bypass in proptest::option::of(1..5000usize),
    ) {
        run_streamer(&ops, Removals::IdleOnly, bypass)?;
    }

    #[test]
    fn streamer_never_duplicates_nor_corrupts_when_busy_workers_leave(
        ops in proptest::collection::vec(op(), 1..60),
        bypass in proptest::option::of(1..5000usize),
    ) {
        run_streamer(&ops, Removals::Any, bypass)?;
    }
}
