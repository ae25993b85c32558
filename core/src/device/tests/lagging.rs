//! Memory spent: a forwarder's subscriber that keeps up and finds no room makes the ones that
//! lag give theirs back (`room.rs`, `close_lagging`): they are closed, their queues emptied,
//! and it takes the message. One that lags itself only loses the message, as before.

use super::vec_queue::{copy_only, pool};
use super::*;
use crate::device::peer::HOLDS_UNREAD;
use crate::time::Duration;

/// A publisher, a subscriber of everything that does not read and lags, and one that reads
/// only what publisher 1 sends ([`tagged`] messages start with their sender).
fn lagging_and_keeper(net: &mut Net<'_>) -> (P, P, P) {
    let publisher = net.connect(Frontend, Pub);
    let lagging = net.connect(Backend, Sub);
    let keeper = net.connect(Backend, Sub);
    net.pump();
    net.subscribe(lagging, b"");
    net.subscribe(keeper, &1u32.to_be_bytes());
    net.pump();
    net.pause(lagging, true);
    net.lag(lagging, true);
    (publisher, lagging, keeper)
}

/// `n` messages of one `body`-byte frame from sender `from`, one at a time, each pumped
/// through.
fn send_each(net: &mut Net<'_>, publisher: P, from: u32, n: u32, body: usize) -> Vec<Msg> {
    (0..n)
        .map(|seq| {
            let m = tagged(from, seq, &[body]);
            net.send(publisher, &m);
            net.pump();
            m
        })
        .collect()
}

#[test]
fn a_subscriber_that_keeps_up_and_finds_no_memory_closes_those_that_lag() {
    let mut store = Storage::new(4, 8);
    let mut net = Net::new(forwarder(), &mut store);
    let (publisher, lagging, keeper) = lagging_and_keeper(&mut net);
    pool(Some(8_000));
    // Only the one that lags takes these, until it holds all the memory there is.
    send_each(&mut net, publisher, 0, 4, 3_000);
    assert!(net.dev.stats().dropped.memory > 0, "the pool is spent");
    assert!(net.closes.is_empty());
    let sent = send_each(&mut net, publisher, 1, 4, 3_000);
    assert!(
        net.msgs(keeper) == &sent[..],
        "every message, in order: {} of {}",
        net.msgs(keeper).len(),
        sent.len()
    );
    assert_eq!(net.closes, [(lagging, CloseReason::Lagging)]);
    assert_eq!(net.dev.stats().lagging, 1);
    pool(None);
}

#[test]
fn a_subscriber_that_lags_and_finds_no_memory_loses_the_message_and_closes_nobody() {
    let mut store = Storage::new(4, 8);
    let mut net = Net::new(forwarder(), &mut store);
    let (publisher, lagging, keeper) = lagging_and_keeper(&mut net);
    net.pause(keeper, true);
    net.lag(keeper, true);
    pool(Some(8_000));
    send_each(&mut net, publisher, 0, 4, 3_000);
    let dropped = net.dev.stats().dropped.memory;
    send_each(&mut net, publisher, 1, 4, 3_000);
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    let stats = net.dev.stats();
    assert_eq!(stats.lagging, 0);
    assert!(stats.dropped.memory > dropped);
    assert!(net.queued(lagging) > 0, "it keeps what it holds");
    assert_eq!(net.queued(keeper), 0);
    pool(None);
    net.assert_healthy();
}

/// Large bodies copied to each subscriber: `n` of `body` bytes only the lagging one takes,
/// with `pool` bytes to share, then `n` both take. The one that keeps up gets them all, and
/// the lagging one is closed. With `keeper_lags_from`, the one that keeps up lags while it
/// holds that many bytes, one message it holds not counted ([`Net::lag_from`]).
fn copies_make_the_lagging_give_way(
    store: &mut Storage,
    pool_bytes: usize,
    (n, body): (u32, usize),
    keeper_lags_from: Option<usize>,
) {
    let mut net = Net::new(small_input(forwarder()), store);
    let (publisher, lagging, keeper) = lagging_and_keeper(&mut net);
    if let Some(bytes) = keeper_lags_from {
        net.lag_from(keeper, bytes);
    }
    copy_only();
    pool(Some(pool_bytes));
    send_each(&mut net, publisher, 0, n, body);
    assert!(net.closes.is_empty());
    let sent = send_each(&mut net, publisher, 1, n, body);
    assert!(
        net.msgs(keeper) == &sent[..],
        "{} of {}",
        net.msgs(keeper).len(),
        sent.len()
    );
    assert_eq!(net.closes, [(lagging, CloseReason::Lagging)]);
    pool(None);
}

