//! The device layer: forwarder, queue and streamer over many sessions.
//!
//! A [`Device`] owns every peer's [`Session`](crate::conn::Session) and outbound
//! [`ByteQueue`], and routes messages between its two sides:
//!
//! - **forwarder**: XSUB frontend (publishers) to XPUB backend (subscribers); subscriptions
//!   travel the other way through a counted [`subs::SubTable`]. Each subscriber has its own
//!   queue: when it is above its high-water mark at the start of a message, that message is
//!   dropped for it alone and counted.
//! - **queue**: ROUTER frontend (clients) to DEALER backend (workers). Requests gain a routing
//!   frame naming the client; replies are routed back by it and lose it.
//! - **streamer**: PULL frontend (producers) to PUSH backend (workers).
//!
//! Queue and streamer never drop: when no worker has room the device stops taking input
//! from the frontend ([`Device::wants_read`] turns false) until one does.
//!
//! Messages are cut through, not reassembled: a frame is copied into its destination queue as
//! its bytes arrive, and a destination is held by one source from the first frame of a message
//! to the last. A queue may pass its high-water mark by the rest of a message that started
//! below it, so a peer's memory is bounded by `queue_hwm + max_message_size`. A source that
//! ends mid-message has its partial message taken back out of every destination queue that
//! has not yet started writing it; a destination that already has is reset, never spliced.
//!
//! # Calling order
//!
//! For each connection, the caller [`Device::add_peer`]s it, then feeds its bytes to
//! [`Device::handle_input`] (keeping what was not consumed), writes [`Device::output`] to its
//! socket and reports it with [`Device::consume_output`]. Between rounds it drains
//! [`Device::poll_wake`] (peers with new output or able to read again) and
//! [`Device::poll_close`] (peers to close), and calls [`Device::handle_timeout`] when
//! [`Device::poll_timeout`] passes. A closed connection is reported with
//! [`Device::remove_peer`].
//!
//! A caller that can move bytes between sockets without reading them (Linux splice(2)) may
//! take the rest of a large frame body past the device: [`Device::bypass`] says when and to
//! whom, [`Device::bypassed`] takes the count.

mod queue;

pub use queue::{ByteQueue, Ring};

mod peer;
mod route;
mod stats;
pub(crate) mod subs;

pub use peer::Slot;
pub use stats::{Drops, SideStats, Stats};
pub use subs::{MAX_TOPIC, SUB_ENTRY_LEN};

use core::fmt;

use crate::conn::{Heartbeat, Limits, Session, SessionConfig, SessionError, TRANSMIT_BUFFER};
use crate::time::{Duration, Instant};
use crate::wire::metadata::SocketType;
use peer::Peer;
use subs::SubTable;

/// Which device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kind {
    /// XSUB/XPUB, or SUB/PUB with `classic` (publishers get one subscription to everything,
    /// and subscriptions stay in the broker).
    Forwarder { classic: bool },
    /// ROUTER/DEALER.
    Queue,
    /// PULL/PUSH.
    Streamer,
}

/// The side of a device a peer connected to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Side {
    Frontend,
    Backend,
}

impl Kind {
    /// Whether the caller may move frame bodies past the device ([`Device::bypass`]). Never in
    /// a forwarder: it must not make a publisher wait for one subscriber's socket.
    pub const fn bypasses(self) -> bool {
        !matches!(self, Kind::Forwarder { .. })
    }

    /// Bytes of subscription storage [`Device::new`] needs for `max` subscriptions: none but
    /// in a forwarder, the only device that keeps them.
    pub const fn subscription_bytes(self, max: usize) -> usize {
        match self {
            Kind::Forwarder { .. } => max.saturating_mul(SUB_ENTRY_LEN),
            Kind::Queue | Kind::Streamer => 0,
        }
    }

    /// The socket type the device plays on `side`.
    pub const fn socket_type(self, side: Side) -> SocketType {
        match (self, side) {
            (Kind::Forwarder { classic: false }, Side::Frontend) => SocketType::XSub,
            (Kind::Forwarder { classic: false }, Side::Backend) => SocketType::XPub,
            (Kind::Forwarder { classic: true }, Side::Frontend) => SocketType::Sub,
            (Kind::Forwarder { classic: true }, Side::Backend) => SocketType::Pub,
            (Kind::Queue, Side::Frontend) => SocketType::Router,
            (Kind::Queue, Side::Backend) => SocketType::Dealer,
            (Kind::Streamer, Side::Frontend) => SocketType::Pull,
            (Kind::Streamer, Side::Backend) => SocketType::Push,
        }
    }
}

