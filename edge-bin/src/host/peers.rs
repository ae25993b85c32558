//! Each peer as an operator sees it: its connect and disconnect lines at info (after its
//! handshake, so that its socket type is known), the facts the control endpoint's `PEERS`
//! lists, and the peers refused in their handshake, aggregated at the default level.
//!
//! The device knows the peers' traffic and types ([`PeerView`]); the host adds what only it
//! knows: the remote address (ip:port, or the IPC endpoint) and the Identity, which the device
//! keeps for the last peer to become ready only
//! ([`Device::joined_identity`](zedge_core::device::Device::joined_identity)) and the host
//! keeps per connection from then on, on the heap and only when there is one.

use std::time::{Duration, Instant as StdInstant, SystemTime};

use log::{debug, info};
use zedge_core::conn::SessionError;
use zedge_core::curve::CurveError;
use zedge_core::device::{Kind, PeerId, PeerView, Side};
use zedge_core::wire::greeting::{Detected, GreetingError, Mechanism};

use super::{Dev, DeviceHost};
use crate::admit::side_name;
use crate::report::{Burst, Limiter};

/// How often the peers refused for one reason on one side may be reported: a misconfigured
/// fleet retrying every 100 ms makes one line a minute, with its count.
pub const REFUSED_EVERY: Duration = Duration::from_secs(60);

/// What the host adds to a [`PeerView`].
#[derive(Clone, Copy, Debug)]
pub struct PeerLine<'a> {
    /// The remote address: `ip:port`, or the endpoint for IPC.
    pub addr: &'a str,
    /// Its Identity, if it sent a non-empty one.
    pub identity: Option<&'a [u8]>,
    /// When it was taken, on the wall clock.
    pub since: SystemTime,
}

impl DeviceHost {
    /// After a call that fed `id`'s input: if its handshake is done, keep its Identity and
    /// log its connect line. True once it is (the caller asks no more).
    pub fn announce(&self, dev: &Dev, id: PeerId) -> bool {
        let Some(view) = dev.peer_view(id) else {
            return true;
        };
        let Some(ty) = view.socket_type else {
            return false;
        };
        let conns = self.conns.borrow();
        let Some(h) = conns.get(&id) else {
            return true;
        };
        let identity = dev.joined_identity(id).filter(|i| !i.is_empty());
        if let Some(i) = identity {
            let _ = h.identity.set(i.into());
        }
        if log::log_enabled!(log::Level::Info) {
            let shown = identity.map_or_else(String::new, |i| format!(", identity {}", show(i)));
            // A 1.0 peer is a 3.0 one to its session.
            let zmtp = h.secure.as_ref().and_then(|s| s.borrow().zmtp());
            let zmtp = zmtp.or(view.zmtp).unwrap_or((3, 0));
            let curve = match &h.secure {
                // A 1.0 peer has no mechanism.
                Some(s) if s.borrow().zmtp().is_some() => String::new(),
                Some(s) => match s.borrow().client_key() {
                    Some(k) => format!(", CURVE client {}", crate::cert::z85(k)),
                    None => format!(", {}", s.borrow().mechanism()),
                },
                None => String::new(),
            };
            info!(
                "{}{} {}: {ty} connected (ZMTP {}.{}{curve}{shown})",
                self.tag,
                side_name(view.side),
                h.addr,
                zmtp.0,
                zmtp.1,
            );
        }
        true
    }

