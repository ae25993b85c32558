//! A streamer's or forwarder's store-and-forward spool on its device thread: what the device
//! gives its sink goes to the log on disk ([`crate::spool`]), and what the log holds goes
//! back to the device through its source, as fast as the workers (or a forwarder's uplinks)
//! take it or at `spool_rate` (`zedge_core::device::Device::add_spool` says when each is
//! used). A forwarder's uplinks are its backend's connected peers, ready for spooled
//! messages [`UPLINK_SETTLE`] after their handshake.
//!
//! One task does both, woken by the device (the sink has output, the source may read again),
//! by its rate and by its sync timer. A sync (`fdatasync` and the cursor file) runs on
//! `blocking`'s thread, so the device's connections go on meanwhile; what was appended
//! before it started is durable once it returns.
//!
//! A message the source took from the log is not delivered until the socket of the queue it
//! went to has written it: at the end of each round of feeding, the task marks where the log
//! stands ([`Spool::mark`]) with what each receiving peer ([`Dev::spool_unwritten`]) had been
//! given by then, and the log's durable cursor moves to the mark once each has written that
//! much. Until then a crash, or a stop, leaves those messages in the log to send again
//! (attacker round 20, F1: what an uplink's queue held was lost). A receiver that leaves
//! ([`DeviceHost::recover_to_spool`]) is dealt with as it goes: at a stop, the cursor stays
//! where it is if it had not written all (round 22, F1 and F2); otherwise it gives back the
//! messages it had not begun, and the marks placed before go (the next ones wait for those
//! messages too), or it had none to give and is no longer waited for.
//!
//! A disk that fails (full, gone) stops the task taking from the sink, which fills to its
//! high-water mark: the producers then wait, as they would without a spool, and nothing is
//! lost in memory. The task tries again a second later, logging once per failure.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant as StdInstant, SystemTime, UNIX_EPOCH};

use async_io::Timer;
use futures_lite::future;
use log::{error, info, warn};
use zedge_core::device::{ByteQueue, Kind, PeerId, MAX_UPLINKS, PROGRESS_BYTES};

use super::{ById, Dev, DeviceHost};
use crate::admit::side_name;
use crate::setup::{Mib, Tuning};
use crate::signal::Signal;
use crate::spool::{
    frames, message_end, whole_messages, ReaderId, Recovery, Spool, SpoolConfig, SpoolStats,
};

/// Bytes given to the source in one round before the task lets the others run.
const ROUND_BYTES: usize = 1 << 20;
/// How long after a disk error the task tries again.
const RETRY: Duration = Duration::from_secs(1);
/// How long a forwarder's publishers wait for a log that cannot be opened (a reload's new
/// device waits for the old one to stop) before its sink loses what comes for the uplinks.
const UNOPENED_HOLD: Duration = Duration::from_secs(5);
/// Messages dropped past `spool_max` are said at most this often.
const DROPS_SAID: Duration = Duration::from_secs(10);
/// How long after its handshake a forwarder's uplink gets spooled messages: its
/// subscriptions come right after it (a libzmq XSUB sends them all at once), and a spooled
/// message on a topic it has not subscribed to yet would go nowhere.
pub const UPLINK_SETTLE: Duration = Duration::from_millis(250);
/// How often the task looks at uplinks settling.
const SETTLE_TICK: Duration = Duration::from_millis(50);
/// A buffer of the task's that grew past this for a large message is let go once empty.
const KEEP: usize = 256 << 10;
/// Marks waiting to be delivered at most: past it, the newest one moves on instead of a new
/// one being placed (its receivers then wait for more).
const MAX_CHECKPOINTS: usize = 64;

/// Bytes given to the source between two checkpoints at most (in one round): what a stop
/// may send twice, about, once the receivers wrote past the last one.
const MARK_BYTES: usize = 64 << 10;

/// How often the task looks for a streamer's workers that stopped taking their work
/// ([`DeviceHost::give_back_stalled`]).
const STALL_LOOK: Duration = Duration::from_millis(250);

/// A worker holding bytes not yet written, as last looked at: what it had written when it
/// last made progress ([`PROGRESS_BYTES`] taken since the time before), and when.
#[derive(Clone, Copy)]
struct Watched {
    written: u64,
    since: StdInstant,
}

/// A mark in the log and what each receiving peer had been given when it was placed.
struct Checkpoint {
    mark: u64,
    waits: Vec<(PeerId, u64)>,
    /// Where the lane's own block begins ([`Spooler::unpark`]): it does not move on when
    /// the list is full, the next one is placed beside it.
    fixed: bool,
}

/// A way out of the log: a source in the device, the log's reader that feeds it, and what
/// lies between them. A streamer's workers share one; a forwarder has one per uplink (its
/// `>` endpoint names the reader), so each goes at its own pace and is spooled for while it
/// is away, whatever the others do (attacker round 20, F4 and F5).
struct Lane {
    /// Its number: the device's lane, and the log's reader.
    reader: ReaderId,
    source: PeerId,
    /// The reader's name: the uplink's endpoint ("" for a streamer's workers).
    name: String,
    /// The device's lane does not spool: what the sink is given, its receivers had live,
    /// and the reader passes over it ([`Spool::pass`]) until the lane spools again.
    parked: Cell<bool>,
    /// The reader passed over messages since its last checkpoint.
    passed: Cell<bool>,
    /// A block of its own was written where the reader stands, for a fixed checkpoint there
    /// ([`Spooler::unpark`]).
    block_begins: Cell<bool>,
    /// The stretches of the sink's stream, `[from, to)`, that were its own while the log
    /// could not be opened: it spooled (it was away, or full), then went live at `to` with
    /// the sink holding them ([`Spooler::give_held_to_live`]). Each holds a message at
    /// least, and the sink holds them all (nothing is taken from it meanwhile): as many as
    /// its queue holds messages, at most.
    held_for: RefCell<Vec<(u64, u64)>>,
    /// Where in the sink's stream the lane spooled again, while the log could not be
    /// opened, after a receiver left it a [`Lane::tail`]: the tail goes before what the sink
    /// took from there on.
    tail_before: Cell<Option<u64>>,
    /// A message the source took part of, taken out of the log (which may drop the segment
    /// it was in for room meanwhile), and how much of it the source took.
    feeding: RefCell<Vec<u8>>,
    fed: Cell<usize>,
    /// Messages a receiver that left (or stalled) had queued and not begun, taken out of the
    /// log before: to send again ahead of it ([`DeviceHost::recover_to_spool`]).
    recovered: RefCell<VecDeque<Vec<u8>>>,
    /// Messages its receivers had live and not begun when the lane began to spool (taken
    /// back from their queues, [`DeviceHost::take_back_live`]), or when one left or stalled:
    /// they go into the log for this lane's reader only, where the lane's spooling begins
    /// ([`Spooler::unpark`]), so that they are on disk, in order, when the device stops
    /// (attacker round 22, F3: they were in memory only, and lost at every stop).
    tail: RefCell<Vec<Vec<u8>>>,
    /// While parked: each receiver's bytes ever queued when the lane was last parked (what
    /// came after is live; a receiver not here had nothing unwritten then).
    live_from: RefCell<HashMap<PeerId, u64, ById>>,
    /// While parked: each receiver's bytes ever queued when the lane was last parked, as
    /// then (what it was given from the log ends there; [`Lane::live_from`] moves on as live
    /// messages are taken back).
    logged_to: RefCell<HashMap<PeerId, u64, ById>>,
    /// Marks not yet delivered, oldest first.
    checkpoints: RefCell<VecDeque<Checkpoint>>,
    /// The device stops and a receiver's connection was dropped with messages it had not
    /// written: the cursor moves no more (what it had not written is sent after the restart).
    frozen: Cell<bool>,
}

impl Lane {
    fn new(reader: ReaderId, source: PeerId, name: String) -> Lane {
        Lane {
            reader,
            source,
            name,
            parked: Cell::new(true),
            passed: Cell::new(false),
            block_begins: Cell::new(false),
            held_for: RefCell::default(),
            tail_before: Cell::new(None),
            feeding: RefCell::default(),
            fed: Cell::new(0),
            recovered: RefCell::default(),
            tail: RefCell::default(),
            live_from: RefCell::default(),
            logged_to: RefCell::default(),
            checkpoints: RefCell::default(),
            frozen: Cell::new(false),
        }
    }

    /// Nothing partly fed to the source, and nothing given back waiting: every message
    /// taken out of the log so far is in a receiver's queue, or was dropped.
    fn idle(&self) -> bool {
        self.feeding.borrow().is_empty()
            && self.fed.get() == 0
            && self.recovered.borrow().is_empty()
            && self.tail.borrow().is_empty()
    }
}

/// A round of feeding's mark, if placed (and whether it is the newest checkpoint's), and the
/// bytes given and messages taken out of the log at the last checkpoint.
struct Marking {
    mark: Option<(u64, bool)>,
    given: usize,
    taken: u64,
}

/// Messages taken out of `log`, sent or skipped.
fn taken_out(log: &Spool) -> u64 {
    log.stats().taken + log.stats().skipped
}

/// One lane of a forwarder's spool (one uplink endpoint), as shown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LaneView {
    /// The uplink's endpoint, as configured.
    pub uplink: String,
    /// Publications for it go to the spool now (it is away, at its high-water mark, or has
    /// spooled messages to get first).
    pub spooling: bool,
    /// Messages in the spool not yet sent to it.
    pub messages: u64,
    /// Age of the oldest of them on disk, in milliseconds (0: none on disk).
    pub oldest_ms: u64,
}

/// What the spool shows: in the device's snapshot, metrics and STATS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpoolView {
    /// Unsent messages, and the bytes of the segments holding them (and of those gathered).
    pub messages: u64,
    pub bytes: u64,
    /// Age of the oldest unsent message on disk, in milliseconds (0: none on disk).
    pub oldest_ms: u64,
    /// New work goes to the spool now.
    pub spooling: bool,
    /// The log's counters.
    pub stats: SpoolStats,
    /// Messages a worker that left had queued and not begun, sent again.
    pub recovered: u64,
    /// Messages dropped on the way out: larger than `max_msg_size` now, or otherwise refused
    /// by the device (spooled under other settings).
    pub refused: u64,
    /// Disk errors.
    pub errors: u64,
    /// A forwarder's lanes, one per uplink endpoint, in the configuration's order (none for
    /// a streamer).
    pub lanes: Vec<LaneView>,
}

