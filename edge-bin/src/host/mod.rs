//! One device and the connections it serves, on its device thread.
//!
//! The device is sans-IO: a call that feeds one peer's input may give another peer output or
//! room, or ask for a peer to be closed, and it says so only through its wake and close lists.
//! [`DeviceHost::with_device`] is therefore the only way to change the device: it runs the
//! call and then hands both lists to the connections' [`Signal`]s, so no call site can forget
//! to (it also tries the sockets the device asks it to, `Device::poll_probe`). Tasks borrow
//! the device only inside such a call, never across an await.
//!
//! A host is built on its device's own thread and stays there (`Rc`, `RefCell`). Its storage
//! (peer slots, subscription entries, read buffer) is allocated before, fallibly, from its
//! limits ([`Storage`]); the tables are leaked, so a device a reload stops or restarts leaves
//! them behind (about 2 MiB at the default limits) until the process restarts.
//!
//! New connections pass the [`Gate`] first: [`DeviceHost::admit`] refuses one that a cap
//! keeps out, and closes a connection still in its handshake at once where the gate says so
//! to make room.

mod admission;
mod curve;
mod output;
mod peers;
mod spool;
mod strikes;
mod summary;
mod warnings;

use std::cell::{Cell, OnceCell, RefCell, RefMut};
use std::collections::HashMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use async_io::Timer;
use futures_lite::future;
use zedge_core::device::{Device, PeerId, Side, Slot, Stats};
use zedge_core::time::{Duration as CoreDuration, Instant};

use crate::budget::{Account, Budget, Charge};
use crate::gate::{Gate, Limits, Source};
use crate::net::Stream;
use crate::outframes::OutFrames;
use crate::queue::HeapQueue;
use crate::report::RefusedSubscriptions;
use crate::secure::Secure;
use crate::setup::DeviceSetup;
use crate::signal::Signal;
use crate::splice::Pipes;
use crate::storage::Storage;
use curve::Security;
pub use output::{write_output, write_peer};
use peers::RefusedPeers;
pub use peers::{hex, show, Human, PeerLine, Secs};
use spool::Spooler;
pub use spool::{uplink_names, LaneView, SpoolView};
use warnings::{log_refused, Lossy, Spent};

pub type Dev = Device<'static, HeapQueue>;

/// The timer task looks at the device's deadlines at least this often.
const TIMER_TICK: CoreDuration = CoreDuration::from_millis(100);
/// Between two calls for the device's waiting work ([`Device::has_work`]), the timer task
/// waits this long through the reactor: every other task runs and every socket is seen to
/// between two bounded parts of it.
const WORK_GAP: Duration = Duration::from_micros(100);
const STATS_EVERY: Duration = Duration::from_secs(60);
/// What a queue client's socket must pass on between two looks, when the device is about to
/// close it for not reading (`Device::poll_probe`), to count as reading (or all it held, if
/// less): a window opened a few bytes at a time (a hostile TCP stack) buys no more time than
/// it did when only our writes counted, about what a socket that reads as writable again
/// has freed.
const PROBE_PROGRESS: u32 = 4 << 10;

/// Whether a socket passed on enough between two looks, each the bytes ever written to it and
/// what it held untaken then: what left its queue is what was written since, less what it
/// gained; enough is [`PROBE_PROGRESS`], or all it held if less.
fn passed_on((written, held): (u64, u32), (written_now, held_now): (u64, u32)) -> bool {
    let passed =
        i128::from(written_now.saturating_sub(written)) - i128::from(held_now) + i128::from(held);
    passed >= i128::from(PROBE_PROGRESS.min(held.max(1)))
}

/// The process clock as the core sees it: milliseconds since start.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: StdInstant,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            start: StdInstant::now(),
        }
    }

    pub fn now(&self) -> Instant {
        let ms = self.start.elapsed().as_millis();
        Instant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    pub fn to_std(self, t: Instant) -> StdInstant {
        self.start + Duration::from_millis(t.as_millis())
    }
}

/// A connection the device has taken: its handle, how to reach its task, and its socket.
#[derive(Debug)]
pub struct Peer {
    pub id: PeerId,
    pub signal: Rc<Signal>,
    pub stream: Rc<Stream>,
    /// A CURVE peer's layer between the socket and the device: every write to the socket
    /// goes through it.
    pub secure: Option<Rc<RefCell<Secure>>>,
}