    /// The connect line of a peer whose handshake finished in the call that also ended it,
    /// and its disconnect line: at info for a peer that finished its handshake, with `why`
    /// and what it moved; a refusal for one whose handshake failed (aggregated, see
    /// [`RefusedPeers`]); at debug for one that left before it said anything wrong.
    ///
    /// `seen`: what it sent that was not taken, in hex, for a peer that never finished its
    /// handshake (at debug).
    pub fn farewell(
        &self,
        id: PeerId,
        announced: bool,
        why: &str,
        refusal: Option<&SessionError>,
        seen: &str,
    ) {
        let view = self.peek(|dev| {
            if !announced {
                self.announce(dev, id);
            }
            dev.peer_view(id)
        });
        let Some(view) = view else { return };
        let addr = self.conns.borrow().get(&id).map(|h| h.addr.clone());
        let addr = addr.unwrap_or_default();
        let on = format!("{}{} {addr}", self.tag, side_name(view.side));
        let Some(ty) = view.socket_type else {
            let sent = if seen.is_empty() {
                String::new()
            } else {
                format!("; it sent: {seen}")
            };
            match refusal {
                Some(e) => {
                    // A CURVE client's key, as far as its handshake got: the one to allow.
                    let (key, mechanism) = self.conns.borrow().get(&id).map_or((None, None), |h| {
                        let s = h.secure.as_ref().map(|s| s.borrow());
                        let key = s
                            .as_ref()
                            .and_then(|s| Some(crate::cert::z85(s.client_key()?)));
                        (key, s.map(|s| s.mechanism()))
                    });
                    let who = match key {
                        Some(k) => format!("{addr} (client key {k})"),
                        None => addr,
                    };
                    // Why an older peer is not spoken to here.
                    let note = match (e, mechanism) {
                        (SessionError::Greeting(GreetingError::Legacy(_)), Some(m)) => format!(
                            "; this endpoint runs {m}, which peers older than ZMTP 3.0 cannot"
                        ),
                        (SessionError::Greeting(GreetingError::Legacy(Detected::V2)), None) => {
                            "; this device has legacy = false (--no-legacy)".to_owned()
                        }
                        _ => String::new(),
                    };
                    let connected = self.conns.borrow().get(&id).is_some_and(|h| h.connected());
                    let kind = self.peek(|dev| dev.config().kind);
                    let note = match which_side(kind, view.side, e, connected) {
                        Some(side) => format!("{note}; {side}"),
                        None => note,
                    };
                    debug!("{on}: refused: {e}{note}{sent}");
                    self.refused_peer(view.side, e, &format!("{who} {}{note}", self::refusal(e).1))
                }
                None => debug!("{on}: gone before its handshake was done: {why}{sent}"),
            }
            return;
        };
        let t = view.traffic;
        let up = self.clock.now().saturating_since(view.since);
        info!(
            "{on}: {ty} disconnected after {}: {why}; moved {} messages ({}) in, {} ({}) out",
            Secs(up.as_millis() / 1000),
            t.msgs_in,
            Human(t.bytes_in),
            t.msgs_out,
            Human(t.bytes_out),
        );
    }