/// A device's spool: its log, its peers in the device, and the state between them.
pub struct Spooler {
    /// Where the sink's output goes into the log.
    sink: PeerId,
    /// Where the log's messages come out.
    lanes: Vec<Lane>,
    /// Its log on disk, once open: a device started by a reload finds it locked until the
    /// device it replaces has stopped, and tries again every [`RETRY`].
    log: RefCell<Option<Spool>>,
    dir: PathBuf,
    max_bytes: u64,
    /// Checksum failures on reading, when last logged.
    corrupt_seen: Cell<u64>,
    /// Messages dropped past `spool_max` when last logged, and when.
    dropped_seen: Cell<(u64, Option<StdInstant>)>,
    /// Messages dropped past `spool_max` already counted in the device's drops.
    dropped_counted: Cell<u64>,
    /// Large messages the sink let go of for memory ([`Dev::spool_let_go`]) when last
    /// logged, and when.
    let_go_seen: Cell<(u64, Option<StdInstant>)>,
    /// A message the device refused was logged.
    refused_said: Cell<bool>,
    /// Wakes the task.
    pub signal: Signal,
    /// Taken from the sink and not yet a whole message.
    partial: RefCell<Vec<u8>>,
    /// [`Dev::spool_resets`] when last seen.
    resets: Cell<u64>,
    fsync: Duration,
    /// Bytes a second (0: no limit), and what may be sent now.
    rate: u64,
    tokens: Cell<i64>,
    refilled: Cell<StdInstant>,
    /// Appended or taken since the last sync.
    dirty: Cell<bool>,
    /// The log's appended count when last looked at.
    appended_seen: Cell<u64>,
    /// When the disk last failed, until a try succeeds.
    failed: Cell<Option<StdInstant>>,
    /// Since when the log could not be opened (it is not open).
    unopened: Cell<Option<StdInstant>>,
    /// The device stopped and what its queues held live went to the log.
    flushed: Cell<bool>,
    max_msg: u64,
    view: RefCell<SpoolView>,
    /// A forwarder's uplinks whose subscriptions may not be in yet, their lanes, and since
    /// when their handshake is done.
    settling: RefCell<Vec<(PeerId, usize, Option<StdInstant>)>>,
    /// The sink's bytes taken so far, and where what `partial` holds began among them.
    sink_taken: Cell<u64>,
    partial_at: Cell<u64>,
    /// A streamer's workers with bytes unwritten, as last looked at.
    watched: RefCell<HashMap<PeerId, Watched, ById>>,
    /// Workers whose work went to the others, until they write what they still held (the
    /// message they had begun, waited for no more) or [`PROGRESS_BYTES`]: their bytes ever
    /// queued then, and ever written.
    excused: RefCell<HashMap<PeerId, (u64, u64), ById>>,
    /// When workers were last looked at for stalls.
    looked: Cell<StdInstant>,
    /// When each worker was first looked at.
    joined: RefCell<HashMap<PeerId, StdInstant, ById>>,
    /// A worker whose socket takes nothing of its queue for this long gives its work to the
    /// others (`progress_timeout`; never, if zero).
    stall: Duration,
}

impl Spooler {
    /// Open the log in `dir` (repairing a torn end), logging what recovery found.
    pub fn open(
        tag: &str,
        dir: &Path,
        t: &Tuning,
        readers: &[String],
    ) -> io::Result<(Spool, Recovery)> {
        let cfg = SpoolConfig {
            readers: readers.to_vec(),
            ..SpoolConfig::new(dir.to_path_buf(), t.spool_max, t.max_msg_size)
        };
        let (log, rec) = Spool::open(cfg)?;
        for (seg, at, bytes) in &rec.torn {
            warn!(
                "{tag}spool {}: segment {seg} was cut at byte {at} (a write the power or a \
                 crash cut short): dropped the message cut there ({bytes} bytes), kept the \
                 whole ones before it",
                dir.display()
            );
        }
        for (seg, at, bytes) in &rec.corrupt {
            error!(
                "{tag}spool {}: segment {seg} has a block at byte {at} whose checksum fails: \
                 dropped it and the rest of the segment ({bytes} bytes)",
                dir.display()
            );
        }
        for (seg, at) in &rec.passed {
            warn!(
                "{tag}spool {}: segment {seg} has a block at byte {at} that was sent already \
                 and whose checksum fails now: passed over (the disk gives back other bytes \
                 than were written)",
                dir.display()
            );
        }
        if rec.cursor_lost {
            warn!(
                "{tag}spool {}: its cursor file is missing or unreadable: sending from the \
                 oldest message kept (some may have been sent before)",
                dir.display()
            );
        }
        for name in &rec.readers_new {
            warn!(
                "{tag}spool {}: its cursor file has no position for {name}: it is sent what \
                 the spool still holds for the reader furthest behind",
                dir.display()
            );
        }
        for name in &rec.readers_reset {
            warn!(
                "{tag}spool {}: its cursor file's position for {} is no message's start (edited, \
                 or the disk gave back other bytes): sending it from the oldest message kept \
                 (some again)",
                dir.display(),
                if name.is_empty() { "the workers" } else { name }
            );
        }
        for name in &rec.readers_gone {
            warn!(
                "{tag}spool {}: its cursor file has a position for {name}, which this \
                 configuration does not have: what only it waited for goes",
                dir.display()
            );
        }
        info!(
            "{tag}spool {}: {} messages to send in {} segments",
            dir.display(),
            rec.messages,
            rec.segments
        );
        Ok((log, rec))
    }

    /// The spool over `log` (`None`: not open yet) for the device's sink and lanes: each
    /// lane's source, and its reader's name, in the device's order.
    pub fn new(
        sink: PeerId,
        lanes: Vec<(PeerId, String)>,
        log: Option<Spool>,
        dir: &Path,
        t: &Tuning,
    ) -> Spooler {
        let lanes = lanes
            .into_iter()
            .enumerate()
            .map(|(n, (source, name))| Lane::new(n, source, name))
            .collect();
        let sp = Spooler {
            sink,
            lanes,
            failed: Cell::new(log.is_none().then(StdInstant::now)),
            unopened: Cell::new(log.is_none().then(StdInstant::now)),
            flushed: Cell::new(false),
            log: RefCell::new(log),
            dir: dir.to_path_buf(),
            max_bytes: t.spool_max,
            corrupt_seen: Cell::new(0),
            dropped_seen: Cell::new((0, None)),
            dropped_counted: Cell::new(0),
            let_go_seen: Cell::new((0, None)),
            refused_said: Cell::new(false),
            signal: Signal::default(),
            partial: RefCell::default(),
            resets: Cell::new(0),
            fsync: Duration::from_millis(t.spool_fsync_ms),
            rate: t.spool_rate,
            tokens: Cell::new(0),
            refilled: Cell::new(StdInstant::now()),
            dirty: Cell::new(false),
            appended_seen: Cell::new(0),
            max_msg: t.max_msg_size,
            view: RefCell::default(),
            settling: RefCell::default(),
            sink_taken: Cell::new(0),
            partial_at: Cell::new(0),
            watched: RefCell::default(),
            excused: RefCell::default(),
            looked: Cell::new(StdInstant::now()),
            joined: RefCell::default(),
            stall: Duration::from_millis(t.progress_timeout_ms),
        };
        sp.publish(None);
        sp
    }

    /// Whether `id` is one of its peers (the device wakes them as it wakes connections).
    pub fn owns(&self, id: PeerId) -> bool {
        id == self.sink || self.lanes.iter().any(|l| l.source == id)
    }

    /// The log is not open yet, and has not been for [`UNOPENED_HOLD`]: what it holds is not
    /// known, and the receivers' connections wait (a reload's new device finds it locked
    /// until the device it replaces has stopped; attacker round 27, G4: its uplinks
    /// connected at once and got new publications live, then the spooled ones).
    pub fn not_open_yet(&self) -> bool {
        self.unopened
            .get()
            .is_some_and(|since| since.elapsed() < UNOPENED_HOLD)
    }

    /// The lanes whose readers have messages in the log (at start: from before a restart)
    /// spool: new work for their receivers goes behind those.
    pub fn begin_held(&self, dev: &mut Dev) {
        let log = self.log.borrow();
        let Some(log) = log.as_ref() else { return };
        for lane in &self.lanes {
            if log.left(lane.reader) > 0 {
                dev.spool_begin(lane.reader);
                lane.parked.set(false);
            }
        }
    }

    /// The log opened past [`UNOPENED_HOLD`]: a lane that went live meanwhile takes what
    /// the sink held for it from before then (in the log it would pass over them: attacker
    /// round 29, I1, where they were lost, uncounted), with what its receivers that left
    /// meanwhile had not begun where it goes among them: it spools, and they go into a
    /// block of its own where its spooling begins, ahead of its new work. One that reads
    /// older messages from the log takes them from memory before those (once out of order,
    /// none lost).
    fn give_held_to_live(&self, tag: &str, dev: &mut Dev) {
        let base = self.sink_taken.get();
        let sink = dev
            .queue(self.sink)
            .map_or_else(Vec::new, |q| bytes_from(q, 0));
        for lane in &self.lanes {
            let held = std::mem::take(&mut *lane.held_for.borrow_mut());
            let tail_before = lane.tail_before.take().unwrap_or(u64::MAX);
            if held.is_empty() {
                continue;
            }
            // The sink's messages that begin in one of its stretches (both in the order of
            // the sink's stream), and where.
            let mut mine = Vec::new();
            let mut stretches = held.iter().peekable();
            walk(
                &sink,
                |_| {},
                |at, m| {
                    let begins = base + at as u64;
                    while stretches.next_if(|&&(_, to)| to <= begins).is_some() {}
                    if stretches.peek().is_some_and(|&&(from, _)| from <= begins) {
                        mine.push((begins, m.to_vec()));
                    }
                },
            );
            let n = mine.len();
            if n > 0 {
                info!(
                    "{tag}spool {}: {n} messages held while it could not be opened go to {} \
                     now, after what it got live since",
                    self.dir.display(),
                    if lane.name.is_empty() {
                        "the workers"
                    } else {
                        &lane.name
                    }
                );
                self.count(|v| v.recovered += n as u64);
            }
            let mut recovered = lane.recovered.borrow_mut();
            // What its receivers that left had live and not begun goes where it belongs
            // among them: a parked lane writes no block for it (`Spooler::unpark`).
            let mut tail = lane.parked.get();
            for (begins, m) in mine {
                if tail && begins >= tail_before {
                    recovered.extend(lane.tail.borrow_mut().drain(..));
                    tail = false;
                }
                recovered.push_back(m);
            }
            if tail {
                recovered.extend(lane.tail.borrow_mut().drain(..));
            }
            if recovered.is_empty() {
                continue;
            }
            // Its new work goes behind them, as a lane with a backlog's does: a block of its
            // own holds them where its spooling begins (`Spooler::unpark`). Fed from memory
            // beside its live work, they came interleaved with it (attacker round 30).
            dev.spool_begin(lane.reader);
        }
    }

    /// The readers' names, in the lanes' order.
    fn readers(&self) -> Vec<String> {
        self.lanes.iter().map(|l| l.name.clone()).collect()
    }

