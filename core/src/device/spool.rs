//! A streamer's store-and-forward spool (issue 15): while no worker can take work (the uplink
//! is down, or every worker is at its high-water mark), the producers' messages go to a
//! **sink** instead of waiting, and the caller writes what the sink is given to disk; what
//! the disk holds comes back through a **source** and goes to the workers, in order, ahead
//! of new work.
//!
//! Both are peers with no connection under them ([`Session::local`]): the sink is a backend
//! peer outside the ring of workers, whose output the caller takes ([`Device::output`] and
//! [`Device::consume_output`], as for a socket); the source a frontend peer whose input the
//! caller gives ([`Device::handle_input`]), the spooled messages' frames as they were queued.
//!
//! Once spooling starts, every new message goes to the sink until the caller says the spool
//! is empty ([`Device::spool_emptied`]) with nothing in the sink or on its way through the
//! source: the workers get the spooled messages first, then the new ones, in the order they
//! came. The source's messages go to the workers only, never back to the sink; while none has
//! room it waits, as a producer would.
//!
//! Neither peer counts among the side's peers, and neither is ever closed: a sink the caller
//! stops taking from (its disk failed) fills to its high-water mark, and then the producers
//! wait as they would without a spool. The caller takes the sink's output as it comes, whole
//! messages or not (one larger than its mark is cut through to it), and keeps a message
//! until its last frame is there: a producer that leaves mid-message has what the sink still
//! holds of it taken back, and the caller drops what it took ([`Device::spool_resets`]).

use super::peer::Src;
use super::pump::Route;
use super::{ByteQueue, Device, Kind, PeerId, PeerTableFull, Side, SideStats};
use crate::conn::Session;
use crate::time::Instant;

/// The spool's two peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SpoolPeers {
    /// Give the disk what its output holds.
    pub sink: PeerId,
    /// Give it what the disk holds, as its input.
    pub source: PeerId,
}

/// The spool's peers, by slot, and whether new work goes to the sink.
#[derive(Clone, Copy, Debug)]
pub(super) struct SpoolLink {
    sink: u32,
    source: u32,
    active: bool,
    /// Times spooling started.
    started: u64,
    /// Messages cut through to the sink that their producer never finished.
    resets: u64,
    /// The sink's traffic out (what went to the spool) and the source's in (what came back):
    /// not counted with the sides'.
    pub(super) traffic: SideStats,
}

