//! The queue's unit tests: growth and release, the budget, shared pieces.

use super::*;
use crate::budget::{Account, Budget};

fn queue(capacity: usize) -> HeapQueue {
    HeapQueue::new(capacity, Charge::new(Account::unlimited()))
}

/// A queue of a device with `budget` bytes to share and `kept` of its own.
fn budgeted(budget: usize, kept: usize) -> (HeapQueue, Arc<Account>) {
    let account = Arc::new(Account::new(Arc::new(Budget::new(budget)), 0, kept));
    (
        HeapQueue::new(1 << 20, Charge::new(account.clone())),
        account,
    )
}

fn contents(q: &HeapQueue) -> Vec<u8> {
    let (a, b) = q.front();
    [a, b].concat()
}

#[test]
fn starts_without_memory() {
    let q = queue(1 << 20);
    assert_eq!(q.allocated(), 0);
    assert!(q.is_empty());
    assert_eq!(q.capacity(), 1 << 20);
}

#[test]
fn wraps_and_keeps_order() {
    let mut q = queue(1 << 20);
    q.push(&[1; 400]).unwrap();
    let alloc = q.allocated();
    assert_eq!(alloc, MIN_ALLOC);
    q.consume(350);
    // Fills the space freed at the front without growing: the data wraps.
    q.push(&[2; 200]).unwrap();
    assert_eq!(q.allocated(), alloc);
    let (a, b) = q.front();
    assert!(!b.is_empty(), "expected a wrapped ring");
    assert_eq!(a.len() + b.len(), 250);
    let mut want = vec![1; 50];
    want.extend_from_slice(&[2; 200]);
    assert_eq!(contents(&q), want);
}

#[test]
fn truncate_back_drops_newest() {
    let mut q = queue(64);
    q.push(b"hello").unwrap();
    q.push(b"partial").unwrap();
    q.truncate_back(7);
    assert_eq!(contents(&q), b"hello");
    q.truncate_back(100);
    assert!(q.is_empty());
}

#[test]
fn refuses_what_does_not_fit_and_keeps_what_it_had() {
    let mut q = queue(10);
    q.push(b"abcdef").unwrap();
    assert_eq!(q.push(b"ghijk"), Err(Full));
    assert_eq!(contents(&q), b"abcdef");
    q.push(b"ghij").unwrap();
    assert_eq!(q.len(), 10);
    assert_eq!(q.push(b""), Ok(()));
    assert_eq!(q.push(b"x"), Err(Full));
}

#[test]
fn never_allocates_past_capacity() {
    let cap = 100_000;
    let mut q = queue(cap);
    for _ in 0..99 {
        q.push(&[7; 1000]).unwrap();
    }
    assert!(
        q.allocated() <= cap.next_power_of_two(),
        "{}",
        q.allocated()
    );
    q.push(&[7; 1000]).unwrap();
    assert_eq!(q.len(), cap);
    assert_eq!(q.push(&[7]), Err(Full));
}

#[test]
fn large_buffer_is_released_when_drained_small_one_kept() {
    let mut q = queue(1 << 20);
    q.push(&[0; 400 << 10]).unwrap();
    assert!(q.allocated() >= 400 << 10);
    q.consume(200 << 10);
    assert!(q.allocated() >= 400 << 10);
    q.consume(200 << 10);
    assert_eq!(q.allocated(), 0, "a burst's buffer goes back once drained");

    // A 64 KiB message (and its header) reuses one buffer message after message.
    q.push(&[0; (64 << 10) + 9]).unwrap();
    q.consume((64 << 10) + 9);
    let kept = q.allocated();
    assert!(kept > 64 << 10, "{kept}");
    q.push(&[0; (64 << 10) + 9]).unwrap();
    assert_eq!(q.allocated(), kept);
}

