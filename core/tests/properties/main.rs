//! Property tests of the public API: the wire decoders read back what the encoders write, a
//! session reads every split of a valid stream the same way, and nothing a peer sends makes it
//! panic, hand over more than its limits allow, or come back to life after an error.
//!
//! Valid streams are checked against a model of what the session should report (messages,
//! subscriptions, PONGs owed, and the first limit broken); garbage is checked against the
//! invariants alone. The reader and its invariants are `session_check/`, which the `session`
//! fuzz target shares.

use std::mem;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use session_check::{assert_closed, subscription, Outcome, Reads, Seen};
use zedge_core::conn::{Limits, Session, SessionConfig, SessionError, MAX_TOPIC};
use zedge_core::time::{Duration, Instant};
use zedge_core::wire::command::{self, Command, MAX_PING_CONTEXT};
use zedge_core::wire::frame::{FrameError, FrameHead, MAX_HEAD_LEN};
use zedge_core::wire::greeting::{Greeting, Mechanism, GREETING_LEN};
use zedge_core::wire::metadata::{property_len, write_property, Properties, SocketType};
use zedge_core::wire::{Full, Writer};

#[path = "../session_check/mod.rs"]
mod session_check;

const NOW: Instant = Instant::ZERO;

/// Few enough cases that the file runs in seconds in debug builds. Failures are not persisted:
/// shrinking prints the minimal case, which belongs in a unit test beside the code it breaks.
fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Wire units the peer sends, and what the session should make of them.
// ---------------------------------------------------------------------------------------------

/// Our socket type, the peer's, and how the peer greets and introduces itself.
#[derive(Clone, Debug)]
struct Peer {
    ours: SocketType,
    theirs: SocketType,
    minor: u8,
    identity: Vec<u8>,
}

impl Peer {
    fn greeting(&self) -> [u8; GREETING_LEN] {
        let mut g = Greeting::ours(Mechanism::Null, false);
        g.minor = self.minor;
        g.encode()
    }

    fn ready(&self) -> Vec<u8> {
        written(|w| command::write_ready(w, self.theirs, &self.identity))
    }

    /// Greeting and READY: everything up to the first message.
    fn handshake(&self) -> Vec<u8> {
        let mut bytes = self.greeting().to_vec();
        bytes.extend(self.ready());
        bytes
    }
}

/// One frame or command of the peer's stream.
#[derive(Clone, Debug)]
enum Unit {
    Frame { more: bool, body: Vec<u8> },
    Ping { ttl: u16, context: Vec<u8> },
    Subscribe(Vec<u8>),
    Cancel(Vec<u8>),
}

impl Unit {
    fn encode(&self) -> Vec<u8> {
        match self {
            Unit::Frame { more, body } => {
                let mut bytes = FrameHead::data(body.len() as u64, *more)
                    .encode()
                    .as_slice()
                    .to_vec();
                bytes.extend_from_slice(body);
                bytes
            }
            Unit::Ping { ttl, context } => written(|w| command::write_ping(w, *ttl, context)),
            Unit::Subscribe(topic) => written(|w| command::write_subscribe(w, topic)),
            Unit::Cancel(topic) => written(|w| command::write_cancel(w, topic)),
        }
    }
}

