//! Queue: a client due to be closed for not reading has its socket tried first
//! ([`Device::poll_probe`](crate::device::Device::poll_probe)); one whose socket passed on
//! what it held, unseen by the caller, reads and is kept.

use super::slow_clients::{echo_and_rationed_client, echo_and_rationed_client_stalled};
use super::*;
use crate::device::queue::PROBE_WAIT;
use crate::time::Duration;

/// As `a_reply_cut_through_to_a_client_without_room_holds_the_worker_at_most_client_stall`,
/// but the client's socket never reads as writable (the caller writes nothing to it on its
/// own), and `passes_on` says whether it passed on enough of what it held when tried: a
/// socket's notice of room lags behind a client that reads slowly. A first reply it holds,
/// then one that does not fit; once that reply has waited `client_stall`, the client is due
/// to be closed and its socket is tried. Returns the device and the client; the normal
/// client was served meanwhile.
fn tried_when_due(store: &mut Storage, passes_on: bool) -> (Net<'_>, P) {
    let (mut net, [_worker, slow, normal]) = echo_and_rationed_client(store);
    net.remotes[slow].passes_on = passes_on;
    net.send(slow, &envelope(false, &[1; 2000]));
    net.send(slow, &envelope(false, &[7; 32 << 10]));
    net.pump();
    net.send(normal, &envelope(true, &[0]));
    net.pump();
    let retry = net.dev.reply_retry().expect("a retry is due");
    net.run_until(retry + PROBE_WAIT);
    assert_eq!(net.msgs(normal), [envelope(true, b"re:\0")]);
    assert_eq!(net.remote(slow).probes, 1, "its socket was tried");
    (net, slow)
}

/// Its socket passed on enough when tried: it reads, and is kept; a reply that finds no room
/// within `client_stall` of that is let go. Tried again once that is up, it passes nothing
/// on, and is closed.
#[test]
fn a_client_whose_socket_passed_bytes_on_is_not_closed_for_not_reading() {
    let mut store = Storage::new(8, 0);
    let (mut net, slow) = tried_when_due(&mut store, true);
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    assert_eq!(net.dev.stats().unread, 0);
    net.remotes[slow].passes_on = false;
    net.send(slow, &envelope(false, &[8; 32 << 10]));
    net.pump();
    net.run_until(net.now + PROBE_WAIT);
    assert!(net.closes.is_empty(), "{:?}", net.closes);
    assert_eq!(net.dev.stats().dropped.memory, 2);
    assert_eq!(
        net.remote(slow).probes,
        1,
        "not tried again while it counts as reading"
    );
    net.run_until(net.now + net.dev.config().client_stall);
    net.send(slow, &envelope(false, &[9; 32 << 10]));
    net.pump();
    assert!(net.closes.is_empty());
    net.run_until(net.now + PROBE_WAIT);
    assert_eq!(net.remote(slow).probes, 2);
    assert_eq!(net.closes, [(slow, CloseReason::Unread)]);
    assert_eq!(net.dev.stats().unread, 1);
}

/// One whose socket passed nothing on is closed.
#[test]
fn a_client_whose_socket_shows_nothing_when_tried_is_closed_for_not_reading() {
    let mut store = Storage::new(8, 0);
    let (net, slow) = tried_when_due(&mut store, false);
    assert_eq!(net.closes, [(slow, CloseReason::Unread)]);
    assert_eq!(net.dev.stats().unread, 1);
}

/// With `client_stall` zero a client whose reply finds no room for want of memory is closed
/// at once, its socket untried ("0 = at once").
#[test]
fn with_client_stall_zero_a_client_without_room_is_closed_untried() {
    let mut store = Storage::new(8, 0);
    let (mut net, [_worker, slow, _normal]) =
        echo_and_rationed_client_stalled(&mut store, Duration::ZERO);
    net.remotes[slow].passes_on = true;
    net.send(slow, &envelope(false, &[1; 2000]));
    net.send(slow, &envelope(false, &[7; 32 << 10]));
    net.pump();
    assert_eq!(net.closes, [(slow, CloseReason::Unread)]);
    assert_eq!(net.remote(slow).probes, 0);
}
