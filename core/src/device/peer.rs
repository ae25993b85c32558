//! A peer's routing state: its session and outbound queue, and what it is doing as the
//! source of a message and as a destination of one.

use super::error::CloseReason;
use super::facts::Facts;
use super::kind::Side;
use super::pace::{Allowance, UpstreamPace};
use super::subs::{Cursor, PeerSubs};
use super::ByteQueue;
use crate::conn::Session;
use crate::time::{Duration, Instant};

/// What a message being cut through must move, from its sender or to its receivers, within
/// each `progress_timeout` to count as moving: a sender trickling a byte now and then does not
/// hold its receivers past the timeout. At the default 5 s, about 3 KB/s.
pub const PROGRESS_BYTES: u64 = 16 << 10;

/// What a peer is doing as the source of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Src {
    /// Between messages.
    Idle,
    /// Copying a message to the destinations it holds.
    Forwarding {
        /// The next frame to start is the message's first (a queue reply's routing frame).
        first: bool,
        /// The current frame is the message's last.
        last: bool,
        /// First destination held (a list through [`Held::next_dest`]); none when the
        /// message reaches no subscriber, or its one destination left.
        dests: Option<u32>,
    },
    /// Reading the rest of a message that goes nowhere.
    Discarding {
        /// The current frame is the message's last.
        last: bool,
    },
}

impl Src {
    pub(crate) fn is_forwarding(&self) -> bool {
        matches!(self, Src::Forwarding { .. })
    }

    pub(crate) fn dests(&self) -> Option<u32> {
        match self {
            Src::Forwarding { dests, .. } => *dests,
            Src::Idle | Src::Discarding { .. } => None,
        }
    }

    /// The current frame is the message's last.
    pub(crate) fn last_frame(&self) -> bool {
        match self {
            Src::Forwarding { last, .. } | Src::Discarding { last } => *last,
            Src::Idle => false,
        }
    }
}

/// How many progress timeouts a message cut through may take, once another source wants one
/// of the destinations it holds, before it is aborted and its sender closed
/// ([`CloseReason::Overdue`](super::CloseReason::Overdue)). The progress pace alone (16 KiB
/// per progress timeout) let one sender at 3-4 KB/s hold a worker for hours with a 60 MiB
/// message, and one per worker stop a streamer or queue; one publisher so held every
/// subscriber of a forwarder, whose other publishers' messages were dropped at their marks
/// (attacker round 8, F3 and F4). The same patience as a CURVE connection's in a lane
/// (`LANE_PATIENCE` in the binary).
pub const OVERDUE_AFTER: u64 = 4;

/// Meanwhile its part is owed in turns of a progress timeout / this (a part as large each
/// time): a sender whose pace would take longer is aborted within 1.25 s by default, not 5 s,
/// which a forwarder's subscribers spent dropping the other publishers' messages at their
/// marks (as the cipher lane's `CIPHER_LANE_GRAIN` in the binary).
pub const OVERDUE_GRAIN: u64 = 4;

/// A message this large counts as one when its destination's length is weighed
/// ([`Peer::one_message`]); smaller ones are not tracked.
pub(crate) const LARGE: u64 = 64 << 10;

/// How long a subscriber holding one large message may go without its socket taking
/// [`PROGRESS_BYTES`] of it before that message counts for its length when a subscriber that
/// keeps up needs room ([`Peer::lags_for_keeper`]).
pub(crate) const HOLDS_UNREAD: Duration = Duration::from_millis(200);

/// A destination taken by a source for the message it is copying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Held {
    /// The source.
    pub(crate) by: u32,
    /// The destination's `pushed` when the message started: what to take back if it aborts.
    pub(crate) mark: u64,
    /// The next destination the same source holds.
    pub(crate) next_dest: Option<u32>,
}

/// When [`PROGRESS_BYTES`] last moved since the time before, or the count was last made
/// whole: a sender's message going on, a receiver's socket taking its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Moved {
    pub(crate) at: Instant,
    /// Bytes moved since `at`.
    bytes: u64,
}

impl Moved {
    pub(crate) fn since(now: Instant) -> Self {
        Moved { at: now, bytes: 0 }
    }

