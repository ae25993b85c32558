//! A worker that holds its sender in the middle of a message and reads too little of it is
//! closed at the progress timeout (`deaf.rs`); one that reads slowly but steadily, or whose
//! socket is found passing on what it held, is not.

use super::*;
use crate::device::queue::PROBE_WAIT;
use crate::time::Duration;

const TIMEOUT_MS: u64 = 500;
const TIMEOUT: Duration = Duration::from_millis(TIMEOUT_MS);

/// A streamer cutting through messages over 4 KiB, its workers' marks at 8 KiB, a progress
/// timeout of 500 ms, and a producer. Its first worker, which takes nothing, is given a
/// message of 200 KB: the producer waits in the middle of it. Then a second worker comes.
fn held_by_a_worker(store: &mut Storage, kind: Kind) -> (Net<'_>, P, [P; 2], Msg) {
    let mut cfg = small_input(DeviceConfig::new(kind));
    cfg.progress_timeout = TIMEOUT;
    cfg.queue_hwm = 8 << 10;
    let mut net = Net::new(cfg, store);
    let (client, worker_type) = match kind {
        Kind::Queue => (Req, Rep),
        _ => (Push, Pull),
    };
    let producer = net.connect(Frontend, client);
    let deaf = net.connect(Backend, worker_type);
    net.pump();
    net.pause(deaf, true);
    let big = tagged(0, 0, &[200_000]);
    net.send(producer, &big);
    net.pump();
    assert!(
        net.queued(deaf) >= 8 << 10,
        "the message waits at the worker"
    );
    assert!(
        net.pending(producer) > 100_000,
        "its producer waits in the middle of it"
    );
    let live = net.connect(Backend, worker_type);
    net.pump();
    (net, producer, [deaf, live], big)
}

/// Closed at the timeout, after its socket was tried and found passing nothing on; the
/// message is lost, counted, and the producer's next messages go to the worker that reads.
#[test]
fn a_worker_that_reads_none_of_a_message_holding_its_sender_is_closed_at_the_timeout() {
    let mut store = Storage::new(8, 0);
    let (mut net, producer, [deaf, live], _) = held_by_a_worker(&mut store, Kind::Streamer);
    net.run_until(net.now + Duration::from_millis(TIMEOUT_MS - 1));
    assert!(net.closes.is_empty(), "not before the timeout");
    assert_eq!(net.remote(deaf).probes, 0);
    net.run_until(net.now + Duration::from_millis(1));
    assert_eq!(net.remote(deaf).probes, 1, "its socket was tried");
    net.run_until(net.now + PROBE_WAIT);
    assert_eq!(net.closes, [(deaf, CloseReason::Deaf)]);
    assert_eq!(net.dev.stats().unread, 1);
    assert_eq!(net.dev.stats().dropped.aborted, 1, "the message is lost");
    let after: Vec<Msg> = (1..4).map(|seq| tagged(0, seq, &[100])).collect();
    for m in &after {
        net.send(producer, m);
    }
    net.pump();
    assert_eq!(net.msgs(live), &after[..], "the producer goes on");
    assert!(
        net.dev.poll_timeout().is_none_or(|t| t > net.now),
        "no timer left due"
    );
}

/// The same in a queue: a REP worker that reads nothing of a large request.
#[test]
fn a_queue_worker_that_reads_none_of_a_request_holding_its_client_is_closed() {
    let mut store = Storage::new(8, 0);
    let (mut net, _client, [deaf, _live], _) = held_by_a_worker(&mut store, Kind::Queue);
    net.run_until(net.now + TIMEOUT + PROBE_WAIT);
    assert_eq!(net.closes, [(deaf, CloseReason::Deaf)]);
    assert_eq!(net.dev.stats().unread, 1);
}

/// A worker whose socket takes 2,000 bytes every 50 ms (20,000 per timeout, over
/// [`PROGRESS_BYTES`](crate::device::PROGRESS_BYTES)) holds its producer as long as it
/// takes, and gets the whole message.
#[test]
fn a_worker_reading_slowly_but_steadily_is_not_closed() {
    let mut store = Storage::new(8, 0);
    let (mut net, _producer, [slow, _live], big) = held_by_a_worker(&mut store, Kind::Streamer);
    for _ in 0..200 {
        net.write(slow, 2_000);
        net.pump();
        net.run_until(net.now + Duration::from_millis(50));
    }
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    assert_eq!(net.remote(slow).probes, 0);
    net.pause(slow, false);
    net.pump();
    assert_eq!(net.msgs(slow), [big]);
    assert_eq!(net.dev.stats().unread, 0);
}

/// One that reads less than that is closed, though it takes a little now and then (500
/// bytes every 70 ms).
#[test]
fn a_worker_trickling_a_message_holding_its_sender_is_closed() {
    let mut store = Storage::new(8, 0);
    let (mut net, _producer, [slow, _live], _) = held_by_a_worker(&mut store, Kind::Streamer);
    for _ in 0..20 {
        net.write(slow, 500);
        net.pump();
        net.run_until(net.now + Duration::from_millis(70));
    }
    assert_eq!(net.closes, [(slow, CloseReason::Deaf)]);
}

