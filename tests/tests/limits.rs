//! No limit value aborts or panics the process: every option, and `memory_max`, at 0, 1,
//! 2^63 - 1 and 2^64 - 1, on the command line (then the device runs a moment with a peer on
//! each side, or is refused at start-up) and in a config file (`check-config`). A refusal is
//! one line and an exit status of 1 or 2; one for memory says what the settings need, in bytes,
//! and what to change.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use zedge_core::wire::metadata::SocketType;
use zedge_tests::broker::{free_port, zedge_bin};
use zedge_tests::raw;
use zedge_tests::systemd::{temp_path, zedge};

const VALUES: [&str; 4] = ["0", "1", "9223372036854775807", "18446744073709551615"];

/// Every option that takes a number, with a kind of device it applies to.
const OPTIONS: [(&str, &str); 15] = [
    ("max-msg-size", "streamer"),
    ("queue-hwm", "queue"),
    ("max-peers", "streamer"),
    ("max-peers-per-address", "queue"),
    ("max-handshaking", "streamer"),
    ("handshake-rate-per-address", "forwarder"),
    ("max-subscriptions", "forwarder"),
    ("max-subscriptions-per-peer", "forwarder"),
    ("max-splices", "streamer"),
    ("store-forward-max", "forwarder"),
    ("progress-timeout", "streamer"),
    ("heartbeat-ivl", "queue"),
    ("heartbeat-timeout", "forwarder"),
    ("handshake-timeout", "streamer"),
    ("memory-max", "queue"),
];

/// Exited by itself, not killed by a signal (an abort, a panic's abort, the OOM killer), and
/// never panicked.
fn no_crash(status: ExitStatus, stderr: &str, what: &str) {
    assert_eq!(
        status.signal(),
        None,
        "{what}: killed by a signal: {stderr}"
    );
    assert_ne!(status.code(), Some(101), "{what}: panicked: {stderr}");
    for sign in ["panicked", "memory allocation", "overflow"] {
        assert!(!stderr.contains(sign), "{what}: {stderr}");
    }
}

/// A refusal: one line, and one about memory gives the bytes needed and what to change.
fn refused_well(stderr: &str, what: &str) {
    assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
    assert!(stderr.starts_with("zedge: "), "{what}: {stderr}");
    if stderr.contains(" need") {
        assert!(stderr.contains(" bytes ("), "{what}: no figure: {stderr}");
        assert!(
            stderr.contains(": lower ") && stderr.contains(" or raise "),
            "{what}: nothing to change: {stderr}"
        );
    }
}

/// A raw peer's greeting and READY, and then `message`, whatever the broker answers (it may
/// close the connection at once: a handshake timeout of 1 ms).
fn poke(port: u16, ty: SocketType, message: &[u8]) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
    let _ = s.write_all(&raw::greeting());
    let _ = s.write_all(&raw::ready(ty));
    let _ = s.write_all(message);
    let mut buf = [0u8; 4096];
    let _ = s.read(&mut buf);
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut text);
    }
    text
}

/// `zedge KIND --FLAG VALUE` on free ports: refused at once, or running (then poked on both
/// sides, and stopped cleanly with SIGTERM).
fn start(kind: &str, flag: &str, value: &str) {
    let (front, back) = (free_port(), free_port());
    let what = format!("zedge {kind} --{flag} {value}");
    let mut child = Command::new(zedge_bin())
        .args([kind, "--frontend", &format!("tcp://127.0.0.1:{front}")])
        .args(["--backend", &format!("tcp://127.0.0.1:{back}")])
        .args([&format!("--{flag}"), value])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run zedge");
    let listening = Instant::now() + Duration::from_secs(5);
    let exited = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if TcpStream::connect(("127.0.0.1", back)).is_ok() || Instant::now() > listening {
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };
    if let Some(status) = exited {
        let stderr = stderr_of(&mut child);
        no_crash(status, &stderr, &what);
        assert!(
            matches!(status.code(), Some(1 | 2)),
            "{what}: {status}: {stderr}"
        );
        refused_well(&stderr, &what);
        return;
    }
    let (front_ty, back_ty) = match kind {
        "forwarder" => (SocketType::XPub, SocketType::XSub),
        "queue" => (SocketType::Dealer, SocketType::Dealer),
        _ => (SocketType::Push, SocketType::Pull),
    };
    // XPUB is what a publisher of a forwarder's XSUB frontend... any sending type will do:
    // the broker may refuse it, which is a refusal, not a crash.
    let message = [raw::data_head(5, false), b"hello".to_vec()].concat();
    poke(back, back_ty, &[]);
    poke(front, front_ty, &message);
    thread::sleep(Duration::from_millis(100));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = zedge_tests::wait::exit_within(&mut child, Duration::from_secs(10))
        .unwrap_or_else(|| {
            let _ = child.kill();
            panic!("{what}: still running 10 s after SIGTERM")
        });
    let stderr = stderr_of(&mut child);
    no_crash(status, &stderr, &what);
    assert_eq!(status.code(), Some(0), "{what}: {stderr}");
}

/// The same value in a config file, through `check-config`.
fn check(kind: &str, flag: &str, value: &str) {
    let key = flag.replace('-', "_");
    let what = format!("{key} = \"{value}\" in a {kind}");
    let device = format!(
        "[[device]]\nname = \"d\"\nkind = \"{kind}\"\nfrontend = \"tcp://127.0.0.1:{}\"\n\
         backend = \"tcp://127.0.0.1:{}\"\n",
        free_port(),
        free_port()
    );
    let text = if key == "memory_max" {
        format!("{key} = \"{value}\"\n{device}")
    } else {
        format!("{device}{key} = \"{value}\"\n")
    };
    let path = temp_path("limit.toml");
    std::fs::write(&path, &text).expect("write config");
    let out = zedge(&["check-config", path.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    no_crash(out.status, &stderr, &what);
    match out.status.code() {
        Some(0) => assert!(
            String::from_utf8_lossy(&out.stdout).contains(" of memory_max "),
            "{what}: {stderr}"
        ),
        Some(1) => refused_well(&stderr, &what),
        other => panic!("{what}: exit {other:?}: {stderr}"),
    }
}

#[test]
fn no_value_of_any_limit_aborts_or_panics_at_start_up() {
    for (flag, kind) in OPTIONS {
        for value in VALUES {
            start(kind, flag, value);
        }
    }
}

#[test]
fn no_value_of_any_limit_aborts_or_panics_check_config() {
    for (flag, kind) in OPTIONS {
        for value in VALUES {
            check(kind, flag, value);
        }
    }
}