/// What a correct session reports for `units` after the handshake, under `limits`.
fn model(peer: &Peer, limits: Limits, units: &[Unit]) -> Outcome {
    let mut want = Outcome {
        seen: Vec::new(),
        pongs: Vec::new(),
        end: Ok(()),
        leftover: 0,
    };
    let too_big = |len: usize| SessionError::CommandTooLarge {
        len: len as u64,
        limit: limits.max_command_size,
    };
    let ready_len = command_body(&peer.ready()).len();
    if ready_len > limits.max_command_size {
        want.end = Err(too_big(ready_len));
        return want;
    }
    let identity = if peer.theirs.announces_identity() {
        peer.identity.clone()
    } else {
        Vec::new()
    };
    want.seen.push(Seen::Ready {
        theirs: peer.theirs,
        minor: peer.minor.min(1),
        identity,
    });
    let takes_subs = peer.ours.takes_subscriptions();
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let mut msg_len = 0u64;
    for unit in units {
        if let Unit::Frame { more, body } = unit {
            let len = msg_len + body.len() as u64;
            if len > limits.max_message_size {
                want.end = Err(SessionError::MessageTooLarge {
                    len,
                    limit: limits.max_message_size,
                });
                return want;
            }
            // The ZMTP 3.0 subscription form: a lone frame starting 0x01 or 0x00.
            if takes_subs && frames.is_empty() && !more && matches!(body.first(), Some(0x00 | 0x01))
            {
                want.seen.push(subscription(body[0] == 0x01, &body[1..]));
                continue;
            }
            frames.push(body.clone());
            msg_len = if *more { len } else { 0 };
            if !more {
                want.seen.push(Seen::Message(mem::take(&mut frames)));
            }
            continue;
        }
        // Subscriptions to a socket that takes them have the topic limit, not the command
        // limit.
        match unit {
            Unit::Subscribe(topic) if takes_subs => {
                want.seen.push(subscription(true, topic));
                continue;
            }
            Unit::Cancel(topic) if takes_subs => {
                want.seen.push(subscription(false, topic));
                continue;
            }
            _ => {}
        }
        let body_len = command_body(&unit.encode()).len();
        if body_len > limits.max_command_size {
            want.end = Err(too_big(body_len));
            return want;
        }
        if let Unit::Ping { context, .. } = unit {
            want.pongs.push(context.clone());
        }
    }
    want
}

// ---------------------------------------------------------------------------------------------
// The caller.
// ---------------------------------------------------------------------------------------------

/// Read `stream` in reads of `chunks` sizes (in turn) into a buffer of `min_input_capacity() +
/// spare` bytes, the clock standing still; `session_check::run` checks every step.
fn run(cfg: SessionConfig, stream: &[u8], chunks: &[usize], spare: usize) -> (Outcome, Session) {
    let reads = Reads {
        sizes: chunks,
        spare,
        tick: Duration::ZERO,
    };
    let (outcome, session, _) = session_check::run(cfg, stream, reads);
    (outcome, session)
}

fn config(ours: SocketType, limits: Limits) -> SessionConfig {
    SessionConfig {
        limits,
        ..SessionConfig::new(ours)
    }
}

fn written(f: impl FnOnce(&mut Writer<'_>) -> Result<(), Full>) -> Vec<u8> {
    let mut buf = vec![0u8; 64 << 10];
    let mut w = Writer::new(&mut buf);
    f(&mut w).expect("room for one unit");
    let n = w.len();
    buf.truncate(n);
    buf
}

fn command_body(frame: &[u8]) -> &[u8] {
    let (head, used) = FrameHead::decode(frame)
        .expect("a valid header")
        .expect("a whole header");
    assert!(head.command);
    assert_eq!(
        used as u64 + head.len,
        frame.len() as u64,
        "one whole frame"
    );
    &frame[used..]
}

// ---------------------------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------------------------

fn peer() -> impl Strategy<Value = Peer> {
    let types = prop_oneof![
        Just((SocketType::XPub, SocketType::Sub)),
        Just((SocketType::XPub, SocketType::XSub)),
        Just((SocketType::Pub, SocketType::Sub)),
        Just((SocketType::Pull, SocketType::Push)),
        Just((SocketType::Router, SocketType::Dealer)),
        Just((SocketType::Router, SocketType::Req)),
    ];
    (types, 0u8..=2, vec(any::<u8>(), 0..=255)).prop_map(|((ours, theirs), minor, identity)| Peer {
        ours,
        theirs,
        minor,
        identity,
    })
}

fn frame_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => vec(any::<u8>(), 0..2000),
        // Looks like a ZMTP 3.0 subscription to a PUB or XPUB: short, or around the topic
        // limit.
        1 => (0u8..=1, topic()).prop_map(|(first, mut rest)| {
            rest.insert(0, first);
            rest
        }),
    ]
}

fn command_unit() -> impl Strategy<Value = Unit> {
    prop_oneof![
        (any::<u16>(), vec(any::<u8>(), 0..=MAX_PING_CONTEXT))
            .prop_map(|(ttl, context)| Unit::Ping { ttl, context }),
        topic().prop_map(Unit::Subscribe),
        topic().prop_map(Unit::Cancel),
    ]
}

/// Mostly short; now and then just within [`MAX_TOPIC`] or over it.
fn topic() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => vec(any::<u8>(), 0..300),
        1 => (MAX_TOPIC - 2..MAX_TOPIC + 3).prop_map(|n| vec![b't'; n]),
        1 => (MAX_TOPIC..30_000usize).prop_map(|n| vec![b'u'; n]),
    ]
}