    /// Every peer with what the host knows of it, in slot order, `skip` of them left out, at
    /// most `most` (the others only counted): the total number of peers comes back.
    pub fn each_peer(
        &self,
        skip: usize,
        most: usize,
        mut f: impl FnMut(&PeerView, PeerLine<'_>),
    ) -> usize {
        let dev = self.dev.borrow();
        let conns = self.conns.borrow();
        let (now, wall) = (self.clock.now(), SystemTime::now());
        let mut total = 0;
        for view in dev.peers() {
            total += 1;
            if total <= skip || total > skip.saturating_add(most) {
                continue;
            }
            let h = conns.get(&view.id);
            let ago = now.saturating_since(view.since);
            let line = PeerLine {
                addr: h.map_or("", |h| h.addr.as_str()),
                identity: h.and_then(|h| h.identity.get()).map(|i| &i[..]),
                since: wall
                    .checked_sub(Duration::from_millis(ago.as_millis()))
                    .unwrap_or(wall),
            };
            f(&view, line);
        }
        total
    }

    /// A peer refused in its handshake for `e`, from `addr`: aggregated per side and reason.
    /// `last`: the peer and what it did, for the line's "the last" part.
    fn refused_peer(&self, side: Side, e: &SessionError, last: &str) {
        let reason = refusal(e).0;
        let line =
            self.refused_peers
                .borrow_mut()
                .hit(side, reason, StdInstant::now(), last.to_owned());
        if let Some(b) = line {
            log_refused_peers(&self.tag, side, reason, &b, false);
        }
    }

    /// Report the refusals held back whose interval has ended; `all`: whatever is held (the
    /// device is stopping).
    pub(super) fn flush_refused_peers(&self, all: bool) {
        let tag = &self.tag;
        self.refused_peers
            .borrow_mut()
            .flush(StdInstant::now(), all, |side, reason, b| {
                log_refused_peers(tag, side, reason, b, true)
            });
    }
}

/// The reason a handshake failed, as the refusal line names it, and what the peer did.
fn refusal(e: &SessionError) -> (&'static str, String) {
    use SessionError as E;
    match e {
        E::Greeting(g) => ("not ZeroMQ 3.x", greeting(g)),
        E::MechanismMismatch { theirs, ours } => (
            "wrong security mechanism",
            format!(
                "asked for {}; this endpoint speaks {}",
                mechanism(*theirs),
                mechanism(*ours)
            ),
        ),
        E::Curve(CurveError::Denied) => (
            "CURVE client not allowed",
            "completed the handshake with a key not on curve_allow".into(),
        ),
        E::Curve(CurveError::NotCurve) => (
            "wrong security mechanism",
            "closed the connection during the greeting, as a peer without CURVE does".into(),
        ),
        E::Curve(c) => ("CURVE handshake failed", format!("failed: {c}")),
        E::Denied => (
            "PLAIN client not allowed",
            "gave a user name and password not in plain_passwords".into(),
        ),
        E::IncompatibleSocketType { ours, theirs } => (
            "wrong socket type",
            format!("sent {theirs}, which cannot talk to {ours}"),
        ),
        E::MissingSocketType | E::UnknownSocketType => (
            "wrong socket type",
            "named no socket type zedge knows".into(),
        ),
        E::PeerError(r) if r.as_bytes() == b"Invalid socket type" => (
            "wrong socket type",
            "answered ERROR \"Invalid socket type\": its socket type cannot talk to this \
             endpoint's"
                .into(),
        ),
        E::ClosedOnReady => (
            "wrong socket type",
            "closed the connection on our READY, as libzmq does when its socket type cannot \
             talk to this endpoint's"
                .into(),
        ),
        E::HandshakeTimeout => ("handshake timeout", "did not finish in time".into()),
        other => ("protocol error", format!("failed: {other}")),
    }
}

/// Which side of a `kind` device a peer refused on `side` for its socket type belongs on, or
/// (`connected`: our `>` endpoint reached it) which side should connect there: a device fed
/// from the wrong side (a forwarder's frontend connected to an upstream forwarder's
/// frontend) is refused at both ends, and each says what to change.
pub fn which_side(kind: Kind, side: Side, e: &SessionError, connected: bool) -> Option<String> {
    let other = match side {
        Side::Frontend => Side::Backend,
        Side::Backend => Side::Frontend,
        Side::Capture => return None,
    };
    let (ours, theirs) = match e {
        SessionError::IncompatibleSocketType { ours, theirs } => (*ours, Some(*theirs)),
        SessionError::PeerError(r) if r.as_bytes() == b"Invalid socket type" => {
            (kind.socket_type(side), None)
        }
        SessionError::ClosedOnReady => (kind.socket_type(side), None),
        _ => return None,
    };
    let instead = kind.socket_type(other);
    if theirs.is_some_and(|t| !t.accepts(instead) && !instead.accepts(t)) {
        return None;
    }
    let t = theirs.map_or_else(|| "it".to_owned(), |t| format!("{} {t}", article(t)));
    let (name, other) = (side.name(), other.name());
    Some(match (side, connected) {
        // An edge device's frontend connected to the upstream's frontend.
        (Side::Frontend, true) => format!(
            "this device's frontend ({ours}) connected where its backend ({instead}) belongs: \
             to feed an upstream broker, connect the backend (e.g. backend = \
             [\">tcp://HOST:PORT\"])"
        ),
        // Its backend connected to the upstream's backend: the backend was right, the port not.
        (_, true) => format!(
            "this device's backend ({ours}) reached the other device's backend: to feed an \
             upstream broker, connect this backend to its frontend; to be fed by it, connect \
             this device's frontend to its backend"
        ),
        (Side::Frontend, false) => format!(
            "{t} belongs on this device's backend ({instead}): connect that client there, or, \
             if it is a zedge that feeds this one, connect its backend here instead of its \
             frontend"
        ),
        (_, false) => format!(
            "{t} belongs on this device's {other} ({instead}): connect that client there, or, \
             if it is a zedge that feeds this one, connect its backend to this device's {other}, \
             not its {name}"
        ),
    })
}

/// What a peer refused for its greeting did, after its address in a refusal line, which
/// names the reason (not ZeroMQ 3.x) already.
fn greeting(g: &GreetingError) -> String {
    match g {
        GreetingError::BadSignature => "which sent no ZMTP signature".into(),
        GreetingError::UnsupportedVersion { major } => {
            format!("which speaks ZMTP major version {major} (upgrade its libzmq to 4.x)")
        }
        GreetingError::UnknownMechanism => {
            "whose greeting names an unknown security mechanism".into()
        }
        GreetingError::Legacy(z) => format!(
            "which speaks {z} ({}), which this endpoint does not speak",
            z.speakers()
        ),
    }
}

/// `an XSUB`, `a PUB`.
fn article(t: zedge_core::wire::metadata::SocketType) -> &'static str {
    if t.name().starts_with('X') {
        "an"
    } else {
        "a"
    }
}

fn mechanism(m: Mechanism) -> &'static str {
    match m {
        Mechanism::Null => "NULL",
        Mechanism::Plain => "PLAIN",
        Mechanism::Curve => "CURVE",
    }
}

