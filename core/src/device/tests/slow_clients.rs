//! Queue: clients that read slowly or not at all (`client_stall`), and what a worker's
//! replies to them may cost the others; clients closed for not reading.

use super::*;
use crate::device::queue::PROBE_WAIT;
use crate::time::{Duration, Instant};

/// A queue with a 1 KiB mark: an echo worker, a client `stuck` that reads nothing and has
/// sent 20 requests of 500 bytes, and a `normal` REQ client.
fn stuck_client(cfg: DeviceConfig, store: &mut Storage) -> (Net<'_>, [P; 3]) {
    let mut net = Net::new(cfg, store);
    let worker = net.connect_echo(Dealer);
    let stuck = net.connect(Frontend, Dealer);
    let normal = net.connect(Frontend, Req);
    net.pump();
    net.pause(stuck, true);
    for i in 0..20u8 {
        net.send(stuck, &envelope(false, &[i; 500]));
    }
    net.pump();
    (net, [worker, stuck, normal])
}

fn queue_with_mark(client_stall: Duration) -> DeviceConfig {
    let mut cfg = DeviceConfig::new(Kind::Queue);
    cfg.queue_hwm = 1024;
    cfg.client_stall = client_stall;
    cfg
}

#[test]
fn a_client_that_does_not_read_loses_its_replies_and_holds_no_worker() {
    let cfg = queue_with_mark(Duration::from_millis(700));
    let mut store = Storage::new(8, 0);
    let (mut net, [worker, stuck, normal]) = stuck_client(cfg, &mut store);
    // Its replies fill its queue to the mark; the worker waits for it a while...
    assert!(net.queued(stuck) >= 1024);
    assert_eq!(net.dev.stats().dropped.hwm, 0, "nothing dropped at once");
    net.send(normal, &envelope(true, &[0]));
    net.pump();
    assert!(
        net.msgs(normal).is_empty(),
        "the worker waits for a client over its mark"
    );
    // ...until the client has taken nothing for client_stall: then its replies are dropped,
    // counted, and the worker goes on.
    let retry = net.dev.reply_retry().expect("a retry is due");
    assert!(retry <= net.now + cfg.client_stall);
    net.run_until(Instant::from_millis(retry.as_millis() - 1));
    assert_eq!(net.dev.stats().dropped.hwm, 0, "not before client_stall");
    net.run_until(retry);
    let dropped = net.dev.stats().dropped.hwm;
    assert!(dropped > 0, "no reply was dropped");
    for i in 1..5u8 {
        net.send(normal, &envelope(true, &[i]));
        net.pump();
    }
    let want: Vec<Msg> = (0..5u8)
        .map(|i| envelope(true, &[b'r', b'e', b':', i]))
        .collect();
    assert_eq!(
        net.msgs(normal),
        want,
        "the worker answers the normal client"
    );
    assert_eq!(net.msgs(worker).len(), 25);
    net.pause(stuck, false);
    net.pump();
    assert_eq!(net.msgs(stuck).len() as u64 + dropped, 20);
    net.assert_healthy();
}

/// A client that reads in bursts, each within `client_stall` of the last, and takes all it
/// has each time, loses nothing: the worker waits for it.
#[test]
fn a_client_that_reads_slowly_but_catches_up_loses_no_reply() {
    let cfg = queue_with_mark(Duration::from_secs(2));
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(cfg, &mut store);
    net.connect_echo(Dealer);
    let slow = net.connect(Frontend, Dealer);
    net.pump();
    net.pause(slow, true);
    for i in 0..20u8 {
        net.send(slow, &envelope(false, &[i; 500]));
    }
    net.pump();
    for _ in 0..40 {
        net.now = net.now + Duration::from_millis(1_500);
        net.dev.handle_timeout(net.now);
        net.write(slow, usize::MAX);
        net.pump();
    }
    net.pause(slow, false);
    net.pump();
    assert_eq!(net.dev.stats().dropped.hwm, 0);
    assert_eq!(net.msgs(slow).len(), 20);
    net.assert_healthy();
}