/// Multipart messages of 1 to 4 frames, with now and then a command after a frame.
fn units() -> impl Strategy<Value = Vec<Unit>> {
    let message = vec(
        (frame_body(), prop::option::weighted(0.2, command_unit())),
        1..5,
    )
    .prop_map(|frames| {
        let last = frames.len() - 1;
        let mut units = Vec::new();
        for (i, (body, cmd)) in frames.into_iter().enumerate() {
            let more = i < last;
            units.push(Unit::Frame { more, body });
            units.extend(cmd);
        }
        units
    });
    vec(message, 0..10).prop_map(|messages| messages.concat())
}

fn encode(units: &[Unit]) -> Vec<u8> {
    units.iter().flat_map(Unit::encode).collect()
}

fn limits() -> impl Strategy<Value = Limits> {
    (0u64..12_000, 0usize..600, 0usize..3000).prop_map(|(msg, cmd, head)| Limits {
        max_message_size: msg,
        max_command_size: cmd,
        head_bytes: head,
    })
}

/// Read sizes: byte by byte, small, or larger than any buffer.
fn chunks() -> impl Strategy<Value = Vec<usize>> {
    vec(prop_oneof![1usize..8, 1usize..600, 1usize..10_000], 1..8)
}

/// Bytes that look enough like ZMTP to get past the first check now and then.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    let raw_head = (
        0u8..8,
        prop_oneof![0u64..600, any::<u64>()],
        vec(any::<u8>(), 0..300),
    )
        .prop_map(|(flags, len, body)| {
            let mut bytes = vec![flags];
            if flags & 0x02 != 0 {
                bytes.extend(len.to_be_bytes());
            } else {
                bytes.push(len as u8);
            }
            bytes.extend(body);
            bytes
        });
    let names =
        prop::sample::select(&["PING", "PONG", "SUBSCRIBE", "CANCEL", "READY", "ERROR", "X"][..]);
    let raw_command = (names, vec(any::<u8>(), 0..40)).prop_map(|(name, data)| {
        let mut body = vec![name.len() as u8];
        body.extend(name.as_bytes());
        body.extend(data);
        let mut bytes = FrameHead::command(body.len() as u64)
            .encode()
            .as_slice()
            .to_vec();
        bytes.extend(body);
        bytes
    });
    let token = prop_oneof![
        vec(any::<u8>(), 0..64),
        raw_head,
        raw_command,
        command_unit().prop_map(|u| u.encode()),
        (frame_body(), any::<bool>()).prop_map(|(body, more)| Unit::Frame { more, body }.encode()),
    ];
    vec(token, 0..24).prop_map(|tokens| tokens.concat())
}

