//! The device's caller and its remote peers, in memory.
//!
//! Per connection the caller keeps an input buffer of `input_capacity` bytes. It reads the
//! remote's bytes into it only while [`Device::wants_read`], feeds the whole buffer to
//! [`Device::handle_input`] when new bytes came in or [`Device::poll_wake`] named the peer,
//! and keeps what was not consumed. It writes each peer's output to its remote unless the
//! test paused that remote (a slow peer), and closes what [`Device::poll_close`] names after
//! writing what it holds. A buffer that is full, wanted, and not consumed would hang a real
//! caller: the harness panics.
//!
//! A remote queues messages and subscriptions until its handshake is done, as a ZeroMQ
//! socket does, and records the whole messages and the subscriptions it receives. An echoing
//! remote answers every message with the same frames, the last prefixed with `re:`: a REP
//! or DEALER worker keeping the envelope.

use std::vec;
use std::vec::Vec;

use crate::conn::{Session, SessionConfig};
use crate::device::{
    ByteQueue, Cached, CloseReason, Device, DeviceConfig, Entry, PeerId, Side, Slot,
};
use crate::time::Instant;
use crate::wire::frame::FrameHead;
use crate::wire::metadata::SocketType;

use super::remote::Out;
pub use super::remote::{End, Remote};
pub use super::vec_queue::VecQueue;

/// A message: its frames' bodies.
pub type Msg = Vec<Vec<u8>>;

/// A remote peer: its place in the order of connection.
pub type P = usize;

/// Where a greeting carries the ZMTP minor version.
pub(super) const MINOR_AT: usize = 11;

/// The device's peer slots and subscription table.
#[derive(Debug)]
pub struct Storage {
    slots: Vec<Slot<VecQueue>>,
    /// Subscriptions the table holds; its bytes are sized when the device is made.
    max_subs: usize,
    subs: Vec<u8>,
    /// A forwarder's last-value cache: none unless [`Storage::with_last_values`].
    last: Vec<Entry<Cached<VecQueue>>>,
    last_order: Vec<u32>,
}

impl Storage {
    pub fn new(peers: usize, subs: usize) -> Self {
        Storage {
            slots: (0..peers).map(|_| Slot::default()).collect(),
            max_subs: subs,
            subs: Vec::new(),
            last: Vec::new(),
            last_order: Vec::new(),
        }
    }

    /// Room for a last-value cache of `topics` topics.
    pub fn with_last_values(mut self, topics: usize) -> Self {
        self.last = (0..topics).map(|_| Entry::default()).collect();
        self.last_order = vec![0; topics];
        self
    }
}

/// The hash seed of every test device: results do not depend on it, and a fixed one keeps
/// failures reproducible.
const SEED: [u64; 2] = [0x5eed, 0x7e57];

/// A device, its caller, and the remote peers.
#[derive(Debug)]
pub struct Net<'s> {
    pub dev: Device<'s, VecQueue>,
    pub now: Instant,
    pub(super) remotes: Vec<Remote>,
    /// Closes the device asked for, in order.
    pub closes: Vec<(P, CloseReason)>,
    /// Remove a peer as soon as its session fails. When false the test does it, like a
    /// caller that first writes the failed peer's output (edge-bin).
    pub remove_failed: bool,
    /// Move frame bodies the device lets by ([`Device::bypass_target`]) straight from the source
    /// remote to the destination's, at most this many bytes at a time, as edge-bin does with
    /// splice(2). Off when `None`.
    pub bypass: Option<usize>,
    /// Body bytes moved that way.
    pub bypassed: u64,
    /// The peers the device woke since the last round, in its order.
    pub(super) wake_order: Vec<P>,
    /// Wake-ups the device asked for, all peers together.
    pub wakes: usize,
}

impl<'s> Net<'s> {
    /// A device of `cfg`, its table holding as many subscriptions as `store` says.
    pub fn new(mut cfg: DeviceConfig, store: &'s mut Storage) -> Self {
        assert_eq!(cfg.validate(), Ok(()));
        cfg.subscriptions.max = store.max_subs;
        store.subs = vec![0; cfg.subscription_bytes()];
        Net {
            dev: Device::new(cfg, &mut store.slots, &mut store.subs, SEED)
                .with_last_values(&mut store.last, &mut store.last_order),
            now: Instant::ZERO,
            remotes: Vec::new(),
            closes: Vec::new(),
            remove_failed: true,
            bypass: None,
            bypassed: 0,
            wake_order: Vec::new(),
            wakes: 0,
        }
    }

    /// A remote of type `ty` connects to the device's `side`.
    pub fn connect(&mut self, side: Side, ty: SocketType) -> P {
        self.connect_as(side, ty, false)
    }

    /// A worker that answers every request.
    pub fn connect_echo(&mut self, ty: SocketType) -> P {
        let p = self.connect(Side::Backend, ty);
        self.remotes[p].echo = true;
        p
    }

