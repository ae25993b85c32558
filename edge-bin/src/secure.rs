//! A CURVE connection's bytes: ciphertext on the socket, plaintext for the device.
//!
//! The device and its session see a NULL peer ([`zedge_core::curve::link`]): [`Secured`]
//! reads the socket through the [`Link`], which opens each MESSAGE in this connection's own
//! buffer and hands the plaintext on from there, and writes the device's output through it,
//! sealing frame by frame. So the connection code, the input's memory rules and the device
//! are the same for a CURVE peer as for any other; only the zero-copy paths (splice, the
//! wait for a large message in the socket) are off for a device with CURVE endpoints, since
//! every byte has to pass through here.
//!
//! A MESSAGE is opened only once all of it is here (its MAC covers all of it): the buffer
//! grows to the largest frame the peer sends, at most the device's `max_msg_size` plus a
//! frame header and the MESSAGE's overhead, and is freed once it drains if it grew past
//! [`KEEP`]. Going out ([`output`]), the ciphertext waiting for the socket is kept under
//! [`TX_HIGH`] before more of the device's output is taken; a frame up to
//! [`SEAL_WHOLE_MAX`](zedge_core::curve::link::SEAL_WHOLE_MAX) is sealed whole, a longer one
//! as it goes.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::{self, IoSlice};
use std::ops::Range;

use zedge_core::conn::SessionError;
use zedge_core::conn::{plain, v1};
use zedge_core::curve::crypto::{KeyPair, KEY_LEN};
use zedge_core::curve::link::{Link, Opened, CLIENT_RANDOM, SERVER_RANDOM, TX_ROOM};
use zedge_core::curve::message::Sealing;
use zedge_core::curve::CurveError;
use zedge_core::wire::frame::FrameHead;
use zedge_core::wire::greeting::{self, GREETING_LEN};
use zedge_core::wire::metadata::SocketType;

use crate::budget::{Charge, InputLane, BEHIND_AFTER_MS};
use crate::net::{Stream, Wire};
use crate::setup::Passwords;
use std::rc::Rc;

pub use layer::{Gate, Layer};
pub use wide::use_widest;

/// Ciphertext held for the socket beyond which no more output is taken.
pub const TX_HIGH: usize = 64 << 10;
/// A buffer that grew past this for a large frame is freed once it drains.
pub const KEEP: usize = 256 << 10;
/// A buffer larger than this is freed as soon as it holds nothing: an idle CURVE peer holds
/// none (10,000 idle peers, `tools/bench --cases curve`).
const IDLE: usize = 4 << 10;
/// Bytes of a greeting's signature.
const SIGNATURE: usize = 10;
/// The least a read of ciphertext asks for.
const READ_CHUNK: usize = 16 << 10;
/// The least a read asks for in the handshake, whose commands are short.
const HANDSHAKE_CHUNK: usize = 1 << 10;
/// The most one read takes, as a clear connection's input ([`crate::input::READ_MAX`]).
const READ_MAX: usize = crate::input::READ_MAX;
/// What a CURVE connection's buffers may hold without drawing from the budget: a handshake
/// (its longest command is 4.3 KiB) never waits for memory. At most `max_handshaking` per
/// side are in their handshake at once.
const FREE: usize = 8 << 10;
/// The least of [`FREE`] worth a read when the budget has no more (a short frame, a PING).
const FREE_READ_MIN: usize = 1 << 10;
/// What a frame being sealed as it goes takes of the budget at a time, even past it, when
/// the budget has no more: output never waits on memory that the messages for it may hold.
const SEAL_MIN: usize = 4 << 10;
/// A frame whose bytes have been coming for less than this (ms of the device's coarse clock,
/// the time its connection waited for memory while its sender sent nothing more not counted,
/// [`Secure::judge_wait`]) keeps up: it may draw from the
/// whole budget as it grows, as output to a peer that keeps up may, and completes soon. One
/// that takes longer draws only from the share of buffers that wait on a peer, or takes the
/// cipher lane (attacker round 9, F1).
pub const KEEPS_UP_MS: u64 = 250;
/// For [`BEYOND_CAUTION_MS`] after its device closed a connection for holding memory beyond
/// the share of buffers that wait on a peer, a connection younger than this (ms of the
/// device's clock) takes nothing beyond it, however its frames come ([`Secure::may_grow`]):
/// one closed so and connecting again (from another address) waits this long before it may
/// take it again. Proven again by one fast frame each time, sixteen such, reconnecting from
/// 254 addresses, took the last quarter turn about and stopped a 64 KB flow for 12 s in 1 run
/// of 3 (attacker round 11, F2). A flow that connects then waits as long to take it.
pub const PROVEN_AFTER_MS: u64 = 5_000;
/// How long after such a closing young connections are held to [`PROVEN_AFTER_MS`].
pub const BEYOND_CAUTION_MS: u64 = 30_000;
/// How long (ms of the device's clock) a connection whose last frame kept up
/// ([`KEEPS_UP_MS`]) keeps its buffer, up to [`KEEP`], once it drains: a flow of frames
/// keeps the room it has for the next.
pub const LINGER_MS: u64 = 250;

/// The client keys a CURVE server lets in; `None` in [`Secure::server`] lets in any client
/// that completes the handshake (libzmq's behaviour without a ZAP handler).
pub type AllowList = HashSet<[u8; KEY_LEN]>;

