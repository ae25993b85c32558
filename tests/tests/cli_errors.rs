//! The command line through the real binary: mistakes give one clear line and exit 2,
//! runtime failures (a port in use) exit 1, and the bare device binds the seed's ports. The
//! same mistakes in a config file get the same words, and so does a device that cannot fit
//! `memory_max`.

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use zedge_tests::broker::{free_port, zedge_bin};
use zedge_tests::systemd::temp_path;

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

    let (code, msg) = fails(&["queue", "-frontend", "tcp://*:5559"]);
    assert_eq!(code, 2);
    assert_eq!(
        msg.trim_end(),
        "zedge: unknown option '-f' (in '-frontend'); long options take two dashes: \
         --frontend; see zedge --help"
    );
    let (code, msg) = fails(&["help", "subb"]);
    assert_eq!(code, 2);
    assert!(
        msg.starts_with("zedge: no help for 'subb'; did you mean sub?; the commands are "),
        "{msg}"
    );
}

#[test]
fn help_names_each_command_and_gives_each_its_page() {
    let page = |args: &[&str]| {
        let out = zedge(args);
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).expect("text")
    };
    let main = page(&["help"]);
    assert_eq!(main, page(&["--help"]));
    assert!(main.contains("zedge help [COMMAND]"), "{main}");
    for command in [
        "run",
        "check-config",
        "stat",
        "peers",
        "keygen",
        "sub",
        "pub",
        "push",
        "pull",
        "req",
        "rep",
    ] {
        let own = page(&["help", command]);
        assert!(own.starts_with(&format!("Usage: zedge {command}")), "{own}");
        assert_eq!(own, page(&[command, "--help"]));
    }
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
        help.contains("tcp://127.0.0.1:5559") && help.contains("tcp://127.0.0.1:5560"),
        "{help}"
    );
    assert!(zedge(&["--version"]).status.success());
}

/// `zedge streamer` on its built-in defaults binds the seed's ports, 5559 and 5560, on
/// loopback only, and warns of nothing. Skipped only if something else on this machine holds
/// those ports already.
#[test]
fn defaults_bind_the_seed_ports() {
    for port in [5559, 5560] {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            eprintln!("port {port} is taken on this machine; not checking the defaults");
            return;
        }
    }
    let child = Command::new(zedge_bin())
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
    let out = child.wait_with_output().expect("wait");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(listening, "zedge streamer did not listen on 5559 and 5560");
    assert!(out.status.success(), "SIGTERM exits 0: {}", out.status);
    assert!(
        log.contains("streamer frontend tcp://127.0.0.1:5559 backend tcp://127.0.0.1:5560"),
        "{log}"
    );
    assert!(!log.contains("WARN"), "{log}");
}

/// The log of a device run with `args` for half a second, then stopped.
fn log_of(args: &[&str]) -> String {
    let child = Command::new(zedge_bin())
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zedge");
    sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().expect("wait");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A device that binds beyond loopback without CURVE or PLAIN says so once, at the default
/// level, naming what is open and how to close it; with a key pair on that side it says
/// nothing.
#[test]
fn a_device_open_beyond_this_host_without_security_warns_once() {
    let (front, back, ctl) = (free_port(), free_port(), free_port());
    let front_any = format!("tcp://*:{front}");
    let back_local = format!("tcp://127.0.0.1:{back}");
    let ctl_any = format!("tcp://0.0.0.0:{ctl}");
    let args = [
        "streamer",
        "--frontend",
        &front_any,
        "--backend",
        &back_local,
    ];
    let log = log_of(&[&args[..], &["--control", &ctl_any]].concat());
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains(" WARN ")).collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(
        warnings[0].ends_with(&format!(
            "WARN  streamer listens beyond this host without CURVE or PLAIN (frontend \
             {front_any}, control {ctl_any}): anyone who reaches it can connect; give the \
             device a key pair (curve_secret, or --curve-secret: docs/security.md), or bind \
             127.0.0.1"
        )),
        "{log}"
    );
    let keys = temp_path("open-keys");
    std::fs::create_dir_all(&keys).expect("a key directory");
    let name = keys.join("srv");
    let made = zedge(&["keygen", name.to_str().expect("utf-8")]);
    assert!(made.status.success());
    let secret = format!("{}_secret", name.display());
    let log = log_of(&[&args[..], &["--curve-secret", &secret]].concat());
    assert!(!log.contains("WARN"), "{log}");
    let log = log_of(
        &[
            &args[..],
            &["--curve-secret", &secret, "--curve-sides", "backend"],
        ]
        .concat(),
    );
    assert!(
        log.contains(&format!("without CURVE or PLAIN (frontend {front_any})")),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&keys);
}