    pub fn view(&self) -> SpoolView {
        self.view.borrow().clone()
    }

    /// What it shows now, with the device `dev`'s word on what spools (nothing, without).
    fn publish(&self, dev: Option<&Dev>) {
        let spooling = dev.is_some_and(|d| d.spooling().0);
        let lane_spools = |k: usize| dev.is_some_and(|d| d.spool_lane_from(k).is_some());
        let log = self.log.borrow();
        let now = unix_ms();
        let age = |at: Option<u64>| at.map_or(0, |at| now.saturating_sub(at));
        let mut v = self.view.borrow_mut();
        // A streamer's one lane has no uplink: the totals say it all. The names are copied
        // once; each step only updates the figures.
        let lanes = self.lanes.iter().filter(|l| !l.name.is_empty());
        if v.lanes.is_empty() {
            v.lanes = lanes
                .clone()
                .map(|l| LaneView {
                    uplink: l.name.clone(),
                    ..LaneView::default()
                })
                .collect();
        }
        for (view, l) in v.lanes.iter_mut().zip(lanes) {
            view.spooling = lane_spools(l.reader);
            view.messages = log.as_ref().map_or(0, |g| g.left(l.reader));
            view.oldest_ms = age(log.as_ref().and_then(|g| g.oldest_at_for(l.reader)));
        }
        v.spooling = spooling;
        if let Some(log) = log.as_ref() {
            v.messages = log.messages();
            v.bytes = log.bytes();
            v.oldest_ms = age(log.oldest_at());
            v.stats = log.stats();
        }
    }

    fn count(&self, f: impl FnOnce(&mut SpoolView)) {
        f(&mut self.view.borrow_mut());
    }

    /// A disk error: logged once until a try succeeds.
    fn failed(&self, tag: &str, what: &str, e: &io::Error) {
        self.count(|v| v.errors += 1);
        if self.failed.get().is_none() {
            // A forwarder's sink drops at its mark while the disk fails (`spool_failing`).
            let meanwhile = if self.lanes.iter().any(|l| !l.name.is_empty()) {
                "what comes for the uplinks it spools for waits in memory up to queue_hwm, and \
                 past it is dropped (counted as hwm)"
            } else {
                "producers wait once the spool's queue is full"
            };
            error!("{tag}spool: {what}: {e}; {meanwhile}; trying again every {RETRY:?}");
        }
        self.failed.set(Some(StdInstant::now()));
    }

    /// Take what the sink holds into the log, then give the source what the log holds, as
    /// far as the workers and the rate allow. Returns whether there is more to give now.
    fn step(&self, tag: &str, dev: &mut Dev, now: zedge_core::time::Instant) -> bool {
        let retry_due = self.failed.get().is_none_or(|at| at.elapsed() >= RETRY);
        let closed = self.log.borrow().is_none();
        if closed && (!retry_due || !self.reopen(tag, dev)) {
            // A forwarder's sink loses what comes for the uplinks once the log could not be
            // opened for [`UNOPENED_HOLD`], rather than holding up the publishers and the
            // local subscribers for good (attacker round 25, H1). Before that they wait: a
            // reload's new device finds the log locked until the old one has stopped.
            let since = self.unopened.get().unwrap_or_else(StdInstant::now);
            let given_up = since.elapsed() >= UNOPENED_HOLD;
            dev.spool_failing(given_up);
            if given_up {
                // Nothing can be sent from it: a lane whose receivers are there gives them
                // new work live, as without a spool (attacker round 28, H2: a forwarder's
                // uplinks, which wait for it to open, got nothing once connected).
                // An uplink goes live once it has settled, its subscriptions in, as when
                // the log is open (attacker round 30, J6: one live before lost the first
                // publications that came for it).
                self.settle_uplinks(dev);
                let mut workers = false;
                dev.spool_workers(|_, _, _| workers = true);
                // Not while a message is being cut into the sink: what it holds of a lane's
                // own would end part-way through it, and that message, and those held back
                // behind it, would go in past the end, passed over (attacker round 31, K1:
                // a 3 MB publication, and the 1,652 small ones behind it, lost, uncounted).
                // Its sender finishes it within its patience, or is cut off.
                let lanes = if dev.spool_sink_busy() {
                    &[][..]
                } else {
                    &self.lanes[..]
                };
                for lane in lanes {
                    if workers || dev.uplinks_ready(lane.reader) > 0 {
                        if let Some(from) = dev.spool_lane_from(lane.reader) {
                            // What the sink took for it since it began to spool was its
                            // own: it goes to it once the log opens (`give_held_to_live`).
                            // Each time: an uplink that leaves, or is full, and comes back
                            // meanwhile spools again (attacker round 30, J1, J2, J5: only
                            // the first time was kept, and the others were lost, uncounted).
                            // All it holds: its output's first two pieces are not all of it
                            // once a large message's body is shared (attacker round 31, K1).
                            let held = dev.queue(self.sink).map_or(0, |q| q.len());
                            let to = self.sink_taken.get() + held as u64;
                            if !lane.tail.borrow().is_empty() && lane.tail_before.get().is_none() {
                                lane.tail_before.set(Some(from));
                            }
                            let mut held = lane.held_for.borrow_mut();
                            match held.last_mut() {
                                Some(last) if last.1 >= from => last.1 = last.1.max(to),
                                _ if from < to => held.push((from, to)),
                                _ => {}
                            }
                        }
                        dev.spool_live_again(lane.reader);
                    }
                }
            }
            self.publish(Some(dev));
            return false;
        }
        if retry_due {
            self.take_sink(tag, dev);
        }
        // A forwarder's sink at its mark loses what comes while the disk fails, rather than
        // holding up the publishers and the local subscribers' live traffic.
        dev.spool_failing(self.failed.get().is_some());
        self.settle_uplinks(dev);
        let more = self.feed_source(tag, dev, now);
        if self.partial.borrow().is_empty() {
            if let Some(log) = self.log.borrow().as_ref() {
                for lane in &self.lanes {
                    let caught_up = lane.idle() && log.left(lane.reader) == 0;
                    if caught_up && dev.spool_emptied(lane.reader) && !lane.parked.replace(true) {
                        // Live from here on: what its receivers hold now came from the log.
                        let mut from = lane.live_from.borrow_mut();
                        from.clear();
                        dev.spool_unwritten(lane.reader, |id, pushed| {
                            from.insert(id, pushed);
                        });
                        *lane.logged_to.borrow_mut() = from.clone();
                    }
                }
            }
        }
        self.say_corrupt(tag);
        self.say_dropped(tag);
        self.count_dropped(dev);
        self.say_let_go(tag, dev);
        self.publish(Some(dev));
        self.release();
        more
    }

    /// Let go of buffers grown for a large message and now empty (round 19, F4: three
    /// 60 MB messages kept 177 MiB once on disk). They are not charged to `memory_max`: the
    /// message a producer is sending must be gathered whole before it is written, and a
    /// budget spent by it would hold that producer (and the rest of its message) for good.
    fn release(&self) {
        let feeding = self.lanes.iter().map(|l| &l.feeding);
        for buf in [&self.partial].into_iter().chain(feeding) {
            let mut b = buf.borrow_mut();
            if b.is_empty() && b.capacity() > KEEP {
                *b = Vec::new();
            }
        }
    }

    /// A forwarder's uplink connected, to the endpoint `via`: spooled messages go to it, from
    /// the endpoint's lane, once it has settled ([`UPLINK_SETTLE`] after its handshake).
    pub fn uplink(&self, dev: &mut Dev, id: PeerId, via: &str) {
        let name = reader_name(via);
        // An endpoint past the lanes there are (more than MAX_UPLINKS) is no uplink of the
        // spool's: it gets publications live only (said at start). Sharing a lane, it would
        // take an uplink's place in the device (attacker round 25, H2).
        let Some(lane) = self.lanes.iter().position(|l| l.name == name) else {
            return;
        };
        if dev.set_uplink(id, lane, false) {
            self.settling.borrow_mut().push((id, lane, None));
            self.signal.wake();
        }
    }

    /// Uplinks settled are ready; those gone are forgotten.
    fn settle_uplinks(&self, dev: &mut Dev) {
        let now = StdInstant::now();
        self.settling.borrow_mut().retain_mut(|(id, lane, since)| {
            if dev.queue(*id).is_none() {
                return false;
            }
            if since.is_none() && dev.is_ready(*id) {
                *since = Some(now);
            }
            if since.is_some_and(|at| now.duration_since(at) >= UPLINK_SETTLE) {
                dev.set_uplink(*id, *lane, true);
                return false;
            }
            true
        });
    }

    /// When the task next looks at uplinks settling, if any are.
    fn settle_wait(&self) -> Option<Duration> {
        (!self.settling.borrow().is_empty()).then_some(SETTLE_TICK)
    }

    /// Open the log that could not be opened before (its directory locked by the device a
    /// reload replaces, not writable...): whether it is open now.
    fn reopen(&self, tag: &str, dev: &mut Dev) -> bool {
        let t = Tuning {
            spool_max: self.max_bytes,
            max_msg_size: self.max_msg,
            ..Tuning::default()
        };
        match Spooler::open(tag, &self.dir, &t, &self.readers()) {
            Ok((log, _)) => {
                self.unopened.set(None);
                *self.log.borrow_mut() = Some(log);
                self.begin_held(dev);
                self.give_held_to_live(tag, dev);
                self.failed.set(None);
                info!("{tag}spool {}: open", self.dir.display());
                true
            }
            Err(e) => {
                self.failed(tag, &format!("cannot open {}", self.dir.display()), &e);
                false
            }
        }
    }

    /// Messages lost with segments deleted past `spool_max`, since last said: said at most
    /// every [`DROPS_SAID`] (attacker round 25, L3: they were counted only).
    fn say_dropped(&self, tag: &str) {
        let n = self.log.borrow().as_ref().map_or(0, |l| l.stats().dropped);
        if let Some(seen) = due(&self.dropped_seen, n) {
            warn!(
                "{tag}spool {}: past spool_max ({} bytes): deleted the oldest segments, losing \
                 {} messages not yet sent to the uplink or workers furthest behind ({n} in all)",
                self.dir.display(),
                self.max_bytes,
                n - seen
            );
        }
    }

    /// Messages lost with segments deleted past `spool_max` count in the device's drops too,
    /// as above a high-water mark: the stop's total and `zedge_messages_dropped_total` name
    /// every loss (attacker round 30, J7: they were in the spool's own count only).
    fn count_dropped(&self, dev: &mut Dev) {
        let n = self.log.borrow().as_ref().map_or(0, |l| l.stats().dropped);
        let new = n.saturating_sub(self.dropped_counted.replace(n));
        if new > 0 {
            dev.spool_lost(new);
        }
    }

