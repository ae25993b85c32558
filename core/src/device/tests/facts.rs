//! What an operator reads of each peer ([`Device::peers`](crate::device::Device::peers)): its
//! socket type and ZMTP version once ready, and traffic counted as its side's is, so that a
//! side's peers add up to the side's counters.

use super::*;
use crate::device::{PeerView, SideStats, Traffic};

/// The views of `side`'s peers, summed.
fn sum(views: &[PeerView], side: Side) -> Traffic {
    let mut t = Traffic::default();
    for v in views.iter().filter(|v| v.side == side) {
        t.msgs_in += v.traffic.msgs_in;
        t.bytes_in += v.traffic.bytes_in;
        t.msgs_out += v.traffic.msgs_out;
        t.bytes_out += v.traffic.bytes_out;
    }
    t
}

fn of(s: &SideStats) -> Traffic {
    Traffic {
        msgs_in: s.msgs_in,
        bytes_in: s.bytes_in,
        msgs_out: s.msgs_out,
        bytes_out: s.bytes_out,
    }
}

/// Every side's peers add up to the side's counters.
fn assert_adds_up(net: &Net<'_>) {
    let views: Vec<PeerView> = net.dev.peers().collect();
    let s = net.dev.stats();
    assert_eq!(sum(&views, Frontend), of(s.frontend()));
    assert_eq!(sum(&views, Backend), of(s.backend()));
}

#[test]
fn a_streamer_s_peers_are_shown_with_their_type_version_and_traffic() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Streamer), &mut store);
    let producer = net.connect(Frontend, Push);
    let old = net.connect_as(Backend, Pull, true);
    let view = net.dev.peer_view(net.id(producer)).expect("listed");
    assert_eq!((view.socket_type, view.zmtp), (None, None), "before READY");
    net.pump();
    let worker = net.connect(Backend, Pull);
    net.pump();
    net.send(producer, &msg(&[b"ab", b"", b"cdef"]));
    net.send(producer, &msg(&[&[7; 3000]]));
    net.send(producer, &msg(&[b"x"]));
    net.pump();
    let p = net.dev.peer_view(net.id(producer)).expect("listed");
    assert_eq!(p.side, Frontend);
    assert_eq!((p.socket_type, p.zmtp), (Some(Push), Some((3, 1))));
    assert_eq!(
        p.traffic,
        Traffic {
            msgs_in: 3,
            bytes_in: 3007,
            msgs_out: 0,
            bytes_out: 0
        }
    );
    let o = net.dev.peer_view(net.id(old)).expect("listed");
    assert_eq!((o.socket_type, o.zmtp), (Some(Pull), Some((3, 0))));
    let w = net.dev.peer_view(net.id(worker)).expect("listed");
    assert_eq!(o.traffic.msgs_out + w.traffic.msgs_out, 3);
    assert_eq!(o.traffic.bytes_out + w.traffic.bytes_out, 3007);
    assert_eq!(net.dev.peers().count(), 3);
    assert_eq!(net.dev.joined_identity(net.id(worker)), Some(&[][..]));
    assert_eq!(
        net.dev.joined_identity(net.id(producer)),
        None,
        "not the last"
    );
    assert_adds_up(&net);
    net.disconnect(producer);
    assert_eq!(net.dev.peers().count(), 2);
    assert!(net.dev.peer_view(net.id(producer)).is_none());
}

#[test]
fn a_queue_s_clients_and_workers_add_up_to_its_sides() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Queue), &mut store);
    let worker = net.connect_echo(Rep);
    let clients = [net.connect(Frontend, Req), net.connect(Frontend, Dealer)];
    net.pump();
    net.send(clients[0], &envelope(true, b"hello"));
    net.send(clients[1], &envelope(false, b"hi"));
    net.send(clients[0], &envelope(true, &[1; 5000]));
    net.pump();
    assert_eq!(net.msgs(clients[0]).len(), 2);
    let c = net.dev.peer_view(net.id(clients[0])).expect("listed");
    assert_eq!((c.traffic.msgs_in, c.traffic.msgs_out), (2, 2));
    let w = net.dev.peer_view(net.id(worker)).expect("listed");
    assert_eq!((w.traffic.msgs_in, w.traffic.msgs_out), (3, 3));
    assert_eq!(w.socket_type, Some(Rep));
    assert_adds_up(&net);
}

#[test]
fn a_forwarder_s_subscribers_count_each_copy_and_their_losses() {
    let mut cfg = forwarder();
    cfg.queue_hwm = 1024;
    let mut store = Storage::new(8, 32);
    let mut net = Net::new(cfg, &mut store);
    let (publisher, [a, b]) = net.publisher_and_two_subscribers(b"t");
    net.pause(b, true);
    // A few at a time, so that the reader keeps up.
    for i in 0..50u8 {
        net.send(publisher, &msg(&[b"t", &[i; 100]]));
        if i % 5 == 4 {
            net.pump();
        }
    }
    let va = net.dev.peer_view(net.id(a)).expect("listed");
    let vb = net.dev.peer_view(net.id(b)).expect("listed");
    assert_eq!(va.traffic.msgs_out, 50);
    assert_eq!(va.traffic.bytes_out, 50 * 101);
    assert!(vb.queued > 0);
    assert_eq!(va.queued, 0, "the reader read everything");
    assert_adds_up(&net);
    // Those held back for it count once they go into its queue.
    net.pause(b, false);
    net.pump();
    let vb = net.dev.peer_view(net.id(b)).expect("listed");
    assert!(vb.dropped > 0, "the paused one lost some");
    assert_eq!(vb.traffic.msgs_out + vb.dropped, 50);
    assert_eq!(net.msgs(b).len() as u64, vb.traffic.msgs_out);
    assert_adds_up(&net);
}
