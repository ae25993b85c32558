//! Who may join a side of a device: the caps that keep one kind of peer from crowding out
//! another, as books the host consults before it adds a peer.
//!
//! - Each side has its own `max_peers`, so idle producers never lock workers out.
//! - One IP address may hold `max_peers_per_address` of a side. IPC peers are programs on the
//!   gateway itself and are not capped by address; connections zedge makes go to endpoints
//!   the operator chose and are neither capped by address nor closed for their handshake.
//! - Connections still in their handshake are kept, at most `max_handshaking` per side: one
//!   more closes one of them, or is refused, and so does a new connection to a side at
//!   `max_peers` while any of its peers is still in its handshake. The handshake timeout
//!   ends those left when a flood stops.
//! - First to go is one that has gone [`QUIET`]: no byte from it for a second (a greeting
//!   and then nothing, or nothing at all). A real peer in its handshake waits on us at most
//!   about a round trip before its next bytes come, even over a slow radio link; a
//!   connection that greeted and went quiet stays so until its handshake timeout. So a flood
//!   of greetings from many addresses, one each as a real peer has, makes room among its own
//!   quiet ones (attacker round 4: from 64 addresses, a hundred a second, it closed every new
//!   peer over a 50 ms link while the peer was unanswered, and thus ranked lowest).
//! - Next, one in its handshake for longer than a handshake of a few round trips takes over
//!   such a link ([`UNDER_WAY`]): a byte now and then (within a greeting's 64 bytes, or a
//!   command's) keeps a connection from going quiet, not its slot until the handshake
//!   timeout.
//! - Next, one from the address with the most connections in their handshake, if it has two
//!   or more: a flood from one host, however fast, makes room among its own. When every
//!   connection in its handshake has sent lately, began lately and is its address's only
//!   one, none can be told from a real peer between two round trips, and the new connection
//!   is refused instead (it has sent nothing that could be lost, and a ZeroMQ peer tries
//!   again). A flood from many addresses that keeps every slot busy (more than
//!   `max_handshaking` connections a [`QUIET`]) thus delays new peers (a try gets in when a
//!   quiet one is there to make room) but closes none whose handshake is under way. What
//!   it does not stop: connections from as many addresses as there are slots, each sending
//!   a byte a second and replaced before [`UNDER_WAY`], hold the side, for
//!   `max_handshaking` packets and a fifth as many connections a second (64 and 13 at the
//!   defaults); a larger `max_handshaking` raises that cost in proportion.
//! - Within each of these, the most crowded address's first, then those whose closing loses least
//!   ([`Rank`]), then the one quiet longest. Until we have a connection's whole greeting we
//!   have not sent our READY, so its handshake cannot have finished on its side and it has
//!   sent no message. Once we have answered, its peer may finish its handshake and send
//!   messages before we read its READY, and closing it then loses them (measured: a burst
//!   of a hundred libzmq producers lost one message in about ten runs when the oldest
//!   answered connection was closed). So an answered connection goes only when no
//!   unanswered one as quiet and as crowded will do, and never one with input waiting to be
//!   read; when every connection in its handshake has input waiting, the new connection is
//!   refused.
//! - Crowds are counted by address, not by network prefix: a gateway's peers often share
//!   their LAN's /24 (or /64), and a crowd by prefix would close them for a flood from
//!   elsewhere; and an attacker with many addresses has them in many prefixes as cheaply.
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
use std::time::{Duration, Instant};

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

/// How long a connection in its handshake may go without sending a byte and still count as
/// under way: about the longest round trip a real peer's link takes (a satellite or a
/// crowded cellular link's are well under it). Shorter lets a flood's connections be closed
/// sooner; longer protects slower links but lets a flood of fewer connections a second keep
/// every one of them under way (`max_handshaking` of them a `QUIET`).
pub const QUIET: Duration = Duration::from_secs(1);

/// How long a handshake of a few round trips takes over the slowest link [`QUIET`] allows
/// for: one in its handshake longer than this is no longer kept for having sent lately (a
/// trickle of bytes does not hold a slot until the handshake timeout).
pub const UNDER_WAY: Duration = Duration::from_secs(5);

/// How a connection in its handshake stands, for choosing one to close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    pub rank: Rank,
    /// When a byte last came from it; when it was accepted, if none has.
    pub heard: Instant,
    /// When it was accepted.
    pub since: Instant,
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
    /// its handshake was under way (see the module's doc), so none was closed to make room.
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
                "{} reached on this side and every connection still in its handshake is under \
                 way (input waiting, or it sent in the last {} s, began less than {} s ago and \
                 is its address's only one); a ZeroMQ peer tries again",
                c.setting(),
                QUIET.as_secs(),
                UNDER_WAY.as_secs()
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

/// A connection still in its handshake to close to make room for a new one.
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
    /// Connections not known to have finished their handshake, in arrival order.
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

    /// Whether a connection from `src` may join `side` at `now`, which has `peers` peers
    /// (`ready` says which have finished their handshake, `standing` how the others stand).
    /// `Ok(Some(..))` names the connection to close first, to make room (the module's doc
    /// says which). Tell the gate with [`Gate::left`] once it is closed, and with
    /// [`Gate::joined`] once the new one is in.
    pub fn check(
        &mut self,
        side: Side,
        src: Source,
        peers: usize,
        now: Instant,
        ready: impl Fn(Id) -> bool,
        standing: impl Fn(Id) -> Standing,
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
        let mut crowds: HashMap<Option<IpAddr>, usize> = HashMap::new();
        for (_, src) in &books.handshaking {
            *crowds.entry(crowd_key(*src)).or_default() += 1;
        }
        // Quiet ones first, then those in their handshake for long, then those of a crowded
        // address; within each the most crowded address's, the lowest rank, the quietest.
        // Never one with input waiting, nor one under way alone from its address: it may be
        // a real peer between two round trips over a slow link.
        let mut least: Option<(Choice, Id, Source)> = None;
        for &(id, src) in &books.handshaking {
            let s = standing(id);
            let quiet = now.saturating_duration_since(s.heard);
            let n = crowds.get(&crowd_key(src)).copied().unwrap_or(0);
            let fit = if quiet >= QUIET {
                Fit::Quiet
            } else if now.saturating_duration_since(s.since) >= UNDER_WAY {
                Fit::Long
            } else if n >= 2 {
                Fit::Crowded
            } else {
                continue;
            };
            if s.rank == Rank::Talking {
                continue;
            }
            let k = (fit, Reverse(n), s.rank, Reverse(quiet));
            if least.as_ref().is_none_or(|(m, _, _)| k < *m) {
                least = Some((k, id, src));
            }
        }
        match least {
            Some((_, id, src)) => Ok(Some(Displace { id, src, because })),
            None if !books.handshaking.is_empty() => Err(Refusal::Busy(because)),
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

/// How fit a connection in its handshake is to be closed, the fittest least: [`Fit`], its
/// address's connections in their handshake, its rank, how long it has been quiet.
type Choice = (Fit, Reverse<usize>, Rank, Reverse<Duration>);

/// Why a connection in its handshake may be closed to make room; the likeliest not a real
/// peer's first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fit {
    /// Nothing came from it for [`QUIET`].
    Quiet,
    /// It sent lately, but has been in its handshake for [`UNDER_WAY`].
    Long,
    /// It sent lately, and others from its address are in their handshake.
    Crowded,
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
