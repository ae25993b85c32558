//! The input's unit tests over a socket pair: where reads go, what is kept and freed, and what
//! the budget lets a connection read.

use super::*;
use crate::net::Stream;
use std::io::Write;
use std::os::unix::net::UnixStream;

use std::sync::Arc;

use async_io::Async;

use crate::budget::{Account, Budget};

const CAP: usize = 16 << 10;

/// A device's account: `budget` bytes to share, and a lane that lets one connection hold
/// the whole input capacity.
fn account(budget: usize) -> Arc<Account> {
    Arc::new(Account::new(Arc::new(Budget::new(budget)), CAP, 0))
}

struct Peer {
    tx: UnixStream,
    rx: Stream,
    input: Input,
    scratch: Vec<u8>,
}

impl Peer {
    fn new() -> Peer {
        Peer::charged(Charge::new(Account::unlimited()))
    }

    fn charged(charge: Charge) -> Peer {
        let (tx, rx) = UnixStream::pair().unwrap();
        Peer {
            tx,
            rx: Stream::Unix(Async::new(rx).unwrap()),
            input: Input::new(charge),
            scratch: vec![0; CAP],
        }
    }

    /// Send `data`, then one round whose device takes `take` of what it is offered, all
    /// of it if `None`: what was fed, and the bytes offered.
    fn round(&mut self, data: &[u8], take: Option<usize>) -> (Fed, Vec<u8>) {
        self.tx.write_all(data).unwrap();
        let mut seen = Vec::new();
        let fed = self
            .input
            .read_and_feed(
                &self.rx,
                &mut self.scratch,
                || usize::MAX,
                |b: &[u8], _| {
                    seen = b.to_vec();
                    Ok::<_, io::Error>(take.unwrap_or(b.len()).min(b.len()))
                },
            )
            .unwrap();
        (fed, seen)
    }
}

#[test]
fn an_idle_or_drained_connection_holds_no_buffer() {
    let mut p = Peer::new();
    let (fed, seen) = p.round(b"hello", None);
    assert_eq!((fed.read, fed.offered, fed.used), (5, 5, 5));
    assert_eq!(seen, b"hello");
    assert_eq!(p.input.buf.capacity(), 0, "read into the scratch buffer");
    let (fed, _) = p.round(b"", None);
    assert_eq!(fed, Fed::default());
    assert!(p.input.is_blocked());
}

#[test]
fn a_small_remainder_is_kept_and_its_buffer_reused() {
    let mut p = Peer::new();
    p.round(b"abcdef", Some(4));
    assert_eq!(&p.input.buf[p.input.start..], b"ef");
    let kept = p.input.buf.as_ptr();
    let (fed, seen) = p.round(b"gh", Some(3));
    assert_eq!(seen, b"efgh");
    assert_eq!(fed.read, 2);
    assert_eq!(&p.input.buf[p.input.start..], b"h");
    assert_eq!(p.input.buf.as_ptr(), kept, "no new allocation");
    p.round(b"", None);
    assert!(p.input.is_empty());
    assert!(
        p.input.buf.capacity() > 0,
        "a small buffer is kept once drained"
    );
}

#[test]
fn a_large_remainder_is_read_after_in_place_up_to_the_capacity() {
    let mut p = Peer::new();
    let big: Vec<u8> = (0..CAP as u32).map(|i| i as u8).collect();
    p.round(&big[..6000], Some(0));
    assert_eq!(p.input.buf.len(), 6000);
    p.scratch.fill(0xAA);
    // More than fits: only what the capacity leaves room for is read.
    let (fed, seen) = p.round(&big[6000..], Some(1000));
    assert_eq!(fed.read, CAP - 6000);
    assert_eq!(seen, big);
    assert_eq!(
        p.input.buf.capacity(),
        CAP,
        "never more than the input capacity"
    );
    let scratch_untouched = p.scratch.iter().all(|&b| b == 0xAA);
    assert!(
        scratch_untouched,
        "read in place, not through the scratch buffer"
    );
    // The remainder moves to the front of the buffer and is read after again.
    p.tx.write_all(&[7; 1000]).unwrap();
    let (fed, seen) = p.round(b"", Some(CAP));
    assert_eq!(fed.read, 1000);
    assert_eq!(&seen[..CAP - 1000], &big[1000..]);
    assert!(p.input.is_empty());
    assert_eq!(
        p.input.buf.capacity(),
        0,
        "a large buffer is freed once drained"
    );
}