/// A handle on a peer; stale handles (of a peer since removed) are ignored.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PeerId {
    index: u32,
    generation: u32,
}

/// How a device is set up. Every peer's memory is bounded by [`DeviceConfig::queue_capacity`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DeviceConfig {
    pub kind: Kind,
    pub limits: Limits,
    pub heartbeat: Heartbeat,
    pub handshake_timeout: Duration,
    /// A peer whose outbound queue holds this many bytes gets no new message (workers are
    /// skipped, subscribers lose it) until it drains below.
    pub queue_hwm: usize,
    /// Size of the caller's per-connection input buffer. Messages that fit are routed whole;
    /// larger ones, and those whose first frame is a quarter of it or more, are cut through as
    /// they arrive.
    pub input_capacity: usize,
}

/// Room for commands and routing frames beyond a queue's high-water mark and one message.
const QUEUE_SLACK: usize = 4096;

impl DeviceConfig {
    pub const fn new(kind: Kind) -> Self {
        DeviceConfig {
            kind,
            limits: Limits::DEFAULT,
            heartbeat: Heartbeat::OFF,
            handshake_timeout: Duration::from_secs(10),
            queue_hwm: 1 << 20,
            input_capacity: 64 << 10,
        }
    }

    /// The hard capacity every peer's queue must have: the high-water mark, one message that
    /// started below it, and slack for commands.
    pub fn queue_capacity(&self) -> usize {
        let max_msg = usize::try_from(self.limits.max_message_size).unwrap_or(usize::MAX);
        self.queue_hwm
            .saturating_add(max_msg)
            .saturating_add(QUEUE_SLACK)
    }

    pub const fn session_config(&self, side: Side) -> SessionConfig {
        let mut cfg = SessionConfig::new(self.kind.socket_type(side));
        cfg.limits = self.limits;
        cfg.heartbeat = self.heartbeat;
        cfg.handshake_timeout = self.handshake_timeout;
        cfg.as_server = true;
        cfg
    }

    /// How much a read should take when the next frame is to be routed without its body
    /// (after a body went by, [`Device::bypass`]): a frame head and the body bytes routing
    /// looks at.
    pub const fn routing_read_len(&self) -> usize {
        crate::wire::frame::MAX_HEAD_LEN + self.limits.head_bytes
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.limits.head_bytes < MAX_TOPIC {
            return Err(ConfigError::HeadBytesTooSmall {
                have: self.limits.head_bytes,
                need: MAX_TOPIC,
            });
        }
        let need = self.session_config(Side::Frontend).min_input_capacity();
        if self.input_capacity < need {
            return Err(ConfigError::InputTooSmall {
                have: self.input_capacity,
                need,
            });
        }
        if self.queue_hwm == 0 {
            return Err(ConfigError::ZeroHwm);
        }
        Ok(())
    }
}

/// A configuration that cannot work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError {
    HeadBytesTooSmall { have: usize, need: usize },
    InputTooSmall { have: usize, need: usize },
    ZeroHwm,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::HeadBytesTooSmall { have, need } => {
                write!(f, "head_bytes is {have}; topic matching needs at least {need}")
            }
            ConfigError::InputTooSmall { have, need } => write!(
                f,
                "input buffer of {have} bytes cannot hold a whole command; it needs {need} (lower max command size or raise the buffer)"
            ),
            ConfigError::ZeroHwm => f.write_str("queue high-water mark must be above zero"),
        }
    }
}

/// The device has no free slot for another peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PeerTableFull;

impl fmt::Display for PeerTableFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("peer table full (raise max peers)")
    }
}

/// Why the device wants a connection closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CloseReason {
    /// The session ended (timeouts; errors found while feeding come back from `handle_input`).
    Session(SessionError),
    /// The peer was taking a message whose sender left mid-way, and part of it had already
    /// been written to the peer's socket.
    SenderAborted,
    /// The peer's queue could not take what the protocol owes it (a publisher that does not
    /// read its subscriptions, or a queue smaller than `queue_capacity`).
    Overflow,
    /// Bytes owed to the peer were lost on the way ([`Device::fail_peer`]): its stream has a
    /// gap, so nothing more may be written to it.
    Lost,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Session(e) => write!(f, "{e}"),
            CloseReason::SenderAborted => {
                f.write_str("reset: the sender of a message in progress left")
            }
            CloseReason::Overflow => f.write_str("outbound queue overflow"),
            CloseReason::Lost => f.write_str("output lost on the way to it"),
        }
    }
}

