//! The device layer: forwarder, queue and streamer over many sessions.
//!
//! A [`Device`] owns every peer's [`Session`](crate::conn::Session) and outbound [`ByteQueue`], and routes messages
//! between its two sides. One module per device holds what only that device does:
//!
//! - `forwarder`: XSUB frontend (publishers) to XPUB backend (subscribers);
//!   subscriptions travel the other way through a counted subscription index ([`SubTable`],
//!   matching in O(topic length), a share of it per subscriber). A subscriber above its
//!   high-water mark when a message starts loses that message alone, counted.
//! - `queue`: ROUTER frontend (clients) to DEALER backend (workers). Requests gain a routing
//!   frame naming the client; replies are routed back by it and lose it.
//! - `streamer`: PULL frontend (producers) to PUSH backend (workers).
//!
//! What they share: `pump` (a peer's input through its session to routing), `flight` (a
//! message in flight holds its destinations; taking back an aborted one), `workers` (the
//! round-robin ring of ready workers), `slots` (the peer table and its intrusive lists),
//! `bypass` (bodies the caller moves socket to socket), `output` (what the caller writes, and
//! the peers to wake or close), `timers` (session timers and the progress deadline of a
//! message cut through), [`kind`](Kind) (the rules that differ by device) and `config`.
//!
//! Queue and streamer never drop: when no worker has room the device stops taking input from
//! the frontend ([`Device::wants_read`] turns false) until one does.
//!
//! Messages that fit in the caller's input buffer are routed whole; larger ones are cut
//! through: a frame is copied into its destination queue as its bytes arrive, and a
//! destination is held by one source from the first frame of a message to the last. A body
//! piece of [`SHARE_MIN`] bytes or more going to several destinations is stored once and
//! shared by their queues, where the queues can share ([`ByteQueue::share`]). A queue
//! may pass its high-water mark by the rest of a message that started below it, so a peer's
//! memory is bounded by [`DeviceConfig::queue_capacity`]. A source that ends mid-message has
//! its partial message taken back out of every destination queue that has not yet started
//! writing it; a destination that already has is reset, never spliced.

mod bypass;
mod byte_queue;
pub(crate) mod cache;
mod capture;
mod config;
mod deaf;
mod error;
mod facts;
mod flight;
mod forwarder;
mod kind;
mod last_value;
mod later;
mod lifecycle;
mod output;
mod pace;
mod peer;
mod pump;
mod queue;
mod room;
mod slots;
mod spool;
mod stats;
mod streamer;
mod subs;
mod timers;
mod upstream;
mod workers;

pub use byte_queue::{ByteQueue, Ring};
pub use cache::{Cached, LastValueView};
pub use capture::MAX_CAPTURE_READERS;
pub use config::{ConfigError, DeviceConfig, LastValueConfig};
pub use error::{CloseReason, Expired, PeerTableFull};
pub use facts::{PeerView, Traffic};
pub use flight::SHARE_MIN;
pub use kind::{Kind, Side};
pub use last_value::{key_range, Entry, LastValueStats, LastValues, StoredBytes};
pub use pace::UpstreamPace;
pub use peer::{OVERDUE_AFTER, PROGRESS_BYTES};
pub use slots::Slot;
pub use spool::{LetGo, SpoolPeers, MAX_UPLINKS};
pub use stats::{
    Drops, HandshakeFailures, ProxyStats, SideStats, Stats, SubscriptionRefusals, Tally,
};
pub use subs::{
    PeerSubs, Pieces, Refusal, SubTable, SubscriptionLimits, Topic, MAX_TOPIC, SHARE_OF_FREE,
};
pub use upstream::UPSTREAM_BATCH;

use crate::conn::SessionError;
use crate::time::Instant;
use slots::List;

/// The most units of input (messages, frames, commands) one call of
/// [`Device::handle_input`] takes: at a few hundred nanoseconds each, about a millisecond. A
/// subscription that changes what the publishers hold counts one more per publisher.
pub const MAX_STEPS: usize = 4096;

/// One step's view of a peer's input.
#[derive(Clone, Copy)]
struct Input<'a> {
    /// What is left of it.
    rest: &'a [u8],
    /// The first step of a `handle_input` call.
    fresh: bool,
    /// The caller's buffer is full and cannot grow.
    full: bool,
    /// Bytes the caller can read right away beyond `rest` and move past the device.
    ahead: u64,
}

