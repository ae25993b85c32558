//! One sender that is slow, stalled or floods costs the other flows nothing: store and
//! forward below the input buffer's size, a progress timeout above it, bounded work per call.

use super::*;
use crate::device::MAX_STEPS;
use crate::time::Duration;

/// A producer sends part of a message that fits the input buffer, then stalls: the one worker
/// is not held meanwhile, so another producer's messages reach it; the stalled message
/// arrives whole once its sender goes on.
#[test]
fn a_stalled_sender_holds_no_worker_below_the_threshold() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Streamer), &mut store);
    let (slow, fast) = (net.connect(Frontend, Push), net.connect(Frontend, Push));
    let worker = net.connect(Backend, Pull);
    net.pump();
    let stalled = tagged(0, 0, &[20_000, 30_000]);
    let bytes = encode(&stalled);
    net.send_raw(slow, &bytes[..25_000]);
    net.pump();
    let others: Vec<Msg> = (0..5).map(|seq| tagged(1, seq, &[100])).collect();
    for m in &others {
        net.send(fast, m);
    }
    net.pump();
    assert_eq!(
        net.msgs(worker),
        &others[..],
        "not held by the stalled sender"
    );
    net.send_raw(slow, &bytes[25_000..]);
    net.pump();
    assert_eq!(
        net.msgs(worker).last(),
        Some(&stalled),
        "whole, after the others"
    );
    assert_eq!(net.dev.stats().stalled, 0);
    net.assert_healthy();
}

/// The same in a forwarder: a publisher dribbling a message holds no subscriber.
#[test]
fn a_stalled_publisher_holds_no_subscriber_below_the_threshold() {
    let mut store = Storage::new(8, 8);
    let mut net = Net::new(forwarder(), &mut store);
    let (slow, [sub, _]) = net.publisher_and_two_subscribers(b"");
    let fast = net.connect(Frontend, Pub);
    net.pump();
    let stalled = tagged(0, 0, &[40_000]);
    let bytes = encode(&stalled);
    net.send_raw(slow, &bytes[..1_000]);
    net.pump();
    let others: Vec<Msg> = (0..5).map(|seq| tagged(1, seq, &[10])).collect();
    for m in &others {
        net.send(fast, m);
    }
    net.pump();
    assert_eq!(net.msgs(sub), &others[..]);
    net.send_raw(slow, &bytes[1_000..]);
    net.pump();
    assert_eq!(net.msgs(sub).len(), 6);
    assert_eq!(net.msgs(sub)[5], stalled);
    net.assert_healthy();
}

/// A message larger than the input buffer is cut through; when its bytes stop moving for the
/// progress timeout, it is aborted: its sender is closed, the worker that got part of it is
/// reset, and the other producer's messages go to the other worker.
#[test]
fn a_cut_through_message_that_stops_moving_is_aborted() {
    let mut cfg = small_input(DeviceConfig::new(Kind::Streamer));
    cfg.progress_timeout = Duration::from_millis(500);
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(cfg, &mut store);
    let (slow, fast) = (net.connect(Frontend, Push), net.connect(Frontend, Push));
    let workers = [net.connect(Backend, Pull), net.connect(Backend, Pull)];
    net.pump();
    let bytes = encode(&tagged(0, 0, &[20_000]));
    net.send_raw(slow, &bytes[..10_000]);
    net.pump();
    let deadline = net.dev.poll_timeout().expect("a progress deadline");
    assert!(deadline <= net.now + Duration::from_millis(500));
    net.now = net.now + Duration::from_millis(499);
    net.dev.handle_timeout(net.now);
    net.pump();
    assert!(net.closes.is_empty(), "not before the timeout");
    net.now = net.now + Duration::from_millis(1);
    net.dev.handle_timeout(net.now);
    net.pump();
    let held = workers
        .into_iter()
        .find(|&w| net.remote(w).wire.len() > 5_000)
        .expect("one worker got part of it");
    assert_eq!(
        net.closes,
        [
            (held, CloseReason::SenderAborted),
            (slow, CloseReason::Stalled)
        ]
    );
    assert_eq!(net.dev.stats().stalled, 1);
    assert_eq!(net.dev.stats().dropped.aborted, 1);
    let other = workers.into_iter().find(|&w| w != held).unwrap_or(held);
    let after: Vec<Msg> = (0..3).map(|seq| tagged(1, seq, &[100])).collect();
    for m in &after {
        net.send(fast, m);
    }
    net.pump();
    assert_eq!(net.msgs(other), &after[..], "the other flow goes on");
}

/// A message cut through keeps going while its bytes keep coming at [`PROGRESS_BYTES`](crate::device::PROGRESS_BYTES) per
/// progress timeout or more.
#[test]
fn a_slow_cut_through_message_is_not_aborted() {
    let mut store = Storage::new(8, 0);
    let (mut net, producer, worker) = cut_through_streamer(&mut store);
    let m = tagged(0, 0, &[60_000]);
    // 2,000 bytes every 50 ms: 20,000 per timeout, just over PROGRESS_BYTES.
    for chunk in encode(&m).chunks(2_000) {
        net.send_raw(producer, chunk);
        net.pump();
        later(&mut net, 50);
    }
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    assert_eq!(net.msgs(worker), [m]);
    assert_eq!(net.dev.poll_timeout(), None, "no deadline between messages");
}