    /// Large messages the sink let go of for want of memory, since last said: said at most
    /// every [`DROPS_SAID`] (attacker round 29, I7: only `dropped.memory` counted them).
    fn say_let_go(&self, tag: &str, dev: &Dev) {
        let let_go = dev.spool_let_go();
        if let Some(seen) = due(&self.let_go_seen, let_go.times) {
            warn!(
                "{tag}spool {}: let go of a large message coming slowly ({} taken of it): no \
                 room to hold back more than the {} that came behind it (a queue holds up to \
                 queue_hwm and max_msg_size, and memory_max bounds them all): lost to the \
                 spool, its uplinks or workers never get it ({} since last said, {} in all, \
                 counted as memory)",
                self.dir.display(),
                Mib(let_go.taken),
                Mib(let_go.behind),
                let_go.times - seen,
                let_go.times,
            );
        }
    }

    /// Blocks whose checksum failed when read, since last said.
    fn say_corrupt(&self, tag: &str) {
        let n = self.log.borrow().as_ref().map_or(0, |l| l.stats().corrupt);
        if n > self.corrupt_seen.get() {
            self.corrupt_seen.set(n);
            error!(
                "{tag}spool {}: a block failed its checksum when read to send: dropped the \
                 rest of its segment ({n} such blocks in all; the disk gives back other bytes \
                 than were written)",
                self.dir.display()
            );
        }
    }

    fn take_sink(&self, tag: &str, dev: &mut Dev) {
        let sink = self.sink;
        let mut partial = self.partial.borrow_mut();
        if dev.spool_resets() != self.resets.get() {
            // A producer left mid-message: what was taken of that message goes.
            self.resets.set(dev.spool_resets());
            let keep = whole_messages(&partial);
            partial.truncate(keep);
        }
        let mut log = self.log.borrow_mut();
        let Some(log) = log.as_mut() else { return };
        if self.failed.get().is_some() {
            // The disk failed: it takes what is gathered before anything more is taken, so
            // the sink fills and the producers wait rather than memory growing.
            if let Err(e) = log.retry() {
                self.failed(tag, "cannot write a block", &e);
                return;
            }
        }
        // Which lanes spool, and since where in the sink's stream: what came before, their
        // receivers had live.
        let mut froms = [None; MAX_UPLINKS];
        for (k, from) in froms.iter_mut().enumerate().take(self.lanes.len()) {
            *from = dev.spool_lane_from(k);
        }
        let mut appended = |log: &mut Spool, at: u64, done: bool| {
            if done {
                self.appended(log);
            } else {
                self.unpark_due(tag, log, at, &froms);
            }
        };
        let mut result = Ok(());
        let mut at = self.sink_taken.get();
        loop {
            let (a, b) = dev.output(sink);
            let n = a.len() + b.len();
            if n == 0 {
                break;
            }
            for slice in [a, b] {
                if partial.is_empty() && result.is_ok() {
                    // Whole messages go from the sink's queue to the log as they lie.
                    let used = append_whole(log, slice, at, &mut result, &mut appended);
                    self.partial_at.set(at + used as u64);
                    partial.extend_from_slice(&slice[used..]);
                } else {
                    if partial.is_empty() {
                        self.partial_at.set(at);
                    }
                    partial.extend_from_slice(slice);
                }
                at += slice.len() as u64;
            }
            dev.consume_output(sink, n);
            if result.is_err() {
                break;
            }
        }
        self.sink_taken.set(at);
        if result.is_ok() {
            let base = self.partial_at.get();
            let used = append_whole(log, &partial, base, &mut result, &mut appended);
            partial.drain(..used);
            self.partial_at.set(base + used as u64);
        }
        if partial.is_empty() {
            // No message on its way: whatever comes next starts at or past a lane's
            // spooling, which begins now.
            self.unpark_due(tag, log, at, &froms);
        }
        // A lane that passed over messages: a checkpoint after them (they hold no segment
        // back once its receivers wrote what they hold now). One unparked with a block of its
        // own: where the block begins ([`Spooler::unpark`]), fixed.
        for lane in &self.lanes {
            let block = lane.block_begins.replace(false);
            if lane.passed.replace(false) || block {
                let (mark, reuse) = Self::place(log, lane);
                self.checkpoint(dev, lane, mark, reuse);
                if let Some(c) = lane.checkpoints.borrow_mut().back_mut() {
                    c.fixed |= block;
                }
            }
        }
        if self.log_appended(log) {
            self.dirty.set(true);
        }
        match result {
            Ok(()) => self.failed.set(None),
            Err(e) => self.failed(tag, "cannot write a block", &e),
        }
    }

    /// The message that began at `at` in the sink's stream was appended: a lane that does
    /// not spool passes over it (one that spools from there on was unparked before it was
    /// appended, [`Spooler::unpark_due`], and reads it).
    fn appended(&self, log: &mut Spool) {
        for lane in self.lanes.iter().filter(|l| l.parked.get()) {
            log.pass(lane.reader);
            lane.passed.set(true);
        }
    }

    /// What comes at `at` in the sink's stream (a message's start, or its end) is past where
    /// a parked lane's spooling began: it reads from here on, after what its receivers had
    /// live ([`Spooler::unpark`]).
    fn unpark_due(&self, tag: &str, log: &mut Spool, at: u64, froms: &[Option<u64>]) {
        for (lane, from) in self.lanes.iter().zip(froms) {
            if lane.parked.get() && from.is_some_and(|from| at >= from) {
                self.unpark(tag, log, lane);
            }
        }
    }

    /// `lane` reads the log from where it stands (its end, for a lane parked): first what
    /// its receivers had live and not begun ([`Lane::tail`]), written for its reader only
    /// (the other lanes had those live, or spool them already), after what a receiver that
    /// left gave back from the log ([`Lane::recovered`]); if the disk refuses them, they go
    /// out ahead of the log from memory, in the same order.
    ///
    /// Once they are written, a checkpoint where they begin lets the lane's cursor pass over
    /// everything before them when its receivers wrote what they hold now: what it passed
    /// over in the log, its receivers had live, and what they had not begun of it is in its
    /// block. Else the cursor stayed where it last passed over other lanes' copies of them,
    /// and a restart sent those, then the block on top (attacker round 28, H3).
    fn unpark(&self, tag: &str, log: &mut Spool, lane: &Lane) {
        lane.parked.set(false);
        lane.live_from.borrow_mut().clear();
        lane.logged_to.borrow_mut().clear();
        let tail = std::mem::take(&mut *lane.tail.borrow_mut());
        if tail.is_empty() {
            return;
        }
        // A parked lane feeds nothing: given back, they would go out before its block.
        let mut msgs = std::mem::take(&mut *lane.recovered.borrow_mut());
        msgs.extend(tail);
        let msgs = Vec::from(msgs);
        match log.append_for(lane.reader, &msgs) {
            Ok(()) => {
                self.dirty.set(true);
                // The others pass over them (theirs or not): a parked lane is at the end.
                for other in self.lanes.iter().filter(|l| l.parked.get()) {
                    log.pass(other.reader);
                    other.passed.set(true);
                }
                // Its checkpoint where they begin, placed once the sink's messages are in.
                lane.block_begins.set(true);
            }
            Err(e) => {
                self.failed(tag, "cannot write what a lane's receivers had live", &e);
                lane.recovered.borrow_mut().extend(msgs);
            }
        }
    }

    /// Whether messages were appended since the last look.
    fn log_appended(&self, log: &Spool) -> bool {
        let n = log.stats().appended;
        n != self.appended_seen.replace(n)
    }

    /// Give the source the log's messages while it takes them, then mark where the log
    /// stands (if it gave anything) and move its durable cursor as far as what its receivers
    /// wrote allows; whether the source could take more than this round gave.
    fn feed_source(&self, tag: &str, dev: &mut Dev, now: zedge_core::time::Instant) -> bool {
        self.refill();
        let mut log = self.log.borrow_mut();
        let Some(log) = log.as_mut() else {
            return false;
        };
        let mut more = false;
        for lane in &self.lanes {
            let mut m = Marking {
                mark: None,
                given: 0,
                taken: taken_out(log),
            };
            let (more_here, given) = self.feed_round(tag, dev, log, lane, now, &mut m);
            more |= more_here;
            match m.mark {
                Some((mark, reuse)) if given > m.given || taken_out(log) != m.taken => {
                    self.checkpoint(dev, lane, mark, reuse);
                }
                // Placed where the last one stands: nothing more to wait for.
                Some((mark, false)) => log.unmark(lane.reader, mark),
                _ => {}
            }
        }
        self.deliver(tag, dev, log);
        more
    }

    /// The source is between messages, none of them partly fed nor any given back waiting:
    /// every message taken out of the log so far is in a receiver's queue, or was dropped.
    /// The round's mark is placed (or moved) here; past [`MARK_BYTES`] given since the last
    /// one, it is a checkpoint, and the next one starts here.
    fn between(&self, dev: &Dev, log: &mut Spool, lane: &Lane, m: &mut Marking, given: usize) {
        if !lane.idle() {
            return;
        }
        let (mark, reuse) = match m.mark {
            Some(at) => {
                log.move_mark(lane.reader, at.0);
                at
            }
            None => {
                let at = Self::place(log, lane);
                m.mark = Some(at);
                at
            }
        };
        if given - m.given >= MARK_BYTES {
            self.checkpoint(dev, lane, mark, reuse);
            *m = Marking {
                mark: None,
                given,
                taken: taken_out(log),
            };
        }
    }

    /// Wait for the receivers' queues to be written through what they hold now before the
    /// log's durable cursor passes `mark` (at once, if they hold nothing unwritten).
    fn checkpoint(&self, dev: &Dev, lane: &Lane, mark: u64, reuse: bool) {
        let mut waits = Vec::new();
        let excused = self.excused.borrow();
        dev.spool_unwritten(lane.reader, |id, pushed| {
            // What a worker that stalled still held of what it was given is not waited for.
            if excused.get(&id).is_none_or(|&(upto, _)| pushed > upto) {
                waits.push((id, pushed));
            }
        });
        let mut cps = lane.checkpoints.borrow_mut();
        match cps.back_mut() {
            Some(c) if reuse => c.waits = waits,
            _ => cps.push_back(Checkpoint {
                mark,
                waits,
                fixed: false,
            }),
        }
    }

    /// A new mark where the log stands for `lane` (and whether it is the newest
    /// checkpoint's, moved on, the list being full). A fixed one is not moved while the list
    /// holds less than twice [`MAX_CHECKPOINTS`] (past that, the lane's cursor lags more, and
    /// a stop sends more again).
    fn place(log: &mut Spool, lane: &Lane) -> (u64, bool) {
        let cps = lane.checkpoints.borrow();
        match cps.back() {
            Some(c)
                if cps.len() >= MAX_CHECKPOINTS
                    && (!c.fixed || cps.len() >= 2 * MAX_CHECKPOINTS) =>
            {
                log.move_mark(lane.reader, c.mark);
                (c.mark, true)
            }
            _ => (log.mark(lane.reader), false),
        }
    }

