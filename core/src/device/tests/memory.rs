//! Queues whose memory the caller rations (a process budget): a queue that cannot grow is
//! full below its high-water mark. A forwarder drops for that subscriber alone (counted as
//! `memory`), a streamer or queue waits for room and loses nothing.

use super::vec_queue::copy_only;
use super::*;
use crate::device::PeerId;

/// A subscriber whose queue cannot grow loses the messages, counted by their own cause; the
/// other gets them all, the publisher never waits, and nobody is closed. Given memory
/// again, it gets what comes next.
#[test]
fn a_forwarder_drops_for_a_subscriber_whose_queue_cannot_grow() {
    let mut store = Storage::new(4, 8);
    let mut net = Net::new(forwarder(), &mut store);
    let (publisher, [starved, fed]) = net.publisher_and_two_subscribers(b"");
    net.ration(starved, Some(100));
    let sent: Vec<Msg> = (0..10).map(|seq| tagged(0, seq, &[200])).collect();
    for m in &sent {
        net.send(publisher, m);
        net.pump();
        assert!(net.wants_read(publisher) && net.pending(publisher) == 0);
    }
    assert_eq!(net.msgs(fed), &sent[..]);
    assert!(net.msgs(starved).is_empty());
    let dropped = net.dev.stats().dropped;
    assert_eq!((dropped.memory, dropped.hwm), (10, 0));
    assert_eq!(dropped.messages(), 10);

    net.ration(starved, None);
    let after = tagged(0, 10, &[200]);
    net.send(publisher, &after);
    net.pump();
    assert_eq!(net.msgs(starved), [after]);
    assert!(net.closes.is_empty());
    net.assert_healthy();
}

/// A worker whose queue cannot grow is skipped; with no other, the producer waits, and every
/// message arrives, in order, once memory is given back.
#[test]
fn a_streamer_waits_for_memory_and_loses_nothing() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Streamer), &mut store);
    let producer = net.connect(Frontend, Push);
    let worker = net.connect(Backend, Pull);
    net.pump();
    net.ration(worker, Some(100));
    let sent: Vec<Msg> = (0..20).map(|seq| tagged(0, seq, &[300])).collect();
    for m in &sent {
        net.send(producer, m);
    }
    net.pump();
    assert!(!net.wants_read(producer), "no room: the producer waits");
    assert!(net.msgs(worker).is_empty());
    assert!(net.pending(producer) > 0);

    net.ration(worker, None);
    net.pump();
    assert!(net.msgs(worker).is_empty(), "nothing tells it yet");
    net.dev.retry_blocked();
    net.pump();
    assert_eq!(net.msgs(worker), &sent[..]);
    assert_eq!(net.dev.stats().dropped, Drops::default());
    net.assert_healthy();
}

/// A worker whose queue holds a few messages and cannot grow: the producer waits while it is
/// full, and each time the worker writes some, the room it made is used. Nothing is lost.
#[test]
fn a_queue_that_drains_wakes_the_sources_waiting_for_its_room() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Streamer), &mut store);
    let producer = net.connect(Frontend, Push);
    let worker = net.connect(Backend, Pull);
    net.pump();
    net.ration(worker, Some(2000));
    net.pause(worker, true);
    let sent: Vec<Msg> = (0..20).map(|seq| tagged(0, seq, &[300])).collect();
    for m in &sent {
        net.send(producer, m);
    }
    net.pump();
    assert!(!net.wants_read(producer));
    let queued = net.queued(worker);
    assert!(queued > 0 && queued <= 2000, "{queued}");
    net.pause(worker, false);
    net.pump();
    assert_eq!(net.msgs(worker), &sent[..], "the ration was never lifted");
    assert_eq!(net.dev.stats().dropped, Drops::default());
    net.assert_healthy();
}

/// A client whose queue cannot grow holds its reply back (the worker waits), then gets it.
#[test]
fn a_queue_reply_waits_for_its_client_to_have_room() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Queue), &mut store);
    let client = net.connect(Frontend, Req);
    let _worker = net.connect_echo(Rep);
    net.pump();
    net.ration(client, Some(50));
    let request = envelope(true, &[7; 300]);
    net.send(client, &request);
    net.pump();
    assert!(net.msgs(client).is_empty());
    net.ration(client, None);
    net.dev.retry_blocked();
    net.pump();
    assert_eq!(net.msgs(client), [echo(&request)]);
    assert_eq!(net.dev.stats().dropped, Drops::default());
    net.assert_healthy();
}