/// One mistake, made on the command line and in a config file.
struct Mistake {
    kind: &'static str,
    flags: &'static [&'static str],
    /// The same settings as lines of the file; the mistake is in the one with `key`.
    line: &'static str,
    flag: &'static str,
    key: &'static str,
    /// What both say after their place; `{ivl}` and `{subs}` are the heartbeat interval's and
    /// the subscription table's flag or key.
    what: &'static str,
}

const SAME_MISTAKES: &[Mistake] = &[
    Mistake {
        kind: "queue",
        flags: &["--classic"],
        line: "classic = true",
        flag: "--classic",
        key: "classic",
        what: "applies to forwarders only, and this device is a queue; remove it",
    },
    Mistake {
        kind: "streamer",
        flags: &["--max-subscriptions", "100"],
        line: "max_subscriptions = 100",
        flag: "--max-subscriptions",
        key: "max_subscriptions",
        what: "applies to forwarders only, and this device is a streamer, which keeps no \
         subscriptions; remove it",
    },
    Mistake {
        kind: "forwarder",
        flags: &["--max-splices", "8"],
        line: "max_splices = 8",
        flag: "--max-splices",
        key: "max_splices",
        what: "applies to queues and streamers only, and this device is a forwarder, which never \
         splices (a message may go to many subscribers); remove it",
    },
    Mistake {
        kind: "queue",
        flags: &["--max-peers", "0"],
        line: "max_peers = 0",
        flag: "--max-peers",
        key: "max_peers",
        what: "must be at least 1 (peers)",
    },
    Mistake {
        kind: "streamer",
        flags: &["--max-msg-size", "lots"],
        line: "max_msg_size = \"lots\"",
        flag: "--max-msg-size",
        key: "max_msg_size",
        what: "expected bytes, like 65536, \"64K\" or \"64M\", not \"lots\"",
    },
    Mistake {
        kind: "queue",
        flags: &["--handshake-timeout", "1.5s"],
        line: "handshake_timeout = \"1.5s\"",
        flag: "--handshake-timeout",
        key: "handshake_timeout",
        what: "expected a duration, like 500 (milliseconds), \"500ms\", \"5s\" or \"2m\", \
         not \"1.5s\"",
    },
    Mistake {
        kind: "streamer",
        flags: &["--heartbeat-ivl", "0", "--heartbeat-timeout", "5s"],
        line: "heartbeat_ivl = 0\nheartbeat_timeout = \"5s\"",
        flag: "--heartbeat-timeout",
        key: "heartbeat_timeout",
        what: "only applies with heartbeats on; set {ivl} too",
    },
    Mistake {
        kind: "streamer",
        flags: &["--max-subscriptions-per-peer", "10"],
        line: "max_subscriptions_per_peer = 10",
        flag: "--max-subscriptions-per-peer",
        key: "max_subscriptions_per_peer",
        what: "applies to forwarders only, and this device is a streamer, which keeps no \
         subscriptions; remove it",
    },
    Mistake {
        kind: "forwarder",
        flags: &[
            "--max-subscriptions",
            "100",
            "--max-subscriptions-per-peer",
            "200",
        ],
        line: "max_subscriptions = 100\nmax_subscriptions_per_peer = 200",
        flag: "--max-subscriptions-per-peer",
        key: "max_subscriptions_per_peer",
        what: "must be at most {subs} (100); lower it or raise {subs}",
    },
    Mistake {
        kind: "queue",
        flags: &["--store-forward-max", "4K"],
        line: "store_forward_max = \"4K\"",
        flag: "--store-forward-max",
        key: "store_forward_max",
        what: "must be at least 65536 (bytes)",
    },
    Mistake {
        kind: "streamer",
        flags: &["--max-splices", "9999"],
        line: "max_splices = 9999",
        flag: "--max-splices",
        key: "max_splices",
        what: "must be at most 1024 (splices)",
    },
    Mistake {
        kind: "forwarder",
        flags: &["--max-handshaking", "0"],
        line: "max_handshaking = 0",
        flag: "--max-handshaking",
        key: "max_handshaking",
        what: "must be at least 1 (connections)",
    },
    Mistake {
        kind: "queue",
        flags: &["--max-peers-per-address", "few"],
        line: "max_peers_per_address = \"few\"",
        flag: "--max-peers-per-address",
        key: "max_peers_per_address",
        what: "expected a whole number, not \"few\"",
    },
    Mistake {
        kind: "streamer",
        flags: &["--progress-timeout", "soon"],
        line: "progress_timeout = \"soon\"",
        flag: "--progress-timeout",
        key: "progress_timeout",
        what: "expected a duration, like 500 (milliseconds), \"500ms\", \"5s\" or \"2m\", \
         not \"soon\"",
    },
];