#[test]
fn held_input_is_fed_without_a_read_at_the_end_of_the_stream() {
    let mut p = Peer::new();
    p.round(b"abc", Some(1));
    drop(p.tx);
    let mut seen = Vec::new();
    let fed = p
        .input
        .read_and_feed(
            &p.rx,
            &mut p.scratch,
            || usize::MAX,
            |b: &[u8], _| {
                seen = b.to_vec();
                Ok::<_, io::Error>(0)
            },
        )
        .unwrap();
    assert_eq!((fed.read, fed.offered, fed.used), (0, 2, 0));
    assert!(p.input.is_eof());
    assert_eq!(seen, b"bc");
}

#[test]
fn a_short_read_takes_no_more_than_asked() {
    let mut p = Peer::new();
    p.tx.write_all(&[1; 100]).unwrap();
    let fed = p
        .input
        .read_and_feed(
            &p.rx,
            &mut p.scratch,
            || 10,
            |_: &[u8], _| Ok::<_, io::Error>(0),
        )
        .unwrap();
    assert_eq!(fed.read, 10);
    assert_eq!(p.input.buf.len(), 10);
}

#[test]
fn a_connection_reads_no_more_than_it_may_hold() {
    let account = Arc::new(Account::new(Arc::new(Budget::new(0)), 0, 0));
    let mut p = Peer::charged(Charge::new(account.clone()));
    let (fed, _) = p.round(&[5; 10_000], Some(0));
    assert_eq!(
        fed.read, KEEP_PENDING,
        "its own and no more: the budget is spent"
    );
    assert!(!p.input.is_starved());
    let (fed, _) = p.round(b"", Some(0));
    assert_eq!(fed.read, 0);
    assert!(
        p.input.is_starved(),
        "it holds what it may and waits for memory"
    );
    assert_eq!(account.budget().used(), 0);
}

#[test]
fn a_read_takes_room_from_the_budget_and_a_waiting_connection_gives_it_back() {
    let account = account(1 << 20);
    let mut p = Peer::charged(Charge::new(account.clone()));
    let (fed, _) = p.round(&[5; 10_000], None);
    assert_eq!(fed.read, 10_000);
    assert!(
        account.budget().used() >= CAP - KEEP_PENDING,
        "a read's worth, asked first"
    );
    p.input.trim(false);
    assert_eq!(
        account.budget().used(),
        0,
        "drained, it holds nothing of the budget"
    );
    p.round(&[5; 10_000], Some(0));
    p.input.trim(false);
    assert_eq!(p.input.buf.len(), 10_000);
    assert_eq!(
        account.budget().used(),
        p.input.buf.capacity() - KEEP_PENDING,
        "what its buffer holds, waiting"
    );
    drop(p);
    assert_eq!(account.budget().used(), 0);
}

/// Two connections under a budget of 2,000 B, each holding the first 5,000 B of a message the
/// device takes only whole; the first is sent the rest and reads it through the lane. Returns
/// both, the message and what the first was offered last.
fn one_in_the_lane() -> (Arc<Account>, Peer, Peer, Vec<u8>, usize) {
    let account = account(2_000);
    let mut one = Peer::charged(Charge::new(account.clone()));
    let mut two = Peer::charged(Charge::new(account.clone()));
    let message = vec![9; CAP - 100];
    one.round(&message[..5_000], Some(0));
    two.round(&message[..5_000], Some(0));
    one.tx.write_all(&message[5_000..]).unwrap();
    let mut held = 0;
    for _ in 0..10 {
        let (fed, _) = one.round(b"", Some(0));
        held = fed.offered;
    }
    (account, one, two, message, held)
}

#[test]
fn one_connection_at_a_time_takes_the_lane_and_gets_its_message_whole() {
    let (account, mut one, mut two, message, held) = one_in_the_lane();
    assert_eq!(held, message.len(), "the lane's holder gets all of it");
    two.tx.write_all(&message[5_000..]).unwrap();
    two.round(b"", Some(0));
    two.round(b"", Some(0));
    assert!(two.input.is_starved(), "the other waits for memory");
    assert!(two.input.buf.len() < message.len());
    // The first message goes; its buffer and the lane go back: the other gets its turn.
    one.round(b"", None);
    one.input.trim(false);
    assert!(account.take_freed());
    let mut held = 0;
    for _ in 0..10 {
        let (fed, _) = two.round(b"", Some(0));
        held = fed.offered;
    }
    assert_eq!(held, message.len());
}