/// A message cut through to two subscribers: one whose queue cannot take the rest of it lets
/// it go, taken back (it had written none of it), counted; the other gets it whole, and the
/// first gets the next message intact.
#[test]
fn a_subscriber_that_cannot_take_the_rest_of_a_cut_through_message_lets_it_go() {
    // The queues copy (as when a piece cannot be stored for want of memory).
    copy_only();
    let mut store = Storage::new(4, 8);
    let mut net = Net::new(small_input(forwarder()), &mut store);
    let (publisher, [starved, fed]) = net.publisher_and_two_subscribers(b"");
    net.pause(starved, true);
    net.ration(starved, Some(30_000));
    let large = tagged(0, 0, &[60_000]);
    let bytes = encode(&large);
    for piece in bytes.chunks(10_000) {
        net.send_raw(publisher, piece);
        net.pump();
    }
    assert_eq!(net.msgs(fed), [large]);
    assert_eq!(net.queued(starved), 0, "taken back out of its queue");
    assert_eq!(net.dev.stats().dropped.memory, 1);
    let id = net.id(starved);
    let own = net.dev.peers().find(|v| v.id == id).map(|v| v.dropped);
    assert_eq!(own, Some(1), "counted as its own loss too (`zedge peers`)");
    assert!(net.closes.is_empty());

    net.pause(starved, false);
    let next = tagged(0, 1, &[100]);
    net.send(publisher, &next);
    net.pump();
    assert_eq!(net.msgs(starved), [next]);
    net.assert_healthy();
}

/// The same when the subscriber had written part of the message: it cannot be taken back, so
/// that subscriber is reset; the other still gets it whole.
#[test]
fn a_subscriber_that_wrote_part_of_a_message_it_cannot_finish_is_reset() {
    copy_only();
    let mut store = Storage::new(4, 8);
    let mut net = Net::new(small_input(forwarder()), &mut store);
    let (publisher, [starved, fed]) = net.publisher_and_two_subscribers(b"");
    let large = tagged(0, 0, &[60_000]);
    let bytes = encode(&large);
    // Past the topic bytes a forwarder matches on (MAX_TOPIC): cut through at once.
    net.send_raw(publisher, &bytes[..20_000]);
    net.pump();
    assert!(
        net.remote(starved).wire.len() > 10_000,
        "it wrote the first part"
    );
    net.pause(starved, true);
    net.ration(starved, Some(15_000));
    for piece in bytes[20_000..].chunks(10_000) {
        net.send_raw(publisher, piece);
        net.pump();
    }
    assert_eq!(net.msgs(fed), [large]);
    assert_eq!(net.closes, [(starved, CloseReason::OutOfMemory)]);
    assert_eq!(net.dev.stats().resets, 1);
}

/// A large body fanned out is stored once and charged where it is stored, not to each queue:
/// a subscriber whose queue may hold few copied bytes still gets it whole, cut through or
/// stored whole, beside another.
#[test]
fn a_shared_body_needs_room_only_for_what_each_queue_copies() {
    let mut store = Storage::new(4, 8);
    let mut net = Net::new(forwarder(), &mut store);
    let (publisher, [rationed, fed]) = net.publisher_and_two_subscribers(b"");
    net.pause(rationed, true);
    net.ration(rationed, Some(2_000));
    let stored = tagged(0, 0, &[20_000, 30_000]);
    net.send(publisher, &stored);
    net.pump();
    let cut = tagged(0, 1, &[3 << 20]);
    for piece in encode(&cut).chunks(100_000) {
        net.send_raw(publisher, piece);
        net.pump();
    }
    net.pause(rationed, false);
    net.pump();
    let both = [stored, cut];
    assert_eq!(net.msgs(fed), &both[..]);
    assert_eq!(net.msgs(rationed), &both[..]);
    assert_eq!(net.dev.stats().dropped, Drops::default());
    net.assert_healthy();
}

/// A subscriber alone gets copies of what would have been shared: it needs room for all of
/// it, and without it loses the message (counted), whatever room it has for the rest.
#[test]
fn a_subscriber_alone_needs_room_for_a_whole_copy() {
    let mut store = Storage::new(4, 8);
    let mut net = Net::new(forwarder(), &mut store);
    let publisher = net.connect(Frontend, Pub);
    let sub = net.connect(Backend, Sub);
    net.subscribe(sub, b"");
    net.pump();
    net.ration(sub, Some(10_000));
    net.send(publisher, &tagged(0, 0, &[20_000]));
    net.pump();
    assert!(net.msgs(sub).is_empty());
    assert_eq!(net.dev.stats().dropped.memory, 1);
    let small = tagged(0, 1, &[5_000]);
    net.send(publisher, &small);
    net.pump();
    assert_eq!(net.msgs(sub), [small]);
    net.assert_healthy();
}

