//! Sources waiting for a destination take turns, and a queue's worker holds at most
//! `worker_inflight` unanswered requests.

use super::*;

fn queue(inflight: u32) -> DeviceConfig {
    let mut cfg = DeviceConfig::new(Kind::Queue);
    cfg.worker_inflight = inflight;
    cfg
}

/// The worker answers its oldest unanswered request (its routing frame and body back).
fn answer_oldest(net: &mut Net<'_>, worker: P, answered: &mut usize) {
    let request = net.msgs(worker)[*answered].clone();
    *answered += 1;
    net.send(worker, &request);
    net.pump();
}

#[test]
fn a_worker_with_worker_inflight_unanswered_requests_gets_no_more_until_it_answers() {
    let mut store = Storage::new(4, 0);
    let mut net = Net::new(queue(3), &mut store);
    let worker = net.connect(Backend, Dealer);
    let client = net.connect(Frontend, Dealer);
    net.pump();
    for i in 0..5u8 {
        net.send(client, &envelope(true, &[i]));
    }
    net.pump();
    assert_eq!(net.msgs(worker).len(), 3, "3 may wait unanswered");
    assert!(!net.wants_read(client), "the client waits for the worker");
    let mut answered = 0;
    answer_oldest(&mut net, worker, &mut answered);
    assert_eq!(net.msgs(worker).len(), 4, "one answer lets one more in");
    assert_eq!(net.msgs(client), [envelope(true, &[0])]);
    while answered < 5 {
        answer_oldest(&mut net, worker, &mut answered);
    }
    let want: Vec<Msg> = (0..5u8).map(|i| envelope(true, &[i])).collect();
    assert_eq!(net.msgs(client), want);
    net.assert_healthy();
}

#[test]
fn worker_inflight_zero_is_no_limit() {
    let mut store = Storage::new(4, 0);
    let mut net = Net::new(queue(0), &mut store);
    let worker = net.connect(Backend, Dealer);
    let client = net.connect(Frontend, Dealer);
    net.pump();
    for i in 0..2000u16 {
        net.send(client, &envelope(true, &i.to_be_bytes()));
    }
    net.pump();
    assert_eq!(net.msgs(worker).len(), 2000);
    net.assert_healthy();
}

#[test]
fn a_client_waiting_for_a_worker_is_not_overtaken_by_one_with_more_to_send() {
    // One request in flight at a time: each answer frees room for one. The flooder has ten
    // requests waiting and always runs first; the other client's one request goes in at the
    // flooder's next turn but one, not after all ten.
    let mut store = Storage::new(4, 0);
    let mut net = Net::new(queue(1), &mut store);
    let worker = net.connect(Backend, Dealer);
    let flooder = net.connect(Frontend, Dealer);
    let other = net.connect(Frontend, Dealer);
    net.pump();
    for i in 0..10u8 {
        net.send(flooder, &envelope(true, &[b'f', i]));
    }
    net.pump();
    net.send(other, &envelope(true, b"mine"));
    net.pump();
    let mut answered = 0;
    while net.msgs(other).is_empty() {
        assert!(answered < 11, "the other client was never answered");
        answer_oldest(&mut net, worker, &mut answered);
    }
    let at = net
        .msgs(worker)
        .iter()
        .position(|m| m.last().is_some_and(|b| b == b"mine"))
        .expect("the other client's request reached the worker");
    assert!(
        at <= 2,
        "the other client's request was the worker's request number {}",
        at + 1
    );
    while answered < 11 {
        answer_oldest(&mut net, worker, &mut answered);
    }
    assert_eq!(net.msgs(flooder).len(), 10);
    net.assert_healthy();
}

#[test]
fn a_reply_that_frees_one_place_wakes_one_waiting_client_not_all() {
    let mut store = Storage::new(16, 0);
    let mut net = Net::new(queue(1), &mut store);
    let worker = net.connect(Backend, Dealer);
    let clients: Vec<P> = (0..10).map(|_| net.connect(Frontend, Dealer)).collect();
    net.pump();
    for (c, &client) in clients.iter().enumerate() {
        for i in 0..3u8 {
            net.send(client, &envelope(true, &[c as u8, i]));
        }
    }
    net.pump();
    assert_eq!(net.msgs(worker).len(), 1);
    let mut answered = 0;
    for n in 0..20 {
        let before = net.wakes;
        answer_oldest(&mut net, worker, &mut answered);
        // The client the reply goes to, the one whose turn it is, and the worker its request
        // goes to; not the other eight.
        assert!(
            net.wakes - before <= 3,
            "answer {n} woke {} peers",
            net.wakes - before
        );
    }
    // Each client had its turn: the first 21 requests are from all ten, in turn.
    let firsts: BTreeSet<u8> = net.msgs(worker)[..21]
        .iter()
        .filter_map(|m| m.last().map(|b| b[0]))
        .collect();
    assert_eq!(firsts.len(), 10);
    while answered < 30 {
        answer_oldest(&mut net, worker, &mut answered);
    }
    net.assert_healthy();
}

