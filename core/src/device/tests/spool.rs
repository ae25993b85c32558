//! The store-and-forward spool (`spool.rs`): a streamer's producers' messages go to the sink
//! while no worker can take them, a forwarder's publications while no uplink can; they come
//! back through the source ahead of new ones, in order, and nothing is lost or sent twice.

use super::*;
use crate::device::{ByteQueue, SpoolPeers};
use crate::time::Duration;
use crate::wire::frame::FrameHead;
use std::collections::VecDeque;

/// The caller's side of the spool: a "disk" of whole messages (their frames as queued).
#[derive(Default)]
struct Disk {
    msgs: VecDeque<Vec<u8>>,
    /// Bytes of the front message already given to the source.
    fed: usize,
    /// The caller stops taking from the sink (its disk failed).
    broken: bool,
    /// Messages the source may be given per round; `None`: as many as it takes.
    rate: Option<usize>,
    /// Taken from the sink, not yet a whole message.
    partial: Vec<u8>,
    /// [`Device::spool_resets`] when last seen.
    resets: u64,
}

/// Where the first whole message in `bytes` ends.
fn message_end(bytes: &[u8]) -> Option<usize> {
    let mut off = 0;
    while let Ok(Some((h, used))) = FrameHead::decode(&bytes[off..]) {
        let next = off + used + h.len as usize;
        if next > bytes.len() {
            return None;
        }
        off = next;
        if !h.more {
            return Some(off);
        }
    }
    None
}

fn spooled(store: &mut Storage, cfg: DeviceConfig) -> (Net<'_>, SpoolPeers) {
    let mut net = Net::new(cfg, store);
    let cap = net.dev.config().queue_capacity();
    let peers = net
        .dev
        .add_spool(VecQueue::new(cap), VecQueue::new(cap), net.now)
        .expect("slots")
        .expect("a streamer takes a spool");
    (net, peers)
}

/// Run the device and the spool until neither moves.
fn run(net: &mut Net<'_>, sp: SpoolPeers, disk: &mut Disk) {
    for _ in 0..10_000 {
        net.pump();
        let mut moved = false;
        // The sink's output is taken as it comes; its whole messages go to disk.
        if !disk.broken {
            if net.dev.spool_resets() != disk.resets {
                disk.resets = net.dev.spool_resets();
                disk.partial.clear();
            }
            loop {
                let (a, b) = net.dev.output(sp.sink);
                let n = a.len() + b.len();
                if n == 0 {
                    break;
                }
                disk.partial.extend_from_slice(a);
                disk.partial.extend_from_slice(b);
                net.dev.consume_output(sp.sink, n);
                moved = true;
            }
            while let Some(end) = message_end(&disk.partial) {
                disk.msgs.push_back(disk.partial.drain(..end).collect());
            }
        }
        // The disk's messages go to the source while it takes them.
        let mut given = 0;
        while net.dev.wants_read(sp.source) && disk.rate.is_none_or(|r| given < r) {
            let Some(front) = disk.msgs.front() else {
                break;
            };
            let n = net
                .dev
                .handle_input(sp.source, &front[disk.fed..], net.now)
                .expect("the source's input is whole messages");
            if n == 0 {
                break;
            }
            moved = true;
            disk.fed += n;
            if disk.fed == front.len() {
                disk.msgs.pop_front();
                disk.fed = 0;
                given += 1;
            }
        }
        if disk.msgs.is_empty() && net.dev.spooling().0 {
            moved |= net.dev.spool_emptied(0);
        }
        if !moved {
            net.pump();
            return;
        }
    }
    panic!("the spool never went idle");
}

fn seqs(net: &Net<'_>, w: P) -> Vec<u32> {
    net.msgs(w).iter().map(|m| tag(m).1).collect()
}

#[test]
fn with_no_worker_the_producers_messages_are_spooled_then_sent_in_order_ahead_of_new_ones() {
    let mut store = Storage::new(8, 0);
    let (mut net, sp) = spooled(&mut store, DeviceConfig::new(Kind::Streamer));
    let mut disk = Disk::default();
    let producer = net.connect(Frontend, Push);
    run(&mut net, sp, &mut disk);
    for seq in 0..500 {
        net.send(producer, &tagged(0, seq, &[40]));
    }
    run(&mut net, sp, &mut disk);
    assert_eq!(disk.msgs.len(), 500, "all on disk while no worker is there");
    assert!(net.wants_read(producer), "the producer never waits");
    assert_eq!(net.dev.spooling(), (true, 1));

    let worker = net.connect(Backend, Pull);
    // The uplink returns while the producer goes on: the spooled ones first.
    disk.rate = Some(50);
    for seq in 500..700 {
        net.send(producer, &tagged(0, seq, &[40]));
        if seq % 20 == 0 {
            run(&mut net, sp, &mut disk);
        }
    }
    disk.rate = None;
    run(&mut net, sp, &mut disk);
    assert_eq!(seqs(&net, worker), (0..700).collect::<Vec<_>>());
    assert!(!net.dev.spooling().0, "back to the workers once empty");
    // New work goes straight to the worker now.
    net.send(producer, &tagged(0, 700, &[40]));
    net.pump();
    assert_eq!(seqs(&net, worker).last(), Some(&700));
    assert!(disk.msgs.is_empty());
    assert_eq!(net.dev.stats().dropped, Drops::default());
    // Each message counts once on each side, however it went; the spool's traffic apart.
    let st = net.dev.stats();
    assert_eq!((st.frontend().msgs_in, st.backend().msgs_out), (701, 701));
    let through = net.dev.spool_traffic().unwrap();
    assert!(through.msgs_out >= 500, "{through:?}");
    assert_eq!(through.msgs_in, through.msgs_out);
    net.assert_healthy();
}