    /// Move each lane's durable cursor in the log to the newest mark whose receivers (and
    /// every older one's) wrote what they had been given (none of them gone: see
    /// [`Spooler::leaves`]).
    fn deliver(&self, tag: &str, dev: &Dev, log: &mut Spool) {
        for lane in &self.lanes {
            self.deliver_lane(tag, dev, log, lane);
        }
    }

    fn deliver_lane(&self, tag: &str, dev: &Dev, log: &mut Spool, lane: &Lane) {
        if lane.frozen.get() {
            return;
        }
        let mut last = None;
        let mut cps = lane.checkpoints.borrow_mut();
        while let Some(c) = cps.front() {
            // A receiver gone is waited for until its leaving is dealt with (`leaves`).
            let done = c
                .waits
                .iter()
                .all(|&(id, pushed)| dev.queue(id).is_some() && dev.written(id) >= pushed);
            if !done {
                break;
            }
            last = Some(c.mark);
            cps.pop_front();
        }
        let Some(mark) = last else { return };
        if let Err(e) = log.delivered(lane.reader, mark) {
            // A segment delivered that could not be deleted: it goes with the next one.
            warn!(
                "{tag}spool {}: cannot delete a segment sent: {e}",
                self.dir.display()
            );
        }
        self.dirty.set(true);
    }

    /// The receiver `id` leaves. What it wrote moves the cursor first. Then, if the device
    /// stops, the cursor stays where it is for good when `id` had not written all it was given
    /// (a stop drops connections: what they had not written stays in the spool for the
    /// restart, attacker round 22, F1 and F2). Otherwise the marks stop waiting for it:
    /// `gives_back`, if what it had not begun comes back through the spool, is where that
    /// begins in its stream (then the marks placed since go, [`Spooler::forget_marks_from`]),
    /// else it is lost with it (another uplink had it, or it was begun).
    fn leaves(&self, dev: &Dev, tag: &str, id: PeerId, stopping: bool, gives_back: Option<u64>) {
        if let Some(log) = self.log.borrow_mut().as_mut() {
            self.deliver(tag, dev, log);
        }
        let lane = self.lane_of(dev, id);
        let waited = lane
            .checkpoints
            .borrow()
            .iter()
            .any(|c| c.waits.iter().any(|w| w.0 == id));
        if stopping && !Self::live_only(dev, lane, id) {
            lane.frozen.set(lane.frozen.get() || waited);
        } else if stopping {
            // What it had not written came live: it is not waited for (see `live_only`).
            for c in lane.checkpoints.borrow_mut().iter_mut() {
                c.waits.retain(|w| w.0 != id);
            }
        } else if let Some(from) = gives_back {
            self.forget_marks_from(lane, id, from);
        } else {
            for c in lane.checkpoints.borrow_mut().iter_mut() {
                c.waits.retain(|w| w.0 != id);
            }
        }
    }

    /// Whether the receiver `id` of `lane` has nothing unwritten that came from the log: the
    /// lane is parked (live), and its socket wrote all it was given before it parked. At a
    /// stop, what it had not begun then goes into the log for its lane alone, and the
    /// message it was writing is lost with its connection, as a live one is; the lane's
    /// cursor need not wait for it, so it does not stay where it was and send again after
    /// the restart what the lane had live (attacker round 27, G5 and G6: the messages other
    /// lanes had spooled meanwhile, up to `queue_hwm` of them, and then the lane's own block
    /// of the same messages).
    fn live_only(dev: &Dev, lane: &Lane, id: PeerId) -> bool {
        let logged = lane.logged_to.borrow().get(&id).copied().unwrap_or(0);
        lane.parked.get() && dev.written(id) >= logged
    }

    /// The lane whose source's messages `id` receives: a forwarder's uplink's own, else
    /// the first (a streamer's workers share it).
    fn lane_of(&self, dev: &Dev, id: PeerId) -> &Lane {
        let n = dev.uplink_lane(id).unwrap_or(0);
        &self.lanes[n.min(self.lanes.len() - 1)]
    }

    /// Messages given back by the receiver `id`, from `from` on in its stream (its bytes
    /// ever queued), go out again ahead of the log: a checkpoint placed once it had been
    /// given any of them would let the cursor pass them once the others wrote theirs, so it
    /// goes, with every later one, and the next ones cover these messages too. Those placed
    /// before stand, no longer waiting for it: among them the one where the lane's own block
    /// begins ([`Spooler::unpark`]). (Attacker round 29, I3: all went, so a stop soon after
    /// left the cursor before the other lanes' copies of the block's messages, and the
    /// restart sent them, then the block.)
    fn forget_marks_from(&self, lane: &Lane, id: PeerId, from: u64) {
        let mut cps = lane.checkpoints.borrow_mut();
        let before = |c: &Checkpoint| c.waits.iter().all(|w| w.0 != id || w.1 <= from);
        let keep = cps.iter().take_while(|c| before(c)).count();
        cps.truncate(keep);
        for c in cps.iter_mut() {
            c.waits.retain(|w| w.0 != id);
        }
        if let Some(log) = self.log.borrow_mut().as_mut() {
            log.forget_marks_after(lane.reader, cps.back().map(|c| c.mark));
        }
    }

    /// Messages given back by a receiver that stalled go out again ahead of the log: a mark
    /// placed before them would let the cursor pass them once the others wrote theirs, so
    /// they go, and the next ones cover these messages too.
    fn forget_marks(&self, lane: &Lane) {
        lane.checkpoints.borrow_mut().clear();
        if let Some(log) = self.log.borrow_mut().as_mut() {
            log.forget_marks(lane.reader);
        }
    }

    /// [`Spooler::feed_source`]'s feeding, marking where the log stands at each point
    /// between messages ([`Spooler::between`]).
    fn feed_round(
        &self,
        tag: &str,
        dev: &mut Dev,
        log: &mut Spool,
        lane: &Lane,
        now: zedge_core::time::Instant,
        m: &mut Marking,
    ) -> (bool, usize) {
        let source = lane.source;
        // Live, or its spooling not yet reached in the sink (what it had live goes into the
        // log there first, and what it gives back goes out after that): it reads nothing from
        // the log, but what it was given to send from memory goes
        // ([`Spooler::give_held_to_live`]).
        let memory_only = lane.parked.get();
        if memory_only && lane.recovered.borrow().is_empty() && lane.feeding.borrow().is_empty() {
            return (false, 0);
        }
        let mut feeding = lane.feeding.borrow_mut();
        let mut given = 0;
        while dev.wants_read(source) && self.tokens.get() > 0 {
            drop(feeding);
            self.between(dev, log, lane, m, given);
            feeding = lane.feeding.borrow_mut();
            if given >= ROUND_BYTES {
                return (true, given);
            }
            if feeding.is_empty() {
                if let Some(m) = lane.recovered.borrow_mut().pop_front() {
                    *feeding = m;
                }
            }
            let from_log = feeding.is_empty();
            if from_log && memory_only {
                break;
            }
            let msg: &[u8] = if from_log {
                match log.peek(lane.reader) {
                    Ok(Some(m)) => m,
                    Ok(None) => break,
                    Err(e) => {
                        self.failed(tag, "cannot read a block", &e);
                        break;
                    }
                }
            } else {
                &feeding
            };
            if from_log && message_body(msg) > self.max_msg {
                // Spooled under a larger max_msg_size than the device has now.
                self.refused(tag, "larger than max_msg_size");
                let _ = log.skip(lane.reader);
                continue;
            }
            let at = lane.fed.get();
            let n = match dev.handle_input(source, &msg[at..], now) {
                Ok(n) => n,
                Err(e) => {
                    self.refused(tag, &e.to_string());
                    dev.spool_source_reset(lane.reader, now);
                    lane.fed.set(0);
                    if from_log {
                        let _ = log.skip(lane.reader);
                    }
                    feeding.clear();
                    continue;
                }
            };
            if n == 0 {
                break;
            }
            let whole = at + n == msg.len();
            // Kept apart: the rest goes from this copy, whatever the log does meanwhile.
            let keep = (!whole && from_log).then(|| msg.to_vec());
            given += n;
            self.tokens
                .set(self.tokens.get() - i64::try_from(n).unwrap_or(i64::MAX));
            if whole {
                lane.fed.set(0);
                feeding.clear();
            } else {
                lane.fed.set(at + n);
                if let Some(copy) = keep {
                    *feeding = copy;
                }
            }
            if from_log {
                if let Err(e) = log.take(lane.reader) {
                    self.failed(tag, "cannot read a block", &e);
                    break;
                }
                self.dirty.set(true);
            }
        }
        drop(feeding);
        self.between(dev, log, lane, m, given);
        (false, given)
    }

    /// A spooled message the device refuses is dropped: counted, and said the first time.
    fn refused(&self, tag: &str, why: &str) {
        self.count(|v| v.refused += 1);
        if !self.refused_said.replace(true) {
            warn!(
                "{tag}spool {}: dropped a spooled message the device refuses ({why}; spooled \
                 under other settings?); others are counted in \
                 zedge_spool_messages_total{{event=\"refused\"}}",
                self.dir.display()
            );
        }
    }

    /// Tokens for the rate: a second's worth at most; without a rate, always some.
    fn refill(&self) {
        if self.rate == 0 {
            self.tokens.set(i64::MAX);
            return;
        }
        let now = StdInstant::now();
        let ms = now.duration_since(self.refilled.get()).as_millis();
        let add = u128::from(self.rate) * ms / 1000;
        if add > 0 {
            let cap = i64::try_from(self.rate).unwrap_or(i64::MAX);
            let t = i128::from(self.tokens.get()) + add as i128;
            self.tokens.set(t.min(i128::from(cap)) as i64);
            self.refilled.set(now);
        }
    }

    /// When the rate next allows some, if it holds the source back now.
    fn rate_wait(&self) -> Option<Duration> {
        let short = self.tokens.get();
        (self.rate > 0 && short <= 0).then(|| {
            let need = (1 - short) as u64;
            Duration::from_millis((need * 1000).div_ceil(self.rate).max(1))
        })
    }
}

