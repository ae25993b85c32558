//! Queue: reply routing, late workers, large messages, backpressure (clients that do not
//! read: `slow_clients.rs`).

use super::*;

#[test]
fn queue_routes_every_reply_to_its_client() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Queue), &mut store);
    let clients = [
        net.connect(Frontend, Req),
        net.connect(Frontend, Req),
        net.connect(Frontend, Dealer),
    ];
    let is_req = [true, true, false];
    let workers = [net.connect_echo(Rep), net.connect_echo(Dealer)];
    net.pump();

    let request = |c: usize, round: usize| format!("client {c} request {round}").into_bytes();
    for round in 0..5 {
        for (c, &client) in clients.iter().enumerate() {
            net.send(client, &envelope(is_req[c], &request(c, round)));
        }
        net.pump();
    }
    for (c, &client) in clients.iter().enumerate() {
        let want: Vec<Msg> = (0..5)
            .map(|round| envelope(is_req[c], &[b"re:", &request(c, round)[..]].concat()))
            .collect();
        assert_eq!(net.msgs(client), want, "client {c}");
    }
    for &w in &workers {
        // Round-robin: 15 requests over 2 workers.
        assert!(
            (7..=8).contains(&net.msgs(w).len()),
            "{}",
            net.msgs(w).len()
        );
        for m in net.msgs(w) {
            assert_eq!(m[0].len(), 9, "a routing frame first");
        }
    }
    net.assert_healthy();
}

#[test]
fn queue_gives_work_to_a_worker_that_comes_late() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Queue), &mut store);
    let w1 = net.connect_echo(Rep);
    let clients: Vec<P> = (0..4).map(|_| net.connect(Frontend, Req)).collect();
    net.pump();
    let round = |net: &mut Net<'_>, n: u8| {
        for &c in &clients {
            net.send(c, &envelope(true, &[n, c as u8]));
        }
        net.pump();
    };
    round(&mut net, 1);
    assert_eq!(net.msgs(w1).len(), 4);

    let w2 = net.connect_echo(Rep);
    net.pump();
    round(&mut net, 2);
    assert_eq!((net.msgs(w1).len(), net.msgs(w2).len()), (6, 2));
    for &c in &clients {
        let want = [1, 2].map(|n| envelope(true, &[b'r', b'e', b':', n, c as u8]));
        assert_eq!(net.msgs(c), want, "client {c}");
    }
    net.assert_healthy();
}

#[test]
fn queue_drops_replies_to_departed_clients() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Queue), &mut store);
    let worker = net.connect(Backend, Rep);
    let c1 = net.connect(Frontend, Req);
    let c2 = net.connect(Frontend, Req);
    net.pump();
    net.send(c1, &envelope(true, b"q1"));
    net.send(c2, &envelope(true, b"q2"));
    net.pump();
    let requests = net.msgs(worker).to_vec();
    assert_eq!(requests.len(), 2);
    let (rid1, rid2) = (&requests[0][0], &requests[1][0]);

    net.disconnect(c1);
    net.pump();
    // A multipart reply to the departed client, then one to a present client.
    net.send(worker, &msg(&[rid1, b"", b"a", b"b"]));
    net.send(worker, &msg(&[rid2, b"", b"re:q2"]));
    net.pump();
    assert_eq!(net.msgs(c2), [envelope(true, b"re:q2")]);
    assert_eq!(net.dev.stats().dropped.unroutable, 1);

    // A newcomer in the departed client's slot is not it; a routing frame that is not ours
    // names no one.
    let c3 = net.connect(Frontend, Req);
    net.pump();
    net.send(worker, &msg(&[rid1, b"", b"stale"]));
    net.send(worker, &msg(&[b"bogus", b"", b"x"]));
    net.pump();
    assert!(net.msgs(c3).is_empty());
    assert_eq!(net.dev.stats().dropped.unroutable, 3);
    assert!(net.wants_read(worker));
    net.assert_healthy();
}