/// A CURVE connection's state and buffers; see the module docs.
#[derive(Debug)]
pub struct Secure {
    link: Layer,
    gate: Gate,
    /// Ciphertext read, with the unit being delivered decrypted in place.
    rx: Vec<u8>,
    /// Where the unit being delivered starts in `rx` (or the next one, once it is).
    unit: usize,
    /// Where it ends.
    unit_end: usize,
    /// Its plaintext not delivered yet.
    deliver: Range<usize>,
    eof: bool,
    /// Ciphertext for the socket: `tx[tx_start..]`.
    tx: Vec<u8>,
    tx_start: usize,
    /// A frame of the device's output that came cut across writes, and the bytes it needs.
    staging: Vec<u8>,
    staging_need: usize,
    /// The session's READY, come before the handshake owed it.
    stash: Option<Vec<u8>>,
    /// A frame too long to seal whole, part-way out ([`Sealing`]).
    sealing: Option<Box<Sealing>>,
    /// What the buffers hold, drawn from the device's budget: `rx` grows only as far as the
    /// budget lets it (else the connection waits for memory, [`Secure::starved`]); what is
    /// written into `tx` and `staging` is here already, and counted whatever the budget says.
    charge: Charge,
    /// The last read needed more room than the budget had.
    starved: bool,
    /// The last write needed more room than the budget had (apart from `starved`: a
    /// connection whose input waits for memory still answers a PING).
    tx_starved: bool,
    /// The device's clock (ms) when `tx` was last all written: output buffers of a peer
    /// that keeps up draw from the whole budget, of one that is behind only from the share
    /// such a peer may hold.
    drained_ms: u64,
    /// When the socket last took some of `tx`.
    wrote_ms: u64,
    /// Where it says since when it has owed its peer output ([`Secure::report_owed`]).
    owed_to: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    /// A server's greeting and how much of it went, until all of it has: it goes in pieces
    /// as libzmq sends its own (RFC 23 "Version Negotiation"), the signature and major
    /// version once the client's signature is here, the rest once the client's version
    /// says it speaks ZMTP 3.x; an older peer says what it speaks, and is refused with that.
    held: Option<([u8; GREETING_LEN], usize)>,
    /// The peer's greeting was taken (opened as the first unit).
    greeting_taken: bool,
    /// This connection's input holds its device's input lane (as the input said before its
    /// read, [`Wire::input_lane`]).
    input_lane: bool,
    /// The last frame opened ends its message (no MORE): what the input has of the message
    /// needs no further frame through this layer.
    ends_message: bool,
    /// The frame opened last starts a message (the one before ended its own), and none of it
    /// has been handed on yet.
    fresh_message: bool,
    /// Ciphertext read from the socket since [`Secure::take_arrived`] last looked: a frame's
    /// progress while none of its plaintext can be delivered yet.
    arrived: usize,
    /// The rest of the unit part-way here is all in the socket, as of the last read that had
    /// to grow the buffer for it: it does not wait on its sender ([`Secure::may_grow`]).
    rest_here: bool,
    /// When (the device's clock, ms) the unit part-way here began to come, moved on by the
    /// time the connection has waited for memory since while its sender sent nothing more
    /// ([`Secure::judge_wait`]): how long its sender has taken over it ([`KEEPS_UP_MS`]).
    /// `None` while nothing of a unit is here.
    unit_since: Option<u64>,
    /// Some of the rest of the unit part-way here is in the socket, as of the last read that
    /// had to grow the buffer for it.
    coming: bool,
    /// When the connection began to wait for memory, until the next read looks at its socket
    /// ([`Secure::judge_wait`]).
    starved_at: Option<u64>,
    /// What the socket held unread for the unit part-way here when the last read looked.
    socket_seen: usize,
    /// The waits for memory not counted against the unit part-way here since its socket last
    /// had more for it, or it last read ([`Secure::judge_wait`]).
    flat_wait: u64,
    /// The frame part-way here took from the budget beyond the share of buffers that wait on
    /// a peer, as a frame that kept up ([`KEEPS_UP_MS`]): while others wait for memory it owes
    /// all its rest within one of the cipher lane's turns (a quarter of the progress timeout,
    /// `connection/mod.rs`),
    /// or it is closed.
    beyond: bool,
    /// A frame of this connection larger than [`FREE`] came whole while it kept up: its
    /// frames may take from the budget beyond the share ([`Secure::may_grow`]). A connection
    /// whose first frames send most of themselves at once and trickle the rest never earns it.
    proven: bool,
    /// When (the device's clock, ms) the connection was taken ([`PROVEN_AFTER_MS`]).
    born_ms: u64,
    /// Until when (the device's clock, ms) its drained buffer is kept ([`LINGER_MS`]).
    linger_until: u64,
    /// A unit failed after others were handed on in the same read: the next read's error.
    failure: Option<io::Error>,
}

/// A [`SessionError`] from the CURVE layer, carried through the I/O error of a read or a
/// write to the connection, which ends with it as the session's own.
#[derive(Debug)]
pub struct Failed(pub SessionError);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Failed {}

fn failed(e: SessionError) -> io::Error {
    io::Error::other(Failed(e))
}

impl Secure {
    /// The server end of a connection accepted on a CURVE endpoint.
    pub fn server(
        keys: KeyPair,
        allow: Option<Rc<RefCell<AllowList>>>,
        max_frame: u64,
        charge: Charge,
    ) -> io::Result<Secure> {
        let mut random = [0u8; SERVER_RANDOM];
        fill_random(&mut random)?;
        let link = Link::server(keys, random, max_frame);
        Ok(Secure::new(
            Layer::Curve(Box::new(link)),
            Gate::Keys(allow),
            charge,
        ))
    }