impl DeviceHost {
    /// The spool's task: runs for as long as the device does.
    pub async fn run_spool(self: Rc<Self>) {
        let Some(sp) = self.spool.as_ref() else {
            return;
        };
        let mut next_sync = StdInstant::now() + sp.fsync;
        loop {
            self.give_back_stalled(sp);
            self.take_back_live(sp, false);
            let more = self.with_device(|dev| sp.step(&self.tag, dev, self.clock.now()));
            if StdInstant::now() >= next_sync {
                if sp.dirty.replace(false) {
                    self.sync_spool(sp).await;
                }
                next_sync = StdInstant::now() + sp.fsync;
            }
            if more {
                future::yield_now().await;
                continue;
            }
            let mut wake_at = next_sync;
            if let Some(w) = sp.rate_wait() {
                wake_at = wake_at.min(StdInstant::now() + w);
            }
            if let Some(w) = sp.settle_wait() {
                wake_at = wake_at.min(StdInstant::now() + w);
            }
            if !sp.watched.borrow().is_empty() {
                wake_at = wake_at.min(StdInstant::now() + STALL_LOOK);
            }
            if sp.failed.get().is_some() {
                wake_at = wake_at.min(StdInstant::now() + RETRY);
            }
            let timer = async {
                Timer::at(wake_at).await;
            };
            future::or(timer, poll_fn(|cx| sp.signal.poll(cx))).await;
        }
    }

    /// Make what was appended durable, on `blocking`'s thread.
    async fn sync_spool(&self, sp: &Spooler) {
        let Some(job) = sp.log.borrow_mut().as_mut().map(Spool::prepare_sync) else {
            return;
        };
        let result = match job {
            Ok(job) => blocking::unblock(move || job.run()).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            sp.dirty.set(true);
            sp.failed(&self.tag, "cannot sync", &e);
        }
    }

    /// The device stops: what the spool's receivers hold live and have not begun comes out
    /// of their queues (it goes into the log at [`DeviceHost::flush_spool`]), so that the
    /// flush finishes the message each had begun.
    pub fn spool_stopping(&self) {
        if let Some(sp) = self.spool.as_ref() {
            self.take_back_live(sp, true);
        }
    }

    /// At stop: what the sink still holds goes to the log, and what the spool's receivers
    /// had live and not begun too (for their lanes' readers only), and the log is synced,
    /// here.
    pub fn flush_spool(&self) {
        let Some(sp) = self.spool.as_ref() else {
            return;
        };
        self.take_back_live(sp, true);
        self.with_device(|dev| {
            // A message being cut into the sink will not end now: what was held back behind
            // it goes in, and to the log with the rest (attacker round 27, G2).
            dev.spool_stopping();
            sp.take_sink(&self.tag, dev);
            // What the disk did not take is lost: counted and said (attacker round 29, I4:
            // a stop on a full disk lost what waited in memory for it, and said nothing).
            let (a, b) = dev.output(sp.sink);
            let mut left = sp.partial.borrow().clone();
            left.extend_from_slice(a);
            left.extend_from_slice(b);
            let n = split_commands(&left).msgs.len() as u64;
            if n > 0 {
                dev.spool_lost(n);
                warn!(
                    "{}spool {}: {n} messages ({} bytes) could not be written at the stop \
                     (the disk refuses writes, or the spool could not be opened): lost, \
                     counted as above a high-water mark",
                    self.tag,
                    sp.dir.display(),
                    left.len()
                );
            }
        });
        if sp.log.borrow().is_none() {
            // Never opened: what was taken out of the receivers' queues (those that left
            // had not begun them), or held for lanes gone live, cannot be kept (attacker
            // round 30, J3: lost, uncounted, and said to be in the spool). What the
            // receivers still hold is lost with their connections, as the stop said.
            let n: usize = sp
                .lanes
                .iter()
                .map(|l| l.tail.take().len() + l.recovered.take().len())
                .sum();
            if n > 0 {
                self.with_device(|dev| dev.spool_lost(n as u64));
                warn!(
                    "{}spool {}: {n} messages that receivers which left had not begun could \
                     not be written at the stop (the spool could not be opened): lost, \
                     counted as above a high-water mark",
                    self.tag,
                    sp.dir.display()
                );
            }
            sp.flushed.set(true);
            sp.publish(None);
            return;
        }
        // What the receivers of a lane still live hold live and have not begun (and what
        // those that left had): into the log for that lane, behind everything it had from
        // there (attacker round 22, F3: lost at every stop). A receiver taking a message
        // cut through gives the whole ones before it, and those held back behind it.
        for lane in sp.lanes.iter().filter(|l| l.parked.get()) {
            self.deliver_live(sp, lane);
            let mut live = std::mem::take(&mut *lane.tail.borrow_mut());
            for (id, _) in self.receivers(lane) {
                let mut msgs = self
                    .live_msgs(lane, id)
                    .map_or_else(Vec::new, |(_, t)| t.msgs);
                msgs.extend(self.held_back(id));
                self.add_tail(&mut live, msgs);
            }
            // What it was to send from memory first (`give_held_to_live`).
            let mut held = Vec::from(std::mem::take(&mut *lane.recovered.borrow_mut()));
            held.extend(live);
            if held.is_empty() {
                continue;
            }
            let n = held.len();
            if let Some(log) = sp.log.borrow_mut().as_mut() {
                match log.append_for(lane.reader, &held) {
                    Ok(()) => info!(
                        "{}spool {}: {n} messages queued live and not yet sent{} go to the spool, sent after the restart",
                        self.tag,
                        sp.dir.display(),
                        if lane.name.is_empty() {
                            String::new()
                        } else {
                            format!(" to {}", lane.name)
                        }
                    ),
                    Err(e) => {
                        sp.failed(&self.tag, "cannot write what was queued live at stop", &e);
                        self.with_device(|dev| dev.spool_lost(n as u64));
                        warn!(
                            "{}spool {}: {n} messages queued live and not yet sent could not be \
                             written at the stop ({e}): lost, counted as above a high-water mark",
                            self.tag,
                            sp.dir.display()
                        );
                    }
                }
            }
        }
        sp.flushed.set(true);
        self.with_device(|dev| {
            if let Some(log) = sp.log.borrow_mut().as_mut() {
                sp.deliver(&self.tag, dev, log);
            }
            sp.count_dropped(dev);
        });
        let Some(job) = sp.log.borrow_mut().as_mut().map(Spool::prepare_sync) else {
            return;
        };
        if let Err(e) = job.and_then(|j| j.run()) {
            sp.failed(&self.tag, "cannot sync at stop", &e);
            let n = sp.log.borrow().as_ref().map_or(0, Spool::unwritten);
            if n > 0 {
                self.with_device(|dev| dev.spool_lost(n));
                warn!(
                    "{}spool {}: {n} messages gathered in memory could not be written at the \
                     stop ({e}): lost, counted as above a high-water mark",
                    self.tag,
                    sp.dir.display()
                );
            }
            // Said whatever was said before (attacker round 29, I5).
            warn!(
                "{}spool {}: cannot record where sending stands at the stop ({e}): after the \
                 restart the uplinks or workers get again what was sent since it was last \
                 recorded",
                self.tag,
                sp.dir.display()
            );
        }
        sp.publish(None);
    }

    /// At a stop, a parked lane none of whose receivers has anything unwritten from the log
    /// ([`Spooler::live_only`]): its cursor moves to where its reader stands (past what it
    /// had live), ahead of the block of what they had not begun.
    fn deliver_live(&self, sp: &Spooler, lane: &Lane) {
        let receivers = self.receivers(lane);
        let live = self.peek(|dev| {
            receivers
                .iter()
                .all(|&(id, _)| Spooler::live_only(dev, lane, id))
        });
        if !live || lane.frozen.get() {
            return;
        }
        let mut log = sp.log.borrow_mut();
        let Some(log) = log.as_mut() else { return };
        lane.checkpoints.borrow_mut().clear();
        log.forget_marks(lane.reader);
        let mark = log.mark(lane.reader);
        if let Err(e) = log.delivered(lane.reader, mark) {
            warn!(
                "{}spool {}: cannot delete a segment sent: {e}",
                self.tag,
                sp.dir.display()
            );
        }
        sp.dirty.set(true);
    }

    /// A worker connection ended: the whole messages its queue held that it had not begun
    /// to write go back through the spool, ahead of everything in it (and new work goes
    /// behind them). What its socket took, and the message it was writing, are lost with
    /// the connection, as with any ZeroMQ peer.
    pub fn recover_to_spool(&self, id: PeerId) {
        let Some(sp) = self.spool.as_ref() else {
            return;
        };
        let stopping = self.stopping();
        let leaves = |gives_back: Option<u64>| {
            self.peek(|dev| sp.leaves(dev, &self.tag, id, stopping, gives_back));
        };
        // Messages held back for it behind one it was taking when it left (`later.rs`):
        // published while its lane did not spool, so it had them live, and they follow
        // what its queue holds (attacker round 26, F1: an uplink reset by an aborted large
        // publication lost them).
        let behind = self.held_back(id);
        if stopping {
            // What came from the log stays there (the cursor stays where it was); what it
            // had live goes into the log for its lane at the flush.
            let lane = self.peek(|dev| sp.lane_of(dev, id));
            if lane.parked.get() && !sp.flushed.get() {
                let mut live = self
                    .live_tail(lane, id)
                    .map_or_else(Vec::new, |(_, t)| t.msgs);
                live.extend(behind);
                self.add_tail(&mut lane.tail.borrow_mut(), live);
            }
            return leaves(None);
        }
        // A forwarder's: only what an uplink was to be sent, to its lane, once no other
        // uplink of that lane is there (a local subscriber's queue is its own, and another
        // uplink of the lane got the same messages).
        let forwarder = self.peek(|dev| matches!(dev.config().kind, Kind::Forwarder { .. }));
        let mut lane = 0;
        if forwarder {
            let last = self.peek(|dev| {
                let k = dev.uplink_lane(id)?;
                (dev.uplinks_live(Some(k)) <= 1).then_some(k)
            });
            let Some(k) = last else {
                return leaves(None);
            };
            lane = k;
            self.with_device(|dev| dev.spool_begin(k));
        }
        let start = {
            let frames = self.frames.borrow();
            let f = frames.get(&id).copied().unwrap_or_default();
            self.peek(|dev| dev.queue(id).and_then(|q| f.first_unbegun(q.slices())))
        };
        if start.is_none() && behind.is_empty() {
            return leaves(None);
        }
        // Its whole messages, up to one cut short (its commands go with the connection):
        // those from the log go out again from memory (the log keeps them until written);
        // those it had live go into the log, where the lane's spooling begins. Those held
        // back for it come after them: into the log too, or, if the lane reads the log
        // already (they came before its spooling began), ahead of it from memory.
        let l = &sp.lanes[lane];
        let live = start
            .and_then(|_| self.live_tail(l, id))
            .filter(|_| l.parked.get());
        let end = live.as_ref().map_or(u64::MAX, |(at, _)| *at as u64);
        let mut msgs = start
            .and_then(|start| {
                let rest = self.queued_from(id, start)?;
                let upto = usize::try_from(end.saturating_sub(start)).unwrap_or(usize::MAX);
                Some(split_commands(&rest[..upto.min(rest.len())]).msgs)
            })
            .unwrap_or_default();
        let mut live = live.map_or_else(Vec::new, |(_, t)| t.msgs);
        if l.parked.get() {
            live.extend(behind);
        } else {
            msgs.extend(behind);
        }
        // Where what it gives back begins in its stream: its first message not begun, or,
        // with only messages held back, past all it was given.
        let from = self.peek(|dev| {
            let pushed = dev.pushed(id);
            let queued = dev.queue(id).map_or(0, |q| q.len() as u64);
            start.map_or(pushed, |s| pushed.saturating_sub(queued) + s)
        });
        leaves((!msgs.is_empty() || !live.is_empty()).then_some(from));
        if msgs.is_empty() && live.is_empty() {
            return;
        }
        let n = (msgs.len() + live.len()) as u64;
        l.recovered.borrow_mut().extend(msgs);
        self.add_tail(&mut l.tail.borrow_mut(), live);
        sp.count(|v| v.recovered += n);
        self.with_device(|dev| dev.spool_begin(lane));
        sp.signal.wake();
    }