/// A handle on a peer; stale handles (of a peer since removed) are ignored.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PeerId {
    index: u32,
    generation: u32,
}

/// A ZeroMQ device over caller-provided storage: sans-IO, no clock, no allocation.
///
/// # Calling order
///
/// For each connection the caller:
///
/// 1. [`Device::add_peer`]s it (our greeting is queued at once);
/// 2. while [`Device::wants_read`], reads from its socket into an input buffer of
///    [`DeviceConfig::input_capacity`] bytes and feeds everything it holds to
///    [`Device::handle_input`], keeping what was not consumed (a full buffer that is wanted
///    and not consumed is [`Device::input_stuck`]: close it);
/// 3. writes [`Device::output`] to its socket and reports what it wrote with
///    [`Device::consume_output`];
/// 4. after every call that changes the device, drains [`Device::poll_wake`] (peers with new
///    output, or able to read again: run their steps 2 and 3) and [`Device::poll_close`]
///    (peers to close: write what they hold if that is quick, then close them), and first
///    [`Device::poll_probe`] (peers whose sockets to try now, though they did not read as
///    writable: [`Device::socket_took`] if the socket passed on some of what it held, and
///    step 3);
/// 5. reports a closed connection with [`Device::remove_peer`].
///
/// Timers: call [`Device::handle_timeout`] once [`Device::poll_timeout`] has passed. The
/// deadline moves when a peer is added (its handshake timeout), finishes its handshake
/// (heartbeats start), sends or receives anything (heartbeat and TTL timers restart), and
/// when [`Device::handle_timeout`] fires one; after any of these, ask again.
///
/// Work that one call must not do all at once waits for [`Device::handle_timeout`], which
/// does a bounded part of it ([`MAX_STEPS`] units) per call: a forwarder's subscriptions of
/// subscribers that left, and topics owed to publishers (a publisher that connects learns
/// every topic this way, as its queue drains). While some waits, [`Device::has_work`] is true
/// and [`Device::poll_timeout`] says now: after any call, a caller that sleeps until the next
/// deadline checks [`Device::has_work`] first, and between calls for it lets its other
/// connections run.
///
/// A caller that can move bytes between sockets without reading them may take large frame
/// bodies past the device: [`Device::bypass_target`].
#[derive(Debug)]
pub struct Device<'s, Q: ByteQueue> {
    cfg: DeviceConfig,
    slots: &'s mut [Slot<Q>],
    subs: SubTable<'s>,
    stats: Stats,
    wake: List,
    close: List,
    blocked: List,
    probe: List,
    /// The last of the sources woken from `blocked` that found no room again before getting
    /// anything in: they wait at the front of the line, in the order they had, ahead of
    /// those that got a message in (`slots.rs`).
    line_front: Option<u32>,
    /// Rounds of turns for the sources waiting for room (`slots.rs`): each that freed room
    /// starts one.
    wake_round: u32,
    /// When every source waiting for room gets a try anyway (`slots::RECHECK`).
    recheck_at: Option<Instant>,
    /// Round-robin cursor into the ring of ready backend workers; in a forwarder, the ring of
    /// ready publishers (which subscriptions go to).
    workers: Option<u32>,
    /// Destinations held by messages in progress, all sources together.
    held: u32,
    /// Stamp of the message being fanned out, to pick each subscriber once.
    epoch: u32,
    /// Slots of subscribers that left whose subscriptions are still to be taken out.
    leaving: u32,
    /// Units of work the steps of this `handle_input` call did beyond their own (publishers
    /// subscriptions went to).
    extra_steps: usize,
    /// Work waits for [`Device::handle_timeout`]: subscriptions of subscribers that left,
    /// topics owed to publishers that can take them, the sweep (`upstream.rs`).
    work: bool,
    /// The latest `now` the caller gave.
    last_now: Instant,
    /// Bytes the message being routed needs in each destination's queue.
    need: usize,
    /// Bytes of `need` that go as shared pieces when there are several destinations.
    need_shared: usize,
    /// A destination's queue refused to grow since the last [`Device::retry_blocked`]: a queue
    /// that drains wakes the blocked sources.
    memory_blocked: bool,
    /// A connection could read (or seal) nothing for want of memory since the last
    /// [`Device::retry_blocked`] ([`Device::wait_for_memory`]).
    memory_starved: bool,
    /// The message being routed is cut through (not all of it is here): a worker whose
    /// address held others up lately gets it only if no other can (`workers.rs`).
    cutting: bool,
    /// When a worker waiting to reply to a client over its mark gets another try (the client
    /// may have stopped reading by then: `DeviceConfig::client_stall`).
    reply_retry: Option<Instant>,
    /// When the queue may next close the clients behind for `client_stall` because a peer
    /// waits for memory (`queue.rs`, `shed_behind`).
    shed_at: Instant,
    /// Whose subscription was refused last, per cause (in [`Refusal::ALL`]'s order).
    last_refused: [Option<PeerId>; 4],
    /// No message starts moving from either side ([`Device::pause`]).
    paused: bool,
    /// The capture readers that subscribed: each message routed is copied to them
    /// (`capture.rs`).
    taps: heapless::Vec<u32, MAX_CAPTURE_READERS>,
    /// The Identity of the peer that became ready last (`facts.rs`).
    joined: facts::Joined,
    /// A forwarder's last-value cache, if it was given one (`cache.rs`).
    last: Option<LastValues<'s, Cached<Q>>>,
    /// A streamer's store-and-forward spool, if it was given one (`spool.rs`).
    spool: Option<spool::SpoolLink>,
    /// Frame heads the pump read looking for the ends of messages: its work.
    #[cfg(test)]
    scanned: u64,
}