    /// The server end of a connection accepted on a PLAIN endpoint.
    pub fn plain(users: Rc<RefCell<Passwords>>, charge: Charge) -> Secure {
        let layer = Layer::Plain(plain::Server::new());
        Secure::new(layer, Gate::Passwords(users), charge)
    }

    /// The client end of a connection to a CURVE server whose public key is `server`.
    pub fn client(
        keys: KeyPair,
        server: [u8; KEY_LEN],
        max_frame: u64,
        charge: Charge,
    ) -> io::Result<Secure> {
        let mut random = [0u8; CLIENT_RANDOM];
        fill_random(&mut random)?;
        let link = Link::client(keys, server, random, max_frame);
        Ok(Secure::new(
            Layer::Curve(Box::new(link)),
            Gate::Keys(None),
            charge,
        ))
    }

    /// The layer of a connection whose peer speaks ZMTP 1.0 ([`zedge_core::conn::v1`]),
    /// taken for a `peer` socket, told by its `first` bytes (which it has sent already) when
    /// `sent` bytes of its session's greeting had gone to it.
    pub fn v1(
        peer: SocketType,
        max_frame: u64,
        charge: Charge,
        first: &[u8],
        sent: usize,
    ) -> Secure {
        let link = Layer::V1(Box::new(v1::Link::new(peer, max_frame, sent)));
        let mut secure = Secure::new(link, Gate::Keys(None), charge);
        // The layer writes the greeting and READY its session sees in this room.
        secure.rx.reserve_exact(v1::PREAMBLE_ROOM + first.len());
        secure.rx.resize(v1::PREAMBLE_ROOM, 0);
        secure.rx.extend_from_slice(first);
        secure.greeting_taken = true;
        secure.settle();
        secure
    }

    fn new(link: Layer, gate: Gate, charge: Charge) -> Secure {
        // A server answers the client's signature: a libzmq client that does not run CURVE
        // then sends its signature before it reads ours and hangs up, so the refusal can be
        // told from a port probe ([`Secure::cut_short`]). Clients send at once, as libzmq's.
        let (tx, held) = match &link {
            Layer::V1(_) => (Vec::new(), None),
            _ if link.is_server() => (Vec::new(), Some((link.greeting(), 0))),
            _ => (link.greeting().to_vec(), None),
        };
        Secure {
            link,
            gate,
            rx: Vec::new(),
            unit: 0,
            unit_end: 0,
            deliver: 0..0,
            eof: false,
            tx,
            tx_start: 0,
            staging: Vec::new(),
            staging_need: 0,
            stash: None,
            sealing: None,
            drained_ms: charge.account().now_ms(),
            wrote_ms: charge.account().now_ms(),
            owed_to: None,
            born_ms: charge.account().now_ms(),
            linger_until: 0,
            failure: None,
            charge,
            starved: false,
            tx_starved: false,
            held,
            input_lane: false,
            greeting_taken: false,
            ends_message: true,
            fresh_message: false,
            arrived: 0,
            rest_here: false,
            coming: false,
            unit_since: None,
            starved_at: None,
            socket_seen: 0,
            flat_wait: 0,
            beyond: false,
            proven: false,
        }
    }

    /// The last read wanted more memory than the budget had: wait until some is given back
    /// (then [`Secure::retry`]).
    pub fn starved(&self) -> bool {
        self.starved || self.tx_starved
    }

    /// The last write wanted more memory than the budget had.
    pub fn tx_starved(&self) -> bool {
        self.tx_starved
    }

    /// Memory may have been given back: the next read asks again (and judges the wait,
    /// [`Secure::judge_wait`]).
    pub fn retry(&mut self) {
        (self.starved, self.tx_starved) = (false, false);
    }

    /// Count the wait for memory that ends with this read (if one does) against the frame
    /// part-way here ([`KEEPS_UP_MS`]), or not, by `in_socket`, what its socket holds for it
    /// now. A wait through which nothing more came is memory's, not its sender's (a sender
    /// that sent the whole frame at once, held up by a full socket, keeps up), and is not
    /// counted; one through which more came is its sender's, and so are the waits before it
    /// since more last came. Not counting every wait, senders that sent 80 % of each frame at
    /// once and trickled the rest while they waited found the whole frame in the socket when
    /// memory came, completed it at once and passed for senders that keep up (attacker round
    /// 10, F1).
    fn judge_wait(&mut self, in_socket: usize) {
        if let Some(at) = self.starved_at.take() {
            let waited = self.charge.account().now_ms().saturating_sub(at);
            let since = self.unit_since.as_mut();
            if in_socket > self.socket_seen {
                if let Some(since) = since {
                    *since = since.saturating_sub(self.flat_wait);
                }
                self.flat_wait = 0;
            } else {
                if let Some(since) = since {
                    *since = since.saturating_add(waited);
                }
                self.flat_wait = self.flat_wait.saturating_add(waited);
            }
        }
        self.socket_seen = in_socket;
    }

    /// The connection may take beyond the share by its age: it is [`PROVEN_AFTER_MS`] old, or
    /// its device closed nobody for holding memory beyond it in [`BEYOND_CAUTION_MS`].
    fn old_enough(&self) -> bool {
        let account = self.charge.account();
        account.now_ms().saturating_sub(self.born_ms) >= PROVEN_AFTER_MS
            || !account.beyond_closed_within(BEYOND_CAUTION_MS)
    }

    /// It is closed for holding memory beyond the share ([`PROVEN_AFTER_MS`]).
    pub fn closed_beyond(&self) {
        self.charge.account().note_beyond_closed();
    }

    /// The frame part-way here has come for less than [`KEEPS_UP_MS`].
    fn keeps_up(&self) -> bool {
        self.unit_since
            .is_some_and(|since| self.charge.account().now_ms().saturating_sub(since) < KEEPS_UP_MS)
    }

