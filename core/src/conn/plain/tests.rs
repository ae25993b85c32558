//! The PLAIN server under a NULL session, against a client written by hand as RFC 24 and
//! libzmq send it.

use std::vec::Vec;

use super::*;
use crate::conn::{Session, SessionConfig, TRANSMIT_BUFFER};
use crate::time::Instant;
use crate::wire::metadata::SocketType;

fn command(body: &[u8]) -> Vec<u8> {
    let head = FrameHead {
        more: false,
        command: true,
        len: body.len() as u64,
    }
    .encode();
    [head.as_slice(), body].concat()
}

/// Feed `bytes` through the server into the session; the events, as text, and what the
/// server sent.
fn feed(
    server: &mut Server,
    session: &mut Session,
    bytes: &[u8],
) -> Result<(Vec<std::string::String>, Vec<u8>), SessionError> {
    let mut buf = bytes.to_vec();
    let (mut events, mut sent) = (Vec::new(), Vec::new());
    let mut at = 0;
    while at < buf.len() {
        let mut tx = [0u8; TX_ROOM];
        let allowed = |u: &[u8], p: &[u8]| u == b"admin" && p == b"secret";
        let step = match server.open(&mut buf[at..], &mut tx, allowed)? {
            Opened::NeedMore(_) => break,
            Opened::Step(step) => step,
        };
        sent.extend_from_slice(&tx[..step.sent]);
        let mut plain = &buf[at + step.deliver.start..at + step.deliver.end];
        while !plain.is_empty() {
            let input = session.handle_input(plain, Instant::ZERO)?;
            if let Some(e) = input.event {
                events.push(std::format!("{e:?}"));
            }
            plain = &plain[input.consumed..];
        }
        at += step.consumed;
    }
    Ok((events, sent))
}

fn client_hello(user: &[u8], password: &[u8]) -> Vec<u8> {
    let mut bytes = Greeting::ours(Mechanism::Plain, false).encode().to_vec();
    let mut hello = b"\x05HELLO".to_vec();
    hello.push(user.len() as u8);
    hello.extend_from_slice(user);
    hello.push(password.len() as u8);
    hello.extend_from_slice(password);
    bytes.extend(command(&hello));
    bytes
}

#[test]
fn a_client_with_the_password_gets_in_and_frames_pass_as_they_are() {
    let mut server = Server::new();
    let mut session = Session::new(SessionConfig::new(SocketType::Pull), Instant::ZERO);
    let (_, sent) = feed(
        &mut server,
        &mut session,
        &client_hello(b"admin", b"secret"),
    )
    .unwrap();
    assert_eq!(sent, b"\x04\x08\x07WELCOME");
    // The session's greeting is dropped, its READY held until the INITIATE came.
    let mut out = [0u8; TRANSMIT_BUFFER];
    let n = session.poll_transmit(&mut out);
    let mut ours = [0u8; 512];
    let taken = server.take_outgoing(&out[..n], &mut ours).unwrap();
    assert_eq!(
        taken,
        Outgoing::Taken {
            consumed: 64,
            written: 0
        }
    );
    assert_eq!(
        server.take_outgoing(&out[64..n], &mut ours).unwrap(),
        Outgoing::Early
    );
    let initiate = command(b"\x08INITIATE\x0bSocket-Type\x00\x00\x00\x04PUSH");
    let (events, _) = feed(&mut server, &mut session, &initiate).unwrap();
    assert!(
        events[0].starts_with("Ready(PeerReady { socket_type: Push"),
        "{events:?}"
    );
    assert!(server.owes_metadata());
    let Outgoing::Taken { written, .. } = server.take_outgoing(&out[64..n], &mut ours).unwrap()
    else {
        panic!("READY not taken");
    };
    assert!(ours[..written].ends_with(b"PULL"));
    // Nothing in, nothing taken (a caller loops until it needs more).
    let mut tx = [0u8; TX_ROOM];
    assert_eq!(
        server.open(&mut [], &mut tx, |_, _| true),
        Ok(Opened::NeedMore(1))
    );
    // A data frame goes through as it is.
    let (events, _) = feed(&mut server, &mut session, b"\x00\x02hi").unwrap();
    assert_eq!(
        events,
        ["Frame(FrameStart { more: false, len: 2, chunk: [104, 105] })"]
    );
}

#[test]
fn a_wrong_password_is_denied() {
    let mut server = Server::new();
    let mut session = Session::new(SessionConfig::new(SocketType::Pull), Instant::ZERO);
    let e = feed(&mut server, &mut session, &client_hello(b"admin", b"guess")).unwrap_err();
    assert_eq!(e, SessionError::Denied);
}

#[test]
fn hostile_hellos_are_refused() {
    for body in [
        &b"\x05HELLO"[..],
        b"\x05HELLO\x05adm",
        b"\x05HELLO\x05admin\x07secret",
        b"\x05HELLO\x05admin\x06secret!extra",
        b"\x07WELCOME",
    ] {
        let mut server = Server::new();
        let mut session = Session::new(SessionConfig::new(SocketType::Pull), Instant::ZERO);
        let mut bytes = Greeting::ours(Mechanism::Plain, false).encode().to_vec();
        bytes.extend(command(body));
        assert!(feed(&mut server, &mut session, &bytes).is_err(), "{body:?}");
    }
    // A NULL peer, and a huge command announced before any check.
    let mut server = Server::new();
    let mut session = Session::new(SessionConfig::new(SocketType::Pull), Instant::ZERO);
    let null = Greeting::ours(Mechanism::Null, false).encode();
    assert!(matches!(
        feed(&mut server, &mut session, &null),
        Err(SessionError::MechanismMismatch { .. })
    ));
    let mut server = Server::new();
    let mut bytes = Greeting::ours(Mechanism::Plain, false).encode().to_vec();
    bytes.push(0x06);
    bytes.extend_from_slice(&(1u64 << 30).to_be_bytes());
    assert!(matches!(
        feed(&mut server, &mut session, &bytes),
        Err(SessionError::CommandTooLarge { .. })
    ));
}