/// A sender trickling a message cut through (a byte now and then) does not hold its
/// receivers past the progress timeout: bytes that come slower than [`PROGRESS_BYTES`](crate::device::PROGRESS_BYTES) per
/// timeout are not progress.
#[test]
fn a_trickled_cut_through_message_is_aborted_at_the_progress_timeout() {
    let mut store = Storage::new(8, 0);
    let (mut net, producer, worker) = cut_through_streamer(&mut store);
    let bytes = encode(&tagged(0, 0, &[20_000]));
    net.send_raw(producer, &bytes[..5_000]);
    net.pump();
    let mut sent = 5_000;
    for _ in 0..5 {
        net.send_raw(producer, &bytes[sent..sent + 100]);
        sent += 100;
        net.pump();
        later(&mut net, 100);
        net.pump();
    }
    assert_eq!(
        net.closes,
        [
            (worker, CloseReason::SenderAborted),
            (producer, CloseReason::Stalled)
        ]
    );
    assert_eq!(net.dev.stats().stalled, 1);
}

/// One call takes at most `MAX_STEPS` units, however much input it is given.
#[test]
fn one_call_takes_a_bounded_number_of_messages() {
    let mut cfg = DeviceConfig::new(Kind::Streamer);
    cfg.input_capacity = 1 << 20;
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(cfg, &mut store);
    let producer = net.connect(Frontend, Push);
    let worker = net.connect(Backend, Pull);
    net.pump();
    let one = encode(&msg(&[b"x"]));
    let flood: Vec<u8> = one.repeat(3 * MAX_STEPS);
    let id = net.id(producer);
    let used = net.dev.handle_input(id, &flood, net.now).expect("fed");
    assert_eq!(used, MAX_STEPS * one.len());
    let rest = net
        .dev
        .handle_input(id, &flood[used..], net.now)
        .expect("fed");
    assert_eq!(rest, MAX_STEPS * one.len(), "the rest on the next call");
    net.pump();
    assert_eq!(net.msgs(worker).len(), 2 * MAX_STEPS);
}

/// A streamer whose messages over 4 KiB are cut through, with a progress timeout of 500 ms:
/// the device, a producer and a worker, handshaken.
fn cut_through_streamer(store: &mut Storage) -> (Net<'_>, P, P) {
    let mut cfg = small_input(DeviceConfig::new(Kind::Streamer));
    cfg.progress_timeout = Duration::from_millis(500);
    let mut net = Net::new(cfg, store);
    let producer = net.connect(Frontend, Push);
    let worker = net.connect(Backend, Pull);
    net.pump();
    (net, producer, worker)
}

/// `ms` pass: the device's timers fire, and what they did goes round.
fn later(net: &mut Net<'_>, ms: u64) {
    net.now = net.now + Duration::from_millis(ms);
    net.dev.handle_timeout(net.now);
    net.pump();
}

/// A message of 20,000 empty frames arriving 100 bytes at a time (as in
/// `tests/tests/isolation.rs`, where it cost seconds of CPU): each call goes on from where the
/// last one stopped looking for its end, so the pump reads each frame head once in all, not
/// once per call; and the message arrives whole, after a message of another publisher that
/// came meanwhile.
#[test]
fn a_message_of_many_small_frames_arriving_in_pieces_is_walked_once() {
    const FRAMES: usize = 20_000;
    let mut store = Storage::new(8, 8);
    let mut net = Net::new(forwarder(), &mut store);
    let (slow, [sub, _]) = net.publisher_and_two_subscribers(b"");
    let fast = net.connect(Frontend, Pub);
    net.pump();
    let mut frames = vec![b"slow".to_vec()];
    frames.extend(iter::repeat_n(Vec::new(), FRAMES));
    let bytes = encode(&frames);
    let pieces = bytes.chunks(100).count() as u64;
    let before = net.dev.scanned;
    for (i, piece) in bytes.chunks(100).enumerate() {
        net.send_raw(slow, piece);
        net.pump();
        if i == 10 {
            net.send(fast, &msg(&[b"fast"]));
        }
    }
    let scanned = net.dev.scanned - before;
    assert!(
        scanned <= FRAMES as u64 + pieces,
        "{scanned} frame heads read for a message of {FRAMES} frames in {pieces} pieces"
    );
    let got = net.msgs(sub);
    assert!(
        got.len() == 2 && got[0] == msg(&[b"fast"]) && got[1] == frames,
        "the subscriber got {} messages, not the fast one and then the slow one whole",
        got.len()
    );
    net.assert_healthy();
}

/// A subscriber subscribing to and cancelling one topic over and over: each change goes to the
/// publishers, and counts one unit more per publisher, so one call takes fewer of them than
/// of subscriptions that change nothing upstream.
#[test]
fn subscriptions_that_go_upstream_count_per_publisher_in_a_call() {
    let mut store = Storage::new(8, 8);
    let mut net = Net::new(forwarder(), &mut store);
    let _publishers = [net.connect(Frontend, Pub), net.connect(Frontend, Pub)];
    let sub = net.connect(Backend, XSub);
    net.pump();
    let pair = [encode(&msg(&[b"\x01churn"])), encode(&msg(&[b"\x00churn"]))].concat();
    let flood = pair.repeat(2 * MAX_STEPS);
    let id = net.id(sub);
    let one = pair.len() / 2;
    let used = net.dev.handle_input(id, &flood, net.now).expect("fed");
    // Each change: its own unit and one per publisher.
    assert_eq!(used / one, MAX_STEPS.div_ceil(3));
    // The last was a cancellation: the first subscription is a change, the rest count up.
    let counting_up = flood[..one].repeat(2 * MAX_STEPS);
    let used = net
        .dev
        .handle_input(id, &counting_up, net.now)
        .expect("fed");
    assert_eq!(used / one, MAX_STEPS - 2);
}