/// A wire that knows how many bytes a read can give without reading its socket, as a CURVE
/// layer knows its plaintext: `ready`.
struct Layered<'a> {
    socket: &'a Stream,
    ready: usize,
}

impl Wire for Layered<'_> {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.socket.read(buf)
    }

    fn read_spare(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.socket.read_spare(buf)
    }

    fn write_vectored(&self, bufs: &[std::io::IoSlice<'_>]) -> io::Result<usize> {
        self.socket.write_vectored(bufs)
    }

    fn ready(&self) -> Option<usize> {
        Some(self.ready)
    }
}

#[test]
fn a_read_asks_the_budget_only_for_what_its_wire_has() {
    // A CURVE layer part-way through a frame has nothing for the input: a read then asks the
    // budget for nothing (a thousand senders part-way through large frames each took a read's
    // worth for plaintext that was not there, and the flows that keep up had none left).
    let account = account(1 << 20);
    let mut p = Peer::charged(Charge::new(account.clone()));
    p.tx.write_all(&[3; 100]).unwrap();
    let keep_all = |b: &[u8], _| Ok::<_, io::Error>(b.len());
    let wire = Layered {
        socket: &p.rx,
        ready: 0,
    };
    let fed = p
        .input
        .read_and_feed(&wire, &mut p.scratch, || usize::MAX, keep_all)
        .unwrap();
    // What a layer's read brings all the same goes on, within what the input holds itself.
    assert_eq!(fed.read, 100);
    assert_eq!(account.budget().used(), 0, "room asked for nothing");
    // Bytes it has: room for them, held while the device takes none.
    p.tx.write_all(&[3; 10_000]).unwrap();
    let wire = Layered {
        socket: &p.rx,
        ready: 10_000,
    };
    let fed = p
        .input
        .read_and_feed(
            &wire,
            &mut p.scratch,
            || usize::MAX,
            |_, _| Ok::<_, io::Error>(0),
        )
        .unwrap();
    assert_eq!(fed.read, 10_000);
    let used = account.budget().used();
    assert!(
        (10_000 - KEEP_PENDING..CAP - KEEP_PENDING).contains(&used),
        "{used}"
    );
}

#[test]
fn the_lane_goes_back_between_messages_though_the_next_has_begun() {
    // The lane's holder hands its message on and holds only the start of the next one, whose
    // rest its sender is slow to bring: it keeps no more than it has without asking, and the
    // lane goes back for the next in need (attacker round 9, F1: a CURVE sender of
    // [a, 100 KB] messages at 40 KB/s kept the lane message after message, and four other
    // senders' whole bodies waited for it).
    let (account, mut one, mut two, message, _) = one_in_the_lane();
    assert!(one.input.holds_lane());
    // The message goes, and the next one's first 100 bytes come with its end.
    one.input.unblock();
    let (fed, _) = one.round(&[7; 100], Some(message.len()));
    assert_eq!(fed.used, message.len());
    assert_eq!(one.input.held(), 100);
    one.input.trim(false);
    assert!(
        !one.input.holds_lane(),
        "kept the lane for a message not here"
    );
    assert!(one.input.buf.capacity() <= KEEP_PENDING);
    assert!(account.take_freed());
    two.tx.write_all(&message[5_000..]).unwrap();
    let mut held = 0;
    for _ in 0..10 {
        let (fed, _) = two.round(b"", Some(0));
        held = fed.offered;
    }
    assert_eq!(
        held,
        message.len(),
        "the other's message came whole through the lane"
    );
    assert!(two.input.holds_lane());
}

#[test]
fn a_drained_buffer_is_kept_for_a_flow_only_while_nobody_claims_memory() {
    // Kept for a flow's next message (a CURVE layer's `Wire::lingers`), the buffer goes as
    // soon as another buffer's claim waits for memory (attacker round 13, F2: forty-eight
    // senders of a message every 20 ms kept theirs so, and a 64 KB flow waited seconds).
    let account = account(1 << 20);
    let mut p = Peer::charged(Charge::new(account.clone()));
    p.input.buf = Vec::with_capacity(60_000);
    assert!(p.input.charge.grow_to(60_000 - KEEP_PENDING));
    p.input.trim(true);
    assert!(p.input.buf.capacity() >= 60_000, "not kept for the flow");
    let waiting = Charge::new(account);
    waiting.claim(50_000);
    p.input.trim(true);
    assert_eq!(p.input.buf.capacity(), 0, "kept beside a claim");
    assert_eq!(p.input.charge.bytes(), 0);
}
