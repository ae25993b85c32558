//! PINGs from a peer: each costs a step like any command, and a peer that pings without
//! reading is owed one PONG at a time, whatever it sends.

use super::*;
use crate::device::MAX_STEPS;
use crate::wire::command::{write_ping, write_pong};
use crate::wire::Writer;

/// A PING with `context` (and no TTL), or the PONG that answers it.
fn command(pong: bool, context: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    if pong {
        write_pong(&mut w, context).expect("room");
    } else {
        write_ping(&mut w, 0, context).expect("room");
    }
    let n = w.len();
    buf[..n].to_vec()
}

/// What the device holds for `id`, in one piece.
fn output(net: &Net<'_>, id: crate::device::PeerId) -> Vec<u8> {
    let (a, b) = net.dev.output(id);
    [a, b].concat()
}

/// A burst of PINGs in one input is taken `MAX_STEPS` at a time, one step each, and a peer
/// that does not read is owed one PONG, however many calls its PINGs take: the PONG queued
/// first answers the first call's last PING; the next is queued once that one is written, and
/// answers the latest PING.
#[test]
fn a_burst_of_pings_costs_one_step_each_and_one_pong_at_a_time() {
    let mut cfg = DeviceConfig::new(Kind::Streamer);
    cfg.input_capacity = 1 << 20;
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(cfg, &mut store);
    let producer = net.connect(Frontend, Push);
    let worker = net.connect(Backend, Pull);
    net.pump();
    let id = net.id(producer);
    assert_eq!(net.queued(producer), 0);
    let context = |i: usize| (i as u32).to_be_bytes();
    let one = command(false, &context(0)).len();
    let burst: Vec<u8> = (0..3 * MAX_STEPS)
        .flat_map(|i| command(false, &context(i)))
        .collect();

    let used = net.dev.handle_input(id, &burst, net.now).expect("fed");
    assert_eq!(used, MAX_STEPS * one, "one step per PING");
    let first = command(true, &context(MAX_STEPS - 1));
    assert_eq!(output(&net, id), first, "one PONG, for the latest PING");

    let mut at = used;
    while at < burst.len() {
        let used = net
            .dev
            .handle_input(id, &burst[at..], net.now)
            .expect("fed");
        assert_eq!(used, MAX_STEPS * one);
        at += used;
    }
    assert_eq!(output(&net, id), first, "no PONG more while it is unread");

    // Half of it written: the rest still holds the next one back.
    net.dev.consume_output(id, first.len() / 2);
    assert_eq!(net.queued(producer), first.len() - first.len() / 2);
    net.dev.consume_output(id, first.len() - first.len() / 2);
    let last = command(true, &context(3 * MAX_STEPS - 1));
    assert_eq!(output(&net, id), last, "the latest PING answered once read");
    net.dev.consume_output(id, last.len());
    assert_eq!(net.queued(producer), 0);

    // A peer that reads is answered every time.
    for i in 0..3 {
        let ping = command(false, &context(i));
        let used = net.dev.handle_input(id, &ping, net.now).expect("fed");
        assert_eq!(used, ping.len());
        let pong = command(true, &context(i));
        assert_eq!(output(&net, id), pong);
        net.dev.consume_output(id, pong.len());
    }
    net.pump();
    assert!(net.msgs(worker).is_empty());
    assert!(net.closes.is_empty());
    net.assert_healthy();
}

/// Held back for want of a destination longer than the heartbeat timeout (no worker, or the
/// only one stalled and closed): the sources whose input waits, PONGs and all, are not taken
/// for dead, and what they sent reaches the worker that comes.
#[test]
fn senders_waiting_for_a_worker_past_the_heartbeat_timeout_are_kept_and_lose_nothing() {
    use crate::conn::Heartbeat;
    use crate::time::Duration;
    for kind in [Kind::Streamer, Kind::Queue] {
        let mut cfg = DeviceConfig::new(kind);
        cfg.heartbeat = Heartbeat::every(Duration::from_millis(1000));
        let mut store = Storage::new(8, 0);
        let mut net = Net::new(cfg, &mut store);
        let (ty, worker_ty) = match kind {
            Kind::Queue => (Dealer, Dealer),
            _ => (Push, Pull),
        };
        let sender = net.connect(Frontend, ty);
        let stalled = net.connect(Backend, worker_ty);
        net.pump();
        net.pause(stalled, true);
        // Enough to fill the stalled worker's queue, then wait at the device.
        let sent: Vec<Msg> = (0..400).map(|i| tagged(0, i, &[8000])).collect();
        for m in &sent {
            net.send(sender, m);
        }
        net.pump();
        net.run_until(net.now + Duration::from_secs(30));
        assert!(
            net.closes.iter().all(|&(p, _)| p == stalled),
            "{kind:?}: {:?}",
            net.closes
        );
        assert!(net.closes.iter().any(|&(p, _)| p == stalled), "{kind:?}");
        let worker = match kind {
            Kind::Queue => net.connect(Backend, Dealer),
            _ => net.connect(Backend, Pull),
        };
        net.pump();
        net.run_until(net.now + Duration::from_secs(2));
        let got = net.msgs(worker).len() + net.msgs(stalled).len();
        assert!(got > 0, "{kind:?}");
        // Every message the stalled worker did not take went to the new one, in order (a
        // queue's behind the routing frame).
        let skip = usize::from(kind == Kind::Queue);
        let got: Vec<Msg> = net
            .msgs(worker)
            .iter()
            .map(|m| m[skip..].to_vec())
            .collect();
        let tail = &sent[sent.len() - got.len()..];
        assert!(
            got == tail,
            "{kind:?}: {} messages not the last sent",
            got.len()
        );
        assert_eq!(net.pending(sender), 0, "{kind:?}: input left unread");
    }
}

/// A worker on a slow link, taking a large message at 20 KB/s for 10 s: our PING waits behind
/// the message, so it cannot answer for longer than the heartbeat timeout, but its socket
/// keeps taking what it is sent. It is alive: not closed, and it gets the whole message
/// (attacker round 8: closed for heartbeats after 40 s at 8-50 KB/s, its message lost). One
/// that takes nothing is still closed.
#[test]
fn a_worker_taking_a_large_message_slowly_is_not_taken_for_dead() {
    use crate::conn::Heartbeat;
    use crate::time::Duration;
    let mut cfg = small_input(DeviceConfig::new(Kind::Streamer));
    cfg.heartbeat = Heartbeat::every(Duration::from_millis(1000));
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(cfg, &mut store);
    let producer = net.connect(Frontend, Push);
    let slow = net.connect(Backend, Pull);
    net.pump();
    net.pause(slow, true);
    let big = tagged(0, 0, &[200_000]);
    net.send(producer, &big);
    net.pump();
    for _ in 0..100 {
        net.write(slow, 2_000);
        net.pump();
        net.run_until(net.now + Duration::from_millis(100));
    }
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    net.pause(slow, false);
    net.pump();
    assert_eq!(net.msgs(slow), [big]);
    // Now it stops taking anything, with output waiting: closed at the heartbeat timeout.
    net.pause(slow, true);
    net.send(producer, &tagged(0, 1, &[200_000]));
    net.pump();
    net.run_until(net.now + Duration::from_secs(30));
    assert!(
        net.closes.iter().any(|&(p, _)| p == slow),
        "{:?}",
        net.closes
    );
}