    /// `n` more bytes moved at `now`; `all`: that was all there was to move, which counts as
    /// [`PROGRESS_BYTES`] whatever `n`.
    pub(crate) fn moved(&mut self, n: u64, all: bool, now: Instant) {
        self.bytes = self.bytes.saturating_add(n);
        if all || self.bytes >= PROGRESS_BYTES {
            self.bytes = 0;
            self.at = self.at.max(now);
        }
    }

    /// Its time, moved on to `now` at least (a wait that is not the peer's own ends).
    pub(crate) fn not_before(&mut self, now: Instant) {
        self.at = self.at.max(now);
    }
}

/// A turn of [`Peer::contend`]: a progress timeout / [`OVERDUE_GRAIN`].
pub(super) fn turn(timeout: Duration) -> Duration {
    Duration::from_millis((timeout.as_millis() / OVERDUE_GRAIN).max(1))
}

/// What a sender whose message cut through holds destinations others want owes
/// ([`Peer::contend`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Owed {
    /// The start of the turn being counted.
    pub(crate) since: Instant,
    /// Bytes of the message that came since.
    pub(crate) came: u64,
    /// Bytes owed per turn ([`OVERDUE_GRAIN`]).
    pub(crate) per_turn: u64,
    /// Progress timeouts the whole of it may take.
    pub(crate) times: u64,
}

/// Neighbours in the ring of ready workers (queue and streamer backends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WorkerLink {
    pub(crate) next: u32,
    pub(crate) prev: u32,
}

