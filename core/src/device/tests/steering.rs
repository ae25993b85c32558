//! What a control endpoint steers and reads: [`Device::pause`](crate::device::Device::pause)
//! and the counters libzmq's steerable proxy would report
//! ([`ProxyStats`](crate::device::ProxyStats)).

use super::*;
use crate::device::{ProxyStats, Tally};

fn tally(msgs: u64, bytes: u64) -> Tally {
    Tally { msgs, bytes }
}

#[test]
fn paused_no_message_starts_from_either_side_and_resumed_all_of_them_go_in_order() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Queue), &mut store);
    let worker = net.connect_echo(Dealer);
    let client = net.connect(Frontend, Req);
    net.pump();
    net.dev.pause(true);
    assert!(net.dev.paused());
    let sent: Vec<Msg> = (0..20u8).map(|i| envelope(true, &[i; 40])).collect();
    for m in &sent {
        net.send(client, m);
    }
    net.pump();
    assert!(net.msgs(client).is_empty(), "a request moved while paused");
    assert_eq!(net.dev.stats().frontend().msgs_in, 0);
    // A paused device still times out nothing and loses nothing: a timer run changes nothing.
    net.run_until(net.now + crate::time::Duration::from_millis(500));
    assert!(net.msgs(client).is_empty());

    net.dev.pause(false);
    net.pump();
    let want: Vec<Msg> = sent.iter().map(echo).collect();
    assert_eq!(net.msgs(client), want);
    assert_eq!(net.msgs(worker).len(), 20);
    net.assert_healthy();
}

#[test]
fn paused_a_forwarder_still_takes_subscriptions_and_sends_them_upstream() {
    let mut store = Storage::new(8, 32);
    let mut net = Net::new(forwarder(), &mut store);
    let publisher = net.connect(Frontend, Pub);
    let sub = net.connect(Backend, Sub);
    net.pump();
    net.dev.pause(true);
    net.subscribe(sub, b"t");
    net.pump();
    assert_eq!(net.upstream(publisher), [on(b"t")]);
    net.send(publisher, &msg(&[b"t1"]));
    net.pump();
    assert!(net.msgs(sub).is_empty());
    net.dev.pause(false);
    net.pump();
    assert_eq!(net.msgs(sub), [msg(&[b"t1"])]);
}

#[test]
fn each_part_counts_once_each_way_as_libzmqs_proxy_counts_it() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Streamer), &mut store);
    let producer = net.connect(Frontend, Push);
    let worker = net.connect(Backend, Pull);
    net.pump();
    net.send(producer, &msg(&[b"ab", b"", b"cdef"]));
    net.send(producer, &msg(&[&[7; 3000]]));
    net.pump();
    assert_eq!(net.msgs(worker).len(), 2);
    let p = net.dev.stats().proxy();
    assert_eq!(p.frontend_in, tally(4, 3006));
    assert_eq!(p.backend_out, p.frontend_in);
    assert_eq!((p.frontend_out, p.backend_in), (tally(0, 0), tally(0, 0)));
    assert_eq!(p.libzmq_order(), [4, 3006, 0, 0, 0, 0, 4, 3006]);
}

#[test]
fn a_queue_counts_the_routing_frame_libzmqs_router_would_use_not_ours() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Queue), &mut store);
    net.connect_echo(Rep);
    let client = net.connect(Frontend, Req);
    net.pump();
    net.send(client, &envelope(true, b"hello"));
    net.pump();
    assert_eq!(net.msgs(client), [envelope(true, b"re:hello")]);
    // Request: [id (5), "", "hello"]; reply: [id (5), "", "re:hello"].
    let p: ProxyStats = net.dev.stats().proxy();
    assert_eq!(p.frontend_in, tally(3, 10));
    assert_eq!(p.backend_out, tally(3, 10));
    assert_eq!(p.backend_in, tally(3, 13));
    assert_eq!(p.frontend_out, tally(3, 13));
}

#[test]
fn a_forwarder_counts_what_goes_upstream_once_and_every_publication_once() {
    let mut store = Storage::new(8, 32);
    let mut net = Net::new(forwarder(), &mut store);
    let publisher = net.connect(Frontend, Pub);
    let [a, b] = [net.connect(Backend, Sub), net.connect(Backend, Sub)];
    net.pump();
    net.subscribe(a, b"x");
    net.subscribe(b, b"x"); // not new: libzmq's XPUB keeps it
    net.subscribe(b, b"yy");
    net.pump();
    net.send(publisher, &msg(&[b"x", b"12"]));
    net.send(publisher, &msg(&[b"zz"])); // matches no one: still counted, as XPUB takes it
    net.pump();
    net.cancel(b, b"yy"); // the last: goes upstream
    net.disconnect(a); // x still has b: nothing
    net.pump();
    net.run_until(net.now + crate::time::Duration::from_millis(100));
    let p = net.dev.stats().proxy();
    assert_eq!(p.backend_in, tally(3, 2 + 3 + 3));
    assert_eq!(p.frontend_out, p.backend_in);
    assert_eq!(p.frontend_in, tally(3, 5));
    assert_eq!(p.backend_out, p.frontend_in);
}

#[test]
fn paused_a_reply_waits_too_and_resumed_reaches_its_client() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Queue), &mut store);
    let worker = net.connect(Backend, Dealer);
    let client = net.connect(Frontend, Req);
    net.pump();
    net.send(client, &envelope(true, b"q"));
    net.pump();
    let mut reply = net.msgs(worker)[0].clone();
    *reply.last_mut().unwrap() = b"a".to_vec();
    net.dev.pause(true);
    net.send(worker, &reply);
    net.pump();
    assert!(net.msgs(client).is_empty(), "a reply moved while paused");
    net.dev.pause(false);
    net.pump();
    assert_eq!(net.msgs(client), [envelope(true, b"a")]);
    net.assert_healthy();
}

/// Paused for longer than the heartbeat timeout: the sources it holds back, whose PONGs wait
/// behind their messages, are not taken for dead, and lose nothing.
#[test]
fn a_long_pause_closes_no_peer_whose_input_it_holds_back() {
    use crate::conn::Heartbeat;
    use crate::time::Duration;
    let mut cfg = DeviceConfig::new(Kind::Streamer);
    cfg.heartbeat = Heartbeat::every(Duration::from_millis(1000));
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(cfg, &mut store);
    let producer = net.connect(Frontend, Push);
    let worker = net.connect(Backend, Pull);
    net.pump();
    net.dev.pause(true);
    let sent: Vec<Msg> = (0..10).map(|i| tagged(0, i, &[30])).collect();
    for m in &sent {
        net.send(producer, m);
    }
    net.pump();
    net.run_until(net.now + Duration::from_secs(30));
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    assert!(net.msgs(worker).is_empty());
    net.dev.pause(false);
    net.pump();
    assert_eq!(net.msgs(worker), sent);
    net.run_until(net.now + Duration::from_secs(10));
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    net.assert_healthy();
}