    /// `old`: the remote speaks ZMTP 3.0.
    pub fn connect_as(&mut self, side: Side, ty: SocketType, old: bool) -> P {
        let queue = VecQueue::new(self.dev.config().queue_capacity());
        let id = self.dev.add_peer(side, queue, self.now);
        let mut remote = Remote {
            id: id.expect("a free peer slot"),
            session: Session::new(SessionConfig::new(ty), self.now),
            old,
            echo: false,
            paused: false,
            passes_on: false,
            probes: 0,
            outbox: Vec::new(),
            sent: Vec::new(),
            sent_read: 0,
            inbuf: Vec::new(),
            woken: false,
            wire: Vec::new(),
            wire_read: 0,
            msgs: Vec::new(),
            frames: Vec::new(),
            frame: None,
            subs: Vec::new(),
            error: None,
            end: None,
            attached: true,
        };
        remote.transmit();
        if old {
            remote.sent[MINOR_AT] = 0;
        }
        self.remotes.push(remote);
        self.remotes.len() - 1
    }

    /// The remote hangs up.
    pub fn disconnect(&mut self, p: P) {
        let r = &mut self.remotes[p];
        if r.attached {
            self.dev.remove_peer(r.id);
            r.attached = false;
        }
        r.end.get_or_insert(End::Left);
    }

    pub fn send(&mut self, p: P, m: &Msg) {
        self.remotes[p].outbox.push(Out::Msg(m.clone()));
    }

    /// Bytes written past the remote's session: a peer that misbehaves or stops mid-way.
    pub fn send_raw(&mut self, p: P, bytes: &[u8]) {
        self.remotes[p].sent.extend_from_slice(bytes);
    }

    pub fn subscribe(&mut self, p: P, topic: &[u8]) {
        self.remotes[p].outbox.push(Out::Sub(true, topic.to_vec()));
    }

    /// A publisher and two SUB subscribers to `topic`, connected and subscribed.
    pub fn publisher_and_two_subscribers(&mut self, topic: &[u8]) -> (P, [P; 2]) {
        let publisher = self.connect(Side::Frontend, SocketType::Pub);
        let subs = [
            self.connect(Side::Backend, SocketType::Sub),
            self.connect(Side::Backend, SocketType::Sub),
        ];
        self.pump();
        for s in subs {
            self.subscribe(s, topic);
        }
        self.pump();
        (publisher, subs)
    }

    pub fn cancel(&mut self, p: P, topic: &[u8]) {
        self.remotes[p].outbox.push(Out::Sub(false, topic.to_vec()));
    }

    /// The device's queue for the connected remote `p`.
    fn queue_mut(&mut self, p: P) -> &mut VecQueue {
        let idx = self
            .dev
            .index(self.remotes[p].id)
            .expect("a connected remote");
        &mut self.dev.peer_mut(idx).expect("a connected remote").queue
    }

    /// The device's queue for `p` holds at most `bytes` from now on (its memory rationed), or
    /// up to its capacity again (`None`). A caller whose memory was given back tells the
    /// device so: [`Device::retry_blocked`](crate::device::Device::retry_blocked).
    pub fn ration(&mut self, p: P, bytes: Option<usize>) {
        self.queue_mut(p).ration(bytes);
    }

    /// The device's queue for `p` lags ([`ByteQueue::lags`](crate::device::ByteQueue::lags))
    /// from now on, or not.
    pub fn lag(&mut self, p: P, lagging: bool) {
        self.queue_mut(p).lag(lagging);
    }

    /// `p`'s queue lags while it holds `bytes` or more ([`VecQueue::lag_from`]).
    pub fn lag_from(&mut self, p: P, bytes: usize) {
        self.queue_mut(p).lag_from(bytes);
    }

    /// A paused remote takes no output: the device's queue for it fills.
    pub fn pause(&mut self, p: P, paused: bool) {
        self.remotes[p].paused = paused;
    }

    pub fn remote(&self, p: P) -> &Remote {
        &self.remotes[p]
    }

    pub fn id(&self, p: P) -> PeerId {
        self.remotes[p].id
    }

    pub fn msgs(&self, p: P) -> &[Msg] {
        &self.remotes[p].msgs
    }

    /// Subscriptions a publisher received.
    pub fn upstream(&self, p: P) -> &[(bool, Vec<u8>)] {
        &self.remotes[p].subs
    }

    pub fn wants_read(&self, p: P) -> bool {
        self.dev.wants_read(self.remotes[p].id)
    }

    /// Bytes the device holds for the remote.
    pub fn queued(&self, p: P) -> usize {
        self.dev.queue(self.remotes[p].id).map_or(0, |q| q.len())
    }

    /// What the remote sent or queued that the device has not consumed; 0 when it has
    /// taken everything.
    pub fn pending(&self, p: P) -> usize {
        let r = &self.remotes[p];
        r.sent.len() - r.sent_read + r.inbuf.len() + r.outbox.len()
    }

    /// No remote that is still connected saw an error, and the device refused no one.
    pub fn assert_healthy(&self) {
        for (p, r) in self.remotes.iter().enumerate() {
            if matches!(r.end, None | Some(End::Left)) {
                assert_eq!(r.error, None, "remote {p}'s session failed");
            }
            assert!(
                !matches!(r.end, Some(End::Failed(_))),
                "device failed remote {p}: {:?}",
                r.end
            );
        }
    }
}

/// A message as data frames on the wire.
pub fn encode(m: &Msg) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, body) in m.iter().enumerate() {
        let head = FrameHead::data(body.len() as u64, i + 1 < m.len());
        out.extend_from_slice(head.encode().as_slice());
        out.extend_from_slice(body);
    }
    out
}