#[test]
fn workers_at_their_mark_start_spooling_instead_of_holding_the_producer() {
    let mut cfg = DeviceConfig::new(Kind::Streamer);
    cfg.queue_hwm = 2048;
    let mut store = Storage::new(8, 0);
    let (mut net, sp) = spooled(&mut store, cfg);
    let mut disk = Disk::default();
    let producer = net.connect(Frontend, Push);
    let workers = [net.connect(Backend, Pull), net.connect(Backend, Pull)];
    run(&mut net, sp, &mut disk);
    net.pause(workers[0], true);
    net.pause(workers[1], true);
    for seq in 0..300 {
        net.send(producer, &tagged(0, seq, &[300]));
    }
    run(&mut net, sp, &mut disk);
    assert!(net.wants_read(producer), "spooled, not held");
    assert!(!disk.msgs.is_empty());
    for &w in &workers {
        assert!(net.queued(w) < 2048 + 320, "{}", net.queued(w));
    }
    // The source waits for the workers as a producer would: nothing goes back to the sink.
    assert!(!net.dev.wants_read(sp.source));
    assert_eq!(net.dev.output(sp.sink).0.len(), 0);

    net.pause(workers[0], false);
    net.pause(workers[1], false);
    run(&mut net, sp, &mut disk);
    assert_delivered_once(
        &net,
        &workers,
        &(0..300).map(|s| tagged(0, s, &[300])).collect::<Vec<_>>(),
        true,
    );
    // Each worker's share came in the producer's order.
    for &w in &workers {
        let s = seqs(&net, w);
        assert!(s.windows(2).all(|p| p[0] < p[1]), "{s:?}");
    }
    assert!(!net.dev.spooling().0);
    assert_eq!(net.dev.stats().dropped, Drops::default());
    net.assert_healthy();
}

#[test]
fn a_sink_nobody_takes_from_holds_the_producers_at_its_mark_and_loses_nothing() {
    let mut cfg = DeviceConfig::new(Kind::Streamer);
    cfg.queue_hwm = 4096;
    let mut store = Storage::new(8, 0);
    let (mut net, sp) = spooled(&mut store, cfg);
    let mut disk = Disk {
        broken: true,
        ..Disk::default()
    };
    let producers = [net.connect(Frontend, Push), net.connect(Frontend, Push)];
    run(&mut net, sp, &mut disk);
    let sent: Vec<Msg> = (0..200).map(|seq| tagged(seq % 2, seq, &[100])).collect();
    for m in &sent {
        net.send(producers[tag(m).0 as usize], m);
    }
    run(&mut net, sp, &mut disk);
    assert!(
        producers.iter().any(|&p| !net.wants_read(p)),
        "held at the sink's mark"
    );
    let held = net.dev.queue(sp.sink).map_or(0, |q| q.len());
    assert!((4096..4096 + 200).contains(&held), "{held}");
    assert!(
        net.closes.is_empty(),
        "the sink is never closed: {:?}",
        net.closes
    );

    // The disk comes back, then a worker: every message, once.
    disk.broken = false;
    let worker = net.connect(Backend, Pull);
    run(&mut net, sp, &mut disk);
    assert_delivered_once(&net, &[worker], &sent, true);
    for from in 0..2 {
        let s: Vec<u32> = net
            .msgs(worker)
            .iter()
            .map(tag)
            .filter(|t| t.0 == from)
            .map(|t| t.1)
            .collect();
        assert!(s.windows(2).all(|p| p[0] < p[1]), "{s:?}");
    }
    net.assert_healthy();
}

#[test]
fn the_spool_is_not_emptied_while_the_sink_holds_messages() {
    let mut store = Storage::new(8, 0);
    let (mut net, sp) = spooled(&mut store, DeviceConfig::new(Kind::Streamer));
    let producer = net.connect(Frontend, Push);
    net.pump();
    net.send(producer, &tagged(0, 0, &[10]));
    net.pump();
    assert!(net.dev.spooling().0);
    assert!(!net.dev.spool_emptied(0), "a message is in the sink");
    let n = net.dev.output(sp.sink).0.len();
    net.dev.consume_output(sp.sink, n);
    assert!(net.dev.spool_emptied(0));
    assert!(!net.dev.spooling().0);
}

#[test]
fn a_large_message_cut_through_to_the_sink_reaches_the_worker_whole() {
    let mut cfg = small_input(DeviceConfig::new(Kind::Streamer));
    cfg.queue_hwm = 4096;
    let mut store = Storage::new(8, 0);
    let (mut net, sp) = spooled(&mut store, cfg);
    let mut disk = Disk::default();
    let producer = net.connect(Frontend, Push);
    run(&mut net, sp, &mut disk);
    let sent: Vec<Msg> = (0..6).map(|seq| big(0, seq)).collect();
    for m in &sent {
        net.send(producer, m);
        run(&mut net, sp, &mut disk);
    }
    assert_eq!(disk.msgs.len(), 6);
    let worker = net.connect(Backend, Pull);
    run(&mut net, sp, &mut disk);
    assert_eq!(net.msgs(worker), &sent[..]);
    net.assert_healthy();
}