impl<'s, Q: ByteQueue> Device<'s, Q> {
    /// `peers.len()` is the most peers at once. `subs` holds the subscriptions: zeroed bytes,
    /// [`DeviceConfig::subscription_bytes`] of them (none but in a forwarder). `seed` keys
    /// the subscription index's hash, so that peers cannot choose topics that collide: draw
    /// it at random.
    pub fn new(
        cfg: DeviceConfig,
        peers: &'s mut [Slot<Q>],
        subs: &'s mut [u8],
        seed: [u64; 2],
    ) -> Self {
        Device {
            cfg,
            slots: peers,
            subs: SubTable::new(subs, cfg.subscriptions, seed),
            stats: Stats::default(),
            wake: List::default(),
            close: List::default(),
            blocked: List::default(),
            probe: List::default(),
            line_front: None,
            wake_round: 0,
            recheck_at: None,
            workers: None,
            held: 0,
            epoch: 0,
            leaving: 0,
            extra_steps: 0,
            work: false,
            last_now: Instant::ZERO,
            need: 0,
            need_shared: 0,
            memory_blocked: false,
            memory_starved: false,
            cutting: false,
            reply_retry: None,
            shed_at: Instant::ZERO,
            last_refused: [None; 4],
            paused: false,
            taps: heapless::Vec::new(),
            joined: facts::Joined::default(),
            last: None,
            spool: None,
            #[cfg(test)]
            scanned: 0,
        }
    }

    /// When a worker waiting to reply to a client over its mark gets another try.
    #[cfg(test)]
    pub(crate) fn reply_retry(&self) -> Option<Instant> {
        self.reply_retry
    }

    /// The settings it was made with.
    pub fn config(&self) -> &DeviceConfig {
        &self.cfg
    }

    /// Every counter.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Stop (`true`) or restart moving messages, as libzmq's steerable proxy does on PAUSE and
    /// RESUME: while paused no message starts from either side, and a source with one to send
    /// waits for the restart as it waits for room, so its input backs up to its peer and
    /// nothing is lost. Messages under way finish; handshakes, heartbeats and subscriptions go
    /// on, and what is queued is still written.
    pub fn pause(&mut self, on: bool) {
        if self.paused && !on {
            self.paused = false;
            self.wake_all_blocked();
        }
        self.paused = on;
    }

    /// Whether [`Device::pause`] holds it.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Subscriptions held now (distinct subscriber and topic pairs), and the most the table can
    /// hold.
    pub fn subscriptions(&self) -> (usize, usize) {
        (self.subs.len(), self.subs.capacity())
    }

    /// Whose subscription was refused last for `cause` (counted in
    /// [`Stats::refused_subscriptions`]), for a caller's log line; the counters say how many.
    pub fn last_refused(&self, cause: Refusal) -> Option<PeerId> {
        self.last_refused[cause as usize]
    }

