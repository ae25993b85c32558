//! What an operator may ask about each peer (the control endpoint's `PEERS`): its traffic,
//! when it joined, who it said it was. Read through [`Device::peers`] and
//! [`Device::peer_view`], never on the message path.
//!
//! The counters are kept per peer where the side's counters ([`SideStats`]) are counted, in
//! the same units (whole messages, frame body bytes, a fanned-out message once per copy), so
//! that a side's peers add up to its counters: an add or two per message and destination,
//! where the peer is at hand already.
//!
//! [`SideStats`]: super::SideStats

use super::peer::Peer;
use super::{ByteQueue, Device, PeerId, Side};
use crate::conn::PeerReady;
use crate::time::Instant;
use crate::wire::metadata::SocketType;

/// A peer's traffic, counted as [`SideStats`](super::SideStats) counts its side's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Traffic {
    /// Whole messages received from it.
    pub msgs_in: u64,
    /// Their frame body bytes.
    pub bytes_in: u64,
    /// Whole messages queued to it.
    pub msgs_out: u64,
    /// Their frame body bytes (a queue worker's include zedge's routing frame).
    pub bytes_out: u64,
}

/// What a peer's slot keeps for [`PeerView`]: about 48 bytes a slot. Its Identity is not
/// kept here: at up to 255 bytes it would grow every slot of the table by more than the rest
/// of these facts together, for a property most peers leave empty and nothing routes by (the
/// queue routes by zedge's own ids). The device keeps the last peer's to become ready instead
/// ([`Device::joined_identity`]), for the caller to keep for as long as it wants, where memory
/// is counted per connection already.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Facts {
    pub(crate) traffic: Traffic,
    /// When it was added.
    pub(crate) since: Instant,
    /// Its socket type and the ZMTP version spoken with it (major, minor), once its handshake
    /// is done.
    pub(crate) ready: Option<(SocketType, (u8, u8))>,
}

impl Facts {
    pub(crate) fn new(now: Instant) -> Self {
        Facts {
            traffic: Traffic::default(),
            since: now,
            ready: None,
        }
    }
}

/// One peer, as [`Device::peers`] shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerView {
    /// Its handle, for the caller's own books (its address, say).
    pub id: PeerId,
    /// The side it connected to.
    pub side: Side,
    /// When [`Device::add_peer`] took it.
    pub since: Instant,
    /// The socket type its READY named; `None` while its handshake goes on.
    pub socket_type: Option<SocketType>,
    /// The ZMTP version spoken with it, major and minor (3.0, 3.1, or 2.0 with an older
    /// peer); `None` while its handshake goes on.
    pub zmtp: Option<(u8, u8)>,
    /// What it sent and was sent.
    pub traffic: Traffic,
    /// Bytes in its queue, not yet handed to the caller to write.
    pub queued: u64,
    /// Messages it lost ([`Device::each_lossy`]).
    pub dropped: u64,
}

/// The Identity of the peer that became ready last: one buffer for the device, not one per
/// slot (see [`Facts`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Joined {
    peer: Option<PeerId>,
    len: u8,
    identity: [u8; 255],
}

impl Default for Joined {
    fn default() -> Self {
        Joined {
            peer: None,
            len: 0,
            identity: [0; 255],
        }
    }
}

impl<Q: ByteQueue> Device<'_, Q> {
    /// Every peer in the table, handshake done or not, in slot order: a walk over every slot,
    /// for an operator's question (not for the message path).
    pub fn peers(&self) -> impl Iterator<Item = PeerView> + '_ {
        (0..self.slots.len() as u32).filter_map(|idx| self.view(idx))
    }

    /// One peer, if it is still there.
    pub fn peer_view(&self, id: PeerId) -> Option<PeerView> {
        self.index(id).and_then(|idx| self.view(idx))
    }

    /// The Identity `id` sent in its READY, when it is the peer that became ready last (and
    /// is still there); empty if it sent none. The device keeps one: ask right after the
    /// [`Device::handle_input`] call that finished its handshake
    /// ([`PeerView::socket_type`] turned `Some`), before feeding another peer.
    pub fn joined_identity(&self, id: PeerId) -> Option<&[u8]> {
        self.index(id)?;
        (self.joined.peer == Some(id)).then(|| &self.joined.identity[..self.joined.len.into()])
    }

    fn view(&self, idx: u32) -> Option<PeerView> {
        let p: &Peer<Q> = self.peer(idx)?;
        Some(PeerView {
            id: self.id(idx),
            side: p.side,
            since: p.facts.since,
            socket_type: p.facts.ready.map(|r| r.0),
            zmtp: p.facts.ready.map(|r| r.1),
            traffic: p.facts.traffic,
            queued: p.queue.len() as u64,
            dropped: p.dropped,
        })
    }

    /// `idx` finished its handshake as `r` says.
    pub(super) fn note_ready(&mut self, idx: u32, r: &PeerReady<'_>) {
        if let Some(p) = self.peer_mut(idx) {
            p.facts.ready = Some((r.socket_type, (r.major, r.minor)));
            p.zedge = r.zedge;
        }
        // The session refuses an Identity over 255 bytes; cut to fit all the same.
        let len = r.identity.len().min(self.joined.identity.len());
        self.joined.identity[..len].copy_from_slice(&r.identity[..len]);
        self.joined.len = len as u8;
        self.joined.peer = Some(self.id(idx));
    }
}