/// A client that takes a little now and then and never catches up holds the worker at most
/// `client_stall` in all: then its replies are dropped while it stays behind, and the normal
/// client's reply waits no longer than that.
#[test]
fn a_client_trickling_its_replies_holds_the_worker_at_most_client_stall_in_all() {
    let cfg = queue_with_mark(Duration::from_millis(500));
    let mut store = Storage::new(8, 0);
    let (mut net, [_, stuck, normal]) = stuck_client(cfg, &mut store);
    net.send(normal, &envelope(true, &[0]));
    net.pump();
    // 600 bytes every 100 ms: below its mark each time, never empty.
    let start = net.now;
    while net.msgs(normal).is_empty() {
        assert!(
            net.now.saturating_since(start).as_millis() <= 600,
            "the normal client waited past client_stall"
        );
        net.now = net.now + Duration::from_millis(100);
        net.dev.handle_timeout(net.now);
        net.write(stuck, 600);
        net.pump();
    }
    assert!(net.dev.stats().dropped.hwm > 0);
    net.pause(stuck, false);
    net.pump();
    assert_eq!(
        net.msgs(stuck).len() as u64 + net.dev.stats().dropped.hwm,
        20
    );
    net.assert_healthy();
}

/// With `client_stall` at zero, a reply for a client over its mark is dropped at once, as
/// libzmq's ROUTER drops it: the worker never waits.
#[test]
fn a_client_stall_of_zero_drops_at_once() {
    let mut store = Storage::new(8, 0);
    let (mut net, [_, _, normal]) = stuck_client(queue_with_mark(Duration::ZERO), &mut store);
    net.send(normal, &envelope(true, &[0]));
    net.pump();
    assert!(net.dev.stats().dropped.hwm > 0);
    assert_eq!(net.msgs(normal), [envelope(true, &[b'r', b'e', b':', 0])]);
    net.assert_healthy();
}

/// A queue with an 8 KiB input buffer and `client_stall` at 300 ms, an echo worker, a DEALER
/// client that reads nothing (paused) with room for 10,000 bytes of replies, and a REQ client.
pub(super) fn echo_and_rationed_client(store: &mut Storage) -> (Net<'_>, [P; 3]) {
    echo_and_rationed_client_stalled(store, Duration::from_millis(300))
}

pub(super) fn echo_and_rationed_client_stalled(
    store: &mut Storage,
    stall: Duration,
) -> (Net<'_>, [P; 3]) {
    let mut cfg = DeviceConfig::new(Kind::Queue);
    cfg.input_capacity = 8 << 10;
    cfg.client_stall = stall;
    let mut net = Net::new(cfg, store);
    let worker = net.connect_echo(Dealer);
    let client = net.connect(Frontend, Dealer);
    let normal = net.connect(Frontend, Req);
    net.pump();
    net.pause(client, true);
    net.ration(client, Some(10_000));
    (net, [worker, client, normal])
}

