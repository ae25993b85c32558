//! The budget's unit tests: takes and refusals at the edges, threads sharing it, and the
//! lane and kept room as charges grow, shrink and are dropped.

use super::*;
use std::thread;

fn account(budget: usize, lane: usize, kept: usize) -> Arc<Account> {
    Arc::new(Account::new(Arc::new(Budget::new(budget)), lane, kept))
}

#[test]
fn takes_what_it_has_and_refuses_the_rest_whole() {
    let b = Budget::new(100);
    assert!(b.take(60));
    assert!(!b.take(41), "all or nothing");
    assert_eq!(b.used(), 60);
    assert!(b.take(40));
    assert!(!b.take(1));
    assert!(b.take(0), "nothing is always there");
    b.give(100);
    assert_eq!(b.used(), 0);
}

#[test]
fn no_value_overflows_or_underflows_it() {
    for total in [0, 1, u32::MAX as usize, (1 << 63) - 1, usize::MAX] {
        let b = Budget::new(total);
        if total < usize::MAX {
            assert!(!b.take(usize::MAX));
            assert!(!b.take(total + 1));
        }
        assert!(b.take(total));
        assert!(!b.take(1), "all of it taken");
        b.give(usize::MAX);
        assert_eq!(b.used(), 0, "given back past what was taken: stays at zero");
        b.force(usize::MAX);
        b.force(usize::MAX);
        assert_eq!(b.used(), usize::MAX, "forced past everything: saturates");
        assert!(!b.take(1));
        b.give(usize::MAX);
        assert_eq!(b.used(), 0);
    }
}

#[test]
fn a_smaller_total_refuses_until_enough_is_given_back() {
    let b = Budget::new(100);
    assert!(b.take(80));
    b.resize(50);
    assert!(!b.take(1));
    b.give(40);
    assert!(b.take(10));
    assert!(!b.take(1));
    b.resize(usize::MAX);
    assert!(b.take(usize::MAX - 50));
}

#[test]
fn a_forced_take_is_counted_past_the_total() {
    let b = Budget::new(10);
    b.force(15);
    assert_eq!(b.used(), 15);
    assert!(!b.take(1));
    b.give(15);
    assert!(b.take(10));
}

#[test]
fn two_threads_never_take_more_than_there_is() {
    let b = Arc::new(Budget::new(1000));
    let workers: Vec<_> = (0..2)
        .map(|t| {
            let b = b.clone();
            thread::spawn(move || {
                let mut taken = 0u64;
                for i in 0..100_000usize {
                    let n = 1 + (i * 7 + t * 13) % 300;
                    if b.take(n) {
                        assert!(b.used() <= 1000, "over the total: {}", b.used());
                        taken += 1;
                        b.give(n);
                    }
                }
                taken
            })
        })
        .collect();
    let taken: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(taken > 0);
    assert_eq!(b.used(), 0, "every take given back");
}

#[test]
fn a_charge_grows_shrinks_and_gives_everything_back_when_dropped() {
    let a = account(1000, 0, 0);
    let mut c = Charge::new(a.clone());
    assert!(c.grow_to(300));
    assert!(c.grow_to(200), "already held");
    assert_eq!((c.bytes(), a.budget().used()), (300, 300));
    assert!(!c.grow_to(1001));
    assert_eq!(c.bytes(), 300, "a refusal keeps what it held");
    assert_eq!(a.refused(), 0, "counted when the buffer gives up");
    c.refused();
    assert_eq!(a.refused(), 1);
    c.shrink_to(100);
    assert_eq!((c.bytes(), a.budget().used()), (100, 100));
    assert!(a.take_freed(), "given back after a refusal");
    assert!(!a.take_freed(), "seen once");
    c.shrink_to(50);
    assert!(!a.take_freed(), "nobody was refused since");
    drop(c);
    assert_eq!(a.budget().used(), 0);
}

#[test]
fn one_buffer_at_a_time_holds_the_lane() {
    let a = account(100, 5000, 0);
    let (mut one, mut two) = (Charge::new(a.clone()), Charge::new(a.clone()));
    assert!(one.grow_to(100));
    assert!(!one.grow_to(101));
    assert!(one.take_lane());
    assert_eq!(a.budget().used(), 0, "the lane covers what it held");
    assert_eq!(one.bytes(), 5000);
    assert!(
        two.grow_to(100),
        "the budget it gave back serves the others"
    );
    assert!(!two.take_lane());
    one.shrink_to(10);
    assert_eq!(
        one.bytes(),
        5000,
        "the lane is kept while the buffer needs any of it"
    );
    one.shrink_to(0);
    assert!(!one.holds_kept());
    assert!(two.take_lane());
    drop(two);
    assert_eq!(a.budget().used(), 0);
    assert!(
        Charge::new(a.clone()).take_lane(),
        "a dropped charge lets the lane go"
    );
}