#[test]
fn a_queue_device_takes_no_spool() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Queue), &mut store);
    let cap = net.dev.config().queue_capacity();
    let got = net
        .dev
        .add_spool(VecQueue::new(cap), VecQueue::new(cap), net.now);
    assert_eq!(got, Ok(None));
}

#[test]
fn a_producer_leaving_mid_message_cut_through_to_the_sink_leaves_nothing_of_it_on_disk() {
    let mut cfg = small_input(DeviceConfig::new(Kind::Streamer));
    cfg.queue_hwm = 4096;
    let mut store = Storage::new(8, 0);
    let (mut net, sp) = spooled(&mut store, cfg);
    let mut disk = Disk::default();
    let (quitter, other) = (net.connect(Frontend, Push), net.connect(Frontend, Push));
    run(&mut net, sp, &mut disk);
    let first = tagged(1, 0, &[50]);
    net.send(other, &first);
    run(&mut net, sp, &mut disk);
    let cut = encode(&big(0, 0));
    net.send_raw(quitter, &cut[..cut.len() / 2]);
    run(&mut net, sp, &mut disk);
    assert!(!disk.partial.is_empty(), "the sink took part of it");
    net.disconnect(quitter);
    let rest: Vec<Msg> = (1..4).map(|seq| tagged(1, seq, &[50])).collect();
    for m in &rest {
        net.send(other, m);
    }
    run(&mut net, sp, &mut disk);
    assert_eq!(net.dev.spool_resets(), 1);
    let worker = net.connect(Backend, Pull);
    run(&mut net, sp, &mut disk);
    let mut want = vec![first];
    want.extend(rest);
    assert_eq!(net.msgs(worker), &want[..]);
    assert_eq!(net.dev.stats().dropped.aborted, 1);
}

#[test]
fn a_source_whose_input_was_refused_starts_afresh() {
    let mut store = Storage::new(8, 0);
    let (mut net, sp) = spooled(&mut store, DeviceConfig::new(Kind::Streamer));
    let worker = net.connect(Backend, Pull);
    net.pump();
    // Half a message, then what no session takes in the middle of one (an ERROR command).
    let first = tagged(0, 0, &[40, 40]);
    let m = encode(&first);
    // Its first frame, to the end of its body.
    let cut = 2 + first[0].len();
    net.dev
        .handle_input(sp.source, &m[..cut], net.now)
        .expect("the first frames");
    let bad = [
        0x04u8, 10, 5, b'E', b'R', b'R', b'O', b'R', 3, b'b', b'a', b'd',
    ];
    let r = net.dev.handle_input(sp.source, &bad, net.now);
    assert!(r.is_err(), "{r:?}");
    assert!(!net.dev.wants_read(sp.source));
    net.dev.spool_source_reset(0, net.now);
    assert!(net.dev.wants_read(sp.source));
    let good = tagged(0, 1, &[40]);
    let n = net
        .dev
        .handle_input(sp.source, &encode(&good), net.now)
        .expect("a fresh session");
    assert_eq!(n, encode(&good).len());
    net.pump();
    // The half message was taken back: the worker gets the whole one only.
    assert_eq!(net.msgs(worker), &[good][..]);
}

/// What a streamer's worker that stopped reading holds goes to the one that reads: the caller
/// takes its queue's bytes back ([`Device::take_back_output`]) and gives them to the source
/// (round 22, F4). Each message reaches the reader once, and the stalled worker keeps none.
#[test]
fn a_stalled_workers_queue_taken_back_reaches_the_worker_that_reads() {
    let mut store = Storage::new(8, 0);
    let mut cfg = DeviceConfig::new(Kind::Streamer);
    // Six messages: the reader is often full while the source has more.
    cfg.queue_hwm = 300;
    let (mut net, sp) = spooled(&mut store, cfg);
    let mut disk = Disk::default();
    let producer = net.connect(Frontend, Push);
    let stalled = net.connect(Backend, Pull);
    let reader = net.connect(Backend, Pull);
    run(&mut net, sp, &mut disk);
    net.pause(stalled, true);
    for seq in 0..40 {
        net.send(producer, &tagged(0, seq, &[40]));
    }
    run(&mut net, sp, &mut disk);
    let held = net.queued(stalled);
    assert!(held > 0, "round-robin gave the stalled worker some");
    let mut workers = Vec::new();
    net.dev
        .spool_workers(|id, pushed, written| workers.push((id, pushed, written)));
    let id = net.id(stalled);
    let w = workers
        .iter()
        .find(|w| w.0 == id)
        .expect("the stalled worker is listed");
    assert_eq!(
        w.1 - w.2,
        held as u64,
        "queued and not written: {workers:?}"
    );
    assert_eq!(workers.len(), 2, "the sink is no worker: {workers:?}");

    // Not more than it holds; then all of it.
    assert!(!net.dev.take_back_output(id, held + 1, &[]));
    let mut bytes = net.dev.queue(id).expect("queued").bytes();
    assert!(net.dev.take_back_output(id, 0, &[]));
    assert_eq!(net.queued(stalled), 0);
    while let Some(end) = message_end(&bytes) {
        disk.msgs.push_back(bytes.drain(..end).collect());
    }
    assert!(bytes.is_empty(), "whole messages");
    // Past a turn of the progress timeout with nothing taken, it lags: passed over.
    net.run_until(net.now + Duration::from_secs(2));
    net.dev.spool_begin(0);
    // More behind them: the reader is full at times while the spool has more to give.
    for seq in 40..80 {
        net.send(producer, &tagged(0, seq, &[40]));
    }
    run(&mut net, sp, &mut disk);
    net.pause(stalled, false);
    run(&mut net, sp, &mut disk);
    let mut got = seqs(&net, reader);
    got.sort_unstable();
    assert_eq!(got, (0..80).collect::<Vec<_>>());
    assert_eq!(seqs(&net, stalled), Vec::<u32>::new());
    net.assert_healthy();
}