#[derive(Debug)]
pub(crate) struct Peer<Q> {
    pub(crate) session: Session,
    pub(crate) queue: Q,
    pub(crate) side: Side,
    /// Bytes ever pushed to / written from `queue`: marks for taking back a partial message.
    pub(crate) pushed: u64,
    pub(crate) written: u64,
    /// `pushed` once our last PONG was queued (0: none is): until `written` reaches it, the
    /// session holds further PONGs back (one answers every PING meanwhile).
    pub(crate) pong_end: u64,
    pub(crate) src: Src,
    /// The source whose message is being copied into our queue.
    pub(crate) held: Option<Held>,
    /// Waiting for room before more input is taken (and on the device's blocked list).
    pub(crate) blocked: bool,
    /// The device wants the peer closed: nothing more is routed to or from it.
    pub(crate) close: Option<CloseReason>,
    pub(crate) worker: Option<WorkerLink>,
    /// Marks a subscriber already chosen for the message being fanned out.
    pub(crate) epoch: u32,
    /// Where its last message of [`LARGE`] bytes or more started and ended, in `pushed`.
    pub(crate) last_large: (u64, u64),
    /// The `epoch` of the message it last lost for want of memory to hold it back while it
    /// took another (`forwarder.rs`, `refan`).
    pub(crate) missed: u32,
    /// When the message it sends last made progress: [`PROGRESS_BYTES`] moved, from it or to
    /// its receivers, since the time before.
    pub(crate) progress: Moved,
    /// Since when another source has wanted a destination the message it cuts through holds
    /// (`Device::contend`): all of the message is then owed within [`OVERDUE_AFTER`]
    /// progress timeouts ([`Peer::contend`]).
    pub(crate) contended_at: Option<Instant>,
    /// Meanwhile: since when it has been counting what came of the message, what came, and
    /// what is owed per turn.
    pub(crate) owed: Owed,
    /// Its subscriptions in the device's table (forwarder subscribers).
    pub(crate) subs: PeerSubs,
    /// Since when its queue has held bytes without being emptied (queue clients: a client
    /// behind for `DeviceConfig::client_stall` gets no more waiting); when it was last empty
    /// if it is empty now.
    pub(crate) stall_from: Instant,
    /// When its socket last took any of its output (or it joined).
    pub(crate) took_at: Instant,
    /// A streamer's worker whose work was given to the others
    /// ([`Device::take_back_output`](super::Device::take_back_output)): it lags, its queue
    /// empty or not, until its socket takes some of its output again.
    pub(crate) taken_back: bool,
    /// When it was last sent a subscription or cancellation (a publisher), if ever, and how
    /// many messages the last-value cache had stored by then: a broker upstream with a cache
    /// answers one with the values it keeps (`cache.rs`).
    pub(crate) asked_at: Option<(Instant, u64)>,
    /// When its socket last took [`PROGRESS_BYTES`] of its output since the time before, or
    /// emptied its queue, or was found passing on what it held, or it was given a message to
    /// take (a queue's or streamer's worker), or it joined: a worker holding its sender
    /// mid-message must drain at that pace (`deaf.rs`).
    pub(crate) drained: Moved,
    /// When the device asked its caller to try its socket for room (`Device::poll_probe`),
    /// if its socket has taken nothing since.
    pub(crate) probed_at: Option<Instant>,
    /// Messages held back for it and their body bytes (`later.rs`), counted as sent once they
    /// go into its queue.
    pub(crate) later: (u64, u64),
    /// What it is owed of the subscriptions (forwarder publishers, once ready).
    pub(crate) upstream: Cursor,
    /// What it may be sent of them now (forwarder publishers, once ready).
    pub(crate) pace: Allowance,
    /// Where the pump's scan of a message at the start of its input that is not all here yet
    /// stands ([`MessageScan::position`](crate::wire::frame::MessageScan::position), 0 for
    /// none); valid until input is consumed.
    pub(crate) scan: usize,
    /// Bytes still to come of the message at the start of its input, when the last call
    /// stopped to wait for all of it to be here (0: it did not, or how many is not known yet).
    pub(crate) awaits: u64,
    /// Woken from the line of sources waiting for room, it has not got a message in since:
    /// should it have to wait again, it keeps its place ahead of those that did.
    pub(crate) turn_due: bool,
    /// Woken to take its turn ([`Device::wake_blocked`](super::Device)): passes it on to the
    /// next in line unless it uses up the room that freed.
    pub(crate) baton: bool,
    /// The round of turns it last had a try in.
    pub(crate) round: u32,
    /// Requests a queue's worker has been given and not answered (one reply answers one).
    pub(crate) unanswered: u32,
    /// A queue's client closed for not reading ([`CloseReason::Unread`]) while a request of
    /// its own was on its way to a worker: closed once that request is through, or at this
    /// time if it is not (cutting it short would reset the worker). Meanwhile it is no
    /// destination.
    pub(crate) close_after: Option<Instant>,
    /// The message it sends was in progress at the end of a call: its destinations were held
    /// where other sources could find them busy.
    pub(crate) spanned: bool,
    /// The length of the routing frame libzmq's ROUTER would put before its messages: its
    /// Identity property's, or 5 bytes (`ProxyStats`).
    pub(crate) id_len: u8,
    /// Messages it lost: a subscriber's publications, a client's replies, dropped at its
    /// high-water mark or for want of memory (`Device::each_lossy`).
    pub(crate) dropped: u64,
    /// What an operator may ask about it (`facts.rs`).
    pub(crate) facts: Facts,
    /// Until when its address counts as one that held others up lately (the caller says so,
    /// [`Device::strike`](super::Device::strike)): as a queue's or streamer's worker it gets a
    /// message cut through only when no other worker can take it.
    pub(crate) struck_until: Option<Instant>,
    /// Its READY said it is a zedge forwarder's backend
    /// ([`ZEDGE_PROPERTY`](crate::wire::command::ZEDGE_PROPERTY)): a broker upstream that may
    /// refuse subscriptions, and is offered them again (`subs/upstream.rs`).
    pub(crate) zedge: bool,
}

/// The length of the routing id libzmq's ROUTER gives a peer that names none: a zero byte
/// and a 32-bit counter.
pub(crate) const LIBZMQ_ID_LEN: u8 = 5;

