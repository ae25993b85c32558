//! The command line through the real binary: mistakes give one clear line and exit 2,
//! runtime failures (a port in use) exit 1, and the bare device binds the seed's ports.

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use zedge_tests::broker::{free_port, zedge_bin};

fn zedge(args: &[&str]) -> Output {
    Command::new(zedge_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run zedge")
}

/// Exit status and the single line on stderr.
fn fails(args: &[&str]) -> (i32, String) {
    let out = zedge(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line for {args:?}: {stderr:?}"
    );
    assert!(stderr.starts_with("zedge: "), "{stderr:?}");
    (out.status.code().expect("exited"), stderr)
}

#[test]
fn usage_mistakes_exit_2_with_one_line() {
    let (code, msg) = fails(&["streamer", "--bogus"]);
    assert_eq!(code, 2);
    assert!(msg.contains("unknown option '--bogus'"), "{msg}");

    let (code, msg) = fails(&["queue", "--frontend", "tcp://nowhere"]);
    assert_eq!(code, 2);
    assert!(msg.contains("bad endpoint 'tcp://nowhere'"), "{msg}");

    let (code, msg) = fails(&["router"]);
    assert_eq!(code, 2, "{msg}");

    let (code, msg) = fails(&["streamer", "--max-msg-size", "lots"]);
    assert_eq!(code, 2, "{msg}");
}

#[test]
fn a_port_in_use_exits_1_and_says_so() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let ep = format!("tcp://127.0.0.1:{port}");
    let backend = format!("tcp://127.0.0.1:{}", free_port());
    let (code, msg) = fails(&["streamer", "--frontend", &ep, "--backend", &backend]);
    assert_eq!(code, 1, "{msg}");
    assert!(msg.contains(&ep) && msg.contains("in use"), "{msg}");
}

#[test]
fn help_and_version_exit_0() {
    let out = zedge(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("tcp://*:5559") && help.contains("tcp://*:5560"),
        "{help}"
    );
    assert!(zedge(&["--version"]).status.success());
}

/// `zedge streamer` on its built-in defaults binds the seed's ports, 5559 and 5560, on every
/// interface. Skipped only if something else on this machine holds those ports already.
#[test]
fn defaults_bind_the_seed_ports() {
    for port in [5559, 5560] {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            eprintln!("port {port} is taken on this machine; not checking the defaults");
            return;
        }
    }
    let mut child = Command::new(zedge_bin())
        .arg("streamer")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zedge");
    let deadline = Instant::now() + Duration::from_secs(10);
    let listening = loop {
        let up = [5559, 5560]
            .iter()
            .all(|&p| TcpStream::connect(("127.0.0.1", p)).is_ok());
        if up || Instant::now() > deadline {
            break up;
        }
        sleep(Duration::from_millis(20));
    };
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    assert!(listening, "zedge streamer did not listen on 5559 and 5560");
    assert!(status.success(), "SIGTERM exits 0: {status}");
}
