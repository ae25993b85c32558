//! PLAIN (RFC 24) through the real binary with libzmq PLAIN clients (pyzmq): the right user
//! name and password get in on every device and their traffic flows; a wrong password, and a
//! NULL peer, are refused and logged; a PLAIN endpoint off loopback is refused at start
//! unless forced.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use zedge_tests::broker::Broker;
use zedge_tests::systemd::{temp_path, zedge};
use zedge_tests::{zmq_prelude, PyPeer};

/// argv: kind, frontend, backend. Clients with the password on both sides; one with a wrong
/// password and a NULL one beside them get nothing through.
const FLOW: &str = r#"
kind, fe, be = sys.argv[1:4]
def plain(t, ep, password=b"secret", **opts):
    return sock(t, ep, PLAIN_USERNAME=b"admin", PLAIN_PASSWORD=password, **opts)
if kind == "streamer":
    a, b = plain(zmq.PUSH, fe), plain(zmq.PULL, be)
    bad = [plain(zmq.PUSH, fe, password=b"guess"), sock(zmq.PUSH, fe)]
elif kind == "forwarder":
    b = plain(zmq.SUB, be)
    b.subscribe(b"")
    a = plain(zmq.PUB, fe)
    bad = [plain(zmq.PUB, fe, password=b"guess"), sock(zmq.PUB, fe)]
    time.sleep(0.7)
else:
    w = plain(zmq.DEALER, be)
    def work():
        while True:
            try:
                w.send_multipart(w.recv_multipart())
            except zmq.ZMQError:
                return
    threading.Thread(target=work, daemon=True).start()
    a = b = plain(zmq.DEALER, fe)
    bad = [plain(zmq.DEALER, fe, password=b"guess"), sock(zmq.DEALER, fe)]
for s in bad:
    s.setsockopt(zmq.SNDTIMEO, 100)
    try:
        s.send_multipart([b"", b"forged"] if kind == "queue" else [b"forged"])
    except zmq.Again:
        pass
msgs = [[b"", b"%d" % i, b"x" * i] for i in range(500)]
for m in msgs:
    a.send_multipart(m)
for m in msgs:
    assert b.recv_multipart() == m
b.setsockopt(zmq.RCVTIMEO, 500)
try:
    raise SystemExit("a refused peer got through: %r" % b.recv_multipart())
except zmq.Again:
    pass
print("OK")
"#;

fn passwords() -> String {
    let path = temp_path("passwords");
    std::fs::write(&path, "# who\nadmin:secret\n").expect("write the password file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .expect("chmod the password file");
    path.display().to_string()
}

fn flow(kind: &str) {
    let pw = passwords();
    let mut broker = Broker::start(kind, &["--plain-passwords", &pw]);
    let argv = [kind, broker.frontend(), broker.backend()].map(str::to_owned);
    let script = format!("{}{FLOW}", zmq_prelude!());
    let out = PyPeer::spawn(kind, &script, &argv, Duration::from_secs(60)).finish();
    broker.assert_running();
    let log = broker.stderr();
    assert!(out.contains("OK"), "{kind}: {out}\n{log}");
    for line in ["connected (ZMTP 3.1, PLAIN)", "PLAIN client not allowed"] {
        assert!(log.contains(line), "{kind}: no {line:?} in\n{log}");
    }
}

#[test]
fn a_streamer_with_plain_lets_in_the_password_only() {
    flow("streamer");
}

#[test]
fn a_forwarder_with_plain_lets_in_the_password_only() {
    flow("forwarder");
}

#[test]
fn a_queue_with_plain_lets_in_the_password_only() {
    flow("queue");
}

#[test]
fn plain_off_loopback_needs_forcing_and_a_private_file() {
    let pw = passwords();
    let out = zedge(&[
        "streamer",
        "--frontend",
        "tcp://*:5999",
        "--plain-passwords",
        &pw,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("PLAIN sends passwords in the clear"), "{err}");
    assert!(err.contains("--plain-anywhere"), "{err}");
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = zedge(&[
        "streamer",
        "--frontend",
        "tcp://127.0.0.1:5999",
        "--plain-passwords",
        &pw,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("readable by every user"), "{err}");
}

/// At `-vv` a peer whose greeting was refused, or that left in it, is logged with the bytes it
/// sent, but never bytes past its greeting: on a PLAIN endpoint they are the HELLO, with the
/// password (attacker review: a HELLO cut short by the handshake timeout, or cut off, or with
/// bytes after it, was logged in hex, password and all).
#[test]
fn a_plain_hello_is_never_logged() {
    use std::io::Write;
    use zedge_core::wire::greeting::{Greeting, Mechanism};
    let pw = passwords();
    let broker = Broker::start(
        "streamer",
        &[
            "--plain-passwords",
            &pw,
            "-vv",
            "--handshake-timeout",
            "500ms",
        ],
    );
    let greeting = Greeting::ours(Mechanism::Plain, false).encode();
    // HELLO: name, user "admin", password "TopSecretPass" (body cut or with bytes after it).
    let mut hello = vec![0x04, 0x1d, 0x05];
    hello.extend(b"HELLO\x05admin\x0dTopSecretPass");
    let cut = hello[..hello.len() - 4].to_vec();
    let mut trailing = hello.clone();
    trailing[1] += 3;
    trailing.extend(b"xyz");
    let mut gone = Vec::new();
    for body in [&cut, &trailing, &cut] {
        let mut s =
            zedge_tests::raw::connect(broker.frontend_addr(), zedge_tests::wait::deadline(10));
        let _ = s.write_all(&greeting);
        let _ = s.write_all(body);
        gone.push(s);
    }
    // The last one goes away mid-HELLO; the first waits for the handshake timeout.
    drop(gone.pop());
    // And one refused in its greeting: its bytes are shown.
    let mut http =
        zedge_tests::raw::connect(broker.frontend_addr(), zedge_tests::wait::deadline(10));
    let _ = http.write_all(b"GET / HTTP/1.1\r\n\r\n");
    zedge_tests::wait::until(
        zedge_tests::wait::deadline(10),
        "the refusals logged",
        || {
            let log = broker.stderr();
            log.contains("did not finish the handshake in time") && log.contains("47 45 54 20")
        },
    );
    let log = broker.stderr();
    let secret_hex: Vec<String> = b"TopSecret".iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        !log.contains("TopSecret") && !log.contains(&secret_hex.join(" ")),
        "the password is in the log:\n{log}"
    );
    drop(gone);
    broker.stop();
}