#[test]
fn kept_room_serves_whole_requests_and_goes_back_first() {
    let a = account(0, 0, 1000);
    let mut q = Charge::new(a.clone());
    assert!(!q.grow_to(1));
    assert!(q.grow_kept_to(600));
    assert!(
        !Charge::new(a.clone()).grow_kept_to(401),
        "whole or nothing"
    );
    assert!(q.holds_kept());
    q.force_to(700);
    assert_eq!((q.bytes(), a.budget().used()), (700, 100));
    q.shrink_to(200);
    assert_eq!(q.bytes(), 200);
    assert_eq!(
        a.budget().used(),
        100,
        "kept room given back before the budget"
    );
    drop(q);
    assert_eq!(a.budget().used(), 0);
    assert!(Charge::new(a).grow_kept_to(1000));
}

#[test]
fn no_charge_value_overflows() {
    let a = account(usize::MAX, usize::MAX, usize::MAX);
    let mut c = Charge::new(a.clone());
    assert!(c.grow_to(usize::MAX));
    assert!(c.grow_kept_to(usize::MAX), "saturated: already held");
    assert!(c.take_lane());
    assert_eq!(c.bytes(), usize::MAX);
    c.force_to(usize::MAX);
    c.shrink_to(0);
    assert_eq!((c.bytes(), a.budget().used()), (0, 0));
}

/// Buffers that are behind take no more than three quarters of the budget; the rest is for
/// those that keep up, and the budget says it is tight from there on, until it is given back.
#[test]
fn buffers_behind_take_three_quarters_and_the_rest_is_for_those_that_keep_up() {
    let b = Budget::new(1_000);
    assert!(!b.is_tight());
    assert!(b.take_behind(700));
    assert!(!b.take_behind(100), "past three quarters");
    assert!(!b.is_tight());
    assert!(b.take(100));
    assert!(b.is_tight(), "800 of 1,000");
    assert!(b.take(200), "the last quarter, for a buffer that keeps up");
    assert!(!b.take(1));
    b.give(300);
    assert!(!b.is_tight(), "700 of 1,000");
    b.force(600);
    assert!(b.is_tight());
    b.resize(10_000);
    assert!(!b.is_tight(), "a larger total");
}

#[test]
fn the_cipher_lane_is_a_second_lane_of_its_own() {
    let a = Arc::new(Account::with_cipher(
        Arc::new(Budget::new(100)),
        1000,
        0,
        2000,
    ));
    let mut cipher = Charge::new(a.clone());
    assert!(!cipher.grow_to(1500) && cipher.take_cipher_lane());
    assert!(cipher.grow_to(1500), "within the cipher lane");
    assert!(!cipher.take_lane(), "one lane a buffer");
    let mut other = Charge::new(a.clone());
    assert!(!other.take_cipher_lane(), "one buffer a lane");
    let mut input = Charge::new(a.clone());
    assert!(input.take_lane(), "the input lane is free beside it");
    assert_eq!(a.budget().used(), 0, "neither draws from the budget");
    cipher.shrink_to(0);
    assert!(other.take_cipher_lane(), "given back, it serves the next");
    let none = Account::unlimited();
    assert!(
        !Charge::new(none).take_cipher_lane(),
        "a device that keeps none"
    );
}

/// A device with only a cipher lane of 1,000 bytes, and no budget.
fn cipher_account() -> Arc<Account> {
    Arc::new(Account::with_cipher(Arc::new(Budget::new(0)), 0, 0, 1000))
}

/// A charge that has brought a frame in through the cipher lane: it took the lane and let it
/// go once its buffer needed none of it.
fn known(a: &Arc<Account>) -> Charge {
    let mut c = Charge::new(a.clone());
    assert!(c.take_cipher_lane());
    c.shrink_to(0);
    c
}