    /// Bytes the buffers hold.
    fn held(&self) -> usize {
        self.rx.capacity() + self.tx.capacity() + self.staging.capacity()
    }

    /// The charge follows what the buffers hold beyond [`FREE`] (bytes that are here).
    fn settle(&mut self) {
        let held = self.held().saturating_sub(FREE);
        if held > self.charge.bytes() {
            self.charge.force_to(held);
        } else {
            self.charge.shrink_to(held);
        }
    }

    /// Whether the buffers may grow by `extra` bytes: the budget has them (for output to a
    /// peer that has not read what it was sent for [`BEHIND_AFTER_MS`], only below the share
    /// a reader that is behind may hold, as a queue that lags). If not, the connection waits
    /// for memory ([`Secure::starved`]).
    fn may_grow(&mut self, extra: usize, output: bool) -> bool {
        let target = (self.held() + extra).saturating_sub(FREE);
        // Output to a peer that reads at once, or a frame all in its socket, completes as soon
        // as it has its room: refused, it claims it (`budget/claim.rs`).
        let mut completes = false;
        let granted = if output {
            let since = self
                .charge
                .account()
                .now_ms()
                .saturating_sub(self.drained_ms);
            if since >= BEHIND_AFTER_MS {
                self.charge.grow_behind_to(target)
            } else {
                completes = true;
                self.charge.grow_to(target)
            }
        } else if self.rx.len() > self.unit {
            // Part-way through a unit: its bytes wait on its sender, as a lagging reader's
            // queue waits on it, and draw only below the share such buffers may hold
            // (BEHIND_SHARE), so that senders part-way through frames cannot take the budget
            // from the frames that are complete and the small flows that keep up. Beyond
            // that it may take the device's cipher lane, as one sending a message in the
            // clear takes the input lane: one frame at a time always arrives whole, and
            // then has the input lane to go on by.
            // A frame whose rest is all in the socket already does not wait on its sender:
            // it completes as soon as it is read, and may take from the whole budget.
            // Only a frame that can all arrive so draws from that share: one larger than
            // what it has free would hold its part of it waiting for the cipher lane anyway,
            // and senders of frames larger than the share held all of it so, each waiting its
            // turn, while a 64 KB flow's frames (never all in the socket at once: more than
            // the kernel holds unread) found none and waited behind them for the lane
            // (attacker round 8, F8: eight 15 MiB senders at 850 KB/s stopped it for good).
            // A frame that keeps up (KEEPS_UP_MS) may take from the whole budget too: its
            // bytes do not wait long on its sender. Eight senders of [a, 100 KB] at 40 KB/s
            // held the share with their frames part-way here, each for 2.5 s, and a 64 KB
            // flow's frames, which arrive in a millisecond, waited behind them for the
            // cipher lane: 0 messages in 30 s (attacker round 9, F1).
            // Only a frame some of whose rest is in the socket and that all fits in what the
            // budget has free (it takes room for all of it at once, below); and what it
            // takes so beyond the share is owed back soon: while others wait for memory it
            // owes all its rest within one of the cipher lane's turns, looked at as its
            // holder is (`beyond`), so that senders that send a frame's start at once and
            // then trickle or stop cannot keep it (attacker round 4: a thousand such starts).
            // And only for a connection that has brought a frame whole while it kept up
            // (`proven`), from an address not struck: sixteen that sent 80 % of each frame at
            // once and trickled the rest, closed and connecting again, kept the last quarter
            // between them (attacker round 10, F1); and the waits for memory through which
            // its sender sent more count against a frame's time (`judge_wait`); and, soon
            // after another was closed for holding it, only for a connection taken
            // PROVEN_AFTER_MS ago or more (round 11, F2).
            // Not "a quarter of its rest in the socket": a 64 KB flow, its connection waiting
            // for memory, had 552 bytes of its frame's rest there, unchanged for seconds
            // (TCP sends little more to a socket that is not read), and its frames waited
            // for the share with the last quarter free.
            (self.rest_here && {
                completes = true;
                self.charge.grow_to(target)
            }) || (self.coming
                && self.proven
                && self.old_enough()
                && !self.charge.is_struck()
                && self.keeps_up()
                && self.charge.fits(self.whole_frame_target())
                && self.grow_keeping_up(target))
                || (self.charge.fits_behind(self.whole_frame_target())
                    && self.charge.grow_behind_to(target))
                || self.charge.take_cipher_lane_beside(self.input_lane_here())
        } else {
            // The start of a unit: none of it is here, nothing waits on the sender yet.
            self.charge.grow_to(target)
        };
        if !granted {
            if completes {
                self.charge.claim(target);
            }
            self.charge.refused();
            if output {
                self.tx_starved = true;
            } else {
                self.starved = true;
                self.starved_at = Some(self.charge.account().now_ms());
            }
        }
        granted
    }

    /// Grow a frame that keeps up to `target` from the whole budget, noting whether that took
    /// it beyond the share of buffers that wait on a peer.
    fn grow_keeping_up(&mut self, target: usize) -> bool {
        let beyond = !self.charge.fits_behind(target);
        let grown = self.charge.grow_to(target);
        self.beyond |= grown && beyond;
        grown
    }

    /// The frame part-way here took from the budget beyond the share of buffers that wait on
    /// a peer ([`Secure::grow_keeping_up`]).
    pub fn holds_beyond(&self) -> bool {
        self.beyond && self.holds_partial()
    }