/// A large body that cannot be shared is copied to each subscriber with room
/// (`copies_instead`): one that keeps up and has none makes the lagging one give it back.
#[test]
fn a_copy_for_a_subscriber_that_keeps_up_closes_those_that_lag() {
    // Stored whole: under the 16 KiB input buffer.
    copies_make_the_lagging_give_way(&mut Storage::new(12, 16), 30_000, (3, 12_000), None);
}

/// A message cut through (larger than the input buffer): the room asked for each piece of it
/// (`room_for_more`) makes the lagging subscriber give its memory back to one that keeps up.
#[test]
fn a_message_cut_through_to_a_subscriber_that_keeps_up_closes_those_that_lag() {
    copies_make_the_lagging_give_way(&mut Storage::new(12, 16), 100_000, (3, 40_000), None);
}

/// A message cut through to a subscriber that keeps up, larger than what its queue may hold
/// before it counts as lagging: that message does not count for its length, it does not lag,
/// and the lagging subscriber gives its memory back. Counted as lagging, it was refused the rest
/// of the message and reset (attack_budget.rs `a_large_message_cut_through_...`, with
/// `kernel_send_max` set).
#[test]
fn a_subscriber_that_holds_only_a_large_message_cut_through_does_not_lag_for_its_length() {
    let store = &mut Storage::new(12, 16);
    copies_make_the_lagging_give_way(store, 100_000, (3, 40_000), Some(10_000));
}

/// A subscriber that keeps up takes a message cut through from one publisher while another
/// publishes small messages it subscribes to, and the memory is spent by one that lags: the
/// small messages cannot be held back for it, so the lagging subscriber is closed and they
/// are held back after all. Before, they were lost, and nobody was closed.
#[test]
fn messages_held_back_for_a_subscriber_that_keeps_up_make_those_that_lag_give_way() {
    let mut store = Storage::new(12, 16);
    let mut net = Net::new(small_input(forwarder()), &mut store);
    let large_from = net.connect(Frontend, Pub);
    let other = net.connect(Frontend, Pub);
    let lagging = net.connect(Backend, Sub);
    let keeper = net.connect(Backend, Sub);
    net.pump();
    net.subscribe(lagging, &0u32.to_be_bytes());
    net.subscribe(keeper, &1u32.to_be_bytes());
    net.subscribe(keeper, &2u32.to_be_bytes());
    net.pump();
    net.pause(lagging, true);
    net.lag(lagging, true);
    copy_only();
    pool(Some(60_000));
    // Half of a large message to the keeper.
    let large = tagged(1, 0, &[40_000]);
    let mut bytes = encode(&large);
    let rest = bytes.split_off(20_000);
    net.send_raw(large_from, &bytes);
    net.pump();
    // The lagging one takes these until the pool is spent.
    send_each(&mut net, other, 0, 3, 30_000);
    assert!(net.dev.stats().dropped.memory > 0, "the pool is spent");
    assert!(net.closes.is_empty());
    // Small ones for the keeper, held back until the large one is through.
    let small: Vec<Msg> = (0..3).map(|seq| tagged(2, seq, &[100])).collect();
    for m in &small {
        net.send(other, m);
        net.pump();
    }
    assert_eq!(net.closes, [(lagging, CloseReason::Lagging)]);
    net.send_raw(large_from, &rest);
    net.pump();
    let mut want = vec![large];
    want.extend(small);
    assert!(
        net.msgs(keeper) == &want[..],
        "{} of {}",
        net.msgs(keeper).len(),
        want.len()
    );
    pool(None);
}