/// Command frames among what is taken back are queued again in its place: the worker's
/// stream stays whole, and what it holds is them.
#[test]
fn the_commands_among_what_is_taken_back_stay_queued() {
    let mut store = Storage::new(8, 0);
    let (mut net, _) = spooled(&mut store, DeviceConfig::new(Kind::Streamer));
    let producer = net.connect(Frontend, Push);
    let worker = net.connect(Backend, Pull);
    net.pump();
    net.pause(worker, true);
    for seq in 0..5 {
        net.send(producer, &tagged(0, seq, &[40]));
    }
    net.pump();
    let id = net.id(worker);
    let held = net.queued(worker);
    assert!(held > 0);
    // A PING with a TTL of 0 and no context, as the device's session would queue one.
    let ping = [0x04u8, 7, 4, b'P', b'I', b'N', b'G', 0, 0];
    assert!(
        !net.dev.take_back_output(id, 0, &[0; 1000]),
        "more than it held"
    );
    assert!(net.dev.take_back_output(id, 0, &ping));
    assert_eq!(net.dev.queue(id).expect("queued").bytes(), ping);
    net.pause(worker, false);
    net.pump();
    assert_eq!(net.msgs(worker), &[] as &[Msg]);
    assert_eq!(net.queued(worker), 0, "the PING went out");
    net.assert_healthy();
}

/// A forwarder's uplinks are never listed nor taken back from: each has its own copy.
#[test]
fn a_forwarders_uplink_is_not_taken_back_from() {
    let mut store = Storage::new(8, 8);
    let (mut net, _, publisher, _) = forwarder_spooled(&mut store);
    let up = uplink(&mut net, b"");
    net.pause(up, true);
    net.send(publisher, &tagged(0, 0, &[40]));
    net.pump();
    assert!(net.queued(up) > 0);
    let mut n = 0;
    net.dev.spool_workers(|_, _, _| n += 1);
    assert_eq!(n, 0);
    assert!(!net.dev.take_back_output(net.id(up), 0, &[]));
}

/// A forwarder with a spool, a publisher and a local subscriber of everything; the uplink is
/// connected (and its subscription in) by the test.
fn forwarder_spooled(store: &mut Storage) -> (Net<'_>, SpoolPeers, P, P) {
    let (mut net, sp) = spooled(store, forwarder());
    let publisher = net.connect(Frontend, Pub);
    let local = net.connect(Backend, Sub);
    net.pump();
    net.subscribe(local, b"");
    net.pump();
    (net, sp, publisher, local)
}

/// An uplink connects and subscribes to `topic`: the device is told it is one at once, and
/// ready once its subscription is in.
fn uplink(net: &mut Net<'_>, topic: &[u8]) -> P {
    uplink_in(net, topic, 0)
}

/// [`uplink`], in `lane`.
fn uplink_in(net: &mut Net<'_>, topic: &[u8], lane: usize) -> P {
    let up = net.connect(Backend, Sub);
    assert!(net.dev.set_uplink(net.id(up), lane, false));
    net.pump();
    net.subscribe(up, topic);
    net.pump();
    assert!(net.dev.set_uplink(net.id(up), lane, true));
    up
}

/// Attacker round 20, F4 and F5: two uplinks in lanes of their own. One at its mark spools
/// for itself alone, from where it stopped taking; the other gets every publication live all
/// along; a lane's source sends to its own uplink only, and the lane is live again once it
/// has sent what its uplink missed.
#[test]
fn an_uplink_at_its_mark_in_a_lane_of_its_own_spools_for_itself_alone() {
    let mut cfg = forwarder();
    cfg.queue_hwm = 2_000;
    let mut store = Storage::new(8, 16);
    let (mut net, sp) = spooled(&mut store, cfg);
    let publisher = net.connect(Frontend, Pub);
    net.pump();
    let cap = net.dev.config().queue_capacity();
    let (lane, source) = net
        .dev
        .add_spool_lane(VecQueue::new(cap), net.now)
        .expect("slots")
        .expect("a forwarder's spool takes lanes");
    assert_eq!(lane, 1);
    let a = uplink_in(&mut net, b"", 0);
    let b = uplink_in(&mut net, b"", 1);
    assert_eq!(net.dev.uplink_lane(net.id(b)), Some(1));
    assert_eq!(net.dev.uplinks_live(Some(1)), 1);
    net.pause(b, true);
    // The sink's output taken as it comes, as the caller's disk does.
    let mut sink = Vec::new();
    let mut take_sink = |net: &mut Net<'_>| loop {
        let (x, y) = net.dev.output(sp.sink);
        let n = x.len() + y.len();
        if n == 0 {
            break;
        }
        sink.extend_from_slice(x);
        sink.extend_from_slice(y);
        net.dev.consume_output(sp.sink, n);
    };
    for seq in 0..400 {
        net.send(publisher, &tagged(0, seq, &[100]));
        net.pump();
        take_sink(&mut net);
        net.pump();
    }
    assert_eq!(
        seqs(&net, a),
        (0..400).collect::<Vec<_>>(),
        "live all along"
    );
    assert_eq!(net.dev.spool_lane_from(0), None);
    assert_eq!(net.dev.spool_lane_from(1), Some(0), "from the sink's start");
    // The sink had what came from b's mark on; b's queue holds what came before.
    let mut spooled = Vec::new();
    while let Some(end) = message_end(&sink) {
        spooled.push(sink.drain(..end).collect::<Vec<u8>>());
    }
    assert!(!spooled.is_empty() && spooled.len() < 400);
    // B's lane's source: to b alone, behind what its queue holds.
    net.pause(b, false);
    for m in &spooled {
        let mut at = 0;
        while at < m.len() {
            let n = net
                .dev
                .handle_input(source, &m[at..], net.now)
                .expect("whole messages");
            at += n;
            net.pump();
        }
    }
    net.pump();
    assert_eq!(seqs(&net, b), (0..400).collect::<Vec<_>>());
    assert_eq!(seqs(&net, a).len(), 400, "a got none of b's again");
    assert!(net.dev.spool_emptied(1));
    assert_eq!(net.dev.spool_lane_from(1), None);
    net.send(publisher, &tagged(0, 400, &[100]));
    net.pump();
    assert_eq!(seqs(&net, b).last(), Some(&400), "live again");
    assert_eq!(seqs(&net, a).last(), Some(&400));
    assert_eq!(net.dev.stats().dropped, Drops::default());
}