/// Intrusive lists of slot indices, linked through [`Slot`]: wake-ups, closes, blocked sources.
#[derive(Clone, Copy, Debug, Default)]
struct List {
    head: Option<u32>,
    tail: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListKind {
    Wake,
    Close,
    Blocked,
}

/// A ZeroMQ device over caller-provided storage; see the module docs.
#[derive(Debug)]
pub struct Device<'s, Q> {
    cfg: DeviceConfig,
    slots: &'s mut [Slot<Q>],
    subs: SubTable<'s>,
    stats: Stats,
    wake: List,
    close: List,
    blocked: List,
    /// Round-robin cursor into the ring of ready backend workers.
    workers: Option<u32>,
    /// Destinations held by messages in progress, all sources together.
    held: u32,
    epoch: u32,
}

impl<'s, Q: ByteQueue> Device<'s, Q> {
    /// `peers.len()` is the most peers at once; `subs` (zeroed bytes) holds
    /// `subs.len() / SUB_ENTRY_LEN` subscriptions.
    pub fn new(cfg: DeviceConfig, peers: &'s mut [Slot<Q>], subs: &'s mut [u8]) -> Self {
        Device {
            cfg,
            slots: peers,
            subs: SubTable::new(subs),
            stats: Stats::default(),
            wake: List::default(),
            close: List::default(),
            blocked: List::default(),
            workers: None,
            held: 0,
            epoch: 0,
        }
    }

    pub fn config(&self) -> &DeviceConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Subscriptions held now, and the most the table can hold.
    pub fn subscriptions(&self) -> (usize, usize) {
        (self.subs.len(), self.subs.capacity())
    }

    /// Take a new connection. Our greeting is queued at once.
    pub fn add_peer(
        &mut self,
        side: Side,
        queue: Q,
        now: Instant,
    ) -> Result<PeerId, PeerTableFull> {
        let index = self
            .slots
            .iter()
            .position(|s| s.peer.is_none())
            .ok_or(PeerTableFull)?;
        let session = Session::new(self.cfg.session_config(side), now);
        let slot = &mut self.slots[index];
        slot.peer = Some(Peer::new(session, queue, side));
        let id = PeerId {
            index: index as u32,
            generation: slot.generation,
        };
        let side_stats = self.side_stats(side);
        side_stats.peers += 1;
        side_stats.connections += 1;
        self.flush_control(index as u32);
        Ok(id)
    }

    /// Forget a connection that is gone. A message it was sending is taken back out of the
    /// queues it went to (or their peers are reset); one it was receiving is abandoned.
    pub fn remove_peer(&mut self, id: PeerId) {
        let Some(idx) = self.index(id) else { return };
        self.abort_message(idx);
        self.leave_holder(idx);
        self.unlink_worker(idx);
        if matches!(self.cfg.kind, Kind::Forwarder { .. })
            && self.peer(idx).is_some_and(|p| p.side == Side::Backend)
        {
            self.drop_subscriptions(idx);
        }
        let slot = &mut self.slots[idx as usize];
        if let Some(peer) = slot.peer.take() {
            slot.generation = slot.generation.wrapping_add(1);
            self.side_stats(peer.side).peers -= 1;
        }
        self.wake_blocked();
    }

    /// Take in bytes from a peer: all the bytes its connection holds, from the oldest. Returns
    /// how many were used; keep the rest. An error ends the peer's session: write what
    /// [`Device::output`] still holds (an ERROR command, maybe), then close it.
    pub fn handle_input(
        &mut self,
        id: PeerId,
        input: &[u8],
        now: Instant,
    ) -> Result<usize, SessionError> {
        let idx = self.index(id).ok_or(SessionError::Closed)?;
        let full = input.len() >= self.cfg.input_capacity;
        let mut consumed = 0;
        let result = loop {
            match self.step(
                idx,
                &input[consumed..],
                consumed == 0,
                full && consumed == 0,
                now,
            ) {
                Ok(0) => break Ok(consumed),
                Ok(n) => consumed += n,
                Err(e) => break Err(e),
            }
        };
        if let Err(e) = result {
            self.on_session_end(idx, e);
        }
        self.flush_control(idx);
        result
    }