/// A subscriber that keeps up but has not yet written all of a large message when the next
/// comes, the memory spent by one that lags: the large message does not count for its
/// length, and the next one makes the lagging subscriber give way. Counted, it lost the
/// messages after a 4 MiB one while the kernel took little of it at a time
/// (`kernel_send_max`), and nobody was closed.
#[test]
fn a_subscriber_writing_a_large_message_does_not_lag_for_it() {
    let mut store = Storage::new(12, 16);
    let mut net = Net::new(small_input(forwarder()), &mut store);
    let (publisher, lagging, keeper) = lagging_and_keeper(&mut net);
    net.lag_from(keeper, 10_000);
    copy_only();
    pool(Some(100_000));
    send_each(&mut net, publisher, 0, 3, 30_000);
    assert!(net.closes.is_empty());
    // The keeper's socket takes nothing while the large message goes in: all of it waits.
    net.pause(keeper, true);
    let large = tagged(1, 0, &[70_000]);
    net.send(publisher, &large);
    net.pump();
    assert_eq!(net.closes, [(lagging, CloseReason::Lagging)]);
    assert!(net.queued(keeper) > 10_000, "{}", net.queued(keeper));
    // The lagging one's memory is back; more of it goes to a new one that does not read.
    let deaf = net.connect(Backend, Sub);
    net.pump();
    net.subscribe(deaf, b"");
    net.pump();
    net.pause(deaf, true);
    net.lag(deaf, true);
    send_each(&mut net, publisher, 0, 3, 30_000);
    let small = tagged(1, 1, &[8_000]);
    net.send(publisher, &small);
    net.pump();
    net.pause(keeper, false);
    net.pump();
    assert!(
        net.msgs(keeper) == [large, small],
        "{} of 2",
        net.msgs(keeper).len()
    );
    assert_eq!(
        net.closes,
        [
            (lagging, CloseReason::Lagging),
            (deaf, CloseReason::Lagging)
        ]
    );
    pool(None);
}

#[test]
fn a_capture_reader_that_lags_gives_its_memory_to_a_subscriber_that_keeps_up() {
    let mut store = Storage::new(4, 8);
    let mut net = Net::new(forwarder(), &mut store);
    let publisher = net.connect(Frontend, Pub);
    let keeper = net.connect(Backend, Sub);
    let reader = net.connect(Side::Capture, Sub);
    net.pump();
    net.subscribe(keeper, &1u32.to_be_bytes());
    net.subscribe(reader, b"");
    net.pump();
    net.pause(reader, true);
    net.lag(reader, true);
    pool(Some(8_000));
    // Only the reader takes these, until it holds all the memory there is.
    send_each(&mut net, publisher, 0, 4, 3_000);
    assert!(net.dev.stats().dropped.capture > 0, "the pool is spent");
    let sent = send_each(&mut net, publisher, 1, 4, 3_000);
    assert_eq!(net.msgs(keeper), &sent[..], "every message, in order");
    assert_eq!(net.closes, [(reader, CloseReason::Lagging)]);
    pool(None);
}

/// A subscriber that reads in bursts: it holds one large message and its socket takes
/// nothing of it for longer than [`HOLDS_UNREAD`] while the memory is spent and a subscriber
/// that keeps up needs room. Within that time it is one writing its message (not closed, and
/// the keeper lets its message go); past it, the message counts for its length, it lags and
/// is closed for the keeper. Before, holding one exempt message and emptying its queue within
/// the 1 s rule, it never lagged, and the keeper was reset in its place (attacker round 17,
/// F1).
#[test]
fn a_subscriber_holding_a_large_message_unread_gives_way_to_one_that_keeps_up() {
    for wait_ms in [0, 300] {
        let mut store = Storage::new(12, 16);
        let mut net = Net::new(small_input(forwarder()), &mut store);
        let publisher = net.connect(Frontend, Pub);
        let bursty = net.connect(Backend, Sub);
        let keeper = net.connect(Backend, Sub);
        net.pump();
        net.subscribe(bursty, &0u32.to_be_bytes());
        net.subscribe(keeper, &1u32.to_be_bytes());
        net.pump();
        net.lag_from(bursty, 10_000);
        net.lag_from(keeper, 10_000);
        copy_only();
        pool(Some(100_000));
        net.pause(bursty, true);
        send_each(&mut net, publisher, 0, 1, 70_000);
        assert!(net.closes.is_empty());
        assert!(net.queued(bursty) > 10_000, "{}", net.queued(bursty));
        net.run_until(net.now + Duration::from_millis(wait_ms));
        let sent = send_each(&mut net, publisher, 1, 1, 40_000);
        if wait_ms == 0 {
            assert!(net.closes.is_empty(), "{:?}", net.closes);
            assert!(net.msgs(keeper).is_empty());
            assert!(net.dev.stats().dropped.memory > 0);
        } else {
            assert_eq!(net.closes, [(bursty, CloseReason::Lagging)]);
            assert!(net.msgs(keeper) == &sent[..], "{}", net.msgs(keeper).len());
        }
        pool(None);
    }
}