/// How the device's tasks reach a connection, and what admission knows of it.
#[derive(Debug)]
struct Handle {
    signal: Rc<Signal>,
    stream: Rc<Stream>,
    secure: Option<Rc<RefCell<Secure>>>,
    side: Side,
    src: Source,
    /// Its whole greeting came in, so the device has sent its READY.
    answered: Cell<bool>,
    /// When a byte last came from it while in its handshake (when it was accepted, until
    /// one does); not kept after it.
    heard: Cell<StdInstant>,
    /// When it was accepted.
    since: StdInstant,
    /// Bytes written to its socket ([`Device::written`]) and what the socket held untaken
    /// ([`Stream::unsent`]) when a write last found it full, or when it was last tried: the
    /// mark what it passed on since is told from.
    backlog: Cell<(u64, u32)>,
    /// Messages it had lost when a warning last said so (`warnings.rs`, `Lossy`).
    reported_drops: Cell<u64>,
    /// Its address: `ip:port`, or the endpoint for IPC (`peers.rs`).
    addr: String,
    /// The Identity its READY carried, if not empty (`peers.rs`).
    identity: OnceCell<Box<[u8]>>,
}

impl Handle {
    /// zedge made it, to one of the device's `>` endpoints.
    fn connected(&self) -> bool {
        self.src == crate::gate::Source::Connected
    }
}

/// Hashes a [`PeerId`] for the host's maps, which look one up several times per message.
/// The device hands out the ids (a slot and its generation), so no peer can choose keys that
/// collide: a multiply-and-rotate mix does, where SipHash's keyed rounds would only cost time.
#[derive(Clone, Copy, Debug, Default)]
pub struct ById;

#[derive(Default)]
pub struct IdHasher(u64);