    /// The caller lost bytes the device had handed it for this peer (taken from
    /// [`Device::output`] and never written): nothing more goes to it, a message it was
    /// receiving lets its source go, and it is put up for closing with
    /// [`CloseReason::Lost`]. Close it without writing what its queue still holds.
    pub fn fail_peer(&mut self, id: PeerId) {
        let Some(idx) = self.index(id) else { return };
        self.abort_message(idx);
        self.leave_holder(idx);
        self.unlink_worker(idx);
        if let Some(peer) = self.peer_mut(idx) {
            peer.ready = false;
        }
        self.stats.resets += 1;
        self.request_close(idx, CloseReason::Lost);
    }

    /// Whether a peer's input is stuck: `held` bytes, a full input buffer, that the device
    /// wants and could not take (the last [`Device::handle_input`] used none of them). It
    /// cannot make progress; close it.
    pub fn input_stuck(&self, id: PeerId, held: usize) -> bool {
        held >= self.cfg.input_capacity && self.wants_read(id)
    }

    /// Whether more input may be fed for this peer; false while it waits for room.
    pub fn wants_read(&self, id: PeerId) -> bool {
        self.index(id)
            .and_then(|i| self.peer(i))
            .is_some_and(|p| !p.blocked && !p.session.is_closed())
    }

    /// Bytes waiting to be written to the peer's socket, oldest first.
    pub fn output(&self, id: PeerId) -> (&[u8], &[u8]) {
        match self.index(id).and_then(|i| self.peer(i)) {
            Some(p) => p.queue.front(),
            None => (&[], &[]),
        }
    }

    /// `n` bytes of [`Device::output`] were written to the socket.
    pub fn consume_output(&mut self, id: PeerId, n: usize) {
        let Some(idx) = self.index(id) else { return };
        let hwm = self.cfg.queue_hwm;
        let Some(peer) = self.peer_mut(idx) else {
            return;
        };
        let was_above = peer.queue.len() >= hwm;
        let n = n.min(peer.queue.len());
        peer.queue.consume(n);
        peer.written += n as u64;
        if was_above && peer.queue.len() < hwm {
            self.wake_blocked();
        }
    }

    /// Next peer with new output, or able to take input again, since the last call.
    pub fn poll_wake(&mut self) -> Option<PeerId> {
        self.pop_live(ListKind::Wake)
    }

    /// Next peer the device wants closed, and why. Write what output it has if that is quick,
    /// close it, and call [`Device::remove_peer`].
    pub fn poll_close(&mut self) -> Option<(PeerId, CloseReason)> {
        // An entry whose slot was reused by a peer nobody wants closed is skipped.
        loop {
            let id = self.pop_live(ListKind::Close)?;
            if let Some(reason) = self.peer(id.index).and_then(|p| p.close) {
                return Some((id, reason));
            }
        }
    }

