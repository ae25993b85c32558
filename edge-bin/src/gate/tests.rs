//! The gate's books driven like the host drives them, without sockets.

use super::*;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::time::Duration;

const FE: Side = Side::Frontend;
const BE: Side = Side::Backend;

fn ip(last: u8) -> Source {
    Source::Tcp(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
}

/// A device's side as the host sees it: the gate, and which peers are in and ready.
struct Host {
    gate: Gate<u32>,
    peers: [Vec<(u32, Source)>; 2],
    ready: HashSet<u32>,
    /// Connections whose greeting we answered, and those with input waiting.
    answered: HashSet<u32>,
    talking: HashSet<u32>,
    /// When a byte last came from each (when it joined, until one does), and when it joined.
    heard: HashMap<u32, Instant>,
    since: HashMap<u32, Instant>,
    now: Instant,
    next: u32,
}

impl Host {
    fn new(max_peers: usize, per_address: usize, max_handshaking: usize) -> Host {
        let limits = Limits {
            max_peers,
            per_address,
            max_handshaking,
            handshake_rate: 0,
        };
        Host {
            gate: Gate::new(limits),
            peers: [Vec::new(), Vec::new()],
            ready: HashSet::new(),
            answered: HashSet::new(),
            talking: HashSet::new(),
            heard: HashMap::new(),
            since: HashMap::new(),
            now: Instant::now(),
            next: 0,
        }
    }

    /// Admit like the host does: `Ok((id, closed to make room))`.
    fn admit(&mut self, side: Side, src: Source) -> Result<(u32, Option<u32>), Refusal> {
        let n = self.peers[index(side)].len();
        let (ready, answered, talking) = (&self.ready, &self.answered, &self.talking);
        let victim = self.gate.check(
            side,
            src,
            n,
            self.now,
            |id| ready.contains(&id),
            |id| Standing {
                rank: rank(answered, talking, id),
                heard: self.heard[&id],
                since: self.since[&id],
            },
        )?;
        if let Some(v) = victim {
            self.peers[index(side)].retain(|&(id, _)| id != v.id);
            self.gate.left(side, v.id, v.src);
        }
        let id = self.next;
        self.next += 1;
        self.peers[index(side)].push((id, src));
        self.heard.insert(id, self.now);
        self.since.insert(id, self.now);
        self.gate.joined(side, id, src);
        Ok((id, victim.map(|v| v.id)))
    }

    /// Time passes.
    fn pass(&mut self, d: Duration) {
        self.now += d;
    }

    /// Bytes came from `id`.
    fn hear(&mut self, id: u32) {
        self.heard.insert(id, self.now);
    }

    fn alive(&self, side: Side, id: u32) -> bool {
        self.peers[index(side)].iter().any(|&(p, _)| p == id)
    }

    fn leave(&mut self, side: Side, id: u32) {
        let list = &mut self.peers[index(side)];
        let i = list.iter().position(|&(p, _)| p == id).unwrap();
        let (_, src) = list.remove(i);
        self.gate.left(side, id, src);
    }
}

fn rank(answered: &HashSet<u32>, talking: &HashSet<u32>, id: u32) -> Rank {
    if !answered.contains(&id) {
        Rank::Unanswered
    } else if talking.contains(&id) {
        Rank::Talking
    } else {
        Rank::Answered
    }
}

#[test]
fn a_full_side_refuses_and_the_other_side_is_unaffected() {
    let mut h = Host::new(3, 100, 100);
    for _ in 0..3 {
        let (id, _) = h.admit(FE, ip(1)).unwrap();
        h.ready.insert(id);
    }
    assert_eq!(h.admit(FE, ip(2)), Err(Refusal::MaxPeers(3)));
    assert_eq!(h.admit(FE, Source::Ipc), Err(Refusal::MaxPeers(3)));
    assert_eq!(h.admit(FE, Source::Connected), Err(Refusal::MaxPeers(3)));
    for _ in 0..3 {
        assert!(h.admit(BE, ip(1)).is_ok());
    }
    // One leaves: room for one.
    h.leave(FE, 0);
    let (id, closed) = h.admit(FE, ip(2)).unwrap();
    assert_eq!(closed, None);
    h.ready.insert(id);
    assert_eq!(h.admit(FE, ip(2)), Err(Refusal::MaxPeers(3)));
}

#[test]
fn a_full_side_makes_room_by_closing_the_oldest_unfinished_handshake() {
    let mut h = Host::new(3, 100, 100);
    let (a, _) = h.admit(FE, ip(1)).unwrap();
    let (b, _) = h.admit(FE, ip(1)).unwrap();
    let (c, _) = h.admit(FE, ip(1)).unwrap();
    h.ready.insert(a);
    assert_eq!(h.admit(FE, ip(2)).map(|(_, v)| v), Ok(Some(b)));
    // c and the newcomer, one each from their addresses and heard from lately: neither goes.
    assert_eq!(h.admit(FE, ip(2)), Err(Refusal::Busy(Crowd::Peers(3))));
    h.pass(QUIET);
    assert_eq!(h.admit(FE, ip(2)).map(|(_, v)| v), Ok(Some(c)));
}

#[test]
fn an_address_at_its_cap_is_refused_and_others_are_not() {
    let mut h = Host::new(100, 2, 100);
    let (a, _) = h.admit(FE, ip(1)).unwrap();
    h.admit(FE, ip(1)).unwrap();
    assert_eq!(h.admit(FE, ip(1)), Err(Refusal::MaxPerAddress(2)));
    // IPv4 on an IPv6 socket is the same address.
    let mapped = Source::Tcp(IpAddr::V6(Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped()));
    assert_eq!(h.admit(FE, mapped), Err(Refusal::MaxPerAddress(2)));
    assert!(h.admit(FE, ip(2)).is_ok());
    assert!(h.admit(BE, ip(1)).is_ok(), "the cap is per side");
    h.leave(FE, a);
    assert!(
        h.admit(FE, ip(1)).is_ok(),
        "a peer that left frees its place"
    );
}

#[test]
fn ipc_and_our_own_connections_are_not_capped_by_address() {
    let mut h = Host::new(100, 1, 100);
    for _ in 0..10 {
        assert!(h.admit(FE, Source::Ipc).is_ok());
        assert!(h.admit(FE, Source::Connected).is_ok());
    }
}

#[test]
fn one_handshake_too_many_closes_the_oldest_still_unfinished() {
    let mut h = Host::new(100, 100, 3);
    let ids: Vec<u32> = (0..3).map(|_| h.admit(FE, ip(1)).unwrap().0).collect();
    h.ready.insert(ids[0]);
    // Three in, one of them ready: two handshaking, room for one more.
    assert_eq!(h.admit(FE, ip(1)).map(|(_, v)| v), Ok(None));
    assert_eq!(h.admit(FE, ip(1)).map(|(_, v)| v), Ok(Some(ids[1])));
    assert_eq!(h.admit(FE, ip(2)).map(|(_, v)| v), Ok(Some(ids[2])));
    assert_eq!(h.gate.handshaking(FE), 3);
    assert_eq!(h.gate.handshaking(BE), 0);
    assert_eq!(h.admit(BE, ip(1)).map(|(_, v)| v), Ok(None));
}

/// Attacker round 3: greetings from one host, a hundred a second, closed a real client's
/// handshake (a few round trips over a slow link) as soon as max_handshaking newer ones came,
/// and a new client over a slow link at once (unanswered until its greeting crosses it). The
/// flood's own go first: the address with the most handshakes makes room.
#[test]
fn a_flood_from_one_address_makes_room_among_its_own() {
    let mut h = Host::new(100, 100, 8);
    let real = h.admit(FE, ip(1)).unwrap().0;
    h.answered.insert(real);
    let mut flood: Vec<u32> = Vec::new();
    let greet = |h: &mut Host, flood: &mut Vec<u32>| {
        let (id, closed) = h.admit(FE, ip(2)).unwrap();
        h.answered.insert(id);
        flood.push(id);
        closed
    };
    for _ in 0..7 {
        assert_eq!(greet(&mut h, &mut flood), None);
    }
    for _ in 0..20 {
        let oldest = flood[0];
        assert_eq!(
            greet(&mut h, &mut flood),
            Some(oldest),
            "the flood's oldest"
        );
        flood.remove(0);
    }
    // A new client, not answered yet, makes room among the flood's too, and stays.
    let (slow, closed) = h.admit(FE, ip(1)).unwrap();
    assert_eq!(closed, Some(flood.remove(0)));
    for _ in 0..20 {
        let oldest = flood[0];
        assert_eq!(greet(&mut h, &mut flood), Some(oldest));
        flood.remove(0);
    }
    let alive: Vec<u32> = h.peers[0].iter().map(|&(id, _)| id).collect();
    assert!(alive.contains(&real) && alive.contains(&slow), "{alive:?}");
    // Both quiet, crowds alike, rank decides: the unanswered one before the answered.
    let mut h = Host::new(100, 100, 2);
    let unanswered = h.admit(FE, ip(1)).unwrap().0;
    let noisy = h.admit(FE, ip(2)).unwrap().0;
    h.answered.insert(noisy);
    h.pass(QUIET);
    assert_eq!(h.admit(FE, ip(3)).map(|(_, v)| v), Ok(Some(unanswered)));
}

/// Attacker round 4: greetings from 64 addresses, a hundred a second, one connection in its
/// handshake each, as a real peer has: the tie fell to rank and age, and every new peer over
/// a 50 ms link was closed while it was unanswered. Quiet ones go first now, and a peer
/// under way alone from its address is never closed: it gets in when a quiet one makes
/// room, and finishes.
#[test]
fn a_flood_of_greetings_from_many_addresses_closes_no_peer_under_way() {
    for per_second in [100, 1000] {
        let through = slow_peers_under_flood(per_second, 64, 5);
        eprintln!("{per_second} a second: {through:?}");
        assert_eq!(through.len(), 5, "{per_second} a second: {through:?}");
        if per_second == 100 {
            let worst = through.iter().max().unwrap();
            assert!(*worst < Duration::from_secs(2), "{through:?}");
        }
    }
}

/// `n` new peers over a link of 50 ms each way, one after another, each trying again 100 ms
/// after a refusal, beside `per_second` greetings a second from `addresses` addresses (each
/// answered at once and quiet after). How long each took from its first try to its READY;
/// panics if one was closed while under way.
fn slow_peers_under_flood(per_second: u64, addresses: u8, n: usize) -> Vec<Duration> {
    let mut h = Host::new(1024, 256, 64);
    let mut rng = fastrand::Rng::with_seed(7);
    let gap = Duration::from_micros(1_000_000 / per_second);
    let ms = Duration::from_millis(1);
    let mut next_flood = h.now;
    let mut sent = 0u64;
    // The peer now connecting: its connection and when it was let in; when it first tried.
    let mut real: Option<(u32, Instant)> = None;
    // The first once the flood has filled the side.
    let mut retry_at = h.now + Duration::from_secs(2);
    let mut first_try = retry_at;
    let mut through = Vec::new();
    let end = h.now + Duration::from_secs(30);
    while through.len() < n && h.now < end {
        while next_flood <= h.now {
            let from = ip(100 + (sent % u64::from(addresses)) as u8);
            sent += 1;
            match h.admit(FE, from) {
                Ok((id, closed)) => {
                    h.answered.insert(id);
                    if let (Some((r, _)), Some(c)) = (real, closed) {
                        assert_ne!(c, r, "{per_second}/s: a peer under way was closed");
                    }
                }
                Err(e) => assert_eq!(e, Refusal::Busy(Crowd::Handshaking(64))),
            }
            // Each a little late, as a sender's are.
            next_flood += gap + ms * rng.u32(0..3);
        }
        match real {
            None if h.now >= retry_at => match h.admit(FE, ip(1)) {
                Ok((id, _)) => real = Some((id, h.now)),
                Err(_) => retry_at = h.now + Duration::from_millis(100),
            },
            None => {}
            Some((id, since)) => {
                assert!(
                    h.alive(FE, id),
                    "{per_second}/s: a peer under way was closed"
                );
                // Its signature, major version and the rest of its greeting a round trip
                // apart (libzmq's), then its READY.
                let t = h.now - since;
                if [50, 100, 150, 250].map(Duration::from_millis).contains(&t) {
                    h.hear(id);
                }
                if t == Duration::from_millis(150) {
                    h.answered.insert(id);
                }
                if t == Duration::from_millis(250) {
                    h.ready.insert(id);
                    through.push(h.now - first_try);
                    h.leave(FE, id);
                    // The next a moment later: the room it left is the flood's by then.
                    real = None;
                    retry_at = h.now + Duration::from_millis(100);
                    first_try = retry_at;
                }
            }
        }
        h.pass(ms);
    }
    through
}

#[test]
fn the_quiet_go_first_and_none_under_way_alone_from_its_address() {
    let mut h = Host::new(100, 100, 4);
    let quiet = h.admit(FE, ip(1)).unwrap().0;
    h.answered.insert(quiet);
    h.pass(QUIET);
    // Newer, unanswered and answered, each heard from lately.
    h.admit(FE, ip(2)).unwrap();
    let answered = h.admit(FE, ip(3)).unwrap().0;
    h.answered.insert(answered);
    let talking = h.admit(FE, ip(4)).unwrap().0;
    h.answered.insert(talking);
    h.talking.insert(talking);
    assert_eq!(
        h.admit(FE, ip(5)).map(|(_, v)| v),
        Ok(Some(quiet)),
        "the quiet one, though answered and the unanswered one newer"
    );
    assert_eq!(
        h.admit(FE, ip(6)),
        Err(Refusal::Busy(Crowd::Handshaking(4))),
        "every one under way alone from its address: the new one is refused"
    );

    // Two from one address, all heard from lately: that address makes room, its unanswered
    // one first; the other address's unanswered one stays.
    let mut h = Host::new(100, 100, 3);
    let first = h.admit(FE, ip(1)).unwrap().0;
    let second = h.admit(FE, ip(1)).unwrap().0;
    h.answered.insert(first);
    let alone = h.admit(FE, ip(2)).unwrap().0;
    assert_eq!(h.admit(FE, ip(3)).map(|(_, v)| v), Ok(Some(second)));
    assert!(h.alive(FE, alone));

    // Input waiting: never closed, however quiet.
    let mut h = Host::new(100, 100, 2);
    let talking = h.admit(FE, ip(1)).unwrap().0;
    h.answered.insert(talking);
    h.talking.insert(talking);
    h.pass(QUIET * 5);
    let fresh = h.admit(FE, ip(2)).unwrap().0;
    assert_eq!(
        h.admit(FE, ip(3)),
        Err(Refusal::Busy(Crowd::Handshaking(2)))
    );
    h.pass(QUIET);
    assert_eq!(h.admit(FE, ip(3)).map(|(_, v)| v), Ok(Some(fresh)));
    assert!(h.alive(FE, talking));
}

/// Connections that send a byte now and then (within their greeting's 64 bytes, or a
/// command's) from as many addresses as there are slots count as under way, and keep new
/// connections out, but only as long as a real handshake might take ([`UNDER_WAY`]): then
/// they make room, and a real peer that gets in is not closed for them.
#[test]
fn tricklers_hold_their_slots_no_longer_than_a_handshake_takes() {
    let mut h = Host::new(100, 100, 4);
    let t0 = h.now;
    let tricklers: Vec<u32> = (0..4).map(|i| h.admit(FE, ip(10 + i)).unwrap().0).collect();
    let trickle = |h: &mut Host| {
        for &t in &tricklers {
            if h.alive(FE, t) {
                h.hear(t);
            }
        }
    };
    while h.now + Duration::from_millis(700) < t0 + UNDER_WAY {
        h.pass(Duration::from_millis(700));
        trickle(&mut h);
        assert_eq!(
            h.admit(FE, ip(1)),
            Err(Refusal::Busy(Crowd::Handshaking(4)))
        );
    }
    h.pass(t0 + UNDER_WAY - h.now);
    let (real, closed) = h.admit(FE, ip(1)).unwrap();
    assert_eq!(closed, Some(tricklers[0]));
    // Its handshake, heard from each 100 ms, beside the tricklers and a flood of greetings
    // from other addresses, one each 50 ms.
    for tick in 0..8u8 {
        h.pass(Duration::from_millis(50));
        if tick % 2 == 1 {
            h.hear(real);
            trickle(&mut h);
        }
        if let Ok((id, _)) = h.admit(FE, ip(30 + tick)) {
            h.answered.insert(id);
        }
        assert!(h.alive(FE, real), "closed under way at {tick}");
    }
    assert!(
        tricklers.iter().all(|&t| !h.alive(FE, t)),
        "the tricklers made room"
    );
}

#[test]
fn the_unanswered_go_first_then_the_answered_and_never_one_with_input_waiting() {
    let mut h = Host::new(100, 100, 3);
    let ids: Vec<u32> = (0..3).map(|_| h.admit(FE, ip(1)).unwrap().0).collect();
    h.answered.extend(&ids);
    h.talking.insert(ids[0]);
    let (d, closed) = h.admit(FE, ip(1)).unwrap();
    assert_eq!(
        closed,
        Some(ids[1]),
        "the oldest answered one, passing over the talking"
    );
    // Input waiting does not protect one we have not answered.
    h.talking.insert(d);
    let (e, closed) = h.admit(FE, ip(1)).unwrap();
    assert_eq!(
        closed,
        Some(d),
        "an unanswered one before older answered ones"
    );
    h.answered.insert(e);
    h.talking.extend([ids[2], e]);
    assert_eq!(
        h.admit(FE, ip(1)),
        Err(Refusal::Busy(Crowd::Handshaking(3))),
        "every one answered and talking: the new one is refused"
    );
    assert_eq!(h.gate.handshaking(FE), 3);
}

#[test]
fn what_was_full_is_named() {
    let mut h = Host::new(2, 100, 1);
    let n = h.peers[0].len();
    let (a, _) = h.admit(FE, ip(1)).unwrap();
    let then = h.now;
    let now = then + QUIET;
    let quiet = |rank| {
        move |_| Standing {
            rank,
            heard: then,
            since: then,
        }
    };
    let d = h
        .gate
        .check(FE, ip(2), n + 1, now, |_| false, quiet(Rank::Unanswered));
    assert_eq!(
        d.map(|d| d.map(|d| (d.id, d.because))),
        Ok(Some((a, Crowd::Handshaking(1))))
    );
    let d = h
        .gate
        .check(FE, ip(2), 2, now, |_| false, quiet(Rank::Answered));
    assert_eq!(d.map(|d| d.map(|d| d.because)), Ok(Some(Crowd::Peers(2))));
}

#[test]
fn a_flood_of_silent_connections_holds_max_handshaking_and_no_more() {
    let mut h = Host::new(1024, 256, 64);
    let (worker, _) = h.admit(BE, ip(1)).unwrap();
    h.ready.insert(worker);
    for _ in 0..5000 {
        h.admit(FE, ip(1)).unwrap();
    }
    assert_eq!(h.peers[0].len(), 64);
    assert_eq!(h.gate.handshaking(FE), 64);
    // The address holds 64 of its 256, so a real peer from it still gets in, and one
    // that finishes its handshake before 64 more arrive stays.
    let (real, victim) = h.admit(FE, ip(1)).unwrap();
    assert!(victim.is_some());
    h.ready.insert(real);
    for _ in 0..1000 {
        h.admit(FE, ip(1)).unwrap();
    }
    assert!(h.peers[0].iter().any(|&(id, _)| id == real));
    assert_eq!(h.peers[1], [(worker, ip(1))]);
}

#[test]
fn our_own_connections_are_never_closed_for_their_handshake() {
    let mut h = Host::new(100, 100, 1);
    let (up, _) = h.admit(FE, Source::Connected).unwrap();
    assert_eq!(h.admit(FE, ip(1)).map(|(_, v)| v), Ok(None));
    assert_eq!(h.admit(FE, Source::Connected).map(|(_, v)| v), Ok(None));
    h.pass(QUIET);
    let (_, v) = h.admit(FE, ip(2)).unwrap();
    assert_ne!(v, Some(up));
    assert!(h.peers[0].iter().any(|&(id, _)| id == up));
}

#[test]
fn the_books_empty_when_every_peer_leaves() {
    let mut h = Host::new(10, 10, 10);
    let ids: Vec<u32> = (0..5).map(|i| h.admit(FE, ip(i)).unwrap().0).collect();
    for id in ids {
        h.leave(FE, id);
    }
    assert_eq!(h.gate.handshaking(FE), 0);
    assert!(h.gate.sides[0].per_address.is_empty());
}

/// A gate over two sides with `rate` handshakes a second per address and bursts of `burst`.
fn rated(rate: usize, burst: usize) -> Gate<u32> {
    Gate::new(Limits {
        max_peers: 1000,
        per_address: burst,
        max_handshaking: 1000,
        handshake_rate: rate,
    })
}

fn addr(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

#[test]
fn an_address_gets_its_burst_then_the_rate() {
    let mut g = rated(10, 5);
    let t0 = Instant::now();
    for _ in 0..5 {
        assert_eq!(g.rate(FE, addr(1), t0), Ok(()));
    }
    assert_eq!(g.rate(FE, addr(1), t0), Err(Refusal::HandshakeRate(10)));
    // Refusals cost nothing: a tenth of a second later there is one token again.
    let t1 = t0 + Duration::from_millis(100);
    assert_eq!(g.rate(FE, addr(1), t1), Ok(()));
    assert_eq!(g.rate(FE, addr(1), t1), Err(Refusal::HandshakeRate(10)));
    // Other addresses, and the other side, have their own buckets.
    assert_eq!(g.rate(FE, addr(2), t1), Ok(()));
    assert_eq!(g.rate(BE, addr(1), t1), Ok(()));
    // An IPv4 peer on an IPv6 socket is the IPv4 address.
    let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
    assert_eq!(g.rate(FE, mapped, t1), Err(Refusal::HandshakeRate(10)));
    // Idle, the bucket fills to the burst and no further.
    let t2 = t1 + Duration::from_secs(60);
    for _ in 0..5 {
        assert_eq!(g.rate(FE, addr(1), t2), Ok(()));
    }
    assert!(g.rate(FE, addr(1), t2).is_err());
}

#[test]
fn a_rate_of_zero_is_no_limit() {
    let mut g = rated(0, 1);
    let t = Instant::now();
    for _ in 0..1000 {
        assert_eq!(g.rate(FE, addr(1), t), Ok(()));
    }
    assert_eq!(g.buckets(FE), 0);
}

/// Addresses seen once are forgotten once their buckets are full again: a flood from many
/// addresses holds a table of those of the last moments, no more.
#[test]
fn full_buckets_are_dropped() {
    let mut g = rated(100, 2);
    let t0 = Instant::now();
    for a in 0..=255u8 {
        assert_eq!(g.rate(FE, addr(a), t0), Ok(()));
    }
    assert_eq!(g.buckets(FE), 256, "none full yet: all kept");
    // A second later every one is full again: the table holds the new addresses only.
    let t1 = t0 + Duration::from_secs(1);
    for a in 0..=255u8 {
        let v6 = IpAddr::V6(std::net::Ipv6Addr::new(
            0xfd00,
            0,
            0,
            0,
            0,
            0,
            0,
            u16::from(a),
        ));
        assert_eq!(g.rate(FE, v6, t1), Ok(()));
        assert!(g.buckets(FE) <= 256, "{}", g.buckets(FE));
    }
    let t2 = t1 + Duration::from_secs(1);
    assert!(g.rate(FE, addr(9), t2).is_ok());
    assert_eq!(g.buckets(FE), 1);
}