/// [`HOLDS_UNREAD`] counts from when the large message came to a subscriber whose queue was
/// empty, not from when it last emptied it: one idle for longer, just given a message, is
/// not closed for holding it when a subscriber that keeps up needs room at once.
#[test]
fn a_subscriber_just_given_a_large_message_after_idling_is_not_closed_for_it_at_once() {
    let mut store = Storage::new(12, 16);
    let mut net = Net::new(small_input(forwarder()), &mut store);
    let publisher = net.connect(Frontend, Pub);
    let idle = net.connect(Backend, Sub);
    let keeper = net.connect(Backend, Sub);
    net.pump();
    net.subscribe(idle, &0u32.to_be_bytes());
    net.subscribe(keeper, &1u32.to_be_bytes());
    net.pump();
    net.lag_from(idle, 10_000);
    // The keeper's own queue never lags: it is the one asking for room.
    net.lag_from(keeper, 1 << 20);
    copy_only();
    pool(Some(150_000));
    net.run_until(net.now + Duration::from_millis(600));
    net.pause(idle, true);
    send_each(&mut net, publisher, 0, 1, 100_000);
    assert!(net.queued(idle) > 100_000, "{}", net.queued(idle));
    // The keeper's socket takes nothing for a moment: its queue needs what idle holds.
    net.pause(keeper, true);
    send_each(&mut net, publisher, 1, 1, 100_000);
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    assert!(net.dev.stats().dropped.memory > 0);
    net.pause(keeper, false);
    net.pump();
    assert!(net.msgs(keeper).is_empty());
    // Held unread past HOLDS_UNREAD, its message counts for its length.
    net.run_until(net.now + HOLDS_UNREAD);
    net.pause(keeper, true);
    let sent = send_each(&mut net, publisher, 1, 1, 100_000);
    assert_eq!(net.closes, [(idle, CloseReason::Lagging)]);
    net.pause(keeper, false);
    net.pump();
    assert!(net.msgs(keeper) == &sent[..], "{}", net.msgs(keeper).len());
    pool(None);
}

/// Attacker round 18, C1 (with CURVE or without, at the same budget): subscribers that stop
/// reading hold several large messages before their queues count as behind (not emptied for
/// a second, in edge-bin), and a subscriber that keeps up found no memory meanwhile and lost
/// messages. Those holding more than a message of its size beyond the one they are taking
/// give way to it.
#[test]
fn subscribers_holding_a_message_beyond_the_one_they_take_give_way_to_one_that_keeps_up() {
    let mut store = Storage::new(12, 16);
    let mut net = Net::new(small_input(forwarder()), &mut store);
    let publisher = net.connect(Frontend, Pub);
    // Ahead of the keeper in the fan-out: each new message's memory goes to them first.
    let stalled: Vec<P> = (0..3).map(|_| net.connect(Backend, Sub)).collect();
    let keeper = net.connect(Backend, Sub);
    net.pump();
    for &s in iter::once(&keeper).chain(&stalled) {
        net.subscribe(s, b"");
    }
    net.pump();
    for &s in &stalled {
        net.pause(s, true);
    }
    copy_only();
    // Three subscribers that stopped reading hold two 70 KB messages each.
    pool(Some(6 * 70_000 + 20_000));
    let sent = send_each(&mut net, publisher, 0, 8, 70_000);
    assert!(
        net.msgs(keeper) == &sent[..],
        "every message, in order: {} of {}",
        net.msgs(keeper).len(),
        sent.len()
    );
    let mut closed: Vec<P> = net.closes.iter().map(|c| c.0).collect();
    closed.sort_unstable();
    assert_eq!(closed, stalled, "{:?}", net.closes);
    assert!(net.closes.iter().all(|c| c.1 == CloseReason::Lagging));
    pool(None);
}

