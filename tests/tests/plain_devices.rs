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