#[test]
fn the_same_mistake_reads_the_same_on_the_command_line_and_in_a_config_file() {
    for m in SAME_MISTAKES {
        let mut args = vec![m.kind];
        args.extend(m.flags);
        let (code, msg) = fails(&args);
        assert_eq!(code, 2, "{msg}");
        let what = m
            .what
            .replace("{ivl}", "--heartbeat-ivl")
            .replace("{subs}", "--max-subscriptions");
        assert_eq!(msg, format!("zedge: {}: {what}\n", m.flag));

        let path = temp_path("same.toml");
        let text = format!(
            "[[device]]\nname = \"d\"\nkind = \"{}\"\nfrontend = \"tcp://127.0.0.1:1\"\n\
             backend = \"tcp://127.0.0.1:2\"\n{}\n",
            m.kind, m.line
        );
        std::fs::write(&path, text).expect("write config");
        let (code, msg) = fails(&["check-config", path.to_str().expect("utf-8 path")]);
        let _ = std::fs::remove_file(&path);
        assert_eq!(code, 1, "{msg}");
        let what = m
            .what
            .replace("{ivl}", "heartbeat_ivl")
            .replace("{subs}", "max_subscriptions");
        let line = 6 + m
            .line
            .lines()
            .position(|l| l.starts_with(&format!("{} ", m.key)))
            .expect("the key is in the lines");
        assert_eq!(
            msg,
            format!(
                "zedge: {}:{line}: device \"d\": key \"{}\": {what}\n",
                path.display(),
                m.key
            )
        );
    }
}