#[test]
fn growth_past_the_first_allocation_draws_from_the_budget_and_goes_back() {
    let (mut q, account) = budgeted(1 << 20, 0);
    q.push(&[1; 100]).unwrap();
    assert_eq!(
        account.budget().used(),
        0,
        "the first allocation is counted at start"
    );
    q.push(&[1; 400 << 10]).unwrap();
    assert_eq!(account.budget().used(), q.allocated() - MIN_ALLOC);
    q.consume(q.len());
    assert_eq!((q.allocated(), account.budget().used()), (0, 0));
    q.push(&[1; 100 << 10]).unwrap();
    assert!(account.budget().used() > 0);
    drop(q);
    assert_eq!(
        account.budget().used(),
        0,
        "a queue dropped gives it all back"
    );
}

#[test]
fn a_queue_the_budget_cannot_grow_is_full_and_keeps_what_it_holds() {
    let (mut q, account) = budgeted(10_000, 0);
    q.push(&[1; 9_000]).unwrap();
    assert!(
        !q.reserve(5_000),
        "no room: 14,000 would need more than the budget"
    );
    assert_eq!(q.push(&[2; 5_000]), Err(Full));
    assert_eq!(contents(&q), vec![1; 9_000]);
    // It holds most of a tight budget: it is behind, and takes nothing more, not even into the
    // room it holds; that is for the queues that keep up.
    assert!(account.budget().is_tight());
    assert!(!q.reserve(q.allocated() - q.len()), "behind, while tight");
    assert!(account.refused() > 0);
    q.consume(9_000);
    assert!(q.reserve(5_000), "drained, it has room again");
    q.push(&[2; 5_000]).unwrap();
    assert!(account.budget().used() <= 10_000);
}

#[test]
fn an_empty_queue_takes_a_message_from_what_the_device_keeps_and_gives_it_back() {
    let (mut q, account) = budgeted(0, 100_000);
    assert!(!q.reserve(150_000), "more than is kept");
    assert!(q.reserve(80_000));
    q.push(&[3; 80_000]).unwrap();
    assert!(!q.reserve(80_000), "only an empty queue may");
    let mut other = HeapQueue::new(1 << 20, Charge::new(account.clone()));
    assert!(!other.reserve(80_000), "one message's room at a time");
    q.consume(80_000);
    assert_eq!(q.allocated(), 0, "kept room goes back as soon as it drains");
    assert!(other.reserve(80_000));
}

#[test]
fn a_command_to_an_empty_queue_is_queued_when_the_budget_is_spent() {
    // A long SUBSCRIBE to a publisher whose queue is empty: not closed for want of memory.
    let (mut q, account) = budgeted(0, 100_000);
    q.push(&[4; 20_000]).unwrap();
    assert_eq!(account.budget().used(), 0);
    assert_eq!(
        q.push(&[4; 100_000]),
        Err(Full),
        "not empty: the budget alone"
    );
    assert!(account.refused() > 0);
    q.consume(20_000);
    assert_eq!(q.allocated(), 0, "the kept room goes back");
}

fn all(q: &HeapQueue) -> Vec<u8> {
    q.slices().collect::<Vec<_>>().concat()
}

/// Copied bytes and pieces in turn, the ring wrapped under them: heads `h`, bodies shared.
fn mixed() -> (HeapQueue, Vec<u8>, Arc<Stored>) {
    let mut q = queue(1 << 20);
    q.push(&[b'x'; 300]).unwrap();
    q.consume(290);
    let data: Vec<u8> = (0..5_000).map(|i| i as u8).collect();
    let body = q.share(&data).unwrap();
    let mut want = vec![b'x'; 10];
    for head in [&b"h1"[..], b"h2", b""] {
        q.push(head).unwrap();
        q.push_shared(&body).unwrap();
        want.extend_from_slice(head);
        want.extend_from_slice(&data);
    }
    q.push(&[b't'; 500]).unwrap();
    want.extend_from_slice(&[b't'; 500]);
    (q, want, body)
}

#[test]
fn pieces_come_out_in_order_and_count_in_the_length() {
    let (q, want, body) = mixed();
    assert_eq!(q.len(), want.len());
    assert_eq!(all(&q), want);
    assert!(q.slices().all(|s| !s.is_empty()));
    assert_eq!(Arc::strong_count(&body), 4, "held three times, not copied");
    // The front is the first bytes, then the first piece: a head and its body in one
    // write.
    let (a, b) = q.front();
    assert_eq!([a, b].concat(), want[..12 + 5_000]);
}