impl std::hash::BuildHasher for ById {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// One device, its connections, and what they share.
pub struct DeviceHost {
    /// Starts every log line about this device: `"name "`, the kind's name for the command
    /// line's.
    tag: String,
    /// Its name (empty for the command line's) and when it started.
    name: String,
    started: StdInstant,
    dev: RefCell<Dev>,
    conns: RefCell<HashMap<PeerId, Handle, ById>>,
    /// Its CURVE keys and allow-list, or its PLAIN passwords, if it has either.
    security: Option<Security>,
    /// Where the frames are in each connection's output, for the report at stop.
    frames: RefCell<HashMap<PeerId, OutFrames, ById>>,
    gate: RefCell<Gate<PeerId>>,
    /// Pipes for moving large bodies socket to socket.
    pipes: Pipes,
    /// The read buffer, `input_capacity` bytes, lent to one connection at a time.
    scratch: RefCell<Box<[u8]>>,
    clock: Clock,
    /// Shutting down: no more input is taken, output still drains.
    stopping: Cell<bool>,
    queue_capacity: usize,
    /// A queue or streamer: its clients' and workers' sockets may be tried before closing
    /// them for not reading (`Device::poll_probe`), so a full one's backlog is noted. (Not
    /// so, a forwarder: its subscribers' sealed output counts in their queues' lag.)
    probes: bool,
    /// Wakes the timer task when the device has work waiting for it.
    timer: Signal,
    /// Refused subscriptions, warned rate-limited; flushed by the timer task.
    refused: RefCell<RefusedSubscriptions>,
    /// Subscriptions refused, all causes, when last looked at: one word to compare after each
    /// call into the device.
    refused_seen: Cell<u64>,
    /// Peers refused in their handshake, warned rate-limited (`peers.rs`).
    refused_peers: RefCell<RefusedPeers>,
    /// What the device's buffers draw from as they grow.
    account: Arc<Account>,
    /// Connections that could read nothing for want of memory, to wake when some is given back.
    starved: RefCell<Vec<PeerId>>,
    /// Addresses closed for holding a lane while others waited (`strikes.rs`).
    strikes: RefCell<strikes::Strikes>,
    /// [`Tuning::kernel_send_max`](crate::setup::Tuning::kernel_send_max).
    kernel_send_max: u32,
    /// A streamer's store-and-forward spool, if it has one (`spool.rs`).
    spool: Option<Spooler>,
}

impl DeviceHost {
    /// Build the device over `storage` (taken by [`Storage::allocate`], so nothing here can
    /// fail), its buffers drawing from `budget`. The peer table and subscription storage are
    /// leaked: the device borrows them for as long as it lives, and a device runs until the
    /// process ends or a reload stops it.
    pub fn start(
        d: &DeviceSetup,
        storage: Storage,
        clock: Clock,
        budget: Arc<Budget>,
    ) -> DeviceHost {
        let cfg = d.device_config();
        let kept = d.kept();
        let peers: &'static mut [Slot<HeapQueue>] = storage.peers.leak();
        let subs: &'static mut [u8] = storage.subs.leak();
        let last = storage.last.leak();
        let last_order: &'static mut [u32] = storage.last_order.leak();
        // Peers choose the topics: the table's hashes are keyed so that they cannot aim at
        // one slot.
        let seed = [fastrand::u64(..), fastrand::u64(..)];
        let tag = tag(d.display_name());
        let mut dev = Device::new(cfg, peers, subs, seed).with_last_values(last, last_order);
        let account = Arc::new(Account::with_cipher(
            budget,
            kept.lane,
            kept.queue,
            kept.cipher,
        ));
        let spool = d
            .spool
            .as_deref()
            .filter(|_| d.has_spool())
            .and_then(|dir| {
                let cap = cfg.queue_capacity();
                let queue = || HeapQueue::new(cap, Charge::new(account.clone()));
                let peers = dev.add_spool(queue(), queue(), clock.now()).ok()??;
                // A lane for each uplink (a forwarder's `>` endpoints, MAX_UPLINKS at most; its
                // reader in the log named by the endpoint), else one for the workers.
                let mut lanes = vec![(peers.source, String::new())];
                if matches!(d.kind, zedge_core::device::Kind::Forwarder { .. }) {
                    lanes.clear();
                    for name in spool::uplink_names(d) {
                        let source = match lanes.len() {
                            0 => Some(peers.source),
                            _ => dev
                                .add_spool_lane(queue(), clock.now())
                                .ok()
                                .flatten()
                                .map(|(_, id)| id),
                        };
                        match source {
                            Some(source) => lanes.push((source, name)),
                            None => {
                                log::warn!(
                                    "{tag}spool {}: {name} gets publications live only, \
                                     nothing spooled for it: a forwarder's spool stands in \
                                     for {} uplinks at most",
                                    dir.display(),
                                    zedge_core::device::MAX_UPLINKS
                                );
                            }
                        }
                    }
                    if lanes.is_empty() {
                        lanes.push((peers.source, String::new()));
                    }
                }
                // A log that cannot be opened now (a reload's new device finds it locked until the
                // one it replaces stops) is tried again by the spool's task.
                let readers: Vec<String> = lanes.iter().map(|l| l.1.clone()).collect();
                let log = Spooler::open(&tag, dir, &d.tuning, &readers)
                    .map_err(|e| {
                        log::warn!(
                            "{tag}spool {}: cannot open it yet: {e}; trying again every second \
                         (meanwhile producers wait while no worker can take work)",
                            dir.display()
                        )
                    })
                    .ok()
                    .map(|(log, _)| log);
                let sp = Spooler::new(peers.sink, lanes, log, dir, &d.tuning);
                sp.begin_held(&mut dev);
                Some(sp)
            });
        DeviceHost {
            tag,
            name: d.name.clone(),
            started: StdInstant::now(),
            dev: RefCell::new(dev),
            conns: RefCell::new(HashMap::default()),
            frames: RefCell::new(HashMap::default()),
            gate: RefCell::new(Gate::new(limits(d))),
            // Every byte of a CURVE or PLAIN peer passes through its `Secure`: nothing goes
            // by in a pipe.
            pipes: Pipes::new(if d.curve.is_some() || d.plain.is_some() {
                0
            } else {
                d.splices()
            }),
            security: Security::start(d, cfg.limits.max_message_size),
            scratch: RefCell::new(storage.scratch.into_boxed_slice()),
            clock,
            stopping: Cell::new(false),
            queue_capacity: cfg.queue_capacity(),
            probes: cfg.kind.waits_for_destination(),
            account,
            spool,
            starved: RefCell::default(),
            strikes: RefCell::default(),
            kernel_send_max: d.tuning.kernel_send_max,
            timer: Signal::default(),
            refused: RefCell::new(RefusedSubscriptions::default()),
            refused_seen: Cell::new(0),
            refused_peers: RefCell::default(),
        }
    }

