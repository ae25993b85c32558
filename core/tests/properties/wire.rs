//! Wire round trips: frame heads, commands, greetings and properties read back what was
//! written, and their decoders take any bytes.

use proptest::collection::vec;
use proptest::prelude::*;

use crate::caller::{command_body, written};
use crate::cases;
use zedge_core::wire::command::{self, Command, MAX_PING_CONTEXT};
use zedge_core::wire::frame::{FrameError, FrameHead, MAX_HEAD_LEN};
use zedge_core::wire::greeting::{Greeting, Mechanism, GREETING_LEN};
use zedge_core::wire::metadata::{property_len, write_property, Properties, SocketType};
use zedge_core::wire::Writer;

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
