//! Bugs these tests found once, kept so they stay fixed.

use super::*;

/// A publisher's greeting and READY often arrive in one read (it sends READY as soon as it has
/// our greeting, which we send at once). The subscriptions it is owed must follow our READY.
#[test]
fn subscriptions_to_a_new_publisher_follow_our_ready() {
    for classic in [false, true] {
        let mut store = Storage::new(4, 8);
        let mut net = Net::new(DeviceConfig::new(Kind::Forwarder { classic }), &mut store);
        let s = net.connect(Backend, Sub);
        net.pump();
        net.subscribe(s, b"a");
        net.pump();
        let publisher = net.connect(Frontend, Pub);
        // The publisher takes our greeting before we read its own: its READY follows.
        net.deliver(publisher);
        net.pump();
        let topic: &[u8] = if classic { b"" } else { b"a" };
        assert_eq!(net.remote(publisher).error, None, "classic {classic}");
        assert_eq!(net.upstream(publisher), [on(topic)], "classic {classic}");
    }
}

/// A caller that flushes a failed peer's output before closing it (edge-bin does) keeps the
/// peer a while; messages must not be routed to it meanwhile.
#[test]
fn a_worker_whose_session_failed_gets_no_more_work() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Streamer), &mut store);
    net.remove_failed = false;
    let producer = net.connect(Frontend, Push);
    let broken = net.connect(Backend, Pull);
    let worker = net.connect(Backend, Pull);
    net.pump();
    // Reserved flag bits: a framing error.
    net.send_raw(broken, &[0xf0, 0x00]);
    net.pump();
    assert!(matches!(net.remote(broken).end, Some(End::Failed(_))));
    let sent = [msg(&[b"m0"]), msg(&[b"m1"])];
    for m in &sent {
        net.send(producer, m);
    }
    net.pump();
    net.disconnect(broken);
    net.pump();
    assert_eq!(net.msgs(worker), sent);
}

/// `poll_close` must not answer `None` while closes are pending, even when a pending entry's
/// slot went to a new peer in the same round.
#[test]
fn poll_close_reports_every_pending_close_after_a_slot_is_reused() {
    // Which of the two reset subscribers leaves first depends on list order: try both.
    for leaving in 0..2 {
        let mut store = Storage::new(8, 8);
        let mut net = Net::new(small_input(forwarder()), &mut store);
        let (publisher, subs) = net.publisher_and_two_subscribers(b"");
        // More than the input buffer holds: the message is cut through.
        net.send_raw(publisher, &encode(&big(0, 0))[..18_000]);
        net.pump();
        // One round of the caller: the publisher and a subscriber hang up, and new peers take
        // their slots, before the caller asks what to close.
        net.dev.remove_peer(net.id(publisher));
        net.dev.remove_peer(net.id(subs[leaving]));
        for _ in 0..2 {
            let queue = VecQueue::new(net.dev.config().queue_capacity());
            assert!(net.dev.add_peer(Backend, queue, net.now).is_ok());
        }
        let closes: Vec<_> = iter::from_fn(|| net.dev.poll_close()).collect();
        let staying = net.id(subs[1 - leaving]);
        assert_eq!(
            closes,
            [(staying, CloseReason::SenderAborted)],
            "sub {leaving} left"
        );
    }
}
