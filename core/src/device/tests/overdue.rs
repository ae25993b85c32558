//! A message cut through at the progress pace holds its receivers for as long as it takes,
//! until another source wants one of them: then the rest of it is owed within
//! `OVERDUE_AFTER` progress timeouts, a part of it in each, or it is aborted and its sender
//! closed (attacker round 8, F3 and F4: one sender per worker at 3-4 KB/s stopped a
//! streamer for hours with 60 MiB messages).

use super::*;
use crate::time::Duration;

const TIMEOUT_MS: u64 = 500;
/// A turn of the patience: a progress timeout / `OVERDUE_GRAIN`.
const TURN_MS: u64 = 125;

/// `from`'s message of `size` bytes starts: 10,000 bytes of it, cut through.
fn start(net: &mut Net<'_>, from: P, tag: u32, size: usize) -> Vec<u8> {
    let bytes = encode(&tagged(tag, 0, &[size]));
    net.send_raw(from, &bytes[..10_000]);
    net.pump();
    bytes
}

/// A message of 2,000,000 bytes: 50 s at the pace below.
fn start_large(net: &mut Net<'_>, from: P, tag: u32) -> Vec<u8> {
    start(net, from, tag, 2_000_000)
}

/// `ms` pass with each of `senders` sending 2,000 more bytes of its message every 50 ms
/// (20,000 per timeout: over the progress pace).
fn pace(net: &mut Net<'_>, senders: &mut [(P, &[u8], usize)], ms: u64) {
    pace_by(net, senders, ms, 2_000);
}

/// [`pace`], `chunk` bytes every 50 ms.
fn pace_by(net: &mut Net<'_>, senders: &mut [(P, &[u8], usize)], ms: u64, chunk: usize) {
    for _ in 0..ms / 50 {
        for (p, bytes, at) in senders.iter_mut() {
            let end = (*at + chunk).min(bytes.len());
            net.send_raw(*p, &bytes[*at..end]);
            *at = end;
        }
        net.pump();
        net.run_until(net.now + Duration::from_millis(50));
    }
}

fn streamer(store: &mut Storage) -> Net<'_> {
    let mut cfg = small_input(DeviceConfig::new(Kind::Streamer));
    cfg.progress_timeout = Duration::from_millis(TIMEOUT_MS);
    Net::new(cfg, store)
}

/// A streamer ([`streamer`]) with three producers and two workers.
fn three_senders_two_workers(store: &mut Storage) -> (Net<'_>, [P; 3], [P; 2]) {
    let mut net = streamer(store);
    let senders = [(); 3].map(|()| net.connect(Frontend, Push));
    let workers = [(); 2].map(|()| net.connect(Backend, Pull));
    net.pump();
    (net, senders, workers)
}

/// Two senders at the pace hold both workers; a third's message finds none. Their pace would
/// take 45 s for the rest, far past `OVERDUE_AFTER` timeouts: both are aborted one turn (a
/// timeout / `OVERDUE_GRAIN`) after that, not before, though they keep the pace, and the
/// third's message goes to the next worker that comes.
#[test]
fn senders_at_the_pace_holding_every_worker_are_aborted_once_another_waits() {
    let mut store = Storage::new(8, 0);
    let (mut net, [a, b, normal], workers) = three_senders_two_workers(&mut store);
    let (ba, bb) = (start_large(&mut net, a, 1), start_large(&mut net, b, 2));
    let mut senders = [(a, &ba[..], 10_000), (b, &bb[..], 10_000)];
    // Nobody waits: they may go as slowly as the pace allows.
    pace(&mut net, &mut senders, 10 * TIMEOUT_MS);
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    let small = tagged(3, 0, &[100]);
    net.send(normal, &small);
    net.pump();
    assert!(net.pending(normal) > 0, "it waits for a worker");
    net.run_until(net.now + Duration::from_millis(TURN_MS - 1));
    assert!(net.closes.is_empty(), "not before: {:?}", net.closes);
    net.run_until(net.now + Duration::from_millis(1));
    let mut closed = net.closes.clone();
    closed.sort_by_key(|&(p, _)| p);
    let mut want = vec![
        (a, CloseReason::Overdue),
        (b, CloseReason::Overdue),
        (workers[0], CloseReason::SenderAborted),
        (workers[1], CloseReason::SenderAborted),
    ];
    want.sort_by_key(|&(p, _)| p);
    assert_eq!(closed, want);
    assert_eq!(net.dev.stats().stalled, 2);
    assert_eq!(net.dev.stats().dropped.aborted, 2);
    let next = net.connect(Backend, Pull);
    net.pump();
    assert_eq!(net.msgs(next), [small]);
}