/// A device that cannot fit `memory_max`: refused on the command line (exit 2) and in a config
/// file (check-config, exit 1) with the same figures, naming the setting to lower.
#[test]
fn a_device_over_memory_max_reads_the_same_on_the_command_line_and_in_a_config_file() {
    let (code, cli) = fails(&["queue", "--max-peers", "1000000", "--memory-max", "64M"]);
    assert_eq!(code, 2, "{cli}");
    assert!(cli.starts_with("zedge: the settings need "), "{cli}");
    assert!(
        cli.contains(
            ", more than --memory-max 64 MiB: lower --max-peers (1000000 peers per side cost "
        ),
        "{cli}"
    );
    assert!(cli.ends_with(") or raise --memory-max\n"), "{cli}");

    let path = temp_path("over.toml");
    let text = "memory_max = \"64M\"\n[[device]]\nname = \"d\"\nkind = \"queue\"\n\
                frontend = \"tcp://127.0.0.1:1\"\nbackend = \"tcp://127.0.0.1:2\"\n\
                max_peers = 1000000\n";
    std::fs::write(&path, text).expect("write config");
    let (code, file) = fails(&["check-config", path.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, 1, "{file}");
    let as_cli = file
        .replace(
            &format!("{}:2: device \"d\" needs", path.display()),
            "the settings need",
        )
        .replace(" on device \"d\"", "")
        .replace("memory_max", "--memory-max")
        .replace("max_peers", "--max-peers");
    assert_eq!(as_cli, cli);
}

/// Run zedge with its standard output a pipe closed as soon as it starts, as `| head -3` or
/// `| true` leave it: its status and standard error.
fn without_reader(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(zedge_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run zedge");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for zedge");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    (out.status.code(), stderr)
}

/// [`without_reader`]: the command ends quietly, status 0 (the write that finds the reader
/// gone ends it), not with a panic.
fn reader_gone(args: &[&str]) {
    let (code, stderr) = without_reader(args);
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
}

/// `dir`/zedge.toml: one queue on two free loopback ports, with `extra` lines.
fn queue_config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let file = dir.join("zedge.toml");
    let (fe, be) = (free_port(), free_port());
    std::fs::write(
        &file,
        format!(
            "[[device]]\nname = \"a\"\nkind = \"queue\"\nfrontend = [\"tcp://127.0.0.1:{fe}\"]\n\
             backend = [\"tcp://127.0.0.1:{be}\"]\n{extra}"
        ),
    )
    .expect("write the config");
    file
}

#[test]
fn every_command_that_prints_ends_quietly_when_its_reader_is_gone() {
    reader_gone(&["--help"]);
    reader_gone(&["help", "pub"]);
    reader_gone(&["--version"]);

    let dir = temp_path("reader-gone");
    std::fs::create_dir_all(&dir).expect("a directory");
    reader_gone(&["keygen", dir.join("k").to_str().expect("utf-8")]);
    let file = queue_config(&dir, "");
    reader_gone(&["check-config", file.to_str().expect("utf-8")]);
    // A problem keeps its status and its line on stderr when the summary's reader is gone.
    let wrong = dir.join("wrong.toml");
    let text = std::fs::read_to_string(&file).expect("read the config");
    std::fs::write(&wrong, text.replace("tcp://127.0.0.1:", "tcp://192.0.2.1:"))
        .expect("write the config");
    let (code, stderr) = without_reader(&["check-config", wrong.to_str().expect("utf-8")]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("192.0.2.1 is no address of this host's interfaces"),
        "{stderr}"
    );

    // `zedge stat --watch` prints every second until it finds the reader gone.
    let metrics = TcpListener::bind("127.0.0.1:0").expect("a metrics port");
    let addr = metrics.local_addr().expect("its address").to_string();
    std::thread::spawn(move || {
        for conn in metrics.incoming() {
            use std::io::{Read, Write};
            let Ok(mut conn) = conn else { continue };
            // The whole request, which may come in pieces, before the answer and the close.
            let mut request = Vec::new();
            let mut piece = [0; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                match conn.read(&mut piece) {
                    Ok(n) if n > 0 => request.extend_from_slice(&piece[..n]),
                    _ => break,
                }
            }
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n\
                  zedge_peers{device=\"a\",side=\"frontend\"} 1\n",
            );
        }
    });
    reader_gone(&["stat", "--watch", &addr]);
    std::fs::remove_dir_all(&dir).expect("remove the directory");
}

/// A CURVE secret key every user can read is refused by check-config, as a password file is.
#[test]
fn check_config_refuses_a_secret_key_every_user_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_path("open-secret");
    std::fs::create_dir_all(&dir).expect("a directory");
    let name = dir.join("srv");
    assert!(zedge(&["keygen", name.to_str().expect("utf-8")])
        .status
        .success());
    let secret = format!("{}_secret", name.display());
    let file = queue_config(&dir, &format!("curve_secret = \"{secret}\"\n"));
    let check = || zedge(&["check-config", file.to_str().expect("utf-8")]);
    assert!(check().status.success(), "the 0600 file keygen wrote");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = check();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "key \"curve_secret\": {secret} is readable by every user; chmod o-r it (it holds \
             a secret key)"
        )),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).expect("remove the directory");
}
