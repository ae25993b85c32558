//! Who may join a side of a device: the caps that keep one kind of peer from crowding out
//! another, as books the host consults before it adds a peer.
//!
//! - Each side has its own `max_peers`, so idle producers never lock workers out.
//! - One IP address may hold `max_peers_per_address` of a side. IPC peers are programs on the
//!   gateway itself and are not capped by address; connections zedge makes go to endpoints
//!   the operator chose and are neither capped by address nor closed for their handshake.
//! - Connections still in their handshake are kept in arrival order, at most
//!   `max_handshaking` per side: one more closes the oldest of them, and so does a new
//!   connection to a side at `max_peers` while any of its peers is still in its handshake.
//!   A flood of connections that never greet therefore holds a few slots, each for a moment,
//!   a real peer's handshake (a few round trips) finishes among them, and the handshake
//!   timeout ends those left when the flood stops.
//! - The oldest, that is, from the address with the most connections in their handshake (a
//!   flood from one host makes room among its own, not by closing a real peer whose
//!   handshake takes a few round trips over a slow radio link, and which is unanswered for a
//!   moment after it connects), of those whose closing loses least ([`Rank`]). Until we have a connection's whole greeting we have not sent our
//!   READY, so its handshake cannot have finished on its side and it has sent no message. Once we have answered, its peer may
//!   finish its handshake and send messages before we read its READY, and closing it then
//!   loses them (measured: a burst of a hundred libzmq producers lost one message in about
//!   ten runs when the oldest answered connection was closed). So an answered connection
//!   goes only when none is unanswered, and never one with input waiting to be read; when
//!   every connection in its handshake has input waiting, the new connection is refused
//!   instead (it has sent nothing that could be lost, and a ZeroMQ peer tries again).
//!   Connections that never greet are never answered, so they are always the ones closed.
//! - A side with CURVE or PLAIN takes at most `handshake_rate_per_address` new connections a
//!   second from one IP address, after a first burst of `max_peers_per_address` (a token
//!   bucket per address: [`Gate::rate`]). Each such handshake costs the device's thread two
//!   X25519 (CURVE's WELCOME) or tries a password (PLAIN): a flood of them from one host
//!   would otherwise take the thread from the flows it serves. IPC peers and zedge's own
//!   connections are not counted; NULL sides, whose handshake costs next to nothing, neither.
//!
//! Refusing before adding, rather than adding and closing, costs a refused connection nothing
//! but its descriptor for the moment it takes to close it.

use std::cmp::Reverse;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::time::Instant;

use zedge_core::device::{Side, MAX_CAPTURE_READERS};

/// What closing a connection still in its handshake could cost its peer; the least first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    /// We do not have its whole greeting, so have not answered it: nothing to lose.
    Unanswered,
    /// We answered its greeting, and nothing of it waits to be read.
    Answered,
    /// We answered its greeting, and input waits to be read: maybe its READY and the
    /// messages after it.
    Talking,
}

/// The caps of one device; each holds for each side on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_peers: usize,
    pub per_address: usize,
    pub max_handshaking: usize,
    /// New connections a second a secured side takes from one address; zero: no limit.
    pub handshake_rate: usize,
}

/// Where a connection comes from, as far as admission cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Accepted over TCP from this address.
    Tcp(IpAddr),
    /// Accepted on an IPC endpoint.
    Ipc,
    /// Made by zedge to an endpoint of the config.
    Connected,
}

/// Why a connection was not let in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The side has `max_peers` peers, every one past its handshake.
    MaxPeers(usize),
    /// The address has `max_peers_per_address` peers on the side.
    MaxPerAddress(usize),
    /// The side was full (`max_peers` or `max_handshaking`) and every connection still in
    /// its handshake was [`Rank::Talking`], so none could be closed to make room.
    Busy(Crowd),
    /// The capture side has as many readers as a device serves, every one past its
    /// handshake.
    MaxReaders(usize),
    /// The device's peer table had no slot (the caps should make this impossible).
    NoSlot,
    /// The OS gave no randomness for a CURVE handshake's keys.
    NoRandom,
    /// The address opened `handshake_rate_per_address` connections a second to a secured
    /// side, past its first burst.
    HandshakeRate(usize),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::MaxPeers(n) => write!(
                f,
                "max_peers ({n}) reached on this side, all past their handshake; raise max_peers"
            ),
            Refusal::MaxPerAddress(n) => write!(
                f,
                "max_peers_per_address ({n}) reached for this address on this side; \
                 raise max_peers_per_address"
            ),
            Refusal::Busy(c) => write!(
                f,
                "{} reached on this side and every connection still in its handshake is \
                 sending; a ZeroMQ peer tries again",
                c.setting()
            ),
            Refusal::MaxReaders(n) => write!(
                f,
                "a device serves at most {n} capture readers, and has them all"
            ),
            Refusal::NoSlot => f.write_str("peer table full"),
            Refusal::NoRandom => f.write_str("the OS gave no randomness for the CURVE handshake"),
            Refusal::HandshakeRate(n) => write!(
                f,
                "handshake_rate_per_address ({n} a second) reached for this address on this \
                 side; a ZeroMQ peer tries again; raise handshake_rate_per_address"
            ),
        }
    }
}