    /// At a stop, the spool's receivers with bytes not written whose messages the spool
    /// keeps, and whether the message one had begun came live ([`Spooler::live_only`]):
    /// what they had from the log stays in it, and what they had live and not begun goes
    /// into it at the flush; a message begun that came live is lost with its connection.
    /// Not a worker that stalled and gave back what it had not begun: what it holds is not
    /// waited for. None while the log is not open: then what they hold is lost.
    pub fn spool_keeps(&self) -> HashMap<PeerId, bool, ById> {
        let mut keeps = HashMap::default();
        let Some(sp) = self.spool.as_ref() else {
            return keeps;
        };
        if sp.log.borrow().is_none() {
            return keeps;
        }
        let excused = sp.excused.borrow();
        for lane in &sp.lanes {
            for (id, _) in self.receivers(lane) {
                if excused.get(&id).is_none() {
                    let live = self.peek(|dev| Spooler::live_only(dev, lane, id));
                    keeps.insert(id, live);
                }
            }
        }
        keeps
    }

    /// Messages taken out of the spool's receivers' queues (what they had live, and what
    /// ones that left gave back) that wait to go into the log, or out again: how many, and
    /// their bytes. None while the log is not open: then they are lost at the stop, and
    /// said so ([`DeviceHost::flush_spool`]; attacker round 30, J3).
    pub fn spool_taken_back(&self) -> (u64, u64) {
        let Some(sp) = self.spool.as_ref() else {
            return (0, 0);
        };
        if sp.log.borrow().is_none() {
            return (0, 0);
        }
        let mut n = (0, 0);
        for lane in &sp.lanes {
            for m in lane
                .tail
                .borrow()
                .iter()
                .chain(lane.recovered.borrow().iter())
            {
                n.0 += 1;
                n.1 += m.len() as u64;
            }
        }
        n
    }

    /// A lane's receivers with bytes not written, and their bytes ever queued.
    fn receivers(&self, lane: &Lane) -> Vec<(PeerId, u64)> {
        let mut ids = Vec::new();
        self.peek(|dev| dev.spool_unwritten(lane.reader, |id, pushed| ids.push((id, pushed))));
        ids
    }

    /// The messages held back for `id` behind the one going into its queue (`later.rs`).
    fn held_back(&self, id: PeerId) -> Vec<Vec<u8>> {
        self.peek(|dev| {
            dev.queue(id)
                .map_or_else(Vec::new, |q| split_commands(q.held_back()).msgs)
        })
    }

    /// The whole messages `id` (a receiver of `lane`, parked) had live and not begun: where
    /// they start in its queue, and them (the command frames among them apart). `None` if
    /// its stream cannot be followed, or they end mid-message.
    fn live_tail(&self, lane: &Lane, id: PeerId) -> Option<(usize, Tail)> {
        self.live_msgs(lane, id).filter(|(_, t)| t.whole)
    }

    /// [`DeviceHost::live_tail`], up to a message cut short at its end, if one is (being
    /// copied into its queue).
    fn live_msgs(&self, lane: &Lane, id: PeerId) -> Option<(usize, Tail)> {
        let f = self.frames.borrow().get(&id).copied().unwrap_or_default();
        let from = lane.live_from.borrow().get(&id).copied().unwrap_or(0);
        self.peek(|dev| {
            let q = dev.queue(id)?;
            let start = usize::try_from(f.first_unbegun(q.slices())?).ok()?;
            let base = dev.pushed(id).checked_sub(q.len() as u64)?;
            let live = usize::try_from(from.saturating_sub(base))
                .unwrap_or(usize::MAX)
                .max(start)
                .min(q.len());
            Some((live, split_commands(&bytes_from(q, live))))
        })
    }

    /// `msgs` join what a lane holds to write for its receivers: a streamer's workers each
    /// had messages of their own; a forwarder's uplinks of one lane (one endpoint given
    /// twice, or connected again) had the same ones, and the longest run stands for them.
    fn add_tail(&self, tail: &mut Vec<Vec<u8>>, msgs: Vec<Vec<u8>>) {
        let forwarder = self.peek(|dev| matches!(dev.config().kind, Kind::Forwarder { .. }));
        if !forwarder {
            tail.extend(msgs);
        } else if msgs.len() > tail.len() {
            *tail = msgs;
        }
    }

    /// The lanes that began to spool and have not reached that point in the sink yet
    /// (parked, with a spooling point), or every parked lane when the device stops
    /// (`stopping`): the whole messages their receivers had live and not begun come out of
    /// their queues into [`Lane::tail`], to go into the log ahead of what the lane spools
    /// from now on, or at the stop's end ([`DeviceHost::flush_spool`]). At a stop, that
    /// leaves the flush to finish the message each receiver had begun (a connection cut
    /// short loses it). A receiver into whose queue a message is being copied keeps them
    /// (they are sent from there, as before; a stop then loses them).
    fn take_back_live(&self, sp: &Spooler, stopping: bool) {
        if sp.log.borrow().is_none() {
            // Taken back now, they would wait for the log to open: they go from the queues.
            return;
        }
        for lane in &sp.lanes {
            let due = lane.parked.get()
                && (stopping || self.peek(|dev| dev.spool_lane_from(lane.reader).is_some()));
            if !due {
                continue;
            }
            for (id, _) in self.receivers(lane) {
                let Some((keep, t)) = self.live_tail(lane, id) else {
                    continue;
                };
                if t.msgs.is_empty() {
                    continue;
                }
                let cut = self.with_device(|dev| {
                    let cut = dev.take_back_live(id, keep, &t.commands);
                    (cut, dev.pushed(id))
                });
                if let (true, pushed) = cut {
                    // Checkpoints waiting for the bytes cut wait for what it holds now: what
                    // the lane's source had given it, it still holds.
                    for c in lane.checkpoints.borrow_mut().iter_mut() {
                        for w in c.waits.iter_mut().filter(|w| w.0 == id) {
                            w.1 = w.1.min(pushed);
                        }
                    }
                    lane.live_from.borrow_mut().insert(id, pushed);
                    self.add_tail(&mut lane.tail.borrow_mut(), t.msgs);
                }
            }
        }
    }

    /// The bytes of `id`'s queue from `start` on, if it has a queue.
    fn queued_from(&self, id: PeerId, start: u64) -> Option<Vec<u8>> {
        self.peek(|dev| {
            let q = dev.queue(id)?;
            Some(bytes_from(q, usize::try_from(start).unwrap_or(usize::MAX)))
        })
    }

    /// A streamer's worker whose socket took less than [`PROGRESS_BYTES`] of its queue in
    /// the progress timeout, while another worker takes its own, gives the messages it has
    /// not begun to the others: they go back through the spool, ahead of it, as a leaving worker's do
    /// ([`DeviceHost::recover_to_spool`]). From then on it gets work only when no other
    /// worker can take it, and what it still holds (the message it had begun) is not waited
    /// for. Else a worker that stays connected and never reads would hold the spool's
    /// cursor where it stopped: the spool could delete nothing, and a restart would send
    /// again everything since (attacker round 22, F4). When every worker stalled, none
    /// gives anything back: the cursor waits for them, as it does for an uplink that is down.
    fn give_back_stalled(&self, sp: &Spooler) {
        let now = StdInstant::now();
        if sp.stall.is_zero() || now.duration_since(sp.looked.get()) < STALL_LOOK {
            return;
        }
        sp.looked.set(now);
        let mut workers: HashMap<PeerId, (u64, u64), ById> = HashMap::default();
        self.peek(|dev| {
            dev.spool_workers(|id, pushed, written| {
                workers.insert(id, (pushed, written));
            });
        });
        let mut stalled = Vec::new();
        {
            let mut watched = sp.watched.borrow_mut();
            let mut excused = sp.excused.borrow_mut();
            let mut joined = sp.joined.borrow_mut();
            watched.retain(|id, _| workers.get(id).is_some_and(|w| w.0 > w.1));
            // One that has written what it held then, or PROGRESS_BYTES since, reads again
            // (a byte now and then is no progress: it would be waited for again each time).
            excused.retain(|id, &mut (upto, then)| {
                workers
                    .get(id)
                    .is_some_and(|w| w.1 < upto && w.1 < then.saturating_add(PROGRESS_BYTES))
            });
            joined.retain(|id, _| workers.contains_key(id));
            for (&id, &(pushed, written)) in &workers {
                joined.entry(id).or_insert(now);
                if pushed <= written {
                    continue;
                }
                let w = watched.entry(id).or_insert(Watched {
                    written,
                    since: now,
                });
                // Progress is PROGRESS_BYTES taken: a peer that reads a byte now and then
                // would hold its queue, and the cursor, for good.
                if written >= w.written.saturating_add(PROGRESS_BYTES) {
                    *w = Watched {
                        written,
                        since: now,
                    };
                }
                let given_all = excused.get(&id).is_some_and(|&(upto, _)| pushed <= upto);
                if !given_all && now.duration_since(w.since) >= sp.stall {
                    stalled.push(id);
                }
            }
            // Only to a worker that has been there for the progress timeout and is taking its
            // own (its queue empty, or PROGRESS_BYTES taken within a quarter of the timeout):
            // one just connected, or one on its way to stalling, may read nothing either, and
            // what it took meanwhile (its kernel's buffers, a libzmq peer's pipe) would go
            // with it (attacker round 23, F3: ten that never read passed the spool's work
            // among themselves).
            let turn = sp.stall / 4;
            let taker = workers.iter().any(|(id, &(pushed, written))| {
                let old = joined
                    .get(id)
                    .is_some_and(|&at| now.duration_since(at) >= sp.stall);
                let taking = pushed <= written
                    || watched
                        .get(id)
                        .is_some_and(|w| now.duration_since(w.since) < turn);
                old && taking && !excused.contains_key(id)
            });
            if !taker {
                return;
            }
        }
        for id in stalled {
            self.give_back(sp, id);
        }
    }