#[test]
fn consume_goes_across_pieces_whatever_the_steps() {
    for step in [1, 7, 12, 999, 5_002, 20_000] {
        let (mut q, want, body) = mixed();
        let mut out = Vec::new();
        while !q.is_empty() {
            let (a, b) = q.front();
            assert!(!a.is_empty(), "an empty front with {} queued", q.len());
            let front = [a, b].concat();
            let n = step.min(front.len());
            out.extend_from_slice(&front[..n]);
            q.consume(n);
            assert_eq!(q.len(), want.len() - out.len());
            assert_eq!(all(&q), want[out.len()..], "step {step}");
        }
        assert_eq!(out, want, "step {step}");
        assert_eq!(Arc::strong_count(&body), 1, "let go once written");
        assert!(!q.has_pieces());
        q.push(b"more").unwrap();
        assert_eq!(contents(&q), b"more");
    }
}

#[test]
fn truncate_back_goes_across_pieces() {
    let (_, want, _) = mixed();
    let total = want.len();
    for n in [
        1,
        500,
        501,
        3_000,
        5_500,
        5_502,
        10_502,
        total - 10,
        total,
        total + 5,
    ] {
        let (mut q, _, body) = mixed();
        q.truncate_back(n);
        let left = total.saturating_sub(n);
        assert_eq!(q.len(), left);
        assert_eq!(all(&q), want[..left], "truncated {n}");
        // What comes after lands after what is left.
        q.push(b"next").unwrap();
        q.push_shared(&body).unwrap();
        let mut after = want[..left].to_vec();
        after.extend_from_slice(b"next");
        after.extend_from_slice(&body);
        assert_eq!(all(&q), after, "truncated {n}");
        q.consume(q.len());
        assert!(q.is_empty());
    }
}

#[test]
fn pieces_obey_the_capacity() {
    let mut q = queue(10_000);
    let body = q.share(&[1; 6_000]).unwrap();
    q.push(&[0; 3_000]).unwrap();
    q.push_shared(&body).unwrap();
    assert_eq!(q.len(), 9_000);
    assert_eq!(q.push_shared(&body), Err(Full));
    assert_eq!(q.push(&[0; 1_001]), Err(Full));
    q.push(&[0; 1_000]).unwrap();
    assert_eq!(q.len(), q.capacity());
    assert_eq!(
        Arc::strong_count(&body),
        2,
        "the refused push holds nothing"
    );
}

/// Bytes held back stay out of the queue, charged to the budget, until released: then they
/// follow what the queue held, in order, and their charge is the queue's.
#[test]
fn held_back_bytes_follow_the_message_in_progress_and_stay_charged() {
    let (mut q, account) = budgeted(1 << 20, 0);
    q.push(b"head of a large message").unwrap();
    assert!(q.reserve_later(10_000));
    q.push_later(b"later-1 ");
    q.push_later(b"later-2");
    assert_eq!((q.len(), q.later_len()), (23, 15));
    assert_eq!(
        contents(&q),
        b"head of a large message",
        "not in the queue yet"
    );
    assert!(
        account.budget().used() >= 10_000,
        "the room held back is charged"
    );
    q.push(b" and its end").unwrap();
    assert_eq!(q.release_later(), 15);
    assert_eq!(q.later_len(), 0);
    assert_eq!(
        contents(&q),
        b"head of a large message and its endlater-1 later-2"
    );
    q.consume(q.len());
    assert_eq!(account.budget().used(), 0, "all given back");
}

/// Holding back is refused past the capacity and when the budget has nothing left; the
/// queue is unchanged.
#[test]
fn holding_back_is_refused_without_room() {
    let (mut q, _account) = budgeted(4_000, 0);
    assert!(!q.reserve_later(5_000), "the budget");
    assert_eq!(q.later_len(), 0);
    let mut small = queue(1_000);
    assert!(!small.reserve_later(1_001), "the capacity");
    assert!(small.reserve_later(1_000));
}