/// A connection to close to make room for a new one: the oldest still in its handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Displace<Id> {
    pub id: Id,
    pub src: Source,
    pub because: Crowd,
}

/// What a new connection found full, so that one still in its handshake made room for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Crowd {
    /// `max_peers` on the side.
    Peers(usize),
    /// `max_handshaking` on the side.
    Handshaking(usize),
}

impl Crowd {
    /// `max_peers (1024)`: the setting and its value.
    fn setting(self) -> String {
        match self {
            Crowd::Peers(n) => format!("max_peers ({n})"),
            Crowd::Handshaking(n) => format!("max_handshaking ({n})"),
        }
    }
}

impl fmt::Display for Crowd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "closed while still in its handshake, to make room for a newer connection: {} \
             reached on this side",
            self.setting()
        )
    }
}

/// The books of both sides of one device, over peer handles `Id`.
#[derive(Debug)]
pub struct Gate<Id> {
    limits: Limits,
    sides: [Books<Id>; 3],
}

#[derive(Debug)]
struct Books<Id> {
    /// Connections not known to have finished their handshake, oldest first.
    handshaking: VecDeque<(Id, Source)>,
    /// Peers per TCP address; an address with none has no entry.
    per_address: HashMap<IpAddr, usize>,
    /// The handshakes each TCP address may still start ([`Gate::rate`]); an address whose
    /// bucket has filled again needs no entry, and those are dropped now and then.
    buckets: HashMap<IpAddr, Bucket>,
    /// Entries in `buckets` past which the full ones are dropped.
    prune_at: usize,
}

impl<Id> Default for Books<Id> {
    fn default() -> Self {
        Books {
            handshaking: VecDeque::new(),
            per_address: HashMap::new(),
            buckets: HashMap::new(),
            prune_at: PRUNE_FLOOR,
        }
    }
}

/// Bucket entries kept before the full ones are looked for.
const PRUNE_FLOOR: usize = 64;

/// An address's handshakes to come: `tokens` at `at`, one more every `1 / rate` seconds up
/// to the burst.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Its tokens at `now`, at `rate` a second up to `burst`.
    fn at(&self, now: Instant, rate: f64, burst: f64) -> f64 {
        let grown = now.saturating_duration_since(self.at).as_secs_f64() * rate;
        (self.tokens + grown).min(burst)
    }
}

impl<Id: Copy + Eq> Gate<Id> {
    pub fn new(limits: Limits) -> Self {
        Gate {
            limits,
            sides: Default::default(),
        }
    }