    /// Take in bytes from a peer: all the bytes its connection holds, from the oldest. Returns
    /// how many were used; keep the rest. An error ends the peer's session: write what
    /// [`Device::output`] still holds (an ERROR command, maybe), then close it.
    ///
    /// At most [`MAX_STEPS`] units (messages, frames, commands) are taken per call, so one
    /// peer's input keeps the caller from the others for a bounded time: call again with the
    /// rest after serving them.
    pub fn handle_input(
        &mut self,
        id: PeerId,
        input: &[u8],
        now: Instant,
    ) -> Result<usize, SessionError> {
        self.handle_input_ahead(id, input, 0, now)
    }

    /// [`Device::handle_input`] for a caller that can read `ahead` more bytes of this peer's
    /// stream right away and move them past the device ([`Device::bypass_target`]): a message
    /// whose missing bytes are all ahead (of any size; or one over the input buffer's size
    /// once its head is here) is then routed at once, as if it were here, instead of being
    /// read into the buffer first; one that fits the buffer is given room for all of it at
    /// its destinations (`room.rs`, `set_need`).
    pub fn handle_input_ahead(
        &mut self,
        id: PeerId,
        input: &[u8],
        ahead: u64,
        now: Instant,
    ) -> Result<usize, SessionError> {
        let idx = self.index(id).ok_or(SessionError::Closed)?;
        self.last_now = self.last_now.max(now);
        if let Some(p) = self.peer_mut(idx) {
            p.awaits = 0;
        }
        let full = input.len() >= self.cfg.input_capacity;
        let ahead = if self.cfg.kind.bypasses() { ahead } else { 0 };
        let mut consumed = 0;
        let mut steps = 0;
        self.extra_steps = 0;
        let result = if self.gathers(idx, input.len(), full) {
            // A message fanned out as it arrives waits for a piece of it worth sharing.
            Ok(0)
        } else {
            loop {
                let fresh = consumed == 0;
                let at = Input {
                    rest: &input[consumed..],
                    fresh,
                    full: full && fresh,
                    ahead,
                };
                match self.step(at, idx, now) {
                    Ok(0) => break Ok(consumed),
                    Ok(n) => consumed += n,
                    Err(e) => break Err(e),
                }
                steps += 1;
                // Subscriptions that changed what the publishers hold cost more: one unit
                // more per publisher they went to.
                if steps + self.extra_steps >= MAX_STEPS {
                    break Ok(consumed);
                }
            }
        };
        if let Err(e) = result {
            self.on_session_end(idx, e);
        }
        if consumed > 0 {
            if let Some(p) = self.peer_mut(idx) {
                p.progressed(consumed as u64, now);
                p.scan = 0;
            }
        }
        if let Some(p) = self.peer_mut(idx) {
            p.spanned |= p.src != peer::Src::Idle;
        }
        self.flush_control(idx);
        self.pass_turn(idx);
        result
    }

    /// Whether a peer's input is stuck: `held` bytes, a full input buffer, that the device
    /// wants and could not take (the last [`Device::handle_input`] used none of them). It
    /// cannot make progress; close it.
    pub fn input_stuck(&self, id: PeerId, held: usize) -> bool {
        held >= self.cfg.input_capacity && self.wants_read(id)
    }

    /// Whether the peer finished its handshake and its session has not ended: a peer that
    /// stays unready past its handshake timeout is closed by the device itself.
    pub fn is_ready(&self, id: PeerId) -> bool {
        self.index(id)
            .and_then(|i| self.peer(i))
            .is_some_and(|p| p.session.is_ready())
    }

    /// Whether a message is being copied into this peer's output: then the last bytes of
    /// [`Device::output`] may end mid-frame. Otherwise its output ends at a frame boundary.
    pub fn receiving(&self, id: PeerId) -> bool {
        self.index(id)
            .and_then(|i| self.peer(i))
            .is_some_and(|p| p.held.is_some())
    }

    /// Whether more input may be fed for this peer; false while it waits for room.
    pub fn wants_read(&self, id: PeerId) -> bool {
        self.index(id)
            .and_then(|i| self.peer(i))
            .is_some_and(|p| !p.blocked && !p.session.is_closed())
    }
}

#[cfg(test)]
mod tests;