impl<Q> Peer<Q> {
    /// `idx`: its slot, the name the subscription table knows it by.
    pub(crate) fn new(session: Session, queue: Q, side: Side, idx: u32, now: Instant) -> Self {
        Peer {
            session,
            queue,
            side,
            pushed: 0,
            written: 0,
            pong_end: 0,
            src: Src::Idle,
            held: None,
            blocked: false,
            close: None,
            worker: None,
            epoch: 0,
            missed: 0,
            last_large: (0, 0),
            progress: Moved::since(now),
            contended_at: None,
            owed: Owed::default(),
            subs: PeerSubs::new(idx),
            stall_from: now,
            took_at: now,
            asked_at: None,
            drained: Moved::since(now),
            probed_at: None,
            later: (0, 0),
            id_len: LIBZMQ_ID_LEN,
            dropped: 0,
            facts: Facts::new(now),
            upstream: Cursor::NONE,
            pace: Allowance::full(&UpstreamPace::OFF, now),
            scan: 0,
            awaits: 0,
            turn_due: false,
            baton: false,
            round: 0,
            unanswered: 0,
            close_after: None,
            spanned: false,
            zedge: false,
            struck_until: None,
            taken_back: false,
        }
    }

    /// Handshake done, session not ended, not put up for closing: messages may be routed to
    /// and from it.
    #[inline]
    pub(crate) fn is_live(&self) -> bool {
        self.session.is_ready() && self.close.is_none() && self.close_after.is_none()
    }

    /// Its socket took some of its output at `now` (from its queue, or moved past it).
    pub(crate) fn took(&mut self, now: Instant) {
        self.took_at = now;
        self.taken_back = false;
        self.probed_at = None;
    }

    /// Its socket took `n` bytes of its output at `now`; `empty`: all its queue held.
    pub(crate) fn drained(&mut self, n: u64, empty: bool, now: Instant) {
        self.drained.moved(n, empty, now);
    }

    /// `n` bytes of its message moved at `now`.
    pub(crate) fn progressed(&mut self, n: u64, now: Instant) {
        if self.contended_at.is_some() {
            self.owed.came = self.owed.came.saturating_add(n);
        }
        self.progress.moved(n, false, now);
    }

    /// A message starts going to its destinations at `now`: its progress is counted afresh.
    pub(crate) fn start_progress(&mut self, now: Instant) {
        self.progress = Moved::since(now);
        self.contended_at = None;
    }

    /// Another source wants a destination of the message it cuts through, from `now` (if none
    /// did already): the rest of it is owed within [`OVERDUE_AFTER`] progress timeouts, one
    /// if its address is struck (one of its connections was closed so lately,
    /// `Device::strike`, so that one that comes back at once holds its receivers a quarter as
    /// long each time), and in each turn of a timeout / [`OVERDUE_GRAIN`] from now on the part
    /// of its current frame's rest (`left`) that brings all of it in that many (never less
    /// than the progress pace). So a sender whose pace would take longer is aborted after one
    /// turn, not at the end.
    pub(crate) fn contend(&mut self, now: Instant, left: u64) {
        if self.contended_at.is_some() {
            return;
        }
        let struck = self.struck_until.is_some_and(|u| u > now);
        let times = if struck { 1 } else { OVERDUE_AFTER };
        self.contended_at = Some(now);
        self.owed = Owed {
            since: now,
            came: 0,
            per_turn: (left / (times * OVERDUE_GRAIN)).max(PROGRESS_BYTES / OVERDUE_GRAIN),
            times,
        };
    }

    /// When a message this peer is cutting through is next looked at: at the progress
    /// `timeout` after it last moved, and while others want its destinations at the end of
    /// each turn ([`Peer::contend`]). Only while it holds destinations and is not waiting
    /// for their room.
    pub(crate) fn progress_deadline(&self, timeout: Duration) -> Option<Instant> {
        let cut_through = self.src.dests().is_some() && !self.blocked;
        (cut_through && !timeout.is_zero()).then(|| {
            let idle = self.progress.at + timeout;
            match self.contended_at {
                Some(_) => idle.min(self.owed.since + turn(timeout)),
                None => idle,
            }
        })
    }