    /// What the buffers would draw from the budget with the whole of the frame part-way here
    /// in `rx` (as its head announced it; only what is here while the head is not).
    fn whole_frame_target(&self) -> usize {
        let frame = usize::try_from(self.partial_len()).unwrap_or(usize::MAX);
        let rx = self.rx.capacity().max(frame);
        (self.held() - self.rx.capacity())
            .saturating_add(rx)
            .saturating_sub(FREE)
    }

    /// As [`Secure::may_grow`] for a read that holds nothing of a unit, without counting a
    /// refusal or waiting for memory: the caller falls back on what [`FREE`] leaves. Only
    /// below the share that buffers waiting on a peer may hold: what starts may be a frame
    /// whose rest never comes, and a thousand such starts took the last quarter from the
    /// frames that complete (attacker round 4: a 64 KB flow then waited for good).
    fn may_grow_quietly(&mut self, extra: usize) -> bool {
        let target = (self.held() + extra).saturating_sub(FREE);
        self.charge.grow_behind_to(target)
    }

    /// Whether its input may take the device's input lane: it has plaintext ready
    /// ([`Secure::has_ready`]) and no other connection holds the cipher lane (whose holder
    /// could need the input lane to hand its frame on; see [`Charge::take_cipher_lane_beside`]
    /// for the other half of the rule), unless what it has opened ends its message: then it
    /// never needs the cipher lane to let the input lane go, and cannot keep the cipher
    /// lane's holder waiting for good (a sender of large messages whose next frame came
    /// through the cipher lane as it handed the last one on kept both lanes, turn after
    /// turn, while another's whole frame waited: attacker round 4).
    pub fn input_may_take_lane(&self) -> bool {
        self.has_ready()
            && (!self.charge.lane_taken_by_other(crate::budget::Lane::Cipher)
                || (!self.deliver.is_empty() && self.ends_message))
    }

    /// The frame opened last starts a message of several frames, and its input holds the
    /// device's input lane for the message before while another connection holds the cipher
    /// lane: it is not handed on yet. Handed on, the input would hold the input lane in the
    /// middle of a message whose next frame may need the cipher lane, which the other holds,
    /// maybe waiting for the input lane to hand its own frame on: each would wait for the
    /// other. The input lets the lane go once it has handed the message before on, and this
    /// one then comes by the rules any message does.
    fn holds_back(&self) -> bool {
        self.input_lane
            && self.fresh_message
            && !self.ends_message
            && self.charge.lane_taken_by_other(crate::budget::Lane::Cipher)
    }

    /// Where the input lane is for this connection, as it asks for the cipher lane.
    fn input_lane_here(&self) -> InputLane {
        match (self.input_lane, self.ends_message) {
            (false, _) => InputLane::Other,
            (true, true) => InputLane::Own,
            (true, false) => InputLane::OwnUnfinished,
        }
    }

