//! A store-and-forward spool (issue 15). A streamer's: while no worker can take work (the
//! uplink is down, or every worker is at its high-water mark), the producers' messages go to
//! a **sink** instead of waiting, and the caller writes what the sink is given to disk; what
//! the disk holds comes back through a **source** and goes to the workers, in order, ahead
//! of new work.
//!
//! A forwarder's stands in for its **uplinks**, the subscribers the caller names
//! ([`Device::set_uplink`]: those it connected to, upstream brokers), each in a **lane** the
//! caller gives it ([`Device::add_spool_lane`]; one per uplink, so each goes at its own
//! pace). A lane spools while none of its uplinks is connected or one is at its high-water
//! mark: what its uplinks would get goes to the sink instead of being dropped, and from then
//! on every publication does for them, until the caller has sent the lane what it missed
//! ([`Device::spool_emptied`]); the other lanes' uplinks, and the other subscribers, get
//! theirs live all along. The sink takes a publication once, whichever lanes spool; the
//! caller tells each lane's messages apart by where it began to spool in the sink's stream
//! ([`Device::spool_lane_from`]). The sink subscribes to everything (a publisher sends all
//! while the uplinks are away); a lane's source's messages go to the lane's uplinks the
//! caller says are ready (their subscriptions in), as their subscriptions match, waiting
//! while one has no room, and never to anyone else nor into the last-value cache.
//!
//! They are peers with no connection under them ([`Session::local`]): the sink is a backend
//! peer outside the ring of workers, whose output the caller takes ([`Device::output`] and
//! [`Device::consume_output`], as for a socket); a source a frontend peer whose input the
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

use super::later;
use super::peer::{Peer, Src};
use super::pump::Route;
use super::{ByteQueue, CloseReason, Device, Kind, PeerId, PeerTableFull, Side, SideStats};
use crate::conn::Session;
use crate::time::Instant;

/// A forwarder's spool stands in for at most this many uplinks ([`Device::set_uplink`]), and
/// has at most this many lanes ([`Device::add_spool_lane`]).
pub const MAX_UPLINKS: usize = 8;

/// Uplink connections a spool follows at once: each lane's, and room for one that connects
/// again while the device still holds its last connection.
const UPLINK_SLOTS: usize = 2 * MAX_UPLINKS;

/// An uplink of a forwarder's spool.
#[derive(Clone, Copy, Debug)]
struct Uplink {
    id: PeerId,
    /// Its subscriptions are in: the source's messages may go to it.
    ready: bool,
    /// The lane whose source sends it the spooled messages.
    lane: usize,
}

/// A way out of the spool: a source, and whether new work for its receivers goes to the
/// sink. A streamer has one, for its workers; a forwarder one for each group of uplinks the
/// caller makes (one per uplink: each at its own pace).
#[derive(Clone, Copy, Debug)]
struct Lane {
    source: u32,
    /// New work for its receivers goes to the sink: they are away, or full, or have spooled
    /// messages to get first.
    active: bool,
    /// The sink's bytes ever queued when it last became active: the messages the sink was
    /// given from there on are this lane's to send too (those before, its receivers had
    /// live).
    from: u64,
    /// It became active while a message was being copied into the sink (cut through): the
    /// bytes then held back for the sink behind that message (`later.rs`). They were
    /// published before the lane began, and its receivers had them live. Its `from` is where
    /// those end, known once that message ends or is let go ([`Device::sink_released`]);
    /// until then it is past anything the sink holds. (Attacker round 26, F1: `from` was the
    /// sink's count then, before those held back, and the caller sent them to the lane's
    /// receivers a second time, out of order.)
    behind: Option<u64>,
}

impl Lane {
    fn new(source: u32) -> Lane {
        Lane {
            source,
            active: false,
            from: 0,
            behind: None,
        }
    }

    /// Where its messages begin in the sink's stream, if known yet (else past any point).
    fn begins(&self) -> u64 {
        if self.behind.is_some() {
            u64::MAX
        } else {
            self.from
        }
    }
}

/// The spool's two peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SpoolPeers {
    /// Give the disk what its output holds.
    pub sink: PeerId,
    /// Give it what the disk holds, as its input.
    pub source: PeerId,
}

/// The large messages a spool's sink let go of for want of memory, while they came slowly
/// and others were held back behind them ([`Device::spool_let_go`]): lost to the spool (to
/// every lane that spools), counted with `dropped.memory`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LetGo {
    /// How many, in all.
    pub times: u64,
    /// The last one: the bytes of it the sink had taken.
    pub taken: u64,
    /// The last one: the bytes held back behind it, which then went in.
    pub behind: u64,
}