/// A queue behind while the budget is tight is refused new messages, even into the room it
/// holds, but not the rest of one it has started taking ([`ByteQueue::reserve_rest`]): that
/// room costs the budget nothing more, and a streamer's producer cannot let the message go
/// part-way. Growth stays refused. (Refused that, a producer waited mid-message for a stalled
/// worker for good: attack_budget a_streamer_with_a_stalled_worker_..., 1 run in 4 passed.)
#[test]
fn a_queue_behind_takes_the_rest_of_a_message_into_the_room_it_holds() {
    let (mut q, account) = budgeted(100_000, 0);
    q.push(&[1; 20_000]).unwrap();
    assert!(q.lags(), "a fifth of the budget");
    // Room for a whole message of 40,000 bytes, given while the budget had it; then others
    // take the last quarter.
    assert!(q.reserve(40_000));
    let mut other = q.charge.fresh();
    assert!(other.grow_to(20_000));
    assert!(account.budget().is_tight());
    let room = q.allocated() - q.len();
    assert!(room > 0, "it holds room");
    assert!(!q.reserve(room), "no new message");
    assert!(q.reserve_rest(room), "the rest of one it has started");
    q.push(&vec![2; room]).unwrap();
    assert!(!q.reserve_rest(1), "no growth");
    assert!(account.budget().used() <= 100_000);
}

/// A queue that is not behind keeps the room it holds when the budget is tight.
#[test]
fn a_queue_keeping_up_keeps_its_room_when_the_budget_is_tight() {
    let (mut q, account) = budgeted(100_000, 0);
    q.push(&[1; 1_000]).unwrap();
    let mut other = HeapQueue::new(1 << 20, q.charge.fresh());
    other.push(&[2; 80_000]).unwrap();
    assert!(account.budget().is_tight());
    assert!(
        q.reserve(q.allocated() - q.len()),
        "what it holds is its own"
    );
    assert!(!other.reserve(1), "the one behind is refused");
}

/// A queue that sat empty is not behind when its next message comes, however long it waited:
/// "not emptied for a second" counts from the first byte it holds (found by attacker round 6,
/// `tests/tests/attack_round6.rs`).
#[test]
fn a_queue_idle_for_a_while_keeps_up_from_the_first_byte_of_its_next_message() {
    let (mut q, account) = budgeted(100_000_000, 0);
    account.tick(1_000);
    q.push(&[1; 100]).unwrap();
    q.consume(100);
    account.tick(1_500);
    q.push(&[1; 100]).unwrap();
    assert!(!q.lags(), "queued 0.5 s after it drained");
    q.consume(100);
    // Empty for 2.5 s, then a message.
    account.tick(4_000);
    q.push(&[2; 100]).unwrap();
    assert!(!q.lags(), "queued this very millisecond");
    account.tick(4_900);
    assert!(!q.lags(), "held 0.9 s");
    account.tick(5_000);
    assert!(q.lags(), "held a second");
}

/// While the budget is tight, a queue that starts to lag (not behind yet) takes of the last
/// quarter what it holds and at most a [`BEHIND_PART_TIGHT`] more, not twice what it holds:
/// doubling, two lagging subscribers took the whole last quarter in their first second, and a
/// publisher beside them then waited for memory for good.
#[test]
fn a_queue_that_starts_to_lag_under_a_tight_budget_takes_what_it_holds_not_twice() {
    let total = 16_000_000;
    let (mut q, account) = budgeted(total, 0);
    let mut held = q.charge.fresh();
    assert!(
        held.grow_behind_to(total * 3 / 4),
        "the share of those behind"
    );
    assert!(account.budget().is_tight());
    let part = total / BEHIND_PART_TIGHT;
    for _ in 0..100 {
        q.push(&[7; 10_000]).expect("room in the last quarter");
        assert!(
            q.allocated() <= q.len() + part,
            "it holds {} and allocated {}",
            q.len(),
            q.allocated()
        );
    }
    assert!(
        !q.lags(),
        "1 MB, under an eighth of the budget, just now: not behind"
    );
}