    /// The earliest timer of any peer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| s.peer.as_ref()?.session.poll_timeout())
            .min()
    }

    /// Fire every peer timer due at `now`: PINGs go out, dead peers are put up for closing.
    pub fn handle_timeout(&mut self, now: Instant) {
        for idx in 0..self.slots.len() as u32 {
            let Some(peer) = self.peer_mut(idx) else {
                continue;
            };
            if peer.session.poll_timeout().is_none_or(|t| t > now) {
                continue;
            }
            match peer.session.handle_timeout(now) {
                Ok(()) => self.flush_control(idx),
                Err(e) => {
                    self.on_session_end(idx, e);
                    self.request_close(idx, CloseReason::Session(e));
                }
            }
        }
    }

    // ---- slots and lists ----

    fn index(&self, id: PeerId) -> Option<u32> {
        let slot = self.slots.get(id.index as usize)?;
        (slot.generation == id.generation && slot.peer.is_some()).then_some(id.index)
    }

    fn id(&self, idx: u32) -> PeerId {
        PeerId {
            index: idx,
            generation: self.slots[idx as usize].generation,
        }
    }

    fn peer(&self, idx: u32) -> Option<&Peer<Q>> {
        self.slots.get(idx as usize)?.peer.as_ref()
    }

    fn peer_mut(&mut self, idx: u32) -> Option<&mut Peer<Q>> {
        self.slots.get_mut(idx as usize)?.peer.as_mut()
    }

    fn side_stats(&mut self, side: Side) -> &mut SideStats {
        match side {
            Side::Frontend => &mut self.stats.frontend,
            Side::Backend => &mut self.stats.backend,
        }
    }

    fn list(&mut self, kind: ListKind) -> &mut List {
        match kind {
            ListKind::Wake => &mut self.wake,
            ListKind::Close => &mut self.close,
            ListKind::Blocked => &mut self.blocked,
        }
    }

    /// Append a slot to a list unless it is on it already. Entries outlive their peer: a
    /// popped entry whose peer is gone is skipped, one whose slot was reused wakes it for
    /// nothing, which is harmless.
    fn push_list(&mut self, kind: ListKind, idx: u32) {
        let slot = &mut self.slots[idx as usize];
        let link = slot.link_mut(kind);
        if link.queued {
            return;
        }
        link.queued = true;
        link.next = None;
        let list = *self.list(kind);
        match list.tail {
            Some(tail) => self.slots[tail as usize].link_mut(kind).next = Some(idx),
            None => self.list(kind).head = Some(idx),
        }
        self.list(kind).tail = Some(idx);
    }

    fn pop_list(&mut self, kind: ListKind) -> Option<u32> {
        let idx = self.list(kind).head?;
        let link = self.slots[idx as usize].link_mut(kind);
        let next = link.next.take();
        link.queued = false;
        let list = self.list(kind);
        list.head = next;
        if next.is_none() {
            list.tail = None;
        }
        Some(idx)
    }

    fn pop_live(&mut self, kind: ListKind) -> Option<PeerId> {
        while let Some(idx) = self.pop_list(kind) {
            if self.peer(idx).is_some() {
                return Some(self.id(idx));
            }
        }
        None
    }

    fn request_wake(&mut self, idx: u32) {
        self.push_list(ListKind::Wake, idx);
    }

    fn request_close(&mut self, idx: u32, reason: CloseReason) {
        if let Some(peer) = self.peer_mut(idx) {
            peer.close.get_or_insert(reason);
            self.push_list(ListKind::Close, idx);
        }
    }

    /// Every blocked source gets another try.
    fn wake_blocked(&mut self) {
        while let Some(idx) = self.pop_list(ListKind::Blocked) {
            if let Some(peer) = self.peer_mut(idx) {
                peer.blocked = false;
                self.request_wake(idx);
            }
        }
    }

    fn block(&mut self, idx: u32) {
        if let Some(peer) = self.peer_mut(idx) {
            peer.blocked = true;
            self.push_list(ListKind::Blocked, idx);
        }
    }

    /// Move owed commands (greeting, READY, PONG, PING, ERROR) into the peer's queue, unless a
    /// message is being copied into it: commands wait for the message boundary.
    fn flush_control(&mut self, idx: u32) {
        let Some(peer) = self.peer_mut(idx) else {
            return;
        };
        if peer.held_by.is_some() || !peer.session.wants_transmit() {
            return;
        }
        let mut buf = [0u8; TRANSMIT_BUFFER];
        let n = peer.session.poll_transmit(&mut buf);
        if peer.queue.push(&buf[..n]).is_err() {
            self.request_close(idx, CloseReason::Overflow);
            return;
        }
        peer.pushed += n as u64;
        self.request_wake(idx);
    }

    fn on_session_end(&mut self, idx: u32, e: SessionError) {
        let Some(peer) = self.peer(idx) else { return };
        let side = peer.side;
        if !peer.ready || !matches!(e, SessionError::HeartbeatTimeout | SessionError::TtlExpired) {
            self.side_stats(side).refused += 1;
        }
        // Nothing more is routed to or from a peer whose session ended, even before the
        // caller removes it.
        self.abort_message(idx);
        self.leave_holder(idx);
        self.unlink_worker(idx);
        if let Some(peer) = self.peer_mut(idx) {
            peer.ready = false;
        }
    }
}

/// A slot's place on one of the device's lists.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Link {
    pub(crate) queued: bool,
    pub(crate) next: Option<u32>,
}

#[cfg(test)]
mod tests;
