//! Streamer: spreading, backpressure, cut-through integrity.

use super::*;

#[test]
fn streamer_spreads_messages_over_workers_including_late_ones() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Streamer), &mut store);
    let producers = [net.connect(Frontend, Push), net.connect(Frontend, Push)];
    let mut workers = vec![net.connect(Backend, Pull), net.connect(Backend, Pull)];
    net.pump();
    let mut sent = Vec::new();
    let mut send_round = |net: &mut Net<'_>, n: u32, base: u32| {
        for (i, &p) in producers.iter().enumerate() {
            for seq in base..base + n {
                let m = tagged(i as u32, seq, &[10, 5]);
                net.send(p, &m);
                sent.push(m);
            }
        }
        net.pump();
    };
    send_round(&mut net, 20, 0);
    let before: Vec<usize> = workers.iter().map(|&w| net.msgs(w).len()).collect();
    workers.push(net.connect(Backend, Pull));
    net.pump();
    send_round(&mut net, 30, 20);

    let round2: Vec<usize> = workers
        .iter()
        .enumerate()
        .map(|(i, &w)| net.msgs(w).len() - before.get(i).copied().unwrap_or(0))
        .collect();
    let (min, max) = (round2.iter().min().unwrap(), round2.iter().max().unwrap());
    assert!(*min > 0 && max - min <= 1, "round-robin: {round2:?}");
    assert_delivered_once(&net, &workers, &sent, true);
    net.assert_healthy();
}

#[test]
fn streamer_backpressure_loses_nothing() {
    let mut cfg = DeviceConfig::new(Kind::Streamer);
    cfg.queue_hwm = 2048;
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(cfg, &mut store);
    let producer = net.connect(Frontend, Push);
    let workers = [net.connect(Backend, Pull), net.connect(Backend, Pull)];
    net.pump();
    net.pause(workers[0], true);
    net.pause(workers[1], true);
    let sent: Vec<Msg> = (0..100).map(|seq| tagged(0, seq, &[300])).collect();
    for m in &sent {
        net.send(producer, m);
    }
    net.pump();
    assert!(!net.wants_read(producer), "full workers stop the producer");
    assert!(net.pending(producer) > 0);
    for &w in &workers {
        assert!(net.queued(w) < 2048 + 320, "{}", net.queued(w));
    }

    net.pause(workers[0], false);
    net.pump();
    assert!(net.wants_read(producer));
    net.pause(workers[1], false);
    net.pump();
    assert_delivered_once(&net, &workers, &sent, true);
    assert_eq!(net.dev.stats().dropped, Drops::default());
    net.assert_healthy();
}

#[test]
fn streamer_cut_through_never_splices_frames() {
    let mut cfg = small_input(DeviceConfig::new(Kind::Streamer));
    cfg.queue_hwm = 4096;
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(cfg, &mut store);
    let producers = [net.connect(Frontend, Push), net.connect(Frontend, Push)];
    let workers = [net.connect(Backend, Pull), net.connect(Backend, Pull)];
    net.pump();
    let mut sent = Vec::new();
    for seq in 0..10 {
        for (i, &p) in producers.iter().enumerate() {
            let m = big(i as u32, seq);
            net.send(p, &m);
            sent.push(m);
        }
    }
    net.pump();
    assert_delivered_once(&net, &workers, &sent, true);
    for &w in &workers {
        assert!(!net.msgs(w).is_empty(), "worker {w} got nothing");
    }
    net.assert_healthy();
}