#[test]
fn queue_keeps_large_multipart_requests_and_replies_whole() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(small_input(DeviceConfig::new(Kind::Queue)), &mut store);
    let clients = [net.connect(Frontend, Dealer), net.connect(Frontend, Dealer)];
    let worker = net.connect_echo(Dealer);
    net.pump();
    let sent: Vec<Vec<Msg>> = (0..2u32)
        .map(|c| (0..3).map(|i| big(c, i)).collect())
        .collect();
    for (c, msgs) in sent.iter().enumerate() {
        for m in msgs {
            net.send(clients[c], m);
        }
    }
    net.pump();
    for (c, msgs) in sent.iter().enumerate() {
        let want: Vec<Msg> = msgs.iter().map(echo).collect();
        assert_eq!(net.msgs(clients[c]), want, "client {c}");
    }
    for m in net.msgs(worker) {
        assert_eq!(m.len(), 4, "routing frame and three frames");
    }
    net.assert_healthy();
}

#[test]
fn queue_holds_requests_until_a_worker_arrives() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(DeviceConfig::new(Kind::Queue), &mut store);
    let clients: Vec<P> = (0..3).map(|_| net.connect(Frontend, Dealer)).collect();
    net.pump();
    for &c in &clients {
        for i in 0..3u8 {
            net.send(c, &msg(&[&[c as u8, i]]));
        }
    }
    net.pump();
    for &c in &clients {
        assert!(!net.wants_read(c), "client {c} waits for a worker");
        assert!(net.pending(c) > 0);
    }
    assert_eq!(net.dev.stats().frontend().msgs_in, 0);

    let worker = net.connect_echo(Dealer);
    net.pump();
    for &c in &clients {
        let want: Vec<Msg> = (0..3u8)
            .map(|i| msg(&[&[b'r', b'e', b':', c as u8, i]]))
            .collect();
        assert_eq!(net.msgs(c), want, "client {c}");
        assert!(net.wants_read(c));
        assert_eq!(net.pending(c), 0);
    }
    assert_eq!(net.msgs(worker).len(), 9);
    net.assert_healthy();
}

/// A worker sends a large reply to client `c` slowly (cut through, half of it here): another
/// worker's reply to `c`, all here, is held back for `c` and follows the large one, and that
/// worker goes on answering client `d` meanwhile. Waiting for `c` instead, it stalled, and
/// with it every client it served (attacker round 8: a 4 MiB reply at 200 KB/s stalled the
/// whole queue for 18 s).
#[test]
fn a_slow_large_reply_to_one_client_holds_no_other_worker_from_the_others() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(small_input(DeviceConfig::new(Kind::Queue)), &mut store);
    let (c, d) = (net.connect(Frontend, Dealer), net.connect(Frontend, Dealer));
    let slow = net.connect(Backend, Dealer);
    let _echo = net.connect_echo(Dealer);
    net.pump();
    net.send(c, &envelope(false, b"c1"));
    net.pump();
    let first = net
        .msgs(slow)
        .first()
        .cloned()
        .expect("the slow worker's request");
    assert_eq!(first[1], b"c1");
    // Its reply: 40 KB, the first half now.
    let mut reply = first.clone();
    reply[1] = vec![7; 40_000];
    let bytes = encode(&reply);
    net.send_raw(slow, &bytes[..20_000]);
    net.pump();
    // Round robin: c's next request goes to the echoing worker, whose reply waits for c.
    net.send(c, &envelope(false, b"c2"));
    net.pump();
    for i in 0..4u8 {
        net.send(d, &envelope(false, &[b'd', i]));
        net.pump();
    }
    let d_got = net.msgs(d).len();
    assert!(
        d_got >= 2,
        "d got {d_got} replies while c took the slow one"
    );
    net.send_raw(slow, &bytes[20_000..]);
    net.pump();
    assert_eq!(
        net.msgs(c),
        [envelope(false, &[7; 40_000]), envelope(false, b"re:c2")],
        "the held-back reply after the large one"
    );
    assert_eq!(net.dev.stats().dropped, Drops::default());
    net.assert_healthy();
}