fn log_refused_peers(tag: &str, side: Side, reason: &str, b: &Burst, held: bool) {
    let s = if b.count == 1 { "" } else { "s" };
    let when = if held {
        format!(" in the last {} s", REFUSED_EVERY.as_secs())
    } else {
        String::new()
    };
    log::warn!(
        "{tag}{}: refused {} peer{s}{when}: {reason} (the last, {}); said at most once a \
         minute per reason",
        side_name(side),
        b.count,
        b.last
    );
}

/// Refused peers, per side and reason, each through a [`Limiter`] of [`REFUSED_EVERY`].
#[derive(Debug, Default)]
pub struct RefusedPeers {
    limits: Vec<(Side, &'static str, Limiter)>,
}

impl RefusedPeers {
    /// One refusal; the burst to log now, if any.
    fn hit(
        &mut self,
        side: Side,
        reason: &'static str,
        now: StdInstant,
        last: String,
    ) -> Option<Burst> {
        let i = match self
            .limits
            .iter()
            .position(|(s, r, _)| (*s, *r) == (side, reason))
        {
            Some(i) => i,
            None => {
                self.limits
                    .push((side, reason, Limiter::new(REFUSED_EVERY)));
                self.limits.len() - 1
            }
        };
        self.limits[i].2.hit(now, || last)
    }

    fn flush(&mut self, now: StdInstant, all: bool, mut log: impl FnMut(Side, &str, &Burst)) {
        for (side, reason, l) in &mut self.limits {
            let b = if all { l.drain() } else { l.flush(now) };
            if let Some(b) = b {
                log(*side, reason, &b);
            }
        }
    }
}

/// An Identity for a log line or table: as text if it is printable ASCII, else as hex.
pub fn show(identity: &[u8]) -> String {
    if identity.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("\"{}\"", String::from_utf8_lossy(identity))
    } else {
        format!("0x{}", hex(identity))
    }
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A byte count in binary units: `512 B`, `1.5 KiB`, `20.0 MiB`, `3.2 GiB`.
#[derive(Clone, Copy, Debug)]
pub struct Human(pub u64);

impl std::fmt::Display for Human {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
        if self.0 < 1024 {
            return write!(f, "{} B", self.0);
        }
        let mut v = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while v >= 1024.0 && unit + 1 < UNITS.len() {
            v /= 1024.0;
            unit += 1;
        }
        write!(f, "{v:.1} {}", UNITS[unit])
    }
}

/// A duration in whole seconds, as `42s`, `3m12s`, `5h03m`, `2d04h`.
#[derive(Clone, Copy, Debug)]
pub struct Secs(pub u64);