#[test]
fn a_forwarder_spools_for_its_uplink_while_it_is_away_and_sends_it_all_in_order_when_back() {
    let mut store = Storage::new(8, 16);
    let (mut net, sp, publisher, local) = forwarder_spooled(&mut store);
    let mut disk = Disk::default();
    // The sink subscribes to everything: the publisher is sent it.
    assert!(net.upstream(publisher).contains(&(true, Vec::new())));
    for seq in 0..300 {
        net.send(publisher, &tagged(0, seq, &[40]));
    }
    run(&mut net, sp, &mut disk);
    assert_eq!(disk.msgs.len(), 300, "all on disk while no uplink is there");
    assert_eq!(
        seqs(&net, local),
        (0..300).collect::<Vec<_>>(),
        "live all along"
    );
    assert_eq!(net.dev.spooling(), (true, 1));

    let up = uplink(&mut net, b"");
    // It comes back while the publisher goes on: the spooled ones first.
    disk.rate = Some(40);
    for seq in 300..500 {
        net.send(publisher, &tagged(0, seq, &[40]));
        if seq % 20 == 0 {
            run(&mut net, sp, &mut disk);
        }
    }
    disk.rate = None;
    run(&mut net, sp, &mut disk);
    assert_eq!(seqs(&net, up), (0..500).collect::<Vec<_>>());
    assert_eq!(seqs(&net, local), (0..500).collect::<Vec<_>>(), "once each");
    assert!(!net.dev.spooling().0, "live again once empty");
    net.send(publisher, &tagged(0, 500, &[40]));
    net.pump();
    assert_eq!(seqs(&net, up).last(), Some(&500));
    assert!(disk.msgs.is_empty());
    assert_eq!(net.dev.stats().dropped, Drops::default());
    net.assert_healthy();
}

#[test]
fn an_uplink_at_its_mark_starts_spooling_instead_of_losing_messages() {
    let mut cfg = forwarder();
    cfg.queue_hwm = 2_000;
    let mut store = Storage::new(8, 16);
    let (mut net, sp) = spooled(&mut store, cfg);
    let publisher = net.connect(Frontend, Pub);
    let mut disk = Disk::default();
    let up = uplink(&mut net, b"");
    net.pause(up, true);
    for seq in 0..400 {
        net.send(publisher, &tagged(0, seq, &[100]));
    }
    run(&mut net, sp, &mut disk);
    assert!(
        net.dev.spooling().0,
        "spooling once the uplink was at its mark"
    );
    assert!(!disk.msgs.is_empty());
    net.pause(up, false);
    run(&mut net, sp, &mut disk);
    assert_eq!(seqs(&net, up), (0..400).collect::<Vec<_>>());
    assert!(!net.dev.spooling().0);
    assert_eq!(net.dev.stats().dropped, Drops::default());
}

#[test]
fn spooled_messages_go_to_uplinks_as_they_subscribe_and_to_nobody_else() {
    let mut store = Storage::new(8, 16);
    let (mut net, sp, publisher, local) = forwarder_spooled(&mut store);
    let mut disk = Disk::default();
    for seq in 0..100 {
        net.send(publisher, &tagged(seq % 2, seq, &[40]));
    }
    run(&mut net, sp, &mut disk);
    assert_eq!(disk.msgs.len(), 100);
    // Only publisher tag 1's messages (their first four bytes).
    let up = uplink(&mut net, &1u32.to_be_bytes());
    // A subscriber that is no uplink, connected meanwhile, gets only live ones.
    let late = net.connect(Backend, Sub);
    net.pump();
    net.subscribe(late, b"");
    run(&mut net, sp, &mut disk);
    let odd: Vec<u32> = (0..100).filter(|s| s % 2 == 1).collect();
    assert_eq!(seqs(&net, up), odd);
    assert!(net.msgs(late).is_empty(), "{:?}", seqs(&net, late));
    assert_eq!(net.msgs(local).len(), 100);
    assert!(!net.dev.spooling().0);
}