    /// At its [`Peer::progress_deadline`], `now`: why its message is aborted, if it is. One
    /// that brought what it owed goes on, owing as much again in the next turn.
    pub(crate) fn check_progress(
        &mut self,
        now: Instant,
        timeout: Duration,
    ) -> Option<CloseReason> {
        self.progress_deadline(timeout).filter(|&t| t <= now)?;
        if let Some(since) = self.contended_at {
            if self.owed.since + turn(timeout) <= now {
                let patience = timeout.as_millis().saturating_mul(self.owed.times);
                if self.owed.came < self.owed.per_turn
                    || since + Duration::from_millis(patience) <= now
                {
                    return Some(CloseReason::Overdue);
                }
                self.owed.since = now;
                self.owed.came = 0;
            }
        }
        (self.progress.at + timeout <= now).then_some(CloseReason::Stalled)
    }
}

impl<Q: ByteQueue> Peer<Q> {
    /// Bytes of its queue that belong to one message alone: what is still queued of the
    /// message being cut through to it, or of the last large one ([`LARGE`]), whichever is
    /// more ([`ByteQueue::reserve_beside`]).
    #[inline]
    pub(crate) fn one_message(&self) -> usize {
        let from = |start: u64, end: u64| end.saturating_sub(start.max(self.written));
        let held = self.held.map_or(0, |h| from(h.mark, self.pushed));
        let last = from(self.last_large.0, self.last_large.1);
        // At most what the queue holds, which is a usize.
        usize::try_from(held.max(last)).unwrap_or(usize::MAX)
    }

    /// Whether its queue lags ([`ByteQueue::lags`]), one message it holds not counted for
    /// its length ([`Peer::one_message`]).
    pub(crate) fn lags(&self) -> bool {
        self.queue.lags_beside(self.one_message())
    }

    /// A subscriber starts taking a message from `by` at `now`, `next_dest` the one after it
    /// in its source's list. If its queue is empty, its socket has taken all it was given:
    /// its time to take the new message counts from `now` ([`Peer::lags_for_keeper`]). One
    /// idle for longer, just given a large message, was closed for holding it at once.
    pub(crate) fn hold_for(&mut self, by: u32, next_dest: Option<u32>, now: Instant) {
        if self.queue.is_empty() {
            self.drained.not_before(now);
        }
        self.held = Some(Held {
            by,
            mark: self.pushed,
            next_dest,
        });
    }

    /// Whether it is to be closed for a subscriber that keeps up and found no room
    /// ([`Device::close_lagging`](super::Device)): its queue lags ([`Peer::lags`]), or would
    /// without the message it holds not counted and its socket has not taken
    /// [`PROGRESS_BYTES`] of its output (nor emptied its queue) for [`HOLDS_UNREAD`]. A
    /// subscriber that reads in bursts, holding a whole large message in between and
    /// emptying its queue within the 1 s rule, never lagged, and the subscriber that kept up
    /// was reset in its place (attacker round 17, F1).
    pub(crate) fn lags_for_keeper(&self, now: Instant) -> bool {
        self.lags() || (self.queue.lags() && now.saturating_since(self.drained.at) >= HOLDS_UNREAD)
    }

    /// Whether it holds output that it does not take, however recently its queue was empty:
    /// more than a message of `need` bytes beyond the one it is taking
    /// ([`Peer::one_message`]), or a large message's worth ([`LARGE`]) with its socket
    /// taking nothing of it ([`PROGRESS_BYTES`]) for [`HOLDS_UNREAD`]. A subscriber that
    /// reads as messages come holds the one it is taking, and the next only while it takes
    /// the one before; one that read a few and stopped holds their rest (attacker round 18,
    /// C1: sixteen such, reconnecting every 3 s, held the budget with the rests of 4 MiB
    /// messages before their queues counted as behind).
    pub(crate) fn holds_untaken(&self, need: usize, now: Instant) -> bool {
        let len = self.queue.len();
        len > self.one_message().saturating_add(need)
            || (len >= LARGE as usize && now.saturating_since(self.drained.at) >= HOLDS_UNREAD)
    }

    /// It has output waiting and its socket took some within the last `window`: it is alive,
    /// and can answer a PING only once it has read what is ahead of it.
    pub(crate) fn reads_output(&self, now: Instant, window: Duration) -> bool {
        !self.queue.is_empty() && !window.is_zero() && self.took_at + window > now
    }
}