    /// A new buffer's hold on the device's memory.
    pub fn charge(&self) -> Charge {
        Charge::new(self.account.clone())
    }

    /// The connection `id` could read nothing for want of memory: wake it when some is given
    /// back.
    pub fn wait_for_memory(&self, id: PeerId) {
        self.with_device(|dev| dev.wait_for_memory(id));
        self.starved.borrow_mut().push(id);
    }

    /// Whether a connection waits for memory.
    pub fn has_starved(&self) -> bool {
        !self.starved.borrow().is_empty()
    }

    /// What the kernel may hold of each connection's output (SO_SNDBUF,
    /// [`Stream::limit_send_buffer`](crate::net::Stream::limit_send_buffer)); zero: the
    /// kernel's own limit.
    pub fn kernel_send_max(&self) -> u32 {
        self.kernel_send_max
    }

    /// How long a message may go without
    /// [`PROGRESS_BYTES`](zedge_core::device::PROGRESS_BYTES) moving; `None`: forever.
    pub fn progress_timeout(&self) -> Option<Duration> {
        let ms = self.peek(|dev| dev.config().progress_timeout.as_millis());
        (ms > 0).then(|| Duration::from_millis(ms))
    }

    /// Memory was given back (or may be free again): every source and connection waiting for
    /// some tries again.
    fn memory_freed(&self, dev: &mut Dev) {
        dev.retry_blocked();
        let conns = self.conns.borrow();
        for id in self.starved.take() {
            if let Some(h) = conns.get(&id) {
                h.signal.wake();
            }
        }
    }

    /// Run `f` on the device, then pass the wake-ups and closes it asked for to the
    /// connections' tasks, wake the timer task if work waits for it, and warn of refused
    /// subscriptions.
    pub fn with_device<R>(&self, f: impl FnOnce(&mut Dev) -> R) -> R {
        let mut dev = self.dev.borrow_mut();
        let r = f(&mut dev);
        if self.account.take_freed() {
            self.memory_freed(&mut dev);
        }
        if dev.has_work() {
            self.timer.wake();
        }
        let refused = dev.stats().dropped.subscriptions;
        if refused != self.refused_seen.get() {
            self.refused_seen.set(refused);
            self.warn_refused(&dev);
        }
        let conns = self.conns.borrow();
        // A socket tried that passed on enough of what it held since a write last found it
        // full is a peer still reading: it is written what it takes. The device looks at the
        // others again by a timer.
        while let Some(id) = dev.poll_probe() {
            if let Some(h) = conns.get(&id) {
                if let Some(held) = h.stream.unsent() {
                    if passed_on(h.backlog.get(), (dev.written(id), held)) {
                        dev.socket_took(id);
                        let _ = write_peer(self, &mut dev, id, &h.stream, h.secure.as_deref());
                    }
                    h.backlog
                        .set((dev.written(id), h.stream.unsent().unwrap_or(held)));
                }
            }
            self.timer.wake();
        }
        while let Some(id) = dev.poll_wake() {
            if let Some(h) = conns.get(&id) {
                h.signal.wake();
            } else if let Some(sp) = self.spool.as_ref().filter(|s| s.owns(id)) {
                sp.signal.wake();
            }
        }
        while let Some((id, reason)) = dev.poll_close() {
            if let Some(h) = conns.get(&id) {
                h.signal.close(reason);
            }
        }
        r
    }

    /// Look at the device without changing it (so with nothing to dispatch).
    pub fn peek<R>(&self, f: impl FnOnce(&Dev) -> R) -> R {
        f(&self.dev.borrow())
    }

    /// A connected peer's socket, for another connection to write to.
    pub fn stream(&self, id: PeerId) -> Option<Rc<Stream>> {
        self.conns.borrow().get(&id).map(|h| h.stream.clone())
    }

    /// `id`'s bytes go through `secure` from now on (a ZMTP 1.0 peer, told by its first
    /// bytes).
    pub fn set_secure(&self, id: PeerId, secure: Rc<RefCell<Secure>>) {
        if let Some(h) = self.conns.borrow_mut().get_mut(&id) {
            h.secure = Some(secure);
        }
    }