    /// [`DeviceHost::give_back_stalled`] for `id`.
    fn give_back(&self, sp: &Spooler, id: PeerId) {
        let start = {
            let frames = self.frames.borrow();
            let f = frames.get(&id).copied().unwrap_or_default();
            self.peek(|dev| dev.queue(id).and_then(|q| f.first_unbegun(q.slices())))
        };
        // The whole messages it had not begun go; the command frames among them (PINGs,
        // a PONG owed) stay, in order, in their place. A stream that cannot be followed is
        // left as it is, and waited for.
        let Some((start, rest)) = start.and_then(|s| Some((s, self.queued_from(id, s)?))) else {
            return;
        };
        let Tail {
            mut msgs,
            commands,
            whole: true,
        } = split_commands(&rest)
        else {
            return;
        };
        // Those it had live (its lane parked) go into the log, where the lane's spooling
        // begins, rather than out again from memory: on disk by the time the device stops.
        let lane = &sp.lanes[0];
        let live = if lane.parked.get() {
            self.live_tail(lane, id)
                .map_or_else(Vec::new, |(_, t)| t.msgs)
        } else {
            Vec::new()
        };
        msgs.truncate(msgs.len().saturating_sub(live.len()));
        let keep = usize::try_from(start).unwrap_or(usize::MAX);
        let taken = self.with_device(|dev| {
            let written = dev.written(id);
            // What it holds now: the rest of the message it had begun, and the commands.
            let upto = written + (keep + commands.len()) as u64;
            dev.take_back_output(id, keep, &commands)
                .then_some((upto, written))
        });
        let Some((upto, written)) = taken else { return };
        let again = sp
            .excused
            .borrow_mut()
            .insert(id, (upto, written))
            .is_some();
        // Work given to it later (no other worker had room) has its own time.
        let since = StdInstant::now();
        sp.watched
            .borrow_mut()
            .insert(id, Watched { written, since });
        for c in lane.checkpoints.borrow_mut().iter_mut() {
            c.waits.retain(|w| w.0 != id || w.1 > upto);
        }
        let n = msgs.len() + live.len();
        let addr = self.conns.borrow().get(&id).map(|h| h.addr.clone());
        if n == 0 {
            // What it still holds is the message it had begun, and commands: said once.
            if !again && keep > 0 {
                warn!(
                    "{}{} {}: its socket took less than {} KiB of its queue in {:?}: the \
                     message it had begun is no longer waited for by the spool: if zedge \
                     stops before that worker reads it, it is lost",
                    self.tag,
                    side_name(zedge_core::device::Side::Backend),
                    addr.unwrap_or_default(),
                    PROGRESS_BYTES >> 10,
                    sp.stall,
                );
            }
            return;
        }
        warn!(
            "{}{} {}: its socket took less than {} KiB of its queue in {:?}: {n} messages \
             it had not begun go to the other workers; it gets work again only when they have \
             no room or once it reads",
            self.tag,
            side_name(zedge_core::device::Side::Backend),
            addr.unwrap_or_default(),
            PROGRESS_BYTES >> 10,
            sp.stall,
        );
        lane.recovered.borrow_mut().extend(msgs);
        self.add_tail(&mut lane.tail.borrow_mut(), live);
        sp.count(|v| v.recovered += n as u64);
        sp.forget_marks(lane);
        self.with_device(|dev| dev.spool_begin(0));
        sp.signal.wake();
    }

    /// Whether a connection out to the receivers of the device's spool waits before it is
    /// made: the spool is not open yet ([`Spooler::not_open_yet`]).
    pub fn receivers_wait(&self) -> bool {
        self.spool.as_ref().is_some_and(Spooler::not_open_yet)
    }

    /// What the spool shows, if the device has one.
    pub fn spool_view(&self) -> Option<SpoolView> {
        self.spool.as_ref().map(Spooler::view)
    }
}

/// A forwarder's uplinks, as its spool's readers are named: its `>` endpoints, each once
/// (the same endpoint twice: its connections share a lane), in the order given.
pub fn uplink_names(d: &crate::setup::DeviceSetup) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let ups = d
        .backends
        .iter()
        .filter(|e| e.mode == crate::endpoint::Mode::Connect);
    for name in ups.map(|e| reader_name(&e.to_string())) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// A reader's name for the endpoint `ep`: its text, white space and `%` escaped (a cursor
/// file's line ends with it).
pub fn reader_name(ep: &str) -> String {
    let mut name = String::with_capacity(ep.len());
    for c in ep.chars() {
        if c.is_whitespace() || c == '%' {
            name.push_str(&format!("%{:02X}", u32::from(c)));
        } else {
            name.push(c);
        }
    }
    name
}

/// A count to be said at most every [`DROPS_SAID`], with `seen` (the count when last said,
/// and when): what it was when last said, if it has grown and is due now.
fn due(seen: &Cell<(u64, Option<StdInstant>)>, n: u64) -> Option<u64> {
    let (was, at) = seen.get();
    if n <= was || at.is_some_and(|at| at.elapsed() < DROPS_SAID) {
        return None;
    }
    seen.set((n, Some(StdInstant::now())));
    Some(was)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The bytes of queue `q` from `start` on (none past its end), copied out.
fn bytes_from(q: &crate::queue::HeapQueue, start: usize) -> Vec<u8> {
    let start = start.min(q.len());
    let mut bytes = Vec::with_capacity(q.len() - start);
    let mut skip = start;
    for s in q.slices() {
        let n = skip.min(s.len());
        skip -= n;
        bytes.extend_from_slice(&s[n..]);
    }
    bytes
}

/// Append the whole messages at the start of `bytes` to `log` (command frames between them
/// skipped), until one fails to be written (into `result`; it counts as appended, gathered
/// for the next try): the bytes used. `bytes` begins at `at` in the sink's stream, and
/// `appended` is told where each message appended began in it.
fn append_whole(
    log: &mut Spool,
    bytes: &[u8],
    at: u64,
    result: &mut io::Result<()>,
    appended: &mut dyn FnMut(&mut Spool, u64, bool),
) -> usize {
    let mut used = skip_commands(bytes);
    while let Some(end) = message_end(&bytes[used..]) {
        appended(log, at + used as u64, false);
        let r = log.append(&bytes[used..used + end]);
        appended(log, at + used as u64, true);
        used += end;
        used += skip_commands(&bytes[used..]);
        if r.is_err() {
            *result = r;
            break;
        }
    }
    used
}

/// A queue's tail split: its whole messages, each apart, and its command frames, together
/// in order, up to a message cut short (then not `whole`).
#[derive(Debug, PartialEq, Eq)]
struct Tail {
    msgs: Vec<Vec<u8>>,
    commands: Vec<u8>,
    whole: bool,
}

/// [`Tail`] of `bytes`, from a message's start or a command's.
fn split_commands(bytes: &[u8]) -> Tail {
    let (mut msgs, mut commands) = (Vec::new(), Vec::new());
    let whole = walk(
        bytes,
        |c| commands.extend_from_slice(c),
        |_, m| msgs.push(m.to_vec()),
    );
    Tail {
        msgs,
        commands,
        whole,
    }
}

/// Each command and each whole message of `bytes` (from a message's start or a command's),
/// in order, a message with where it begins: whether they end where `bytes` does.
fn walk(
    bytes: &[u8],
    mut command: impl FnMut(&[u8]),
    mut message: impl FnMut(usize, &[u8]),
) -> bool {
    let mut at = 0;
    loop {
        let n = skip_commands(&bytes[at..]);
        command(&bytes[at..at + n]);
        at += n;
        let Some(end) = message_end(&bytes[at..]) else {
            return at == bytes.len();
        };
        message(at, &bytes[at..at + end]);
        at += end;
    }
}

/// Bytes of the command frames at the start of `bytes` (the sink's session sends none; a
/// command there is not a message to spool).
fn skip_commands(bytes: &[u8]) -> usize {
    frames(bytes)
        .take_while(|f| f.command)
        .last()
        .map_or(0, |f| f.end)
}

/// The body bytes of a message's frames (what `max_msg_size` bounds).
fn message_body(bytes: &[u8]) -> u64 {
    frames(bytes).fold(0u64, |n, f| n.saturating_add(f.body))
}

#[cfg(test)]
mod tests {
    use super::{reader_name, split_commands, Tail};

    #[test]
    fn a_readers_name_is_its_endpoint_with_white_space_and_percent_escaped() {
        assert_eq!(reader_name(">tcp://cloud:5561"), ">tcp://cloud:5561");
        assert_eq!(reader_name("ipc:///run/a b%c"), "ipc:///run/a%20b%25c");
        assert_eq!(reader_name("a\tb\nc"), "a%09b%0Ac");
        assert_ne!(reader_name("a b"), reader_name("a%20b"));
    }

    fn tail(msgs: Vec<Vec<u8>>, commands: Vec<u8>, whole: bool) -> Tail {
        Tail {
            msgs,
            commands,
            whole,
        }
    }

    /// A data frame (`more`: another follows) or a command frame, short heads.
    fn frame(body: &[u8], more: bool, command: bool) -> Vec<u8> {
        let flags = u8::from(more) | if command { 0x04 } else { 0 };
        let mut f = vec![flags, body.len() as u8];
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn the_messages_go_and_the_commands_among_them_stay_in_order() {
        let a = [frame(b"a1", true, false), frame(b"a2", false, false)].concat();
        let b = frame(b"b", false, false);
        let ping = frame(b"\x04PING", false, true);
        let pong = frame(b"\x04PONG", false, true);
        let c = frame(b"c", false, false);
        let all = [a.clone(), ping.clone(), b.clone(), pong.clone(), c.clone()].concat();
        let commands = [ping.clone(), pong].concat();
        assert_eq!(
            split_commands(&all),
            tail(vec![a.clone(), b.clone(), c], commands, true)
        );
        // No command.
        let plain = [a.clone(), b.clone()].concat();
        assert_eq!(
            split_commands(&plain),
            tail(vec![a.clone(), b], vec![], true)
        );
        // Ending with a command, starting with one.
        let ends = [ping.clone(), a.clone(), ping.clone()].concat();
        let both = [ping.clone(), ping].concat();
        assert_eq!(split_commands(&ends), tail(vec![a.clone()], both, true));
        // Ending mid-message: what came before it, not whole.
        let cut = [a.clone(), a[..a.len() - 1].to_vec()].concat();
        assert_eq!(split_commands(&cut), tail(vec![a], vec![], false));
        assert_eq!(split_commands(&[]), tail(vec![], vec![], true));
    }
}