#[test]
fn the_spool_waits_for_an_uplink_to_be_ready() {
    let mut store = Storage::new(8, 16);
    let (mut net, sp, publisher, _) = forwarder_spooled(&mut store);
    let mut disk = Disk::default();
    for seq in 0..50 {
        net.send(publisher, &tagged(0, seq, &[40]));
    }
    run(&mut net, sp, &mut disk);
    let up = net.connect(Backend, Sub);
    assert!(net.dev.set_uplink(net.id(up), 0, false));
    run(&mut net, sp, &mut disk);
    assert!(net.msgs(up).is_empty(), "not before it is ready");
    assert!(net.dev.spooling().0);
    // Its subscription is in now.
    net.subscribe(up, b"");
    net.pump();
    assert!(net.dev.set_uplink(net.id(up), 0, true));
    run(&mut net, sp, &mut disk);
    assert_eq!(seqs(&net, up), (0..50).collect::<Vec<_>>());
}

/// The caller says each round whether its disk fails: saying the same again wakes nobody (it
/// did once, and its spool task woke itself for ever: a busy loop that starved a publisher).
#[test]
fn saying_the_disk_works_again_and_again_wakes_nobody() {
    let mut store = Storage::new(8, 16);
    let (mut net, sp, publisher, _local) = forwarder_spooled(&mut store);
    let mut disk = Disk::default();
    for seq in 0..10 {
        net.send(publisher, &tagged(0, seq, &[40]));
    }
    // On disk, and the source waits for an uplink.
    run(&mut net, sp, &mut disk);
    assert_eq!(disk.msgs.len(), 10);
    assert!(!net.dev.wants_read(sp.source));
    while net.dev.poll_wake().is_some() {}
    net.dev.spool_failing(false);
    assert_eq!(net.dev.poll_wake(), None);
    net.dev.spool_failing(true);
    net.dev.spool_failing(false);
    assert_eq!(
        net.dev.poll_wake(),
        Some(sp.source),
        "woken once it works again"
    );
}

/// Attacker round 20, F2: an uplink said to be ready whose subscriptions are not in yet (a
/// broker whose consumers come back later) is waited for: the spool is not thrown away as
/// wanted by nobody.
#[test]
fn an_uplink_with_no_subscription_yet_is_waited_for() {
    let mut store = Storage::new(8, 16);
    let (mut net, sp, publisher, _) = forwarder_spooled(&mut store);
    let mut disk = Disk::default();
    for seq in 0..50 {
        net.send(publisher, &tagged(0, seq, &[40]));
    }
    run(&mut net, sp, &mut disk);
    let up = net.connect(Backend, Sub);
    net.pump();
    assert!(net.dev.set_uplink(net.id(up), 0, true));
    run(&mut net, sp, &mut disk);
    assert!(net.msgs(up).is_empty());
    assert_eq!(disk.msgs.len(), 50, "nothing thrown away");
    net.subscribe(up, b"");
    run(&mut net, sp, &mut disk);
    assert_eq!(seqs(&net, up), (0..50).collect::<Vec<_>>());
    assert_eq!(net.dev.stats().dropped, Drops::default());
}

/// Attacker round 20, F3: a spooled message that an uplink holding nothing has no memory
/// for is dropped (counted), as it would be live, and the rest go: the spool does not wait
/// behind it for good.
#[test]
fn a_spooled_message_an_empty_uplink_has_no_memory_for_is_dropped_not_waited_on() {
    use super::vec_queue::pool;
    let mut store = Storage::new(8, 16);
    let (mut net, sp, publisher, _) = forwarder_spooled(&mut store);
    let mut disk = Disk::default();
    net.send(publisher, &tagged(0, 0, &[3000]));
    for seq in 1..20 {
        net.send(publisher, &tagged(0, seq, &[40]));
    }
    run(&mut net, sp, &mut disk);
    assert_eq!(disk.msgs.len(), 20);
    let up = uplink(&mut net, b"");
    // Room for small messages only from now on.
    pool(Some(2_000));
    run(&mut net, sp, &mut disk);
    pool(None);
    assert_eq!(seqs(&net, up), (1..20).collect::<Vec<_>>());
    assert_eq!(net.dev.stats().dropped.memory, 1);
    assert!(disk.msgs.is_empty());
}

/// The sink's output taken as it comes, as the caller's disk does: every byte, in order.
fn take_sink(net: &mut Net<'_>, sp: SpoolPeers, sink: &mut Vec<u8>) {
    loop {
        let (x, y) = net.dev.output(sp.sink);
        let n = x.len() + y.len();
        if n == 0 {
            break;
        }
        sink.extend_from_slice(x);
        sink.extend_from_slice(y);
        net.dev.consume_output(sp.sink, n);
        net.pump();
    }
}

/// Where each whole message in `bytes` begins.
fn starts(bytes: &[u8]) -> Vec<u64> {
    let (mut at, mut off) = (Vec::new(), 0);
    while let Some(end) = message_end(&bytes[off..]) {
        at.push(off as u64);
        off += end;
    }
    at
}

