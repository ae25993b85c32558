//! A peer's slot in the device: its session, its outbound queue, and its routing state.

use super::{CloseReason, Link, ListKind, Side};
use crate::conn::Session;

/// Storage for one peer; the device's capacity is the length of the caller's slot slice.
#[derive(Debug)]
pub struct Slot<Q> {
    /// Bumped each time the slot is reused, so stale [`PeerId`](super::PeerId)s miss.
    pub(crate) generation: u32,
    pub(crate) peer: Option<Peer<Q>>,
    wake: Link,
    close: Link,
    blocked: Link,
}

impl<Q> Default for Slot<Q> {
    fn default() -> Self {
        Slot {
            generation: 0,
            peer: None,
            wake: Link::default(),
            close: Link::default(),
            blocked: Link::default(),
        }
    }
}

impl<Q> Slot<Q> {
    pub(crate) fn link_mut(&mut self, kind: ListKind) -> &mut Link {
        match kind {
            ListKind::Wake => &mut self.wake,
            ListKind::Close => &mut self.close,
            ListKind::Blocked => &mut self.blocked,
        }
    }
}

/// What a peer is doing as the source of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Src {
    /// Between messages.
    Idle,
    /// Copying a message to the destinations it holds (the list may be empty: no subscriber).
    Forwarding {
        /// The next frame to start is the message's first (a queue reply's routing frame).
        first: bool,
    },
    /// Reading the rest of a message that goes nowhere.
    Discarding,
}

#[derive(Debug)]
pub(crate) struct Peer<Q> {
    pub(crate) session: Session,
    pub(crate) queue: Q,
    pub(crate) side: Side,
    /// Bytes ever pushed to / written from `queue`: marks for taking back a partial message.
    pub(crate) pushed: u64,
    pub(crate) written: u64,

    pub(crate) src: Src,
    /// The current frame is the message's last.
    pub(crate) last_frame: bool,
    /// First destination this peer holds as a source (a list through `next_dest`).
    pub(crate) dests: Option<u32>,

    /// The source whose message is being copied into our queue.
    pub(crate) held_by: Option<u32>,
    /// `pushed` when that message started.
    pub(crate) mark: u64,
    pub(crate) next_dest: Option<u32>,

    /// The handshake finished.
    pub(crate) ready: bool,
    /// Waiting for room before more input is taken.
    pub(crate) blocked: bool,
    pub(crate) close: Option<CloseReason>,
    /// Neighbours in the ring of ready workers (queue and streamer backends).
    pub(crate) worker: Option<(u32, u32)>,
    /// Marks a subscriber already chosen for the message being fanned out.
    pub(crate) epoch: u32,
}

impl<Q> Peer<Q> {
    pub(crate) fn new(session: Session, queue: Q, side: Side) -> Self {
        Peer {
            session,
            queue,
            side,
            pushed: 0,
            written: 0,
            src: Src::Idle,
            last_frame: false,
            dests: None,
            held_by: None,
            mark: 0,
            next_dest: None,
            ready: false,
            blocked: false,
            close: None,
            worker: None,
            epoch: 0,
        }
    }
}
