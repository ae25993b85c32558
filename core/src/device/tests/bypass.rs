//! Bodies the caller moves itself, socket to socket ([`Device::bypass_target`](super::super::Device::bypass_target)).

use super::*;

/// A streamer with 4 KB input buffers whose caller moves bodies in chunks of `chunk` bytes,
/// with a producer and a worker connected.
fn streamer_net(store: &mut Storage, chunk: usize) -> (Net<'_>, P, P) {
    let mut net = Net::new(small_input(DeviceConfig::new(Kind::Streamer)), store);
    net.bypass = Some(chunk);
    let producer = net.connect(Frontend, Push);
    let worker = net.connect(Backend, Pull);
    net.pump();
    (net, producer, worker)
}

/// [`streamer_net`] with the first 20,000 bytes of a 50,000-byte message sent and part of its
/// body moved to the worker; also returns the rest of the message's bytes.
fn mid_body(store: &mut Storage) -> (Net<'_>, P, P, Vec<u8>) {
    let (mut net, producer, worker) = streamer_net(store, 4000);
    let wire = encode(&tagged(0, 0, &[50_000]));
    net.send_raw(producer, &wire[..20_000]);
    net.pump();
    assert!(net.bypassed > 0, "part of the body went by");
    (net, producer, worker, wire[20_000..].to_vec())
}

/// A new worker joins and the producer sends the rest of a broken message, then another:
/// the new worker gets the other one alone, nothing of the broken one.
fn only_the_next_message_reaches_a_new_worker(net: &mut Net<'_>, producer: P, rest: &[u8]) {
    let second = net.connect(Backend, Pull);
    net.send_raw(producer, rest);
    let next = tagged(0, 1, &[30_000]);
    net.send(producer, &next);
    net.pump();
    assert_eq!(net.msgs(second), &[next][..]);
}

#[test]
fn streamer_bodies_moved_by_the_caller_arrive_whole_and_in_order() {
    let mut store = Storage::new(8, 0);
    let (mut net, producer, worker) = streamer_net(&mut store, 1500);
    let sizes: [&[usize]; 6] = [&[70_000], &[10], &[5000, 3, 20_000], &[0], &[9000], &[300]];
    let sent: Vec<Msg> = (0..30u32)
        .map(|seq| tagged(0, seq, sizes[seq as usize % sizes.len()]))
        .collect();
    for m in &sent {
        net.send(producer, m);
    }
    net.pump();
    assert_eq!(net.msgs(worker), &sent[..]);
    assert!(net.bypassed > 400_000, "bypassed {} bytes", net.bypassed);
    let stats = net.dev.stats();
    assert_eq!(stats.backend().msgs_out, sent.len() as u64);
    assert_eq!(stats.frontend().bytes_in, stats.backend().bytes_out);
    net.assert_healthy();
}

#[test]
fn queue_requests_and_replies_moved_by_the_caller_reach_the_right_client() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(small_input(DeviceConfig::new(Kind::Queue)), &mut store);
    net.bypass = Some(3000);
    let clients = [net.connect(Frontend, Req), net.connect(Frontend, Dealer)];
    let workers = [net.connect_echo(Rep), net.connect_echo(Dealer)];
    net.pump();
    let mut want: [Vec<Msg>; 2] = Default::default();
    for round in 0..4u32 {
        for (c, &client) in clients.iter().enumerate() {
            let body = tagged(c as u32, round, &[40_000]).remove(0);
            let m = envelope(c == 0, &body);
            net.send(client, &m);
            want[c].push(echo(&m));
            // A REQ client waits for each reply.
            net.pump();
        }
    }
    for (c, &client) in clients.iter().enumerate() {
        assert_eq!(net.msgs(client), &want[c][..], "client {c}");
    }
    assert!(net.bypassed > 8 * 30_000, "bypassed {} bytes", net.bypassed);
    assert!(workers.iter().all(|&w| !net.msgs(w).is_empty()));
    net.assert_healthy();
}

#[test]
fn a_sender_leaving_mid_body_resets_the_worker_it_was_writing_to() {
    let mut store = Storage::new(8, 0);
    let (mut net, producer, worker, _) = mid_body(&mut store);
    net.disconnect(producer);
    net.pump();
    assert_eq!(
        net.remote(worker).end,
        Some(End::Closed(CloseReason::SenderAborted)),
        "a worker that got part of a message cannot be given another"
    );
    assert_eq!(net.dev.stats().resets, 1);

    // The next worker and producer start clean.
    let worker2 = net.connect(Backend, Pull);
    let producer2 = net.connect(Frontend, Push);
    net.pump();
    let m2 = tagged(1, 0, &[50_000]);
    net.send(producer2, &m2);
    net.pump();
    assert_eq!(net.msgs(worker2), &[m2][..]);
}

#[test]
fn a_worker_leaving_mid_body_loses_that_message_only() {
    let mut store = Storage::new(8, 0);
    let (mut net, producer, first, rest) = mid_body(&mut store);
    net.disconnect(first);
    assert_eq!(
        net.dev.bypass_target(net.id(producer)),
        None,
        "no one to move it to"
    );
    only_the_next_message_reaches_a_new_worker(&mut net, producer, &rest);
    assert_eq!(net.dev.stats().dropped.aborted, 1);
    net.assert_healthy();
}

#[test]
fn a_slow_worker_stops_the_bypass_until_it_drains() {
    let mut store = Storage::new(8, 0);
    let (mut net, producer, worker) = streamer_net(&mut store, 2000);
    net.pause(worker, true);
    let sent: Vec<Msg> = (0..3).map(|seq| tagged(0, seq, &[30_000])).collect();
    for m in &sent {
        net.send(producer, m);
    }
    net.pump();
    assert_eq!(
        net.bypassed, 0,
        "nothing goes by a destination's queued output"
    );
    assert!(net.pending(producer) > 0);
    net.pause(worker, false);
    net.pump();
    assert!(net.bypassed > 0);
    assert_eq!(net.msgs(worker), &sent[..]);
    net.assert_healthy();
}

#[test]
fn a_forwarder_never_offers_a_bypass() {
    let mut store = Storage::new(8, 16);
    let mut net = Net::new(small_input(forwarder()), &mut store);
    net.bypass = Some(4000);
    let publisher = net.connect(Frontend, Pub);
    let subscriber = net.connect(Backend, Sub);
    net.subscribe(subscriber, b"");
    net.pump();
    let m = tagged(0, 0, &[50_000]);
    net.send(publisher, &m);
    net.pump();
    assert_eq!(net.bypassed, 0);
    assert_eq!(net.msgs(subscriber), &[m][..]);
}

#[test]
fn a_destination_that_lost_bytes_is_closed_and_its_source_discards_the_rest() {
    let mut store = Storage::new(8, 0);
    let (mut net, producer, first, rest) = mid_body(&mut store);
    // The caller lost bytes meant for the worker (a failed splice with its frame head).
    net.dev.fail_peer(net.id(first));
    assert_eq!(net.dev.bypass_target(net.id(producer)), None);
    net.pump();
    assert_eq!(net.remote(first).end, Some(End::Closed(CloseReason::Lost)));
    only_the_next_message_reaches_a_new_worker(&mut net, producer, &rest);
    assert_eq!(net.dev.stats().resets, 1);
}