/// A reply larger than the input buffer is cut through; a client whose queue cannot take the
/// rest of it (its memory rationed, reading nothing) holds the worker no longer than
/// `client_stall`, as it would before the reply started: then it lets the reply go (taken
/// back, none of it written: counted as dropped for memory) and is closed, to give back what
/// it holds (`CloseReason::Unread`); the worker's next reply, to a normal client, goes
/// through.
#[test]
fn a_reply_cut_through_to_a_client_without_room_holds_the_worker_at_most_client_stall() {
    let mut store = Storage::new(8, 0);
    let (mut net, [worker, stuck, normal]) = echo_and_rationed_client(&mut store);
    let cfg = *net.dev.config();
    net.send(stuck, &envelope(false, &[7; 32 << 10]));
    net.pump();
    assert!(
        (1..10_000).contains(&net.queued(stuck)),
        "the start of the reply is queued"
    );
    net.send(normal, &envelope(true, &[0]));
    net.pump();
    assert!(
        net.msgs(normal).is_empty(),
        "the worker waits for the stuck client a while"
    );
    let retry = net.dev.reply_retry().expect("a retry is due");
    assert!(retry > net.now && retry <= net.now + cfg.client_stall);
    net.run_until(retry);
    assert_eq!(net.msgs(normal), [envelope(true, b"re:\0")]);
    assert_eq!(net.msgs(worker).len(), 2);
    assert_eq!(net.dev.stats().dropped.memory, 1);
    // Its socket is tried first, and takes nothing.
    assert!(net.closes.is_empty());
    net.run_until(retry + PROBE_WAIT);
    assert_eq!(net.remote(stuck).probes, 1);
    assert_eq!(net.closes, [(stuck, CloseReason::Unread)]);
    assert_eq!(net.dev.stats().unread, 1);
    assert!(net.msgs(stuck).is_empty());
    net.assert_healthy();
}

/// A client that takes all it has every 200 ms, with `client_stall` at 250 ms, loses nothing:
/// a worker's wait before the client last caught up is not counted against it after.
#[test]
fn a_client_catching_up_within_client_stall_each_time_loses_no_reply() {
    let cfg = queue_with_mark(Duration::from_millis(250));
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(cfg, &mut store);
    net.connect_echo(Dealer);
    let client = net.connect(Frontend, Dealer);
    net.pump();
    net.pause(client, true);
    for i in 0..40u8 {
        net.send(client, &envelope(false, &[i; 500]));
    }
    net.pump();
    for _ in 0..40 {
        for _ in 0..20 {
            net.now = net.now + Duration::from_millis(10);
            net.dev.handle_timeout(net.now);
            net.pump();
        }
        net.write(client, usize::MAX);
        net.pump();
    }
    net.pause(client, false);
    net.pump();
    assert_eq!(net.dev.stats().dropped, Drops::default());
    assert_eq!(net.msgs(client).len(), 40);
    net.assert_healthy();
}

/// With `client_stall` at zero, a reply waiting for memory at a client that holds nothing (it
/// has read all it was sent) waits without spinning: the next look is a timer away, and memory
/// given back lets it through. The client is not behind, so it is neither dropped for nor
/// closed.
#[test]
fn a_reply_waiting_for_memory_at_a_client_holding_nothing_waits_without_spinning() {
    let mut store = Storage::new(8, 0);
    let mut net = Net::new(queue_with_mark(Duration::ZERO), &mut store);
    net.connect_echo(Dealer);
    let client = net.connect(Frontend, Req);
    net.pump();
    net.ration(client, Some(0));
    net.send(client, &envelope(true, &[1; 100]));
    net.pump();
    assert!(net.msgs(client).is_empty(), "no room: the reply waits");
    assert!(net.closes.is_empty());
    assert_eq!(net.dev.stats().dropped, Drops::default());
    let next = net.dev.poll_timeout().expect("a retry is due");
    assert!(next > net.now, "a retry due at once would spin");
    net.ration(client, None);
    net.dev.retry_blocked();
    net.pump();
    assert_eq!(net.msgs(client), [echo(&envelope(true, &[1; 100]))]);
    net.assert_healthy();
}

const STALL: Duration = Duration::from_millis(300);