    /// Whether `id` is a CURVE peer (or a ZMTP 1.0 one): nothing may be written to its socket
    /// but through its [`Secure`].
    pub fn is_secure(&self, id: PeerId) -> bool {
        self.conns
            .borrow()
            .get(&id)
            .is_some_and(|h| h.secure.is_some())
    }

    /// The read buffer, for a connection that holds no input of its own.
    pub fn scratch(&self) -> RefMut<'_, Box<[u8]>> {
        self.scratch.borrow_mut()
    }

    pub fn pipes(&self) -> &Pipes {
        &self.pipes
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// How long the device has run.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn stats(&self) -> Stats {
        *self.dev.borrow().stats()
    }

    pub fn stopping(&self) -> bool {
        self.stopping.get()
    }

    /// Take no more input; output still drains.
    pub fn stop(&self) {
        self.stopping.set(true);
    }

    /// Fire the device's timers (handshake limits, heartbeats), do its waiting work a bounded
    /// part at a time ([`Device::has_work`]), log stats and the refused subscriptions held
    /// back, forever.
    pub async fn run_timers(self: Rc<Self>) {
        let mut stats = summary::Periodic::new(self.stats(), StdInstant::now());
        let mut spent = Spent::default();
        let mut lossy = Lossy::default();
        let mut last_retry = self.clock.now();
        loop {
            if self.peek(|dev| dev.has_work()) {
                Timer::after(WORK_GAP).await;
            } else {
                let now = self.clock.now();
                let next = self.peek(|dev| dev.poll_timeout());
                let at = next.map_or(now + TIMER_TICK, |t| t.min(now + TIMER_TICK));
                let due = async {
                    Timer::at(self.clock.to_std(at)).await;
                };
                future::or(due, poll_fn(|cx| self.timer.poll(cx))).await;
            }
            self.with_device(|dev| {
                let now = self.clock.now();
                // Which queues are behind is told by this coarse clock (`queue/mod.rs`).
                self.account.tick(now.as_millis());
                dev.handle_timeout(now);
                // Another device may have given memory back, or a wake-up came before its
                // waiter said it waits: those waiting try again, once a tick (this loop runs
                // every WORK_GAP while the device has work, and a retry that finds no memory
                // must not make that a spin).
                if (self.account.wanted() || self.has_starved())
                    && now.saturating_since(last_retry) >= TIMER_TICK
                {
                    last_retry = now;
                    self.memory_freed(dev);
                }
                spent.warn(&self.tag, &self.account, dev.stats());
                lossy.warn(&self, dev);
                stats.log(&self.tag, dev, STATS_EVERY);
            });
            self.refused
                .borrow_mut()
                .flush(StdInstant::now(), log_refused);
            self.flush_refused_peers(false);
        }
    }
}

/// The caps of the device's [`Gate`].
fn limits(d: &DeviceSetup) -> Limits {
    Limits {
        max_peers: d.tuning.max_peers,
        per_address: d.tuning.max_peers_per_address,
        max_handshaking: d.tuning.max_handshaking,
        handshake_rate: d.tuning.handshake_rate_per_address,
    }
}

/// `"name "` to start a device's log lines (`display_name`: the kind's for the command
/// line's device, so that every line names its device).
pub fn tag(display_name: &str) -> String {
    format!("{display_name} ")
}

#[cfg(test)]
mod tests {
    use super::passed_on;

    #[test]
    fn a_socket_passed_on_what_left_its_queue_counting_what_was_written_since() {
        // Nothing left: deaf, whatever it held.
        assert!(!passed_on((1000, 300_000), (1000, 300_000)));
        // 4 KiB left: reading; a few bytes do not count.
        assert!(passed_on((1000, 300_000), (1000, 300_000 - 4096)));
        assert!(!passed_on((1000, 300_000), (1000, 300_000 - 100)));
        // 64 KiB spliced to it since and 60 KiB more held: 4 KiB left.
        assert!(passed_on(
            (1000, 300_000),
            (1000 + 65_536, 300_000 + 61_440)
        ));
        // The same 64 KiB all held: nothing left.
        assert!(!passed_on(
            (1000, 300_000),
            (1000 + 65_536, 300_000 + 65_536)
        ));
        // It held less than 4 KiB, and passed all of it on.
        assert!(passed_on((1000, 100), (1000, 0)));
        assert!(!passed_on((1000, 0), (1000, 0)));
    }
}