/// One whose socket, tried, is found passing on what it held (the caller saw no notice of
/// room: a socket reads as writable late) is kept; the try moves its time on, so it is tried
/// again only a timeout later.
#[test]
fn a_worker_whose_socket_is_found_passing_bytes_on_is_kept() {
    let mut store = Storage::new(8, 0);
    let (mut net, _producer, [deaf, _live], _) = held_by_a_worker(&mut store, Kind::Streamer);
    net.remotes[deaf].passes_on = true;
    net.run_until(net.now + TIMEOUT + PROBE_WAIT);
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    assert_eq!(net.remote(deaf).probes, 1);
    net.run_until(net.now + Duration::from_millis(TIMEOUT_MS - 10));
    assert_eq!(
        net.remote(deaf).probes,
        1,
        "not tried again before its time"
    );
    net.remotes[deaf].passes_on = false;
    net.run_until(net.now + Duration::from_millis(20));
    assert_eq!(net.remote(deaf).probes, 2);
    assert_eq!(net.closes, [(deaf, CloseReason::Deaf)]);
}

/// A worker whose queue holds nothing while its producer waits for memory others hold owes
/// nothing: it is not closed, however long that lasts.
#[test]
fn a_worker_with_nothing_queued_is_never_closed_for_its_waiting_sender() {
    let mut store = Storage::new(8, 0);
    let (mut net, _producer, [worker, _live], big) = held_by_a_worker(&mut store, Kind::Streamer);
    // It takes all it holds, but its queue may take no more: the producer waits for memory.
    net.ration(worker, Some(0));
    net.pause(worker, false);
    net.pump();
    assert_eq!(net.queued(worker), 0);
    net.run_until(net.now + Duration::from_millis(TIMEOUT_MS * 4));
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    net.ration(worker, None);
    net.dev.retry_blocked();
    net.pump();
    assert_eq!(net.msgs(worker), [big]);
}

/// A worker from an address that held a sender up lately (`Device::strike`) gets whole
/// messages in its turn, but a message cut through only when no other worker can take it;
/// once its strike is over, in its turn again.
#[test]
fn a_struck_worker_gets_a_message_cut_through_only_when_no_other_can() {
    let mut cfg = small_input(DeviceConfig::new(Kind::Streamer));
    cfg.progress_timeout = TIMEOUT;
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(cfg, &mut store);
    let producer = net.connect(Frontend, Push);
    let (struck, other) = (net.connect(Backend, Pull), net.connect(Backend, Pull));
    net.pump();
    let until = net.now + Duration::from_millis(60_000);
    net.dev.strike(net.id(struck), until);
    let small: Vec<Msg> = (0..4).map(|seq| tagged(0, seq, &[100])).collect();
    for m in &small {
        net.send(producer, m);
    }
    net.pump();
    assert_eq!(net.msgs(struck).len(), 2, "whole messages in its turn");
    let big: Vec<Msg> = (10..13).map(|seq| tagged(0, seq, &[50_000])).collect();
    for m in &big {
        net.send(producer, m);
        net.pump();
    }
    assert_eq!(&net.msgs(other)[2..], &big[..], "cut through to the other");
    net.disconnect(other);
    net.pump();
    let last = tagged(0, 20, &[50_000]);
    net.send(producer, &last);
    net.pump();
    assert_eq!(net.msgs(struck).last(), Some(&last), "the only one left");
    net.assert_healthy();
}

/// A worker whose socket has taken nothing of its queue for a turn of the progress timeout
/// gets new messages only when no other worker can take them: once it reads again, in its
/// turn again (attacker round 16, K1b: workers that stopped reading were given their share
/// of every message, and it waited there).
#[test]
fn a_worker_that_took_nothing_for_a_turn_gets_messages_only_when_no_other_can() {
    let mut cfg = small_input(DeviceConfig::new(Kind::Streamer));
    cfg.progress_timeout = TIMEOUT;
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(cfg, &mut store);
    let producer = net.connect(Frontend, Push);
    let (stalled, live) = (net.connect(Backend, Pull), net.connect(Backend, Pull));
    net.pump();
    net.pause(stalled, true);
    let first: Vec<Msg> = (0..4).map(|seq| tagged(0, seq, &[100])).collect();
    for m in &first {
        net.send(producer, m);
    }
    net.pump();
    assert_eq!(net.msgs(live).len(), 2, "round-robin before it lags");
    assert!(net.queued(stalled) > 0, "two wait at the stalled worker");
    // Not yet a turn (a quarter of the timeout): still in its turn.
    net.run_until(net.now + Duration::from_millis(TIMEOUT_MS / 4 - 1));
    let second: Vec<Msg> = (4..6).map(|seq| tagged(0, seq, &[100])).collect();
    for m in &second {
        net.send(producer, m);
    }
    net.pump();
    assert_eq!(net.msgs(live).len(), 3, "one of two to the live worker");
    net.run_until(net.now + Duration::from_millis(1));
    let third: Vec<Msg> = (6..16).map(|seq| tagged(0, seq, &[100])).collect();
    for m in &third {
        net.send(producer, m);
    }
    net.pump();
    assert_eq!(
        &net.msgs(live)[3..],
        &third[..],
        "all to the worker that reads"
    );
    // With no other worker, it gets them.
    net.disconnect(live);
    net.pump();
    let alone = tagged(0, 20, &[100]);
    net.send(producer, &alone);
    net.pump();
    net.pause(stalled, false);
    net.pump();
    let got = net.msgs(stalled);
    assert_eq!(
        got.len(),
        4,
        "its two, one of the second pair, and the last"
    );
    assert_eq!(got.last(), Some(&alone));
    // Reading again, in its turn again.
    let other = net.connect(Backend, Pull);
    net.pump();
    for seq in 30..34 {
        net.send(producer, &tagged(0, seq, &[100]));
    }
    net.pump();
    assert_eq!(net.msgs(stalled).len(), 6, "two of four");
    assert_eq!(net.msgs(other).len(), 2, "two of four");
    net.assert_healthy();
}