/// The same two, with 60,000 bytes left each when the third comes, at 80 KB/s: 0.75 s, within
/// `OVERDUE_AFTER` timeouts (2 s), and each brings its part in every turn. Both messages
/// arrive whole, and then the third's.
#[test]
fn senders_whose_rest_comes_within_the_patience_finish() {
    let mut store = Storage::new(8, 0);
    let (mut net, [a, b, normal], workers) = three_senders_two_workers(&mut store);
    let (ba, bb) = (start(&mut net, a, 1, 70_000), start(&mut net, b, 2, 70_000));
    let mut senders = [(a, &ba[..], 10_000), (b, &bb[..], 10_000)];
    let small = tagged(3, 0, &[100]);
    net.send(normal, &small);
    net.pump();
    assert!(net.pending(normal) > 0, "it waits for a worker");
    pace_by(&mut net, &mut senders, 2 * TIMEOUT_MS, 4_000);
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    let got: Vec<(u32, u32)> = workers
        .iter()
        .flat_map(|&w| net.msgs(w).iter().map(tag))
        .collect();
    for want in [(1, 0), (2, 0), (3, 0)] {
        assert!(got.contains(&want), "{want:?} not in {got:?}");
    }
    assert_eq!(net.dev.stats().stalled, 0);
}

/// One sender at the pace holds one worker; the other worker takes a third sender's messages,
/// so nobody waits for it, and its message goes on as long as it keeps the pace.
#[test]
fn a_sender_at_the_pace_is_let_be_while_nobody_waits_for_its_worker() {
    let mut store = Storage::new(8, 0);
    let mut net = streamer(&mut store);
    let (slow, normal) = (net.connect(Frontend, Push), net.connect(Frontend, Push));
    let workers = [net.connect(Backend, Pull), net.connect(Backend, Pull)];
    net.pump();
    let bytes = start_large(&mut net, slow, 1);
    let mut senders = [(slow, &bytes[..], 10_000)];
    let small: Vec<Msg> = (0..20).map(|seq| tagged(3, seq, &[100])).collect();
    for m in &small {
        net.send(normal, m);
        pace(&mut net, &mut senders, 2 * TIMEOUT_MS);
    }
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    let got: usize = workers.iter().map(|&w| net.msgs(w).len()).sum();
    assert_eq!(got, small.len());
    pace(&mut net, &mut senders, 100 * TIMEOUT_MS);
    let whole = workers
        .iter()
        .any(|&w| net.msgs(w).iter().any(|m| tag(m) == (1, 0)));
    assert!(whole, "the slow message arrives whole");
    assert!(net.closes.is_empty(), "{:?}", net.closes);
}

/// In a forwarder: a publisher at the pace holds the subscribers; another publisher's messages
/// are held back for them meanwhile. The slow one, whose rest would take 45 s, is aborted one
/// turn after the first was held back.
#[test]
fn a_publisher_at_the_pace_is_aborted_once_another_publishers_messages_wait() {
    let mut store = Storage::new(8, 8);
    let mut cfg = small_input(forwarder());
    cfg.progress_timeout = Duration::from_millis(TIMEOUT_MS);
    let mut net = Net::new(cfg, &mut store);
    let (slow, [sub, other_sub]) = net.publisher_and_two_subscribers(b"");
    let other = net.connect(Frontend, Pub);
    net.pump();
    let bytes = start_large(&mut net, slow, 1);
    let mut senders = [(slow, &bytes[..], 10_000)];
    pace(&mut net, &mut senders, 10 * TIMEOUT_MS);
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    net.send(other, &tagged(2, 0, &[10]));
    net.pump();
    net.run_until(net.now + Duration::from_millis(TURN_MS - 1));
    assert!(net.closes.is_empty(), "not before: {:?}", net.closes);
    net.run_until(net.now + Duration::from_millis(1));
    assert!(
        net.closes.contains(&(slow, CloseReason::Overdue)),
        "{:?}",
        net.closes
    );
    assert!(!net.closes.iter().any(|&(p, _)| p == other));
    // The subscribers that come back get the other publisher's messages.
    let back = net.connect(Backend, Sub);
    net.pump();
    net.subscribe(back, b"");
    net.pump();
    let after = tagged(2, 1, &[10]);
    net.send(other, &after);
    net.pump();
    assert_eq!(net.msgs(back), [after]);
    let _ = (sub, other_sub);
}

/// A sender from an address struck lately (one of its connections was closed so) has one
/// progress timeout, not `OVERDUE_AFTER`, once another source waits: with 60,000 bytes left
/// (1.5 s at the pace, which would do unstruck) it owes 15,000 a turn, brings 5,000, and is
/// aborted after the first.
#[test]
fn a_struck_sender_has_one_timeout_for_its_rest() {
    let mut store = Storage::new(8, 0);
    let mut net = streamer(&mut store);
    let (slow, normal) = (net.connect(Frontend, Push), net.connect(Frontend, Push));
    let worker = net.connect(Backend, Pull);
    net.pump();
    let until = net.now + Duration::from_secs(60);
    let id = net.id(slow);
    net.dev.strike(id, until);
    let bytes = start(&mut net, slow, 1, 70_000);
    let mut senders = [(slow, &bytes[..], 10_000)];
    net.send(normal, &tagged(3, 0, &[100]));
    net.pump();
    pace(&mut net, &mut senders, TURN_MS - 25);
    assert!(net.closes.is_empty(), "not before: {:?}", net.closes);
    pace(&mut net, &mut senders, 50);
    assert_eq!(
        net.closes,
        [
            (worker, CloseReason::SenderAborted),
            (slow, CloseReason::Overdue)
        ]
    );
}