impl std::fmt::Display for Secs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0;
        match s {
            0..60 => write!(f, "{s}s"),
            60..3600 => write!(f, "{}m{:02}s", s / 60, s % 60),
            3600..86_400 => write!(f, "{}h{:02}m", s / 3600, s / 60 % 60),
            _ => write!(f, "{}d{:02}h", s / 86_400, s / 3600 % 24),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refusal for its greeting says "not ZeroMQ 3.x" once, as the reason, and what the
    /// peer did after its address.
    #[test]
    fn a_greeting_refusal_says_its_reason_once() {
        let (reason, did) = refusal(&SessionError::Greeting(GreetingError::BadSignature));
        assert_eq!(reason, "not ZeroMQ 3.x");
        assert_eq!(did, "which sent no ZMTP signature");
        let (_, did) = refusal(&SessionError::Greeting(GreetingError::UnsupportedVersion {
            major: 2,
        }));
        assert_eq!(
            did,
            "which speaks ZMTP major version 2 (upgrade its libzmq to 4.x)"
        );
        for g in [
            GreetingError::BadSignature,
            GreetingError::UnsupportedVersion { major: 9 },
            GreetingError::UnknownMechanism,
        ] {
            let (_, did) = refusal(&SessionError::Greeting(g));
            assert!(
                !did.contains("ZeroMQ 3.x") && !did.contains("peer"),
                "{did}"
            );
        }
    }

    #[test]
    fn units_for_people() {
        assert_eq!(Human(512).to_string(), "512 B");
        assert_eq!(Human(1536).to_string(), "1.5 KiB");
        assert_eq!(Human(20 << 20).to_string(), "20.0 MiB");
        assert_eq!(Secs(42).to_string(), "42s");
        assert_eq!(Secs(192).to_string(), "3m12s");
        assert_eq!(Secs(5 * 3600 + 180).to_string(), "5h03m");
        assert_eq!(Secs(2 * 86_400 + 4 * 3600).to_string(), "2d04h");
        assert_eq!(show(b"client-7"), "\"client-7\"");
        assert_eq!(show(&[0, 1, 0xab]), "0x0001ab");
    }

    #[test]
    fn a_flood_of_refusals_makes_a_line_then_one_per_interval_per_reason() {
        let t0 = StdInstant::now();
        let mut r = RefusedPeers::default();
        let mut lines = 0;
        for i in 0..1000u32 {
            let now = t0 + Duration::from_millis(u64::from(i) * 100);
            lines += usize::from(
                r.hit(Side::Frontend, "wrong socket type", now, i.to_string())
                    .is_some(),
            );
            r.flush(now, false, |_, _, _| lines += 1);
        }
        // 100 s: the first at once, then one at the end of each 60 s interval.
        assert_eq!(lines, 2);
        let mut held = Vec::new();
        r.flush(t0, true, |_, _, b| held.push(b.count));
        assert_eq!(held.len(), 1, "the rest, at stop");
        assert_eq!(held, [399], "every one counted once");
    }

    #[test]
    fn a_peer_on_the_wrong_side_is_told_which_side_at_both_ends() {
        use zedge_core::wire::metadata::SocketType as T;
        let fw = Kind::Forwarder { classic: false };
        let wrong = |ours, theirs| SessionError::IncompatibleSocketType { ours, theirs };
        // An edge forwarder's frontend connected to an upstream's frontend.
        assert_eq!(
            which_side(fw, Side::Frontend, &wrong(T::XSub, T::XSub), false).as_deref(),
            Some(
                "an XSUB belongs on this device's backend (XPUB): connect that client there, \
                 or, if it is a zedge that feeds this one, connect its backend here instead of \
                 its frontend"
            )
        );
        assert_eq!(
            which_side(fw, Side::Frontend, &wrong(T::XSub, T::XSub), true).as_deref(),
            Some(
                "this device's frontend (XSUB) connected where its backend (XPUB) belongs: to \
                 feed an upstream broker, connect the backend (e.g. backend = \
                 [\">tcp://HOST:PORT\"])"
            )
        );
        // A subscriber on a forwarder's frontend; a worker on a streamer's frontend.
        let sub = which_side(fw, Side::Frontend, &wrong(T::XSub, T::Sub), false);
        assert_eq!(
            sub.as_deref(),
            Some(
                "a SUB belongs on this device's backend (XPUB): connect that client there, or, \
                 if it is a zedge that feeds this one, connect its backend here instead of its \
                 frontend"
            )
        );
        let pull = wrong(T::Pull, T::Pull);
        let hint = which_side(Kind::Streamer, Side::Frontend, &pull, true);
        assert!(hint.is_some_and(|s| s.contains("connect the backend")));
        // A queue's frontend refused by a streamer's: nothing the other side would take.
        let req = wrong(T::Pull, T::Req);
        assert_eq!(
            which_side(Kind::Streamer, Side::Frontend, &req, false),
            None
        );
        // Two queues' frontends: ROUTER talks to ROUTER, but the queue refuses it.
        let router = wrong(T::Router, T::Router);
        assert!(
            which_side(Kind::Queue, Side::Frontend, &router, true).is_some_and(|s| s.starts_with(
                "this device's frontend (ROUTER) connected where \
                                           its backend (DEALER) belongs"
            ))
        );
        assert!(which_side(Kind::Queue, Side::Frontend, &router, false)
            .is_some_and(|s| s.starts_with("a ROUTER belongs on this device's backend")));
        // Two queues' backends (each refuses a zedge's DEALER there): the backend is right,
        // the other end's side is not.
        let dealer = wrong(T::Dealer, T::Dealer);
        assert_eq!(
            which_side(Kind::Queue, Side::Backend, &dealer, true).as_deref(),
            Some(
                "this device's backend (DEALER) reached the other device's backend: to feed an \
                 upstream broker, connect this backend to its frontend; to be fed by it, connect \
                 this device's frontend to its backend"
            )
        );
        assert_eq!(
            which_side(Kind::Queue, Side::Backend, &dealer, false).as_deref(),
            Some(
                "a DEALER belongs on this device's frontend (ROUTER): connect that client there, \
                 or, if it is a zedge that feeds this one, connect its backend to this device's \
                 frontend, not its backend"
            )
        );
        // Refused by the peer, whose type is not known.
        let refused = SessionError::ClosedOnReady;
        assert!(which_side(Kind::Queue, Side::Frontend, &refused, true)
            .is_some_and(|s| s.contains("connect the backend")));
        assert_eq!(which_side(fw, Side::Capture, &refused, false), None);
        assert_eq!(
            which_side(fw, Side::Backend, &SessionError::Denied, true),
            None
        );
    }
}