    /// Whether a connection from `src` may join `side`, which has `peers` peers now (`ready`
    /// says which have finished their handshake, `rank` ranks the others). `Ok(Some(..))`
    /// names the connection to close first, to make room: the oldest of the lowest rank
    /// below [`Rank::Talking`]. Tell the gate with [`Gate::left`] once it is closed, and with
    /// [`Gate::joined`] once the new one is in.
    pub fn check(
        &mut self,
        side: Side,
        src: Source,
        peers: usize,
        ready: impl Fn(Id) -> bool,
        rank: impl Fn(Id) -> Rank,
    ) -> Result<Option<Displace<Id>>, Refusal> {
        let limits = self.limits;
        let books = self.books(side);
        books.handshaking.retain(|&(id, _)| !ready(id));
        if let Source::Tcp(ip) = src {
            if books.per_address.get(&key(ip)) >= Some(&limits.per_address) {
                return Err(Refusal::MaxPerAddress(limits.per_address));
            }
        }
        // A device serves so many capture readers, whatever its `max_peers`.
        let max_peers = match side {
            Side::Capture => limits.max_peers.min(MAX_CAPTURE_READERS),
            Side::Frontend | Side::Backend => limits.max_peers,
        };
        let full = peers >= max_peers;
        let crowded = src != Source::Connected && books.handshaking.len() >= limits.max_handshaking;
        if !(full || crowded) {
            return Ok(None);
        }
        let because = if full {
            Crowd::Peers(max_peers)
        } else {
            Crowd::Handshaking(limits.max_handshaking)
        };
        // From the address with the most connections in their handshake (a flood from one
        // host makes room among its own: its greeted connections outrank a real peer's that
        // is still unanswered for a moment over a slow link); among those, the lowest rank;
        // among those, the oldest. Never one with input waiting while another will do.
        let mut crowds: HashMap<Option<IpAddr>, usize> = HashMap::new();
        for (_, src) in &books.handshaking {
            *crowds.entry(crowd_key(*src)).or_default() += 1;
        }
        let mut least: Option<(bool, Reverse<usize>, Rank, Id, Source)> = None;
        for &(id, src) in &books.handshaking {
            let r = rank(id);
            let n = crowds.get(&crowd_key(src)).copied().unwrap_or(0);
            let k = (r == Rank::Talking, Reverse(n), r);
            if least.is_none_or(|(t, m, l, _, _)| k < (t, m, l)) {
                least = Some((k.0, k.1, k.2, id, src));
            }
        }
        let least = least.map(|(_, _, r, id, src)| (r, id, src));
        match least {
            Some((Rank::Talking, _, _)) => Err(Refusal::Busy(because)),
            Some((_, id, src)) => Ok(Some(Displace { id, src, because })),
            None if full && side == Side::Capture => Err(Refusal::MaxReaders(max_peers)),
            None if full => Err(Refusal::MaxPeers(limits.max_peers)),
            None => Ok(None),
        }
    }

    /// Whether a connection from `ip` may start a handshake on a secured `side` at `now`: it
    /// takes one of the address's tokens, which come back at `handshake_rate` a second up to
    /// `max_peers_per_address`. A refusal costs the address no token.
    pub fn rate(&mut self, side: Side, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let Limits {
            handshake_rate,
            per_address,
            ..
        } = self.limits;
        if handshake_rate == 0 {
            return Ok(());
        }
        let (rate, burst) = (handshake_rate as f64, per_address.max(1) as f64);
        let books = self.books(side);
        if books.buckets.len() >= books.prune_at {
            books.buckets.retain(|_, b| b.at(now, rate, burst) < burst);
            books.prune_at = (2 * books.buckets.len()).max(PRUNE_FLOOR);
        }
        let b = books.buckets.entry(key(ip)).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let tokens = b.at(now, rate, burst);
        if tokens < 1.0 {
            return Err(Refusal::HandshakeRate(handshake_rate));
        }
        *b = Bucket {
            tokens: tokens - 1.0,
            at: now,
        };
        Ok(())
    }

    /// `id`, from `src`, joined `side`.
    pub fn joined(&mut self, side: Side, id: Id, src: Source) {
        let books = self.books(side);
        match src {
            Source::Tcp(ip) => *books.per_address.entry(key(ip)).or_default() += 1,
            Source::Ipc => {}
            Source::Connected => return,
        }
        books.handshaking.push_back((id, src));
    }

    /// `id`, from `src`, left `side`, or was closed to make room.
    pub fn left(&mut self, side: Side, id: Id, src: Source) {
        let books = self.books(side);
        if let Some(i) = books.handshaking.iter().position(|&(h, _)| h == id) {
            books.handshaking.remove(i);
        }
        if let Source::Tcp(ip) = src {
            let ip = key(ip);
            if let Some(n) = books.per_address.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    books.per_address.remove(&ip);
                }
            }
        }
    }

    /// Addresses on `side` with a bucket.
    #[cfg(test)]
    fn buckets(&self, side: Side) -> usize {
        self.sides[index(side)].buckets.len()
    }

    /// Connections on `side` not known to have finished their handshake.
    #[cfg(test)]
    fn handshaking(&self, side: Side) -> usize {
        self.sides[index(side)].handshaking.len()
    }

    fn books(&mut self, side: Side) -> &mut Books<Id> {
        &mut self.sides[index(side)]
    }
}

fn index(side: Side) -> usize {
    side.index()
}

/// Who a connection in its handshake counts with when the gate looks for the most crowded
/// source: its address, or all IPC peers together.
fn crowd_key(src: Source) -> Option<IpAddr> {
    match src {
        Source::Tcp(ip) => Some(key(ip)),
        Source::Ipc | Source::Connected => None,
    }
}

/// An IPv4 peer on an IPv6 socket (`::ffff:a.b.c.d`) is the IPv4 address it is.
fn key(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

#[cfg(test)]
mod tests;