/// Let go, the lane goes to the buffer that waited longest, whoever asks first: the last to
/// ask waits for both ahead of it, and each leaves the line as it takes the lane.
#[test]
fn the_cipher_lane_goes_to_the_buffer_that_waited_longest() {
    let a = cipher_account();
    let mut holder = Charge::new(a.clone());
    assert!(holder.take_cipher_lane());
    let [mut one, mut two, mut three] = [(); 3].map(|()| Charge::new(a.clone()));
    for c in [&mut one, &mut two, &mut three] {
        assert!(!c.take_cipher_lane(), "held");
    }
    assert_eq!(a.cipher_waiting(), 3);
    holder.shrink_to(0);
    assert!(!three.take_cipher_lane(), "free, but the first in line's");
    assert!(!two.take_cipher_lane(), "free, but the first in line's");
    assert!(one.take_cipher_lane(), "the first in line");
    assert_eq!(a.cipher_waiting(), 2);
    one.shrink_to(0);
    let mut last = Charge::new(a.clone());
    assert!(!last.take_cipher_lane(), "a newcomer goes to the back");
    assert!(!three.take_cipher_lane());
    assert!(two.take_cipher_lane());
    two.shrink_to(0);
    assert!(!last.take_cipher_lane());
    assert!(three.take_cipher_lane());
    three.shrink_to(0);
    assert!(last.take_cipher_lane(), "last in line, last served");
    assert_eq!(a.cipher_waiting(), 0);
}

/// A sender that brings its frames in through the lane waits for one newcomer's turn at
/// most, however many newcomers wait (a trickler's every new connection is one): the line of
/// known senders and the newcomers' take turns.
#[test]
fn a_known_sender_waits_for_one_newcomer_at_most() {
    let a = cipher_account();
    let mut sender = known(&a);
    let mut holder = Charge::new(a.clone());
    assert!(holder.take_cipher_lane());
    let mut new: Vec<Charge> = (0..4).map(|_| Charge::new(a.clone())).collect();
    for c in &mut new {
        assert!(!c.take_cipher_lane());
    }
    assert!(
        !sender.take_cipher_lane(),
        "held; it waits behind four newcomers"
    );
    holder.shrink_to(0);
    assert!(!new[0].take_cipher_lane(), "the newcomer had the last turn");
    assert!(sender.take_cipher_lane(), "the known sender's turn");
    sender.shrink_to(0);
    assert!(!sender.take_cipher_lane(), "in line again");
    assert!(!new[1].take_cipher_lane(), "the first newcomer first");
    assert!(new[0].take_cipher_lane());
    drop(new.remove(0));
    assert!(!new[1].take_cipher_lane(), "a known sender waits");
    assert!(sender.take_cipher_lane(), "after one newcomer");
    sender.shrink_to(0);
    assert!(
        new[0].take_cipher_lane(),
        "with no known sender waiting, newcomers in turn"
    );
    assert_eq!(a.cipher_waiting(), 2);
}

/// A waiter whose turn it is and that does not come for the lane within the hand-off's
/// patience keeps its place, but not the lane, which serves whoever asks meanwhile; one that
/// leaves the line, or is dropped, keeps nobody waiting.
#[test]
fn a_waiter_that_does_not_come_keeps_its_place_but_not_the_lane() {
    let a = cipher_account();
    a.tick(1_000);
    let mut holder = Charge::new(a.clone());
    assert!(holder.take_cipher_lane());
    let [mut late, mut next, mut gone] = [(); 3].map(|()| Charge::new(a.clone()));
    for c in [&mut late, &mut next, &mut gone] {
        assert!(!c.take_cipher_lane());
    }
    holder.shrink_to(0);
    a.tick(1_000 + super::turns::HANDOFF_MS - 1);
    assert!(!next.take_cipher_lane(), "still kept for the first");
    a.tick(1_000 + super::turns::HANDOFF_MS);
    assert!(next.take_cipher_lane(), "the first did not come for it");
    next.shrink_to(0);
    assert!(!gone.take_cipher_lane(), "kept for the first again");
    assert!(late.take_cipher_lane(), "which kept its place");
    late.shrink_to(0);
    drop(gone);
    let mut after = Charge::new(a.clone());
    assert!(
        after.take_cipher_lane(),
        "nobody waits: the dropped one left the line"
    );
    let mut leaving = Charge::new(a.clone());
    assert!(!leaving.take_cipher_lane());
    leaving.leave_line();
    after.shrink_to(0);
    assert_eq!(a.cipher_waiting(), 0);
    assert!(Charge::new(a.clone()).take_cipher_lane());
}