/// A body that cannot be stored to share (the memory is spent) is copied to the subscribers
/// with room for a copy; one without loses that message alone, and nobody is closed.
#[test]
fn a_body_that_cannot_be_shared_is_copied_to_those_with_room() {
    copy_only();
    let mut store = Storage::new(4, 8);
    let mut net = Net::new(forwarder(), &mut store);
    let (publisher, [rationed, fed]) = net.publisher_and_two_subscribers(b"");
    net.ration(rationed, Some(10_000));
    let large = tagged(0, 0, &[50_000]);
    net.send(publisher, &large);
    net.pump();
    assert_eq!(net.msgs(fed), [large]);
    assert!(net.msgs(rationed).is_empty());
    assert_eq!(net.dev.stats().dropped.memory, 1);
    assert!(net.closes.is_empty());
    net.assert_healthy();
}

/// A streamer with a producer and two workers, connected; the first does not read and its
/// queue holds at most `ration` bytes of copies. Returns the net, the producer's id, the
/// stalled worker and the live one.
fn stalled_and_live(store: &mut Storage, ration: usize) -> (Net<'_>, PeerId, P, P) {
    copy_only();
    let mut net = Net::new(DeviceConfig::new(Kind::Streamer), store);
    let producer = net.connect(Frontend, Push);
    let stalled = net.connect(Backend, Pull);
    let live = net.connect(Backend, Pull);
    net.pump();
    net.pause(stalled, true);
    net.ration(stalled, Some(ration));
    let id = net.id(producer);
    (net, id, stalled, live)
}

/// Room the device asks beyond a message's bytes (`room.rs`).
const SLACK: usize = crate::conn::TRANSMIT_BUFFER + 16;

/// A message routed before all of it is here, because the rest is ready behind it (the
/// caller's `ahead`), goes only to a worker with room for all of it. A worker that stalled
/// with room for its start alone would hold the producer mid-message for good, and the worker
/// that reads would get nothing more (edge-bin: a stalled worker of a streamer, behind and
/// with the budget spent, was given the first 2 KB of a 64 KiB message and never the rest).
#[test]
fn a_message_routed_before_it_is_all_here_goes_to_a_worker_with_room_for_all_of_it() {
    let mut store = Storage::new(8, 0);
    let (mut net, id, stalled, live) = stalled_and_live(&mut store, 2000);
    let m = tagged(0, 0, &[3000]);
    let wire = encode(&m);
    let used = net
        .dev
        .handle_input_ahead(id, &wire[..1000], (wire.len() - 1000) as u64, net.now)
        .expect("fed");
    let used = used
        + net
            .dev
            .handle_input(id, &wire[used..], net.now)
            .expect("fed");
    assert_eq!(used, wire.len(), "the producer is not held");
    net.pump();
    assert_eq!(net.msgs(live), [m]);
    assert_eq!(net.queued(stalled), 0);
    net.assert_healthy();
}

/// A message routed before all of it is here to a worker with room for all of it, and no
/// more, ends there when its rest comes with the next message's start: the rest is asked
/// room for, not what follows it (which goes to the other worker).
#[test]
fn the_rest_of_a_message_asks_room_for_itself_not_for_the_next_message() {
    let mut store = Storage::new(8, 0);
    let first = tagged(0, 0, &[3000]);
    let wire = encode(&first);
    let (mut net, id, stalled, live) = stalled_and_live(&mut store, wire.len() + SLACK);
    let used = net
        .dev
        .handle_input_ahead(id, &wire[..1000], (wire.len() - 1000) as u64, net.now)
        .expect("fed");
    assert_eq!(used, 1000, "routed at once");
    let second = tagged(0, 1, &[3000]);
    let rest: Vec<u8> = wire[used..]
        .iter()
        .chain(&encode(&second))
        .copied()
        .collect();
    let used = net.dev.handle_input(id, &rest, net.now).expect("fed");
    assert_eq!(used, rest.len(), "the producer is not held");
    net.pump();
    assert_eq!(
        net.queued(stalled),
        wire.len(),
        "the first ended at the stalled worker"
    );
    assert_eq!(net.msgs(live), [second]);
    net.assert_healthy();
}