// ---------------------------------------------------------------------------------------------
// Sessions.
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn any_split_of_a_valid_stream_reads_the_same(
        peer in peer(),
        head_bytes in prop_oneof![0usize..300, 0usize..3000],
        units in units(),
        chunks in chunks(),
        spare in prop_oneof![Just(0usize), 0usize..5000],
    ) {
        let limits = Limits { head_bytes, ..Limits::DEFAULT };
        let want = model(&peer, limits, &units);
        // Only a long SUBSCRIBE or CANCEL to a socket that takes none breaks a limit here.
        prop_assume!(want.end.is_ok());
        let mut stream = peer.handshake();
        stream.extend(encode(&units));
        let (got, session) = run(config(peer.ours, limits), &stream, &chunks, spare);
        prop_assert_eq!(got.end, Ok(()));
        prop_assert_eq!(got.seen, want.seen);
        prop_assert_eq!(got.pongs, want.pongs);
        prop_assert_eq!(got.leftover, 0);
        prop_assert!(session.is_ready());
        prop_assert_eq!(session.peer_minor(), Some(peer.minor.min(1)));
    }

    #[test]
    fn limits_are_enforced_from_headers(
        peer in peer(),
        limits in limits(),
        units in units(),
        chunks in chunks(),
        spare in 0usize..2000,
    ) {
        let want = model(&peer, limits, &units);
        let mut stream = peer.handshake();
        stream.extend(encode(&units));
        let (got, mut session) = run(config(peer.ours, limits), &stream, &chunks, spare);
        prop_assert_eq!(got.end, want.end);
        prop_assert_eq!(got.seen, want.seen);
        prop_assert_eq!(got.pongs, want.pongs);
        if want.end.is_err() {
            assert_closed(&mut session, NOW, &peer.handshake());
        } else {
            prop_assert_eq!(got.leftover, 0);
        }
    }

    #[test]
    fn garbage_after_the_handshake_is_survived(
        peer in peer(),
        limits in limits(),
        garbage in garbage(),
        chunks in chunks(),
        spare in 0usize..2000,
    ) {
        let mut stream = peer.handshake();
        stream.extend(garbage);
        let (got, mut session) = run(config(peer.ours, limits), &stream, &chunks, spare);
        if got.end.is_err() {
            assert_closed(&mut session, NOW, &peer.handshake());
        }
    }

    #[test]
    fn garbage_from_the_start_is_survived(
        peer in peer(),
        // Our own type, or any type at all (mostly refused at READY).
        ours in prop::option::of(prop::sample::select(&SocketType::ALL[..])),
        limits in limits(),
        // Pure noise, or a valid stream with a few bytes changed.
        noise in vec(any::<u8>(), 0..3000),
        units in units(),
        flips in vec((any::<Index>(), any::<u8>()), 0..4),
        use_noise in any::<bool>(),
        chunks in chunks(),
        spare in 0usize..2000,
    ) {
        let stream = if use_noise {
            noise
        } else {
            let mut stream = peer.handshake();
            stream.extend(encode(&units));
            for (at, byte) in flips {
                let at = at.index(stream.len());
                stream[at] = byte;
            }
            stream
        };
        let ours = ours.unwrap_or(peer.ours);
        let (got, mut session) = run(config(ours, limits), &stream, &chunks, spare);
        if got.end.is_err() {
            assert_closed(&mut session, NOW, &peer.handshake());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Wire round trips.
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn frame_heads_round_trip(
        len in prop_oneof![0u64..=0x1ff, any::<u64>()],
        more in any::<bool>(),
        command in any::<bool>(),
    ) {
        let head = FrameHead { more, command, len };
        let bytes = head.encode();
        let bytes = bytes.as_slice();
        prop_assert_eq!(bytes.len(), head.encoded_len());
        prop_assert_eq!(bytes.len() == 2, len <= 0xff);
        for n in 0..bytes.len() {
            // The flags byte is judged as soon as it is in; the size only once all of it is.
            let partial = FrameHead::decode(&bytes[..n]);
            if command && more && n > 0 {
                prop_assert_eq!(partial, Err(FrameError::CommandWithMore));
            } else {
                prop_assert_eq!(partial, Ok(None));
            }
        }
        let decoded = FrameHead::decode(bytes);
        if command && more {
            prop_assert_eq!(decoded, Err(FrameError::CommandWithMore));
        } else {
            prop_assert_eq!(decoded, Ok(Some((head, bytes.len()))));
        }
    }

    #[test]
    fn frame_head_decode_takes_any_bytes(bytes in vec(any::<u8>(), 0..=MAX_HEAD_LEN + 2)) {
        if let Ok(Some((head, used))) = FrameHead::decode(&bytes) {
            prop_assert!(used == 2 || used == MAX_HEAD_LEN);
            prop_assert!(used <= bytes.len());
            prop_assert!(!(head.command && head.more));
            prop_assert_eq!(used == 2, bytes[0] & 0x02 == 0);
        }
    }

    #[test]
    fn commands_round_trip(
        topic in vec(any::<u8>(), 0..600),
        ttl in any::<u16>(),
        context in vec(any::<u8>(), 0..40),
        reason in vec(any::<u8>(), 0..400),
        ty in prop::sample::select(&SocketType::ALL[..]),
        identity in vec(any::<u8>(), 0..300),
    ) {
        let frame = written(|w| command::write_subscribe(w, &topic));
        let parsed = Command::parse(command_body(&frame));
        prop_assert!(matches!(parsed, Ok(Command::Subscribe(t)) if t == &topic[..]), "SUBSCRIBE: {:?}", parsed);

        let frame = written(|w| command::write_cancel(w, &topic));
        let parsed = Command::parse(command_body(&frame));
        prop_assert!(matches!(parsed, Ok(Command::Cancel(t)) if t == &topic[..]), "CANCEL: {:?}", parsed);

        let cut = &context[..context.len().min(MAX_PING_CONTEXT)];
        let frame = written(|w| command::write_ping(w, ttl, &context));
        let parsed = Command::parse(command_body(&frame));
        prop_assert!(matches!(parsed, Ok(Command::Ping { ttl: t, context: c }) if t == ttl && c == cut), "PING: {:?}", parsed);

        let frame = written(|w| command::write_pong(w, &context));
        let parsed = Command::parse(command_body(&frame));
        prop_assert!(matches!(parsed, Ok(Command::Pong { context: c }) if c == &context[..]), "PONG: {:?}", parsed);

        let cut = &reason[..reason.len().min(255)];
        let frame = written(|w| command::write_error(w, &reason));
        let parsed = Command::parse(command_body(&frame));
        prop_assert!(matches!(parsed, Ok(Command::Error { reason: r }) if r == cut), "ERROR: {:?}", parsed);

        let frame = written(|w| command::write_ready(w, ty, &identity));
        let Ok(Command::Ready(props)) = Command::parse(command_body(&frame)) else {
            panic!("READY did not parse as READY");
        };
        prop_assert!(props.clone().all(|p| p.is_ok()));
        prop_assert_eq!(props.find("Socket-Type"), Ok(Some(ty.name().as_bytes())));
        let want_identity = ty.announces_identity().then_some(&identity[..]);
        prop_assert_eq!(props.find("Identity"), Ok(want_identity));
    }

    #[test]
    fn command_parse_takes_any_bytes(body in vec(any::<u8>(), 0..64)) {
        match Command::parse(&body) {
            Ok(Command::Ping { context, .. }) => prop_assert!(context.len() <= MAX_PING_CONTEXT),
            Ok(Command::Ready(props)) => prop_assert!(props.count() <= body.len()),
            _ => {}
        }
    }

    #[test]
    fn greetings_round_trip(
        major in 3u8..,
        minor in any::<u8>(),
        mechanism in prop::sample::select(&[Mechanism::Null, Mechanism::Plain, Mechanism::Curve][..]),
        as_server in any::<bool>(),
    ) {
        let g = Greeting { major, minor, mechanism, as_server };
        let bytes = g.encode();
        for n in 0..GREETING_LEN {
            prop_assert_eq!(Greeting::decode(&bytes[..n]), Ok(None));
        }
        prop_assert_eq!(Greeting::decode(&bytes), Ok(Some(g)));
    }

    #[test]
    fn greeting_decode_takes_any_bytes(
        bytes in prop_oneof![
            vec(any::<u8>(), 0..80),
            // A real signature and version, then noise: gets as far as the mechanism.
            vec(any::<u8>(), 0..80).prop_map(|mut b| {
                let real = Greeting::ours(Mechanism::Null, false).encode();
                let n = b.len().min(12);
                b[..n].copy_from_slice(&real[..n]);
                b
            }),
        ],
    ) {
        if let Ok(Some(g)) = Greeting::decode(&bytes) {
            prop_assert!(g.major >= 3);
            prop_assert_eq!(Greeting::decode(&g.encode()), Ok(Some(g)));
        }
    }

    #[test]
    fn properties_round_trip(
        props in vec(("[A-Za-z0-9.-]{1,255}", vec(any::<u8>(), 0..300)), 0..6),
    ) {
        let mut buf = vec![0u8; 8192];
        let mut w = Writer::new(&mut buf);
        for (name, value) in &props {
            write_property(&mut w, name, value).expect("room for the property");
        }
        let n = w.len();
        let want_len: usize = props.iter().map(|(name, value)| property_len(name, value)).sum();
        prop_assert_eq!(n, want_len);
        let parsed: Vec<_> = Properties::new(&buf[..n]).collect();
        prop_assert_eq!(parsed.len(), props.len());
        for (got, (name, value)) in parsed.into_iter().zip(&props) {
            prop_assert_eq!(got, Ok((name.as_bytes(), &value[..])));
        }
        if let Some((name, _)) = props.first() {
            let first = props
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| &v[..]);
            prop_assert_eq!(Properties::new(&buf[..n]).find(name), Ok(first));
        }
    }

    #[test]
    fn properties_take_any_bytes(bytes in vec(any::<u8>(), 0..200)) {
        let mut count = 0;
        for prop in Properties::new(&bytes) {
            count += 1;
            prop_assert!(count <= bytes.len(), "iteration does not end");
            match prop {
                Ok((name, _)) => prop_assert!(!name.is_empty()),
                Err(_) => break,
            }
        }
        let _ = Properties::new(&bytes).find("Socket-Type");
    }
}