impl<Q: ByteQueue> Device<'_, Q> {
    /// Give a streamer a spool: two peers over `sink` and `source` (queues as any peer's). Other
    /// devices have none (`None`); neither does one given one already.
    pub fn add_spool(
        &mut self,
        sink: Q,
        source: Q,
        now: Instant,
    ) -> Result<Option<SpoolPeers>, PeerTableFull> {
        if self.cfg.kind != Kind::Streamer || self.spool.is_some() {
            return Ok(None);
        }
        let sink_id = self.add_local(Side::Backend, sink, now)?;
        let source_id = match self.add_local(Side::Frontend, source, now) {
            Ok(id) => id,
            Err(e) => {
                self.slots[sink_id.index as usize].peer = None;
                return Err(e);
            }
        };
        self.spool = Some(SpoolLink {
            sink: sink_id.index,
            source: source_id.index,
            active: false,
            started: 0,
            resets: 0,
            traffic: SideStats::default(),
        });
        Ok(Some(SpoolPeers {
            sink: sink_id,
            source: source_id,
        }))
    }

    /// A peer with no connection: its session is active at once, and it is not counted among
    /// its side's peers.
    fn add_local(&mut self, side: Side, queue: Q, now: Instant) -> Result<PeerId, PeerTableFull> {
        let session = Session::local(self.cfg.session_config(side), now);
        self.place(session, queue, side, now)
    }

    /// The spool's peers, if it has one.
    pub fn spool_peers(&self) -> Option<SpoolPeers> {
        let s = self.spool?;
        Some(SpoolPeers {
            sink: self.id(s.sink),
            source: self.id(s.source),
        })
    }

    /// Whether new work goes to the spool, and how many times it has started to.
    pub fn spooling(&self) -> (bool, u64) {
        self.spool.map_or((false, 0), |s| (s.active, s.started))
    }

    /// Messages and bytes that went to the spool (`msgs_out`, `bytes_out`) and came back
    /// from it (`msgs_in`, `bytes_in`), counted apart from the sides'.
    pub fn spool_traffic(&self) -> Option<SideStats> {
        self.spool.map(|s| s.traffic)
    }

    /// The caller's spool holds messages already (from before a restart): new work goes to
    /// the sink, behind them, until [`Device::spool_emptied`].
    pub fn spool_begin(&mut self) {
        if let Some(s) = self.spool.as_mut().filter(|s| !s.active) {
            s.active = true;
            s.started += 1;
        }
    }

    /// The caller's spool holds nothing more to send: new work goes to the workers again, if
    /// nothing is in the sink or on its way through the source (else the caller says so
    /// again once it has sent that). Returns whether it does.
    pub fn spool_emptied(&mut self) -> bool {
        let Some(s) = self.spool else { return true };
        if !s.active {
            return true;
        }
        let sink_empty = self
            .peer(s.sink)
            .is_none_or(|p| p.queue.is_empty() && p.held.is_none());
        let source_idle = self.peer(s.source).is_none_or(|p| p.src == Src::Idle);
        if !(sink_empty && source_idle) {
            return false;
        }
        if let Some(sp) = self.spool.as_mut() {
            sp.active = false;
        }
        // Producers waiting for the sink's room find workers now.
        self.wake_all_blocked();
        true
    }

    /// The source's session ended (its input was refused: spooled under settings the device
    /// no longer has): what it was sending is taken back, and it starts afresh.
    pub fn spool_source_reset(&mut self, now: Instant) {
        let Some(s) = self.spool else { return };
        self.abort_message(s.source);
        let cfg = self.cfg.session_config(Side::Frontend);
        if let Some(p) = self.peer_mut(s.source) {
            p.session = Session::local(cfg, now);
            p.blocked = false;
        }
    }

    /// How many messages the sink was given part of and will never get the rest of (their
    /// producer left mid-message): when it grows, the caller drops what it took of the
    /// message it has not seen the end of. What the sink holds after is whole messages.
    pub fn spool_resets(&self) -> u64 {
        self.spool.map_or(0, |s| s.resets)
    }

    pub(super) fn spool_sink(&self) -> Option<u32> {
        self.spool.map(|s| s.sink)
    }

    pub(super) fn sink_reset(&mut self) {
        if let Some(s) = self.spool.as_mut() {
            s.resets += 1;
        }
    }

    /// The counters a peer's traffic goes to: its side's, or the spool's for its peers (a
    /// message through the spool counts once on each side, as one that passed it by).
    pub(super) fn counts_of(&mut self, idx: u32, side: Side) -> &mut SideStats {
        match self.spool.as_mut() {
            Some(s) if s.sink == idx || s.source == idx => &mut s.traffic,
            _ => &mut self.stats.sides[side.index()],
        }
    }

    /// Whether `idx` is one of the spool's peers, which the device never closes.
    pub(super) fn is_spool(&self, idx: u32) -> bool {
        self.spool.is_some_and(|s| s.sink == idx || s.source == idx)
    }

    /// A streamer's message from `idx`, with a spool: the source's to a worker (or wait);
    /// a producer's to the sink while spooling, else to a worker, or to the sink (spooling
    /// from now) when no worker has room.
    pub(super) fn route_spooled(&mut self, idx: u32, s: SpoolLink) -> Route {
        if idx == s.source {
            return match self.pick_worker() {
                Some(w) => {
                    self.hold(idx, w);
                    Route::Go
                }
                None => Route::Blocked,
            };
        }
        if !s.active {
            if let Some(w) = self.pick_worker() {
                self.hold(idx, w);
                return Route::Go;
            }
            // A worker busy with another producer's message, or short of memory, is waited
            // for; spooling starts only when there is none, or every one is at its mark.
            if !self.workers_all_full() || self.memory_blocked {
                return Route::Blocked;
            }
        }
        let (hwm, need) = (self.cfg.queue_hwm, self.need);
        let Some(p) = self.peer_mut(s.sink) else {
            return Route::Blocked;
        };
        if p.held.is_some() || p.queue.len() >= hwm {
            return Route::Blocked;
        }
        if !p.queue.reserve(need) {
            self.memory_blocked = true;
            return Route::Blocked;
        }
        if let Some(sp) = self.spool.as_mut() {
            if !sp.active {
                sp.active = true;
                sp.started += 1;
            }
        }
        self.hold(idx, s.sink);
        Route::Go
    }
}