/// A forwarder whose spool has two lanes: lane 0 with no uplink (it spools everything),
/// lane 1 with the uplink `b`; two publishers; queues of 4 KiB. Publisher 1 sends the first
/// 40,000 bytes of `large` (the sink takes them as they come), and publisher 2 two small
/// messages: the first held back behind it for the sink and, live, for `b`; then `b` stops
/// reading, fills with more of the large one, and its lane begins to spool with the second
/// (held back for the sink only).
fn large_on_its_way<'a>(store: &'a mut Storage, large: &[u8], sink: &mut Vec<u8>) -> Big<'a> {
    let mut cfg = small_input(forwarder());
    cfg.queue_hwm = 4096;
    let (mut net, sp) = spooled(store, cfg);
    let (p1, p2) = (net.connect(Frontend, Pub), net.connect(Frontend, Pub));
    net.pump();
    let cap = net.dev.config().queue_capacity();
    net.dev
        .add_spool_lane(VecQueue::new(cap), net.now)
        .expect("slots")
        .expect("a forwarder's spool takes lanes");
    let b = uplink_in(&mut net, b"", 1);
    net.send_raw(p1, &large[..20_000]);
    net.pump();
    take_sink(&mut net, sp, sink);
    net.send(p2, &tagged(2, 1, &[100]));
    net.pump();
    net.pause(b, true);
    net.send_raw(p1, &large[20_000..40_000]);
    net.pump();
    take_sink(&mut net, sp, sink);
    assert_eq!(net.dev.spool_lane_from(1), None, "b is live");
    net.send(p2, &tagged(2, 2, &[100]));
    net.pump();
    assert_eq!(
        net.dev.spool_lane_from(1),
        Some(u64::MAX),
        "not yet known: past anything the sink has"
    );
    Big {
        net,
        sp,
        pubs: [p1, p2],
        b,
    }
}

struct Big<'a> {
    net: Net<'a>,
    sp: SpoolPeers,
    pubs: [P; 2],
    b: P,
}

/// Attacker round 26, F1: a lane began to spool while a large publication was being cut
/// through into the sink (for another lane), and publications that came meanwhile were held
/// back behind it, for the sink and, live, for the lane's uplink. The lane's start in the
/// sink's stream was the sink's count then, before those held back: the caller sent them to
/// the uplink again from the spool, out of order. Now it begins past them, once the large
/// one is in.
#[test]
fn a_lane_that_begins_while_the_sink_takes_a_large_message_begins_past_what_was_held_back() {
    let mut store = Storage::new(8, 16);
    let large = msg(&[b"large", &[7; 60_000]]);
    let wire = encode(&large);
    let mut sink = Vec::new();
    let Big {
        mut net,
        sp,
        pubs: [p1, _],
        b,
    } = large_on_its_way(&mut store, &wire, &mut sink);
    net.send_raw(p1, &wire[40_000..]);
    net.pump();
    take_sink(&mut net, sp, &mut sink);
    let at = starts(&sink);
    assert_eq!(
        at.len(),
        3,
        "the large one, then the two held back behind it"
    );
    assert_eq!(
        net.dev.spool_lane_from(1),
        Some(at[2]),
        "b's lane begins with the one that came after it began, not the one b had live"
    );
    net.pause(b, false);
    net.pump();
    let live = [large, tagged(2, 1, &[100])];
    assert_eq!(
        net.msgs(b),
        live,
        "live: the large one, and the one held back for it"
    );
}

/// Attacker round 26, F1 and F2: the large publication the sink was taking is aborted (its
/// publisher leaves) after the caller took part of it. What was held back behind it goes
/// into the sink at once, in order, ahead of what comes next (it stayed held back, and went
/// in after the next large message, or never); the lane that began meanwhile begins past
/// what its uplink had live; the uplink, reset (it had written part of the large one), still
/// holds what was held back for it, for its caller to take back into its lane.
#[test]
fn a_large_message_aborted_in_the_sink_lets_what_was_held_back_behind_it_go_in_first() {
    let mut store = Storage::new(8, 16);
    let large = msg(&[b"large", &[7; 60_000]]);
    let wire = encode(&large);
    let mut sink = Vec::new();
    let Big {
        mut net,
        sp,
        pubs: [p1, p2],
        b,
    } = large_on_its_way(&mut store, &wire, &mut sink);
    let (m1, m2, m3) = (
        tagged(2, 1, &[100]),
        tagged(2, 2, &[100]),
        tagged(2, 3, &[100]),
    );
    let held_for_b = net.dev.queue(net.id(b)).expect("b").later_len();
    assert_eq!(held_for_b, encode(&m1).len(), "m1 is held back for b, live");
    // The caller took part of the large one; it will never get the rest.
    let cut = sink.len();
    assert!(cut > 0);
    net.disconnect(p1);
    assert_eq!(
        net.dev.queue(net.id(b)).map(|q| q.later_len()),
        Some(held_for_b),
        "b, reset, holds m1 still until it is gone: its caller takes it back into its lane"
    );
    net.pump();
    assert_eq!(net.dev.spool_resets(), 1, "the caller drops what it took");
    assert_eq!(
        net.dev.spool_lane_from(1),
        Some((cut + encode(&m1).len()) as u64),
        "b's lane begins with m2: m1 it had live"
    );
    net.send(p2, &m3);
    net.pump();
    take_sink(&mut net, sp, &mut sink);
    let want: Vec<u8> = [&m1, &m2, &m3].iter().flat_map(|m| encode(m)).collect();
    assert_eq!(
        &sink[cut..],
        &want[..],
        "what was held back goes in first, in order, then the next"
    );
}