/// A piece the share of buffers behind cannot hold is stored from the rest of the budget, once,
/// rather than copied to each subscriber that keeps up (attacker round 14, F2: copies of 60 KB
/// messages to 48 subscribers held the budget and the publishers waited to read); a queue that
/// lags may not hold it, as it would be refused a copy.
#[test]
fn a_piece_beyond_the_share_of_those_behind_is_stored_once_and_kept_from_queues_that_lag() {
    let (mut keeps_up, account) = budgeted(100_000, 0);
    let mut lags = HeapQueue::new(1 << 20, keeps_up.charge.fresh());
    lags.push(&[1; 20_000]).unwrap();
    assert!(lags.lags(), "a fifth of the budget");
    let mut held = keeps_up.charge.fresh();
    assert!(held.grow_behind_to(75_000 - account.budget().used()));
    assert!(account.budget().is_tight());
    let used = account.budget().used();
    let data = vec![9; 10_000];
    let piece = Arc::new(keeps_up.share(&data).expect("stored from the last quarter"));
    assert!(piece.is_spare());
    let cost = account.budget().used() - used;
    assert!((10_000..11_000).contains(&cost), "charged once: {cost}");
    assert!(keeps_up.reserve_shared(&piece));
    let refused = account.refused();
    assert!(!lags.reserve_shared(&piece), "as a copy would be refused");
    assert_eq!(
        account.refused(),
        refused + 1,
        "and counted as such a refusal is"
    );
    keeps_up.push_shared(&piece).unwrap();
    assert_eq!(all(&keeps_up), data);
    // More than the last quarter has: copied instead, to those with room.
    assert!(keeps_up.share(&[0; 20_000]).is_none());
    // Below the share, any queue may hold a piece.
    drop(held);
    let piece = Arc::new(keeps_up.share(&data).unwrap());
    assert!(!piece.is_spare());
    assert!(lags.reserve_shared(&piece));
}

/// A queue whose peer's CURVE layer has held sealed output unread for BEHIND_AFTER_MS is
/// behind, empty as it is (attacker round 15, F1: 100 CURVE subscribers that never read held
/// the budget in sealed output, their queues empty, and none was closed for the one that
/// kept up); output that drained, or has waited less, is not.
#[test]
fn an_empty_queue_whose_sealed_output_waits_unread_is_behind() {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    let (q, account) = budgeted(100_000_000, 0);
    let owed = Arc::new(AtomicU64::new(0));
    let q = q.with_downstream(owed.clone());
    account.tick(10_000);
    assert!(!q.lags(), "nothing owed");
    // Owed since 10 s (the clock + 1, as Secure::report_owed writes it).
    owed.store(10_000 + 1, Relaxed);
    account.tick(10_000 + BEHIND_AFTER_MS - 1);
    assert!(!q.lags(), "owed for less than BEHIND_AFTER_MS");
    account.tick(10_000 + BEHIND_AFTER_MS);
    assert!(q.lags(), "owed for BEHIND_AFTER_MS, its queue empty");
    owed.store(0, Relaxed);
    assert!(!q.lags(), "drained");
}

/// An emptied queue keeps its buffer for the next message, costing the budget nothing per
/// message; when memory is short it lets go of it ([`ByteQueue::release_idle`]), and one that
/// holds bytes keeps them.
#[test]
fn an_empty_queue_lets_go_of_its_kept_buffer_when_memory_is_short() {
    let (mut q, account) = budgeted(1 << 20, 0);
    q.push(&[1; 60_000]).unwrap();
    q.consume(q.len());
    assert!(q.is_empty());
    let kept = account.budget().used();
    assert!(kept >= 60_000 - MIN_ALLOC, "kept {kept}");
    q.push(&[2; 100]).unwrap();
    q.release_idle();
    assert_eq!(account.budget().used(), kept, "not while it holds bytes");
    assert_eq!(contents(&q), [2; 100]);
    q.consume(q.len());
    q.release_idle();
    assert_eq!((q.allocated(), account.budget().used()), (0, 0));
    q.push(&[3; 10]).unwrap();
    assert_eq!(
        contents(&q),
        [3; 10],
        "and takes the next message as before"
    );
}