    /// Read ciphertext for a frame while the input can take none of its plaintext yet (it
    /// waits for memory, and may take the input lane only once a frame is here to open):
    /// the frame comes on by this layer's own memory rules (the budget, the cipher lane). A
    /// whole frame here is opened, so that whether it ends its message is known.
    fn pump(&mut self, sock: &Stream) -> io::Result<()> {
        if self.deliver.is_empty() && self.link.is_active() && self.has_ready() {
            self.unit = self.unit_end;
            self.open_next()?;
            return Ok(());
        }
        if self.has_ready() || self.eof {
            return Ok(());
        }
        self.unit = self.unit_end;
        match self.read_more(sock) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            r => r,
        }
    }

    /// At most how much plaintext a read can give without reading the socket: what the frame
    /// opened last has left and the ciphertext held after it, or, with none opened, all that
    /// is held if a whole frame starts it (plaintext is shorter than its ciphertext), else
    /// nothing. `None` before a CURVE layer is active, or without one: the input asks for
    /// room as it would for a socket.
    pub fn ready_len(&self) -> Option<usize> {
        if !matches!(self.link, Layer::Curve(_)) || !self.link.is_active() {
            return None;
        }
        let after = self.rx.len().saturating_sub(self.unit_end);
        if !self.deliver.is_empty() {
            return Some(self.deliver.len() + after);
        }
        Some(if self.has_ready() { after } else { 0 })
    }

    pub fn has_ready(&self) -> bool {
        if !matches!(self.link, Layer::Curve(_)) || !self.link.is_active() {
            return true;
        }
        if !self.deliver.is_empty() {
            return true;
        }
        let rest = self.rx.get(self.unit_end..).unwrap_or(&[]);
        match FrameHead::decode(rest) {
            Ok(Some((head, hl))) => usize::try_from(head.len)
                .ok()
                .and_then(|len| len.checked_add(hl))
                .is_some_and(|n| rest.len() >= n),
            _ => false,
        }
    }

    /// What it read of the peer's greeting, while the greeting is not all taken (a refused or
    /// cut short greeting, for the log): nothing after it, which may be a PLAIN HELLO's
    /// password.
    pub fn unread_greeting(&self) -> &[u8] {
        if self.greeting_taken {
            return &[];
        }
        let rest = self.rx.get(self.unit_end..).unwrap_or(&[]);
        &rest[..rest.len().min(GREETING_LEN)]
    }

    /// It holds part of a unit (a frame cut short): its sender owes the rest.
    pub fn holds_partial(&self) -> bool {
        self.deliver.is_empty() && self.unit_end < self.rx.len()
    }

    /// The length of the frame part-way here, head and all, as its head announced it (none
    /// while no frame is part-way here, or its head is not all here).
    pub fn partial_len(&self) -> u64 {
        // A 1.0 frame goes on as it comes: what is part-way here is a header at most.
        if !self.holds_partial() || matches!(self.link, Layer::V1(_)) {
            return 0;
        }
        match FrameHead::decode(&self.rx[self.unit_end..]) {
            Ok(Some((head, hl))) => head.len.saturating_add(hl as u64),
            _ => 0,
        }
    }

    /// What is still to come of the frame part-way here, as its head announced it (none while
    /// no frame is part-way here, or its head is not all here).
    pub fn partial_rest(&self) -> u64 {
        let here = self.rx.len().saturating_sub(self.unit_end) as u64;
        self.partial_len().saturating_sub(here)
    }

    /// Its connection comes from an address recently closed for holding a lane while others
    /// waited: it waits for the cipher lane behind everyone else (`host/strikes.rs`).
    pub fn strike(&mut self) {
        self.charge.strike();
    }

    /// It holds its device's cipher lane, which others may be waiting for.
    pub fn holds_cipher_lane(&self) -> bool {
        self.charge.holds_cipher_lane()
    }

    /// Ciphertext bytes read since [`Secure::take_arrived`] last looked.
    pub fn arrived(&self) -> usize {
        self.arrived
    }

    /// Ciphertext bytes read since the last call.
    pub fn take_arrived(&mut self) -> usize {
        std::mem::take(&mut self.arrived)
    }

    /// The client's long-term key, once its handshake is done (server end).
    pub fn client_key(&self) -> Option<&[u8; KEY_LEN]> {
        self.link.client_key()
    }

    /// The mechanism's name, for the log.
    pub fn mechanism(&self) -> &'static str {
        match self.link {
            Layer::Curve(_) => "CURVE",
            Layer::Plain(_) => "PLAIN",
            Layer::V1(_) => "NULL",
        }
    }

    /// The ZMTP version spoken, if not the one the session's peer says (a 1.0 peer is a 3.0
    /// one to its session).
    pub fn zmtp(&self) -> Option<(u8, u8)> {
        matches!(self.link, Layer::V1(_)).then_some((1, 0))
    }

    /// Ciphertext waits for the socket.
    pub fn owes(&self) -> bool {
        self.tx_start < self.tx.len()
    }

    /// Plaintext for the device, up to `room` bytes, each piece given to `put`: the bytes
    /// given, `Ok(0)` at the end of the stream, `WouldBlock` when the socket has nothing
    /// that makes a whole unit.
    fn fill(
        &mut self,
        sock: &Stream,
        room: usize,
        put: &mut dyn FnMut(&[u8]),
    ) -> io::Result<usize> {
        if let Some(e) = self.failure.take() {
            return Err(e);
        }
        let mut n = 0;
        let result = loop {
            if !self.deliver.is_empty() {
                if self.holds_back() {
                    if n > 0 {
                        break Ok(n);
                    }
                    // Waits for a lane to be let go (memory given back), not for the socket.
                    self.starved = true;
                    break Err(io::ErrorKind::WouldBlock.into());
                }
                self.fresh_message = false;
                let k = (room - n).min(self.deliver.len());
                put(&self.rx[self.deliver.start..self.deliver.start + k]);
                self.deliver.start += k;
                n += k;
                if n == room {
                    break Ok(n);
                }
            }
            self.unit = self.unit_end;
            match self.open_next() {
                Ok(true) => continue,
                Ok(false) => {}
                // What came before the unit that failed goes on first: the failure is the
                // next read's.
                Err(e) if n > 0 => {
                    self.failure = Some(e);
                    break Ok(n);
                }
                Err(e) => break Err(e),
            }
            if n > 0 {
                break Ok(n);
            }
            if self.eof {
                break match self.cut_short() {
                    Some(why) => Err(failed(why)),
                    None => Ok(0),
                };
            }
            match self.read_more(sock) {
                Ok(()) => continue,
                // A reset rather than an end: the peer closed with our bytes unread.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    break Err(self.cut_short().map_or(e, failed))
                }
                Err(e) => break Err(e),
            }
        };
        // An idle peer holds no buffer: one that is all taken goes (a busy one keeps the
        // part of a unit it holds, and a read allocates afresh, cheaply beside the crypto).
        self.trim();
        // A handshake command may be owed (WELCOME, READY, INITIATE, ERROR).
        if self.owes() {
            self.flush(sock)?;
        }
        result
    }

    /// An idle peer holds no buffer: what is all taken goes (but a long frame's sealing keeps
    /// its room), unless it lingers for what a flow that keeps up brings next ([`LINGER_MS`];
    /// ciphertext in, only while no other buffer's claim stands).
    pub fn trim(&mut self) {
        // A lane is for one buffer at a time: its holder lets it go as soon as it drains.
        let lingers =
            self.charge.account().now_ms() < self.linger_until && !self.charge.holds_lane();
        let idle = |v: &Vec<u8>| v.capacity() > IDLE && !(lingers && v.capacity() <= KEEP);
        // What is kept for a connection's next frame goes to a frame that waits for memory
        // now (`budget/claim.rs`): ninety-six senders of a message every 0.2 s kept the
        // budget so in their receive buffers, and a 64 KB flow got nothing (attacker round
        // 13, F1); forty-eight subscribers of a 60 KB message every 0.1 s in their output
        // buffers, and a publisher's frames waited seconds (round 14, F2). The input's
        // plaintext buffer yields too (`Input::lingers`). (Letting output go so once stalled
        // a queue's flow, while every write renewed a kept output's LINGER_MS.)
        let rx_idle = self.deliver.is_empty()
            && self.unit_end == self.rx.len()
            && (idle(&self.rx) || self.rx.capacity() > IDLE && self.charge.claim_stands());
        let tx_idle = !self.owes()
            && self.sealing.is_none()
            && (idle(&self.tx) || self.tx.capacity() > IDLE && self.charge.claim_stands());
        let staging_idle = self.staging.is_empty()
            && self.staging.capacity() > 0
            && (!lingers || self.staging.capacity() > KEEP);
        if rx_idle {
            (self.rx, self.unit, self.unit_end) = (Vec::new(), 0, 0);
            self.deliver = 0..0;
        }
        if tx_idle {
            (self.tx, self.tx_start) = (Vec::new(), 0);
        }
        if staging_idle {
            self.staging = Vec::new();
        }
        if rx_idle || tx_idle || staging_idle {
            self.settle();
        }
    }

    /// Keep the buffers that drain for [`LINGER_MS`].
    fn linger(&mut self) {
        self.linger_until = self.charge.account().now_ms() + LINGER_MS;
    }

    /// How long (ms) until its buffer stops lingering ([`Secure::trim`]), if it does.
    pub fn lingers_for(&self) -> Option<u64> {
        let left = self
            .linger_until
            .saturating_sub(self.charge.account().now_ms());
        (left > 0).then_some(left)
    }

    /// Why the peer's stream ended where the handshake stands, if that tells of a refusal.
    fn cut_short(&self) -> Option<SessionError> {
        if self.link.awaits_welcome() {
            return Some(CurveError::NoWelcome.into());
        }
        // A signature, then the end: libzmq's answer to a mechanism it does not run.
        if self.link.awaits_greeting() && self.rx.len() >= SIGNATURE {
            return Some(CurveError::NotCurve.into());
        }
        None
    }

    /// Open the unit at `rx[unit..]`: `Ok(false)` if it is not all here yet.
    fn open_next(&mut self) -> io::Result<bool> {
        let mut tx = [0u8; TX_ROOM];
        let greeting = self.link.awaits_greeting();
        let opened = self
            .link
            .open(&mut self.rx[self.unit..], &mut tx, &self.gate);
        match opened {
            Ok(Opened::NeedMore(_)) => Ok(false),
            Ok(Opened::Step(step)) => {
                self.greeting_taken |= greeting;
                // What it waited in line for (if it did) is here.
                self.charge.leave_line();
                self.tx.extend_from_slice(&tx[..step.sent]);
                self.deliver = self.unit + step.deliver.start..self.unit + step.deliver.end;
                self.unit_end = self.unit + step.consumed;
                if self.link.is_active() && !self.deliver.is_empty() {
                    // A frame that needed the budget and came while it kept up.
                    if self.rx.capacity() > FREE && self.keeps_up() {
                        self.proven = true;
                        self.linger();
                    }
                    // A data frame's flags: MORE is bit 0 (a 1.0 frame comes as its header,
                    // then its body as it comes).
                    let flags = match &self.link {
                        Layer::V1(l) => l.head_flags(),
                        _ => Some(self.rx[self.deliver.start]),
                    };
                    if let Some(flags) = flags {
                        self.fresh_message = self.ends_message;
                        self.ends_message = flags & 0x01 == 0;
                    }
                }
                Ok(true)
            }
            Err(e) => {
                if matches!(
                    e,
                    SessionError::Curve(CurveError::Denied) | SessionError::Denied
                ) {
                    // As libzmq answers a ZAP refusal.
                    let at = self.tx.len();
                    self.tx.resize(at + 16, 0);
                    let n = Link::write_error(b"400", &mut self.tx[at..]);
                    self.tx.truncate(at + n);
                }
                Err(failed(e))
            }
        }
    }

    /// Read ciphertext after what `rx` holds (all of it undelivered: it starts at the unit
    /// that needs more).
    fn read_more(&mut self, sock: &Stream) -> io::Result<()> {
        // A unit before was taken: what is held after it (if anything) is the next one's
        // start, come with the last read.
        if self.unit > 0 || self.rx.len() == self.unit {
            self.unit_since = (self.rx.len() > self.unit).then(|| self.charge.account().now_ms());
            (
                self.beyond,
                self.starved_at,
                self.flat_wait,
                self.socket_seen,
            ) = (false, None, 0, 0);
        }
        self.rx.drain(..self.unit);
        (self.unit, self.unit_end, self.deliver) = (0, 0, 0..0);
        if self.rx.is_empty() && self.rx.capacity() > KEEP {
            self.rx = Vec::new();
            self.settle();
        }
        // The rest of the unit, if its header said how long it is, but no more than
        // READ_MAX at a time: the buffer grows as the bytes come, never for what a header
        // only announces. A handshake command is small (the link refuses one over
        // MAX_HANDSHAKE).
        let need = match FrameHead::decode(&self.rx) {
            // 1.0 bytes: no 3.x header to read, and a frame goes on as it comes.
            _ if matches!(self.link, Layer::V1(_)) => 0,
            Ok(Some((head, hl))) => hl.saturating_add(usize::try_from(head.len).unwrap_or(0)),
            _ => 0,
        };
        let chunk = if self.link.is_active() {
            READ_CHUNK
        } else {
            HANDSHAKE_CHUNK
        };
        let rest = need.saturating_sub(self.rx.len());
        // In the cipher lane, no further than the frame's end: with none of the next frame's
        // start held, the buffer is let go once the frame is delivered, and the lane with it,
        // for the next in line.
        let want = if rest > 0 && self.charge.holds_cipher_lane() {
            rest.min(READ_MAX)
        } else {
            rest.clamp(chunk, READ_MAX.max(chunk))
        };
        let grow = (self.rx.len() + want).saturating_sub(self.rx.capacity());
        if grow > 0 {
            // Doubling, so that a large unit does not cost a copy per read.
            let grow = grow.max(
                self.rx
                    .capacity()
                    .min(need.saturating_sub(self.rx.capacity())),
            );
            // With nothing of a unit held, what FREE leaves is read into without the budget
            // when it has no more: a small frame (and a PING, a handshake's command) always
            // arrives whole and goes on, however many others wait for memory part-way through
            // theirs, as a clear connection's fixed read buffer takes small messages.
            let free = FREE.saturating_sub(self.held());
            let grow = if self.rx.is_empty() && free >= FREE_READ_MIN {
                if self.may_grow_quietly(grow) {
                    grow
                } else {
                    free
                }
            } else {
                // Asked only when a unit part-way here must grow (the socket's count is a
                // system call), not on every read.
                let partial = rest > 0 && self.rx.len() > self.unit;
                let in_socket = if partial {
                    usize::try_from(sock.readable().unwrap_or(0)).unwrap_or(usize::MAX)
                } else {
                    0
                };
                self.judge_wait(in_socket);
                // Nothing came to grow for: it waits on its sender, not for memory (or the
                // sender is gone). What room it has is read into; with none, the socket is
                // looked at for its end (a peek).
                let idle = partial && in_socket == 0;
                if idle && self.rx.len() == self.rx.capacity() && sock.at_end()? {
                    self.eof = true;
                    return Ok(());
                }
                self.rest_here = partial && in_socket >= rest;
                self.coming = partial && in_socket > 0;
                // A frame part-way here that draws from the budget (all in the socket, one
                // that keeps up, or one below the share) takes room for all of it at once:
                // what it takes is then what it will hold, and the next frame's check of what
                // is free sees it. Growing a read at a time, sixteen senders of 100 KB frames
                // that each fitted when they began all grew together, 80 % of each at once,
                // until none could finish (attacker round 10; round 9's F2 through the share).
                // Only what its head announced, once the link has found it within the frame
                // or handshake command it takes (a refused head ends the connection here).
                if partial && self.open_next()? {
                    return Ok(());
                }
                // A frame with room for all its rest reads into it and asks for nothing (not
                // even a whole read's worth: sixteen frames that had room for all of them,
                // refused that for their last 16 KB, waited for memory with their rest in the
                // socket, never judged for it, and held the share for good; round 10, F1).
                let grow = if idle && self.rx.len() < self.rx.capacity() {
                    0
                } else if partial {
                    rest.saturating_sub(self.rx.capacity() - self.rx.len())
                } else {
                    grow
                };
                if grow > 0 && !self.may_grow(grow, false) {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                grow
            };
            if grow > 0 {
                self.rx
                    .reserve_exact(grow + self.rx.capacity() - self.rx.len());
                self.settle();
            }
        }
        let n = sock.read_spare(&mut self.rx)?;
        self.arrived = self.arrived.saturating_add(n);
        // What it read was what its socket held: the waits before count no more.
        if n > 0 {
            self.flat_wait = 0;
        }
        if n > 0 && self.unit_since.is_none() {
            self.unit_since = Some(self.charge.account().now_ms());
        }
        if n == 0 {
            self.eof = true;
        }
        if let Some((greeting, sent)) = &mut self.held {
            // Nothing before the client's signature (a port probe gets nothing).
            let due = if self.rx.len() < SIGNATURE {
                0
            } else {
                greeting::due_for(&self.rx)
            };
            if due > *sent {
                self.tx.extend_from_slice(&greeting[*sent..due]);
                *sent = due;
            }
            if *sent == GREETING_LEN {
                self.held = None;
            }
        }
        Ok(())
    }
}