/// A client behind on its replies, whose next reply finds no room, sends half of a request
/// too large to be stored (cut through to the worker). Returns the net, the worker, the client
/// and the request's bytes.
fn deaf_client_mid_request(store: &mut Storage) -> (Net<'_>, P, P, Vec<u8>) {
    let mut cfg = DeviceConfig::new(Kind::Queue);
    cfg.input_capacity = 8 << 10;
    cfg.client_stall = STALL;
    let mut net = Net::new(cfg, store);
    let worker = net.connect(Backend, Dealer);
    let deaf = net.connect(Frontend, Dealer);
    net.pump();
    net.pause(deaf, true);
    net.ration(deaf, Some(600));
    net.send(deaf, &envelope(true, b"one"));
    net.send(deaf, &envelope(true, b"two"));
    net.pump();
    // The first reply waits in its queue: the client is behind from now on.
    let first = net.msgs(worker)[0].clone();
    net.send(worker, &first);
    net.pump();
    assert!(net.queued(deaf) > 0);
    // The worker's next reply cannot go in: the client reads nothing and has no room.
    let mut reply = net.msgs(worker)[1].clone();
    *reply.last_mut().expect("a body") = vec![b'r'; 1000];
    net.send(worker, &reply);
    net.pump();
    let bytes = encode(&envelope(true, &[b'L'; 32 << 10]));
    net.send_raw(deaf, &bytes[..16 << 10]);
    net.pump();
    assert!(
        net.remote(worker).wire.len() > 8 << 10,
        "the request is cut through"
    );
    (net, worker, deaf, bytes)
}

/// A client closed for not reading while a request of its own is being cut through to a
/// worker is closed once that request is through, not in its middle: cut short, the request
/// would reset the worker, and with it every other client's requests in flight there.
#[test]
fn a_client_closed_for_not_reading_finishes_the_request_it_is_sending_first() {
    let mut store = Storage::new(8, 0);
    let (mut net, worker, deaf, bytes) = deaf_client_mid_request(&mut store);
    net.run_until(net.now + STALL + Duration::from_millis(1));
    assert!(net.closes.is_empty(), "not while its request is on its way");
    net.send_raw(deaf, &bytes[16 << 10..]);
    net.pump();
    assert_eq!(net.closes, [(deaf, CloseReason::Unread)]);
    assert_eq!(
        net.msgs(worker).len(),
        3,
        "the worker got the request whole"
    );
    assert_eq!(net.msgs(worker)[2].last(), Some(&vec![b'L'; 32 << 10]));
    assert_eq!(net.dev.stats().unread, 1);
    assert_eq!(net.dev.stats().resets, 0);
}

/// As above, but the rest of the request never comes: the client is closed `client_stall`
/// after it was due, and the worker, holding part of the request, is reset.
#[test]
fn a_client_closed_for_not_reading_that_stops_mid_request_is_closed_after_client_stall() {
    let mut store = Storage::new(8, 0);
    let (mut net, worker, deaf, _) = deaf_client_mid_request(&mut store);
    let due = net.now + STALL + Duration::from_millis(1);
    net.run_until(due);
    assert!(net.closes.is_empty());
    net.run_until(due + STALL);
    assert_eq!(
        net.closes,
        [
            (deaf, CloseReason::Unread),
            (worker, CloseReason::SenderAborted)
        ]
    );
}

/// As `a_reply_cut_through_to_a_client_without_room_holds_the_worker_at_most_client_stall`,
/// but the client takes a few bytes of an earlier reply every 100 ms: it reads, so it is not
/// closed; the reply that found no room is let go (counted) once it has waited
/// `client_stall`, and the worker goes on.
#[test]
fn a_client_that_reads_is_not_closed_when_a_reply_finds_no_room() {
    let mut store = Storage::new(8, 0);
    let (mut net, [worker, slow, normal]) = echo_and_rationed_client(&mut store);
    // A first reply it reads a little of at a time; then one that does not fit.
    net.send(slow, &envelope(false, &[1; 2000]));
    net.send(slow, &envelope(false, &[7; 32 << 10]));
    net.pump();
    net.send(normal, &envelope(true, &[0]));
    net.pump();
    for _ in 0..10 {
        net.write(slow, 16);
        net.run_until(net.now + Duration::from_millis(100));
    }
    assert_eq!(net.msgs(normal), [envelope(true, b"re:\0")]);
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    assert_eq!(net.dev.stats().unread, 0);
    assert_eq!(net.dev.stats().dropped.memory, 1);
    let _ = worker;
}