/// A forwarder spooling everything (lane 0 has no uplink), queues of 4 KiB, two publishers:
/// the first has sent the first 20,000 bytes of `large` (the sink took them), the second
/// 100 small messages, held back behind it for the sink (4 KiB is its mark: past it, a
/// subscriber would lose them).
fn small_ones_behind_a_large_one<'a>(
    store: &'a mut Storage,
    large: &[u8],
    sink: &mut Vec<u8>,
) -> (Net<'a>, SpoolPeers, [P; 2], Vec<Msg>) {
    let mut cfg = small_input(forwarder());
    cfg.queue_hwm = 4096;
    // A queue's capacity is its mark and a message of the largest size.
    cfg.limits.max_message_size = 64 << 10;
    let (mut net, sp) = spooled(store, cfg);
    let (p1, p2) = (net.connect(Frontend, Pub), net.connect(Frontend, Pub));
    net.pump();
    net.send_raw(p1, &large[..20_000]);
    net.pump();
    take_sink(&mut net, sp, sink);
    let small: Vec<Msg> = (0..100).map(|k| tagged(2, k, &[100])).collect();
    for m in &small {
        net.send(p2, m);
    }
    net.pump();
    take_sink(&mut net, sp, sink);
    assert!(net.wants_read(p2), "the publisher does not wait");
    (net, sp, [p1, p2], small)
}

/// Attacker round 27, G1: publications that come while a large one is cut through slowly
/// into the sink were held back behind it up to the sink's high-water mark, as for a
/// subscriber; past it they were lost for every lane that spools. Now the sink holds back
/// as much as memory allows: none is lost, none waits, and they go in after the large one.
#[test]
fn publications_behind_a_large_one_going_slowly_into_the_sink_are_all_held_back() {
    let mut store = Storage::new(8, 16);
    let large = encode(&msg(&[b"large", &[7; 60_000]]));
    let mut sink = Vec::new();
    let (mut net, sp, [p1, _], small) =
        small_ones_behind_a_large_one(&mut store, &large, &mut sink);
    assert_eq!(net.dev.stats().dropped.hwm, 0, "none lost");
    // What is held back shows as queued (attacker round 29, I7: it showed nowhere).
    let held: usize = small.iter().map(|m| encode(m).len()).sum();
    let queued: u64 = net.dev.queued().iter().sum();
    assert!(queued >= held as u64, "{queued} queued, {held} held back");
    net.send_raw(p1, &large[20_000..]);
    for _ in 0..20 {
        net.pump();
        take_sink(&mut net, sp, &mut sink);
    }
    let mut want = large.clone();
    small.iter().for_each(|m| want.extend(encode(m)));
    assert!(sink == want, "the large one, then every small one in order");
    assert_eq!(net.dev.stats().dropped, Default::default());
}

/// [`publications_behind_a_large_one_going_slowly_into_the_sink_are_all_held_back`], until
/// no more can be held back (the sink's queue's capacity, here; memory, as well): the sink
/// lets go of the large one (lost to the spool, counted), not of the small ones, and goes on
/// taking them.
#[test]
fn with_no_room_to_hold_more_back_the_sink_lets_go_of_the_large_one() {
    let mut store = Storage::new(8, 16);
    let large = encode(&msg(&[b"large", &[7; 60_000]]));
    let mut sink = Vec::new();
    let (mut net, sp, [p1, p2], mut small) =
        small_ones_behind_a_large_one(&mut store, &large, &mut sink);
    let cut = sink.len();
    let more: Vec<Msg> = (100..800).map(|k| tagged(2, k, &[100])).collect();
    for m in &more {
        net.send(p2, m);
    }
    for _ in 0..50 {
        net.pump();
        take_sink(&mut net, sp, &mut sink);
    }
    let dropped = net.dev.stats().dropped;
    assert_eq!(
        (dropped.memory, dropped.hwm),
        (1, 0),
        "the large one, for the spool"
    );
    assert_eq!(
        net.dev.spool_resets(),
        1,
        "the caller drops what it took of it"
    );
    // Told to the caller, which warns (attacker round 29, I7): the 20,000 bytes taken of it
    // and what was held back behind it then.
    let let_go = net.dev.spool_let_go();
    assert_eq!((let_go.times, let_go.taken), (1, 20_000));
    assert!(let_go.behind > 0, "{let_go:?}");
    net.send_raw(p1, &large[20_000..]);
    for _ in 0..20 {
        net.pump();
        take_sink(&mut net, sp, &mut sink);
    }
    small.extend(more);
    let want: Vec<u8> = small.iter().flat_map(encode).collect();
    assert!(
        sink[cut..] == want[..],
        "every small one, in order, and no more"
    );
    assert_eq!(net.dev.stats().dropped.memory, 1);
}

/// Attacker round 27, G2: a stop while a large publication was half-way into the sink lost
/// what was held back behind it, for every lane. At the stop the sink lets go of it: what
/// was held back goes in, in order, for the caller to write; the caller drops what it took
/// of the large one.
#[test]
fn at_a_stop_the_sink_lets_go_of_a_large_message_and_takes_what_was_held_back_behind_it() {
    let mut store = Storage::new(8, 16);
    let large = msg(&[b"large", &[7; 60_000]]);
    let wire = encode(&large);
    let mut sink = Vec::new();
    let Big { mut net, sp, .. } = large_on_its_way(&mut store, &wire, &mut sink);
    let cut = sink.len();
    net.dev.spool_stopping();
    assert_eq!(net.dev.spool_resets(), 1, "the caller drops what it took");
    take_sink(&mut net, sp, &mut sink);
    let want: Vec<u8> = [tagged(2, 1, &[100]), tagged(2, 2, &[100])]
        .iter()
        .flat_map(encode)
        .collect();
    assert_eq!(&sink[cut..], &want[..], "both held back, in order");
    net.dev.spool_stopping();
    assert_eq!(net.dev.spool_resets(), 1, "once");
}