/// While another connection's input holds the input lane, the cipher lane is not taken (its
/// holder could need the input lane to hand its frame on while the input lane's holder waits
/// for the cipher lane: attacker round, a CURVE queue of 15 MiB echoes in 80 MiB), if that
/// input is a CURVE connection's; the input lane's own connection goes before those in line
/// when it needs the cipher lane to finish its message, and waits its turn when it does not.
#[test]
fn the_cipher_lane_waits_while_another_connection_holds_the_input_lane() {
    let a = Arc::new(Account::with_cipher(
        Arc::new(Budget::new(100)),
        1000,
        0,
        2000,
    ));
    let mut clear = Charge::new(a.clone());
    assert!(clear.take_lane());
    let mut other = Charge::new(a.clone());
    assert!(
        other.take_cipher_lane_beside(InputLane::Other),
        "a clear connection's input never waits for the cipher lane"
    );
    other.shrink_to(0);
    clear.shrink_to(0);
    a.tick(super::turns::HANDOFF_MS);
    let mut input = Charge::new(a.clone());
    assert!(input.take_lane_sealed(true));
    assert!(
        !other.take_cipher_lane_beside(InputLane::Other),
        "another's input holds the input lane"
    );
    assert_eq!(a.cipher_waiting(), 1, "it waits in line");
    let mut own = Charge::new(a.clone());
    assert!(
        own.take_cipher_lane_beside(InputLane::OwnUnfinished),
        "the input lane's own connection, in the middle of a message: before the line"
    );
    own.shrink_to(0);
    input.shrink_to(0);
    assert!(
        other.take_cipher_lane_beside(InputLane::Other),
        "both let go: its turn"
    );
}

/// The input lane's holder whose message is whole (it asks for the next message's frame)
/// waits its turn for the cipher lane like any other: going first let one sender of large
/// messages, pipelining, keep both lanes for good (attacker round 4: a second sender of
/// 12 MiB messages got none in 50 s). One in the middle of a message goes first.
#[test]
fn the_input_lanes_holder_with_its_message_whole_waits_its_turn_for_the_cipher_lane() {
    let a = Arc::new(Account::with_cipher(
        Arc::new(Budget::new(100)),
        1000,
        0,
        2000,
    ));
    let mut first = Charge::new(a.clone());
    assert!(first.take_cipher_lane());
    let mut waiting = Charge::new(a.clone());
    assert!(!waiting.take_cipher_lane_beside(InputLane::Other), "held");
    // Let go now: kept for the first in line.
    first.shrink_to(0);
    // A connection's input and its CURVE layer draw through charges of their own.
    let mut own_input = Charge::new(a.clone());
    assert!(own_input.take_lane_sealed(true));
    let mut own = Charge::new(a.clone());
    assert!(
        !own.take_cipher_lane_beside(InputLane::Own),
        "its message whole: it waits its turn"
    );
    assert!(
        !waiting.take_cipher_lane_beside(InputLane::Other),
        "while a CURVE input holds the input lane, no other takes the cipher lane"
    );
    assert!(
        own.take_cipher_lane_beside(InputLane::OwnUnfinished),
        "in the middle of a message: before the line"
    );
}

/// A connection from an address closed for holding a lane while others waited has the cipher
/// lane only when nobody else waits for it, however long it has waited (newcomers and known
/// senders that came after it go first), and only once it has been free for the hand-off's
/// patience (a sender of large messages back to back asks again within it).
#[test]
fn a_struck_connection_has_the_cipher_lane_only_when_nobody_else_waits() {
    let a = cipher_account();
    let mut sender = known(&a);
    let mut holder = Charge::new(a.clone());
    assert!(holder.take_cipher_lane());
    let mut struck = Charge::new(a.clone());
    struck.strike();
    assert!(!struck.take_cipher_lane(), "held");
    let mut newcomer = Charge::new(a.clone());
    assert!(!newcomer.take_cipher_lane() && !sender.take_cipher_lane());
    holder.shrink_to(0);
    assert!(!struck.take_cipher_lane(), "first in line, but others wait");
    assert!(!newcomer.take_cipher_lane(), "the known sender's turn");
    assert!(sender.take_cipher_lane());
    sender.shrink_to(0);
    assert!(!struck.take_cipher_lane(), "the newcomer waits");
    assert!(newcomer.take_cipher_lane());
    newcomer.shrink_to(0);
    assert!(
        !struck.take_cipher_lane(),
        "nobody else waits, but the newcomer may come back for it"
    );
    a.tick(super::turns::HANDOFF_MS);
    assert!(struck.take_cipher_lane(), "free for a hand-off's patience");
    assert_eq!(a.cipher_waiting(), 0);
}