/// The spool's peers, by slot, and whether new work goes to the sink.
#[derive(Clone, Copy, Debug)]
pub(super) struct SpoolLink {
    sink: u32,
    /// Its lanes: the first is there from the start.
    lanes: [Option<Lane>; MAX_UPLINKS],
    /// Times a lane started spooling.
    started: u64,
    /// Messages cut through to the sink that their producer never finished.
    resets: u64,
    /// Large messages the sink let go of for want of memory.
    let_go: LetGo,
    /// The sink's traffic out (what went to the spool) and the source's in (what came back):
    /// not counted with the sides'.
    pub(super) traffic: SideStats,
    /// A forwarder's uplinks (none for a streamer's).
    uplinks: [Option<Uplink>; UPLINK_SLOTS],
    /// The caller's disk fails: a forwarder's sink at its mark loses messages rather than
    /// holding the publishers (and the local subscribers' live traffic) up.
    failing: bool,
}

/// A forwarder's uplinks, by slot: those live at the start of a message's fan-out, or those
/// a message passes over.
pub(super) struct Live {
    idx: [u32; UPLINK_SLOTS],
    n: usize,
}

impl Live {
    fn none() -> Live {
        Live {
            idx: [0; UPLINK_SLOTS],
            n: 0,
        }
    }

    pub(super) fn has(&self, p: u32) -> bool {
        self.idx[..self.n].contains(&p)
    }

    fn push(&mut self, p: u32) {
        if self.n < UPLINK_SLOTS && !self.has(p) {
            self.idx[self.n] = p;
            self.n += 1;
        }
    }

    fn slots(&self) -> &[u32] {
        &self.idx[..self.n]
    }
}

impl SpoolLink {
    /// Whether the source sends to a forwarder's uplinks (not a streamer's workers).
    fn forwards(&self, kind: Kind) -> bool {
        matches!(kind, Kind::Forwarder { .. })
    }

    /// The lane whose source is `idx`, if one's is.
    fn lane_of_source(&self, idx: u32) -> Option<usize> {
        self.lanes
            .iter()
            .position(|l| l.is_some_and(|l| l.source == idx))
    }

    fn lane(&self, lane: usize) -> Option<Lane> {
        self.lanes.get(lane).copied().flatten()
    }
}