#[test]
fn a_client_that_leaves_room_passes_its_turn_on() {
    // Five clients of one request each wait for a worker holding its three; a second
    // worker joins with room for three: the first client woken gets its request in and has
    // no more, so it passes its turn on, and three requests go to the newcomer at once.
    let mut store = Storage::new(16, 0);
    let mut net = Net::new(queue(3), &mut store);
    let first = net.connect(Backend, Dealer);
    let clients: Vec<P> = (0..6).map(|_| net.connect(Frontend, Dealer)).collect();
    net.pump();
    for (c, &client) in clients.iter().enumerate() {
        net.send(client, &envelope(true, &[c as u8]));
    }
    net.pump();
    assert_eq!(net.msgs(first).len(), 3);
    let second = net.connect(Backend, Dealer);
    net.pump();
    assert_eq!(
        net.msgs(second).len(),
        3,
        "every waiting client got its turn"
    );
    net.assert_healthy();
}

#[test]
fn a_reply_waiting_for_memory_closes_the_clients_behind_for_client_stall() {
    // A deaf client holds a reply in its queue; a normal client's reply then waits for memory
    // (its queue rationed). Nothing else will ever go to the deaf client, so waiting for its
    // own next reply to find no room would wait for good: once it has been behind for
    // client_stall it is closed, for the memory its queue holds.
    let mut store = Storage::new(4, 0);
    let mut net = Net::new(queue(1000), &mut store);
    let worker = net.connect(Backend, Dealer);
    let deaf = net.connect(Frontend, Dealer);
    let normal = net.connect(Frontend, Req);
    net.pump();
    net.pause(deaf, true);
    net.send(deaf, &envelope(true, b"deaf"));
    net.pump();
    let mut answered = 0;
    answer_oldest(&mut net, worker, &mut answered);
    assert!(net.queued(deaf) > 0, "the deaf client holds its reply");
    net.ration(normal, Some(10));
    net.send(normal, &envelope(true, b"normal"));
    net.pump();
    answer_oldest(&mut net, worker, &mut answered);
    assert!(net.msgs(normal).is_empty(), "the reply waits for memory");
    assert!(net.closes.is_empty(), "not before client_stall");
    let stall = net.dev.config().client_stall;
    net.now = net.now + stall;
    net.dev.handle_timeout(net.now);
    net.pump();
    // Its socket is tried first (`Device::poll_probe`), and takes nothing.
    assert!(net.closes.is_empty());
    net.run_until(net.now + crate::device::queue::PROBE_WAIT);
    assert_eq!(net.closes, [(deaf, CloseReason::Unread)]);
    assert_eq!(net.dev.stats().unread, 1);
    // Memory comes back with the deaf client's queue; the normal client gets its reply.
    net.ration(normal, None);
    net.dev.retry_blocked();
    net.pump();
    assert_eq!(net.msgs(normal), [envelope(true, b"normal")]);
}

#[test]
fn a_reply_that_waits_answers_its_request_once() {
    // The worker's reply waits for room at its client and is tried again and again; the
    // worker still holds both requests it was given, and gets no third until a reply goes.
    let mut store = Storage::new(4, 0);
    let mut net = Net::new(queue(2), &mut store);
    let worker = net.connect(Backend, Dealer);
    let client = net.connect(Frontend, Dealer);
    net.pump();
    for i in 0..4u8 {
        net.send(client, &envelope(true, &[i]));
    }
    net.pump();
    assert_eq!(net.msgs(worker).len(), 2);
    net.ration(client, Some(0));
    let mut answered = 0;
    answer_oldest(&mut net, worker, &mut answered);
    for _ in 0..5 {
        net.now = net.now + crate::time::Duration::from_millis(100);
        net.dev.handle_timeout(net.now);
        net.pump();
    }
    assert!(net.msgs(client).is_empty(), "the reply waits for room");
    assert_eq!(
        net.msgs(worker).len(),
        2,
        "a waiting reply answered its request more than once"
    );
    net.ration(client, None);
    net.dev.retry_blocked();
    net.pump();
    assert_eq!(net.msgs(client).len(), 1);
    assert_eq!(
        net.msgs(worker).len(),
        3,
        "the reply that went let one more in"
    );
}