/// A socket read and written through its connection's [`Secure`].
pub struct Secured<'a> {
    pub stream: &'a Stream,
    pub secure: &'a RefCell<Secure>,
}

impl Wire for Secured<'_> {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut at = 0;
        self.secure
            .borrow_mut()
            .fill(self.stream, buf.len(), &mut |piece| {
                buf[at..at + piece.len()].copy_from_slice(piece);
                at += piece.len();
            })
    }

    fn read_spare(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let room = buf.capacity() - buf.len();
        self.secure
            .borrow_mut()
            .fill(self.stream, room, &mut |piece| buf.extend_from_slice(piece))
    }

    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.secure.borrow_mut().write(self.stream, bufs)
    }

    fn lane_ok(&self) -> bool {
        self.secure.borrow().input_may_take_lane()
    }

    fn unfinished(&self) -> bool {
        let s = self.secure.borrow();
        matches!(s.link, Layer::Curve(_)) && !s.ends_message
    }

    fn input_lane(&self, holds: bool) {
        self.secure.borrow_mut().input_lane = holds;
    }

    fn pump(&self) -> io::Result<()> {
        self.secure.borrow_mut().pump(self.stream)
    }

    fn lingers(&self) -> bool {
        self.secure.borrow().lingers_for().is_some()
    }

    fn ready(&self) -> Option<usize> {
        self.secure.borrow().ready_len()
    }
}

/// Fresh randomness from the OS (getrandom(2)), for keys and nonces.
pub fn fill_random(buf: &mut [u8]) -> io::Result<()> {
    let mut at = 0;
    while at < buf.len() {
        match rustix::rand::getrandom(&mut buf[at..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => at += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// What a read or write error says of the CURVE layer, if it came from it.
pub fn session_error(e: &io::Error) -> Option<SessionError> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Failed>())
        .map(|f| f.0)
}

mod layer;
mod output;
#[cfg(test)]
mod tests;
mod wide;