impl<Q: ByteQueue> Device<'_, Q> {
    /// Give a streamer or a forwarder a spool: two peers over `sink` and `source` (queues as
    /// any peer's). A queue device has none (`None`); neither does one given one already.
    pub fn add_spool(
        &mut self,
        sink: Q,
        source: Q,
        now: Instant,
    ) -> Result<Option<SpoolPeers>, PeerTableFull> {
        let forwards = matches!(self.cfg.kind, Kind::Forwarder { .. });
        if !(self.cfg.kind == Kind::Streamer || forwards) || self.spool.is_some() {
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
        let mut lanes = [None; MAX_UPLINKS];
        lanes[0] = Some(Lane::new(source_id.index));
        self.spool = Some(SpoolLink {
            sink: sink_id.index,
            lanes,
            started: 0,
            resets: 0,
            let_go: LetGo::default(),
            traffic: SideStats::default(),
            uplinks: [None; UPLINK_SLOTS],
            failing: false,
        });
        if forwards {
            self.sink_subscribes(sink_id.index);
        }
        Ok(Some(SpoolPeers {
            sink: sink_id,
            source: source_id,
        }))
    }

    /// Another lane for a forwarder's spool: a source over `source`, for the uplinks the
    /// caller puts in it ([`Device::set_uplink`]); its number and the source. `None` for a
    /// streamer's spool, without a spool, or with [`MAX_UPLINKS`] lanes already.
    pub fn add_spool_lane(
        &mut self,
        source: Q,
        now: Instant,
    ) -> Result<Option<(usize, PeerId)>, PeerTableFull> {
        let Some(s) = self.spool.filter(|s| s.forwards(self.cfg.kind)) else {
            return Ok(None);
        };
        let Some(lane) = s.lanes.iter().position(Option::is_none) else {
            return Ok(None);
        };
        let id = self.add_local(Side::Frontend, source, now)?;
        if let Some(sp) = self.spool.as_mut() {
            sp.lanes[lane] = Some(Lane::new(id.index));
        }
        Ok(Some((lane, id)))
    }

    /// A forwarder's sink subscribes to everything, as the last-value cache does
    /// (`cache.rs`), and is sent nothing it held before (it never had a subscription).
    fn sink_subscribes(&mut self, sink: u32) {
        let Device { slots, subs, .. } = self;
        let Some(peer) = slots.get_mut(sink as usize).and_then(|s| s.peer.as_mut()) else {
            return;
        };
        let subscribed = subs.subscribe(&mut peer.subs, b"", false);
        if let Ok(Some((id, new))) = subscribed {
            self.passed_up(0);
            self.settle(id, new);
        }
    }

    /// A forwarder's subscriber `id` is an uplink, which the spool stands in for while it is
    /// away (a connection the caller made upstream), in `lane` (its source sends it the
    /// spooled messages; the lane spools while an uplink of its is away or full); `ready` once
    /// its subscriptions are in (the caller waits a while after its handshake): the spooled
    /// messages go only to ready uplinks. False if the device has no forwarder's spool, no
    /// such lane, or twice [`MAX_UPLINKS`] live uplinks already.
    pub fn set_uplink(&mut self, id: PeerId, lane: usize, ready: bool) -> bool {
        let Some(s) = self.spool.filter(|s| s.forwards(self.cfg.kind)) else {
            return false;
        };
        if s.lane(lane).is_none() {
            return false;
        }
        let mut ups = s.uplinks;
        // Those gone make room.
        for u in ups.iter_mut() {
            if u.is_some_and(|u| self.index(u.id).is_none()) {
                *u = None;
            }
        }
        let at = ups
            .iter()
            .position(|u| u.is_some_and(|u| u.id == id))
            .or_else(|| ups.iter().position(Option::is_none));
        let Some(at) = at else { return false };
        ups[at] = Some(Uplink { id, ready, lane });
        if let Some(sp) = self.spool.as_mut() {
            sp.uplinks = ups;
        }
        if ready {
            // The source may wait for it.
            self.wake_all_blocked();
        }
        true
    }

    /// A forwarder's uplinks that are connected and not closing, ready or not (those of
    /// `lane` only, if given).
    pub fn uplinks_live(&self, lane: Option<usize>) -> usize {
        self.spool
            .map_or(0, |s| self.live_uplinks(&s, false, lane).n)
    }

    /// A forwarder's uplinks of `lane` that are ready: connected, settled (the caller says
    /// so, [`Device::set_uplink`]) and with a subscription in.
    pub fn uplinks_ready(&self, lane: usize) -> usize {
        self.spool
            .map_or(0, |s| self.live_uplinks(&s, true, Some(lane)).n)
    }

    /// Whether the spool's sink is taking a message cut through (others held back behind
    /// it): where its stream will stand once that message ends is not known yet.
    pub fn spool_sink_busy(&self) -> bool {
        self.spool_sink()
            .and_then(|s| self.peer(s))
            .is_some_and(|p| p.held.is_some() || p.queue.later_len() > 0)
    }

    /// The lane of a forwarder's uplink `id`, if it is one.
    pub fn uplink_lane(&self, id: PeerId) -> Option<usize> {
        let s = self.spool?;
        s.uplinks
            .iter()
            .flatten()
            .find(|u| u.id == id)
            .map(|u| u.lane)
    }

    /// The peers `lane`'s source's messages may sit in the queues of (its uplinks, a
    /// streamer's workers: past their handshake) that hold bytes not yet written: each, with
    /// its bytes ever queued. Once [`Device::written`] reaches that, what it was given until
    /// now is written.
    pub fn spool_unwritten(&self, lane: usize, mut f: impl FnMut(PeerId, u64)) {
        let Some(s) = self.spool else { return };
        let mut each = |i: u32| {
            let unwritten = |p: &&Peer<Q>| p.session.is_ready() && p.pushed > p.written;
            if let Some(p) = self.peer(i).filter(unwritten) {
                f(self.id(i), p.pushed);
            }
        };
        if s.forwards(self.cfg.kind) {
            for u in s.uplinks.iter().flatten().filter(|u| u.lane == lane) {
                if let Some(i) = self.index(u.id) {
                    each(i);
                }
            }
            return;
        }
        for i in 0..self.slots.len() as u32 {
            let worker = self.peer(i).is_some_and(|p| p.side == Side::Backend);
            if worker && i != s.sink {
                each(i);
            }
        }
    }

    /// A streamer's workers past their handshake and not closing (with a spool), each with
    /// its bytes ever queued and ever written: for a caller that gives what one that stopped
    /// reading holds to the others ([`Device::take_back_output`]). None for a forwarder: its
    /// uplinks each get a copy of every message, so what one holds cannot go to another.
    pub fn spool_workers(&self, mut f: impl FnMut(PeerId, u64, u64)) {
        let Some(s) = self.spool.filter(|s| !s.forwards(self.cfg.kind)) else {
            return;
        };
        for i in 0..self.slots.len() as u32 {
            let worker = |p: &&Peer<Q>| p.side == Side::Backend && p.is_live();
            if let Some(p) = self.peer(i).filter(worker).filter(|_| i != s.sink) {
                f(self.id(i), p.pushed, p.written);
            }
        }
    }

    /// The bytes of a streamer's worker's queue past its first `keep` go, as if never queued,
    /// and the command frames among them, `commands`, are queued again in their place:
    /// whole messages it had not begun, that the caller gives to the other workers (its
    /// spool sends them again). A PONG among those commands counts as written once the
    /// queue's new end is. Nothing is done, and `false`, while a message is being copied into
    /// the queue (its end is not a message's), if it holds fewer than `keep` bytes, or if
    /// `commands` cannot be queued. The worker then gets new work only when no other can
    /// take it, until its socket takes some of its output again ([`Device::socket_took`]
    /// says so for one whose queue is empty).
    pub fn take_back_output(&mut self, id: PeerId, keep: usize, commands: &[u8]) -> bool {
        let streamer = self.cfg.kind == Kind::Streamer;
        let worker = self.peer_of(id).is_some_and(|p| p.side == Side::Backend);
        streamer && worker && self.cut_output(id, keep, commands, true)
    }

    /// As [`Device::take_back_output`], for a receiver of a spool's lane (a streamer's
    /// worker, a forwarder's uplink) whose lane has begun to spool: the whole messages it
    /// had live and not begun go into the spool, ahead of what the lane spools from now on
    /// (the caller writes them there), so that what it holds is in the spool by the time the
    /// device stops (attacker round 22, F3). It gets work as before.
    pub fn take_back_live(&mut self, id: PeerId, keep: usize, commands: &[u8]) -> bool {
        let receiver = self.is_uplink(id)
            || (self.cfg.kind == Kind::Streamer
                && self.peer_of(id).is_some_and(|p| p.side == Side::Backend));
        self.spool.is_some() && receiver && self.cut_output(id, keep, commands, false)
    }

    /// Bytes ever queued for `id` (its queue's end in its stream; [`Device::written`] its
    /// start, less what went past it).
    pub fn pushed(&self, id: PeerId) -> u64 {
        self.peer_of(id).map_or(0, |p| p.pushed)
    }

    fn peer_of(&self, id: PeerId) -> Option<&Peer<Q>> {
        self.index(id).and_then(|i| self.peer(i))
    }

    /// [`Device::take_back_output`]'s cut, for any peer; `taken_back`: it gets work only
    /// when no other worker can take it, from now on.
    fn cut_output(&mut self, id: PeerId, keep: usize, commands: &[u8], taken_back: bool) -> bool {
        let Some(idx) = self.index(id) else {
            return false;
        };
        let hwm = self.cfg.queue_hwm;
        let Some(p) = self.peer_mut(idx) else {
            return false;
        };
        let len = p.queue.len();
        if p.held.is_some() || keep > len {
            return false;
        }
        if commands.len() > len - keep {
            return false;
        }
        let base = p.pushed - (len - keep) as u64;
        p.queue.truncate_back(len - keep);
        if p.queue.push(commands).is_err() {
            // No room for fewer bytes than it held: its stream would have a gap.
            p.pushed = base;
            self.request_close(idx, CloseReason::Lost);
            return false;
        }
        let pushed = base + commands.len() as u64;
        p.pushed = pushed;
        if p.pong_end > pushed {
            p.pong_end = pushed;
        }
        p.taken_back |= taken_back;
        // Room where the queue was at its mark, or memory given back.
        if len >= hwm || self.memory_blocked {
            self.retry_blocked();
        }
        true
    }

    /// Whether `id` is one of a forwarder's spool's uplinks.
    pub fn is_uplink(&self, id: PeerId) -> bool {
        self.spool
            .is_some_and(|s| s.uplinks.iter().flatten().any(|u| u.id == id))
    }

    /// Whether the spool stands in for the subscriber `idx` (an uplink): the spool, not
    /// the last-value cache, gives it what it missed.
    pub(super) fn spools_for(&self, idx: u32) -> bool {
        self.spool.is_some_and(|s| {
            s.uplinks
                .iter()
                .flatten()
                .any(|u| self.index(u.id) == Some(idx))
        })
    }

    /// A forwarder's uplinks that are connected and not closing (`ready` ones only, if so:
    /// also with a subscription in, as a broker whose consumers came back late subscribes
    /// late; attacker round 20, F2); those of `lane` only, if given.
    fn live_uplinks(&self, s: &SpoolLink, ready: bool, lane: Option<usize>) -> Live {
        let mut live = Live::none();
        let of_lane = |u: &&Uplink| lane.is_none_or(|l| u.lane == l);
        for u in s.uplinks.iter().flatten().filter(of_lane) {
            let Some(i) = self.index(u.id) else { continue };
            let up = self.peer(i).is_some_and(|p| {
                p.is_live() && p.close.is_none() && (!ready || !p.subs.is_empty())
            });
            if up && (u.ready || !ready) {
                live.push(i);
            }
        }
        live
    }

    /// A forwarder's publication from a producer, with a spool: whether it goes to the sink
    /// (a lane spools: one of its uplinks is away or at its mark, or it has spooled messages
    /// to send first), and the uplinks to pass over for it (those of the lanes that spool).
    /// `None` without a forwarder's spool.
    pub(super) fn spill(&mut self, idx: u32) -> Option<(u32, bool, Live)> {
        let s = self.spool.filter(|s| s.forwards(self.cfg.kind))?;
        if s.lane_of_source(idx).is_some() {
            return None;
        }
        let mark = self.cfg.mark_for(self.need);
        let (sink_pushed, behind) = self.sink_point(s.sink);
        let (mut spill, mut skip) = (false, Live::none());
        for (k, lane) in s.lanes.iter().enumerate() {
            let Some(lane) = lane else { continue };
            let live = self.live_uplinks(&s, false, Some(k));
            // What is held back for it behind a large message counts (`later.rs`): past its
            // high-water mark with that, a publication would be lost to it, not spooled.
            let hwm = self.cfg.queue_hwm;
            let full = live.slots().iter().any(|&i| {
                self.peer(i).is_some_and(|p| {
                    p.queue.len() >= mark
                        || p.queue.len().saturating_add(p.queue.later_len()) >= hwm
                })
            });
            if !(lane.active || live.n == 0 || full) {
                continue;
            }
            spill = true;
            live.slots().iter().for_each(|&i| skip.push(i));
            if !lane.active {
                if let Some(sp) = self.spool.as_mut() {
                    sp.lanes[k] = Some(Lane {
                        active: true,
                        from: sink_pushed,
                        behind,
                        ..*lane
                    });
                    sp.started += 1;
                }
            }
        }
        Some((s.sink, spill, skip))
    }

    /// Whether a forwarder's publisher waits for the sink `sink` before its message goes
    /// (to the sink and the others): the sink is at its mark and the caller's disk takes
    /// what it holds.
    pub(super) fn sink_waits(&self, sink: u32) -> bool {
        let mark = self.cfg.mark_for(self.need);
        let failing = self.spool.is_some_and(|s| s.failing);
        !failing && self.peer(sink).is_some_and(|p| p.queue.len() >= mark)
    }

    /// The sink `sink` is taking a message cut through (larger than its mark, from a sender
    /// that may be slow), and the publication `msg` is to be held back behind it
    /// (`later.rs`). The sink holds back as much as memory allows, not only up to its
    /// high-water mark as a subscriber does: what it holds back is what every lane that
    /// spools would lose (attacker round 27, G1: 4,930 of 30,000 for each uplink while a 3 MB
    /// publication stalled half-way), and the large one's sender owes its rest within a
    /// patience from the first one held back on (`flight.rs`, `contend`). Without memory for
    /// `msg`, the sink lets go of the large one (lost to the spool, counted as for want of
    /// memory; the others it was going to still get it) and what was held back goes in, so
    /// that `msg` goes in too: a slow sender of large messages costs the spool its own
    /// message, not everyone else's, and no publisher waits for it.
    pub(super) fn sink_holds_back(&mut self, sink: u32, msg: &[u8]) {
        // Most publications find the sink taking none: they are not walked here.
        if self.peer(sink).and_then(|p| p.held).is_none() {
            return;
        }
        let Some((len, _)) = later::encoded_len(msg) else {
            return;
        };
        let Some(p) = self.peer_mut(sink) else { return };
        if p.queue.reserve_later(len) {
            return;
        }
        self.sink_gives_up_for_memory(sink);
    }

    /// [`Device::sink_gives_up`] for want of memory: the message is lost to the spool,
    /// counted as such, and told to the caller ([`Device::spool_let_go`]; attacker round 29,
    /// I7: only the count said it). Whether it was taking one.
    pub(super) fn sink_gives_up_for_memory(&mut self, sink: u32) -> bool {
        let Some(p) = self.peer(sink) else {
            return false;
        };
        let Some(held) = p.held else { return false };
        let taken = p.pushed.saturating_sub(held.mark);
        let behind = p.queue.later_len() as u64;
        self.sink_gives_up(sink);
        self.stats.dropped.memory += 1;
        if let Some(s) = self.spool.as_mut() {
            s.let_go = LetGo {
                times: s.let_go.times + 1,
                taken,
                behind,
            };
        }
        true
    }

    /// The sink stops taking the message a source cuts into it (the source lets go of it,
    /// [`Device::leave_holder`]) and lets go of what it has of it ([`Device::sink_lets_go`]):
    /// whether it was taking one.
    pub(super) fn sink_gives_up(&mut self, sink: u32) -> bool {
        let Some(held) = self.peer(sink).and_then(|p| p.held) else {
            return false;
        };
        self.leave_holder(sink);
        self.sink_lets_go(sink, held.mark);
        true
    }

    /// The caller's disk fails (or works again): a forwarder's sink at its mark loses what
    /// comes for it meanwhile (counted as above a high-water mark) instead of making the
    /// publishers wait. A streamer's producers wait for its sink regardless: they would
    /// wait without a spool.
    pub fn spool_failing(&mut self, failing: bool) {
        let Some(s) = self.spool.as_mut() else { return };
        let was = core::mem::replace(&mut s.failing, failing);
        if was && !failing {
            self.wake_all_blocked();
        }
    }

    /// The caller could not write `n` messages the sink gave it (its disk refuses writes at
    /// a stop), or deleted them past its size limit: lost, counted as above a high-water
    /// mark, as what the failing sink drops is.
    pub fn spool_lost(&mut self, n: u64) {
        self.stats.dropped.hwm += n;
    }

    /// A forwarder's spooled message, from a lane's source: to each of the lane's ready
    /// uplinks whose subscriptions match `prefix`, once every one has room for it (else it
    /// waits, as a streamer's producer does); with none ready, it waits for one.
    pub(super) fn route_unspooled(&mut self, idx: u32, prefix: &[u8], s: SpoolLink) -> Route {
        let live = self.live_uplinks(&s, true, s.lane_of_source(idx));
        if live.n == 0 {
            return Route::Blocked;
        }
        let (mark, need) = (self.cfg.mark_for(self.need), self.need);
        for &i in live.slots() {
            let Some(p) = self.peer_mut(i) else {
                return Route::Blocked;
            };
            if p.held.is_some() || p.queue.len() >= mark {
                return Route::Blocked;
            }
            let own = p.one_message();
            if !p.queue.reserve_beside(need, own) {
                if p.queue.is_empty() {
                    // An uplink holding nothing has no room for it: it never will, and the
                    // spool would wait behind it for good (attacker round 20, F3). Lost, as
                    // it would be live.
                    self.stats.dropped.memory += 1;
                    return Route::Discard;
                }
                self.memory_blocked = true;
                return Route::Blocked;
            }
        }
        let mut to = Live::none();
        self.subs.matches(prefix, |p| {
            if live.has(p) {
                to.push(p);
            }
        });
        if to.n == 0 {
            // No uplink wants it now.
            return Route::Discard;
        }
        for &i in to.slots() {
            self.hold(idx, i);
        }
        Route::Go
    }

    fn add_local(&mut self, side: Side, queue: Q, now: Instant) -> Result<PeerId, PeerTableFull> {
        let session = Session::local(self.cfg.session_config(side), now);
        self.place(session, queue, side, now)
    }

    /// The spool's peers (its first lane's source), if it has one.
    pub fn spool_peers(&self) -> Option<SpoolPeers> {
        let s = self.spool?;
        Some(SpoolPeers {
            sink: self.id(s.sink),
            source: self.id(s.lane(0)?.source),
        })
    }

    /// Whether new work goes to the spool (for some lane), and how many times a lane has
    /// started to spool.
    pub fn spooling(&self) -> (bool, u64) {
        self.spool.map_or((false, 0), |s| {
            let active = s.lanes.iter().flatten().any(|l| l.active);
            (active, s.started)
        })
    }

    /// Whether `lane` spools, and since which of the sink's bytes ever queued: the messages
    /// the sink was given from there on are the lane's to send (those before, its receivers
    /// had live). `None` for a lane that does not spool, or is not there.
    pub fn spool_lane_from(&self, lane: usize) -> Option<u64> {
        let l = self.spool?.lane(lane)?;
        l.active.then(|| l.begins())
    }

    /// Messages and bytes that went to the spool (`msgs_out`, `bytes_out`) and came back
    /// from it (`msgs_in`, `bytes_in`), counted apart from the sides'.
    pub fn spool_traffic(&self) -> Option<SideStats> {
        self.spool.map(|s| s.traffic)
    }

    /// The caller's spool holds messages for `lane` already (from before a restart, or
    /// given back): new work for its receivers goes to the sink, behind them, until
    /// [`Device::spool_emptied`].
    pub fn spool_begin(&mut self, lane: usize) {
        let Some(sink) = self.spool.map(|s| s.sink) else {
            return;
        };
        let (sink_pushed, behind) = self.sink_point(sink);
        let Some(s) = self.spool.as_mut() else { return };
        if let Some(l) = s.lanes.get_mut(lane).and_then(Option::as_mut) {
            if !l.active {
                l.active = true;
                l.from = sink_pushed;
                l.behind = behind;
                s.started += 1;
            }
        }
    }

    /// Where a lane that begins to spool now begins in the sink's stream: the sink's bytes
    /// ever queued, and, while a message is being copied into it, the bytes held back behind
    /// that message (they go in before the lane's: see [`Lane::behind`]).
    fn sink_point(&self, sink: u32) -> (u64, Option<u64>) {
        self.peer(sink).map_or((0, None), |p| {
            let behind = p.held.is_some().then(|| p.queue.later_len() as u64);
            (p.pushed, behind)
        })
    }

    /// The message being copied into the sink ended or was let go, and what was held back
    /// behind it went in after the sink's first `before` bytes: the lanes that began
    /// meanwhile begin past what was held back when they did.
    pub(super) fn sink_released(&mut self, before: u64) {
        if let Some(s) = self.spool.as_mut() {
            for l in s.lanes.iter_mut().flatten() {
                if let Some(k) = l.behind.take() {
                    l.from = before + k;
                }
            }
        }
    }

    /// The sink will never get the rest of the message it was given part of, which began at
    /// `mark` in its stream (its producer left mid-way, or memory ran out for it): what the
    /// sink still holds of it goes (if the caller took some, it drops that:
    /// [`Device::spool_resets`]); a lane that began to spool inside it begins where the next
    /// message will; and what was held back behind it goes in now, in order, ahead of any
    /// message that comes next (attacker round 26, F2: only a message taken back whole
    /// released them, and they went in after the next large message, or never).
    pub(super) fn sink_lets_go(&mut self, sink: u32, mark: u64) {
        let Some(p) = self.peer_mut(sink) else { return };
        let cut = p.written.max(mark);
        let taken = p.written > mark;
        p.queue.truncate_back((p.pushed - cut) as usize);
        p.pushed = cut;
        if taken {
            if let Some(s) = self.spool.as_mut() {
                s.resets += 1;
            }
        }
        // Those that began inside it begin at the cut; then what was held back goes in.
        if let Some(s) = self.spool.as_mut() {
            for l in s.lanes.iter_mut().flatten().filter(|l| l.behind.is_none()) {
                l.from = l.from.min(cut);
            }
        }
        self.release_later(sink);
    }

    /// The caller's spool holds nothing more to send for `lane`: new work goes to its
    /// receivers again, if nothing is in the sink or on its way through the lane's source
    /// (else the caller says so again once it has sent that). Returns whether it does.
    pub fn spool_emptied(&mut self, lane: usize) -> bool {
        let Some(s) = self.spool else { return true };
        let Some(l) = s.lane(lane).filter(|l| l.active) else {
            return true;
        };
        let sink_empty = self
            .peer(s.sink)
            .is_none_or(|p| p.queue.is_empty() && p.held.is_none() && p.queue.later_len() == 0);
        let source_idle = self.peer(l.source).is_none_or(|p| p.src == Src::Idle);
        if !(sink_empty && source_idle) {
            return false;
        }
        if let Some(l) = self.spool.as_mut().and_then(|s| s.lanes[lane].as_mut()) {
            l.active = false;
        }
        // Producers waiting for the sink's room find workers now.
        self.wake_all_blocked();
        true
    }

    /// The caller's spool cannot be opened, and has not been for a while: `lane` does not
    /// spool, whatever the sink holds, so that its receivers get new work live, as without a
    /// spool (what the sink held for it is lost to it; one that is away or full makes it
    /// spool again, and the sink, failing, loses what comes for it: see
    /// [`Device::spool_failing`]). Attacker round 28, H2: its uplinks, connected, got nothing
    /// for as long as the spool stayed locked.
    pub fn spool_live_again(&mut self, lane: usize) {
        let Some(l) = self
            .spool
            .as_mut()
            .and_then(|s| s.lanes.get_mut(lane)?.as_mut())
        else {
            return;
        };
        if l.active {
            l.active = false;
            l.behind = None;
            self.wake_all_blocked();
        }
    }

    /// `lane`'s source's session ended (its input was refused: spooled under settings the
    /// device no longer has): what it was sending is taken back, and it starts afresh.
    pub fn spool_source_reset(&mut self, lane: usize, now: Instant) {
        let Some(source) = self.spool.and_then(|s| s.lane(lane)).map(|l| l.source) else {
            return;
        };
        self.abort_message(source);
        let cfg = self.cfg.session_config(Side::Frontend);
        if let Some(p) = self.peer_mut(source) {
            p.session = Session::local(cfg, now);
            p.blocked = false;
        }
    }

    /// The caller stops, and takes what the sink holds a last time: a message being cut
    /// into the sink (its producer's rest would come after the stop) is let go of, so that
    /// what was held back behind it goes in now, to be written (attacker round 27, G2: a
    /// stop while a large publication was half-way in lost them, for every lane). The
    /// caller drops what it took of that message ([`Device::spool_resets`]).
    pub fn spool_stopping(&mut self) {
        if let Some(sink) = self.spool.map(|s| s.sink) {
            self.sink_gives_up(sink);
        }
    }

    /// How many messages the sink was given part of and will never get the rest of (their
    /// producer left mid-message): when it grows, the caller drops what it took of the
    /// message it has not seen the end of. What the sink holds after is whole messages.
    pub fn spool_resets(&self) -> u64 {
        self.spool.map_or(0, |s| s.resets)
    }

    /// The large messages the sink let go of for want of memory: the caller says so when
    /// [`LetGo::times`] grows.
    pub fn spool_let_go(&self) -> LetGo {
        self.spool.map_or(LetGo::default(), |s| s.let_go)
    }

    pub(super) fn spool_sink(&self) -> Option<u32> {
        self.spool.map(|s| s.sink)
    }

    /// The counters a peer's traffic goes to: its side's, or the spool's for its peers (a
    /// message through the spool counts once on each side, as one that passed it by).
    pub(super) fn counts_of(&mut self, idx: u32, side: Side) -> &mut SideStats {
        match self.spool.as_mut() {
            Some(s) if s.sink == idx || s.lane_of_source(idx).is_some() => &mut s.traffic,
            _ => &mut self.stats.sides[side.index()],
        }
    }

    /// The spool, if one of its sources is `idx`.
    pub(super) fn spool_from(&self, idx: u32) -> Option<SpoolLink> {
        self.spool.filter(|s| s.lane_of_source(idx).is_some())
    }

    /// Whether `idx` is one of the spool's peers, which the device never closes.
    pub(super) fn is_spool(&self, idx: u32) -> bool {
        self.spool
            .is_some_and(|s| s.sink == idx || s.lane_of_source(idx).is_some())
    }

    /// A streamer's message from `idx`, with a spool: the source's to a worker (or wait);
    /// a producer's to the sink while spooling, else to a worker, or to the sink (spooling
    /// from now) when no worker has room.
    pub(super) fn route_spooled(&mut self, idx: u32, s: SpoolLink) -> Route {
        let Some(lane) = s.lane(0) else {
            return Route::Blocked;
        };
        if idx == lane.source {
            return match self.pick_worker_patiently() {
                Some(w) => {
                    self.hold(idx, w);
                    Route::Go
                }
                None => Route::Blocked,
            };
        }
        if !lane.active {
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
        if !lane.active {
            self.spool_begin(0);
        }
        self.hold(idx, s.sink);
        Route::Go
    }
}