/// Attacker round 18, C1, as sixteen libzmq subscribers do that read a few large messages and
/// then stop (a receive high-water mark of one): each holds less than the next message, so
/// none holds one beyond the message it takes, yet together they hold the budget. Held with
/// nothing of it taken for [`HOLDS_UNREAD`], a large message's worth gives way to a
/// subscriber that keeps up.
#[test]
fn subscribers_that_stopped_reading_a_message_give_way_to_one_that_keeps_up_for_a_larger_one() {
    let mut store = Storage::new(12, 16);
    // Input buffers that hold a whole message: what it needs is known from its start.
    let mut cfg = forwarder();
    cfg.input_capacity = 256 << 10;
    let mut net = Net::new(cfg, &mut store);
    let publisher = net.connect(Frontend, Pub);
    let keepers: Vec<P> = (0..2).map(|_| net.connect(Backend, Sub)).collect();
    let stalled: Vec<P> = (0..3).map(|_| net.connect(Backend, Sub)).collect();
    net.pump();
    for &s in keepers.iter().chain(&stalled) {
        net.subscribe(s, b"");
    }
    net.pump();
    for &s in &stalled {
        net.pause(s, true);
    }
    copy_only();
    // Room for the stalled copies of one 100 KB message and one 200 KB message more: the
    // keepers need two.
    pool(Some(3 * 100_000 + 250_000));
    let mut sent = send_each(&mut net, publisher, 0, 1, 100_000);
    net.run_until(net.now + HOLDS_UNREAD);
    sent.extend(send_each(&mut net, publisher, 1, 4, 200_000));
    for &k in &keepers {
        assert!(
            net.msgs(k) == &sent[..],
            "every message, in order: {} of {}",
            net.msgs(k).len(),
            sent.len()
        );
    }
    let mut closed: Vec<P> = net.closes.iter().map(|c| c.0).collect();
    closed.sort_unstable();
    assert_eq!(closed, stalled, "{:?}", net.closes);
    assert!(net.closes.iter().all(|c| c.1 == CloseReason::Lagging));
    pool(None);
}

/// An uplink of a forwarder's spool that lags is not closed for a subscriber that keeps up:
/// its queue is the spool's, and emptied, what it held of the spool would be lost (the
/// spool's cursor waits for it to be written, attacker round 20, F1).
#[test]
fn an_uplink_that_lags_is_not_closed_for_a_subscriber_that_keeps_up() {
    let mut store = Storage::new(8, 8);
    let mut net = Net::new(forwarder(), &mut store);
    let cap = net.dev.config().queue_capacity();
    net.dev
        .add_spool(VecQueue::new(cap), VecQueue::new(cap), net.now)
        .expect("slots")
        .expect("a forwarder takes a spool");
    let (publisher, uplink, keeper) = lagging_and_keeper(&mut net);
    assert!(net.dev.set_uplink(net.id(uplink), 0, true));
    net.lag(uplink, true);
    pool(Some(8_000));
    send_each(&mut net, publisher, 0, 4, 3_000);
    let held = net.queued(uplink);
    assert!(held > 0, "the uplink holds what it was sent");
    send_each(&mut net, publisher, 1, 4, 3_000);
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    assert_eq!(net.dev.stats().lagging, 0);
    assert_eq!(net.queued(uplink), held, "it keeps what it holds");
    assert!(net.msgs(keeper).len() < 4, "the keeper finds no memory");
    pool(None);
}