/// A buffer refused what would complete it at once claims it: what is given back is held for
/// it, others take only what leaves that much free, and once it has it they take as before.
#[test]
fn a_claim_keeps_what_is_given_back_for_its_claimant() {
    let a = account(4_000, 0, 0);
    let mut holder = Charge::new(a.clone());
    assert!(holder.grow_to(4_000));
    let mut claimant = Charge::new(a.clone());
    assert!(!claimant.grow_to(200));
    claimant.claim(200);
    holder.shrink_to(3_700);
    let mut other = Charge::new(a.clone());
    assert!(
        !other.fits(300) && !other.grow_to(300),
        "300 free, 200 of it claimed"
    );
    assert!(!other.grow_behind_to(300));
    assert!(
        other.fits(100) && other.grow_to(100),
        "what the claim leaves"
    );
    assert!(
        claimant.fits(200) && claimant.grow_to(200),
        "the claimant has it"
    );
    other.shrink_to(0);
    assert!(other.grow_to(100), "met, the claim holds nothing back");
}

/// Claims are served in the order they were made (a claimant asking again keeps its place),
/// the first holding back what is given back while it is first; a claim larger than a
/// quarter of the part of the budget beyond the share of buffers behind is not made; one
/// dropped or not renewed for CLAIM_STALE_MS holds nothing back.
#[test]
fn claims_are_served_in_turn_small_and_not_for_ever() {
    let a = account(4_000, 0, 0);
    let mut full = Charge::new(a.clone());
    assert!(full.grow_to(4_000));
    let (mut first, mut second) = (Charge::new(a.clone()), Charge::new(a.clone()));
    first.claim(200);
    second.claim(100);
    first.claim(150);
    assert!(second.claim_stands() && !first.claim_stands());
    full.shrink_to(3_800);
    let mut other = Charge::new(a.clone());
    assert!(other.grow_to(50), "what the first claim, 150, leaves");
    assert!(!other.grow_to(51));
    assert!(!second.grow_to(100), "the second waits for the first");
    assert!(first.grow_to(150), "the first has it");
    full.shrink_to(3_700);
    assert!(!other.grow_to(51), "the second claim, 100, is first now");
    assert!(second.grow_to(100));
    assert!(!other.claim_stands());
    drop((first, second));
    let gone = Charge::new(a.clone());
    gone.claim(100);
    drop(gone);
    full.shrink_to(3_500);
    assert!(other.grow_to(250), "dropped, its claim goes with it");
    other.shrink_to(0);
    let beyond = Charge::new(a.clone());
    beyond.claim(251);
    assert!(
        !other.claim_stands(),
        "more than a quarter of the last quarter is no claim"
    );
    beyond.claim(200);
    assert!(
        other.grow_to(300),
        "what was free when it came first stays for the others"
    );
    other.shrink_to(100);
    assert!(
        other.grow_to(300) && !other.grow_to(301),
        "what is given back after, it holds back"
    );
    thread::sleep(std::time::Duration::from_millis(claim::CLAIM_STALE_MS + 10));
    assert!(other.grow_to(500), "a stale claim holds nothing back");
}

#[test]
fn one_output_at_a_time_holds_the_output_lane_and_hands_it_to_one_that_asked() {
    let a = account(100, 0, 0);
    a.tick(1_000);
    let [mut x, mut y, mut z] = [(); 3].map(|()| Charge::new(a.clone()));
    assert!(x.take_output_lane());
    assert!(x.take_output_lane(), "its holder keeps it");
    assert!(!y.take_output_lane(), "one at a time");
    assert!(!z.take_output_lane());
    x.let_output_lane_go();
    assert!(
        !x.take_output_lane(),
        "another asked while it held it: not again before that one had it"
    );
    assert!(z.take_output_lane(), "any other that asks may have it");
    z.let_output_lane_go();
    assert!(y.take_output_lane());
    y.let_output_lane_go();
    assert!(
        y.take_output_lane(),
        "nobody asked meanwhile: it may take it again"
    );
    assert!(!x.take_output_lane());
    y.let_output_lane_go();
    a.tick(1_000 + super::turns::HANDOFF_MS);
    assert!(
        y.take_output_lane(),
        "the one that asked did not come for it within the hand-off's patience"
    );
    drop(y);
    assert!(x.take_output_lane(), "a dropped holder lets it go");
    assert!(!z.take_output_lane());
    drop(z);
    x.let_output_lane_go();
    assert!(x.take_output_lane(), "a dropped asker is not waited for");
}
