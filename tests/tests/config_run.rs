//! `zedge check-config FILE` and `zedge run --config FILE` through the real binary: the shipped
//! config checks clean, mistakes are reported with file, line and key, limits that cannot fit
//! `memory_max` are refused without a crash, and one process runs several devices side by
//! side for real libzmq peers.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use zedge_tests::broker::free_port;
use zedge_tests::systemd::{temp_path, zedge, ConfigRun};
use zedge_tests::PyPeer;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_config_accepts_the_shipped_board_config() {
    let board = Path::new(env!("CARGO_MANIFEST_DIR")).join("../board/zedge.toml");
    let board = board.to_str().expect("utf-8 path");
    let out = zedge(&["check-config", board]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with(&format!("{board}: ok, 3 devices\n")),
        "{stdout}"
    );
    assert!(stdout.contains("  telemetry: forwarder\n"), "{stdout}");
    assert!(stdout.contains("  rpc: queue\n"), "{stdout}");
    assert!(stdout.contains("  jobs: streamer\n"), "{stdout}");
    assert!(stdout.contains("    memory    "), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("  total: ") && l.contains(" of memory_max 256 MiB")),
        "{stdout}"
    );
    // Then what run still needs here: /run/zedge, which the unit makes, unless it exists.
    let needs = if Path::new("/run/zedge").is_dir() {
        String::new()
    } else {
        "  before run:\n    telemetry backend ipc:///run/zedge/telemetry.ipc: /run/zedge does not \
         exist yet; the systemd unit makes it as it starts zedge (RuntimeDirectory=zedge); to \
         run zedge without the unit, make it first (sudo install -d -o zedge -g zedge \
         /run/zedge)\n"
            .to_owned()
    };
    assert!(
        stdout.ends_with(&format!(
            "  metrics: http://127.0.0.1:9559/metrics\n{needs}"
        )),
        "{stdout}"
    );
    assert!(stderr.is_empty(), "{stderr}");
}

/// check-config checks what it can of the host without binding: a privileged port (the unit
/// has no CAP_NET_BIND_SERVICE) and an IPC directory that does not exist fail it, as they would
/// fail run, each said on a line of its own; the file itself is right.
#[test]
fn check_config_fails_what_run_would_fail_on_this_host() {
    let path = temp_path("host.toml");
    std::fs::write(
        &path,
        "[[device]]\nname = \"x\"\nkind = \"streamer\"\nfrontend = \"tcp://127.0.0.1:80\"\n\
         backend = \"ipc:///nonexistent/zedge/x.ipc\"\n",
    )
    .expect("write config");
    let out = zedge(&["check-config", path.to_str().expect("utf-8 path")]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let file = path.display();
    assert!(
        stdout.starts_with(&format!(
            "{file}: right, but run would fail here (see below); 1 device\n"
        )),
        "{stdout}"
    );
    let privileged = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse::<u16>().ok())
        .unwrap_or(1024);
    let mut want = String::new();
    if privileged > 80 {
        want += &format!(
            "zedge: {file}: x frontend tcp://127.0.0.1:80: port 80 is privileged (below \
             net.ipv4.ip_unprivileged_port_start, {privileged}) and the systemd unit gives zedge \
             no CAP_NET_BIND_SERVICE; use a port from {privileged} on\n"
        );
    }
    want += &format!(
        "zedge: {file}: x backend ipc:///nonexistent/zedge/x.ipc: the directory \
         /nonexistent/zedge does not exist; make it, writable by the user zedge runs as (under \
         the systemd unit, only /run/zedge is)\n"
    );
    assert_eq!(stderr, want);
}

/// One address bound under two spellings (a name and its address, the metrics address and
/// an endpoint's, a wildcard and one address it covers) fails check-config naming both
/// settings, and run refuses it (status 2) before binding anything, as the command line does.
#[test]
fn one_address_bound_under_two_spellings_is_named_by_check_config_run_and_the_command_line() {
    let p = free_port();
    let cases = [
        (
            format!("frontend = \"tcp://127.0.0.1:{p}\"\nbackend = \"tcp://localhost:{p}\"\n"),
            String::new(),
            format!(
                "x frontend tcp://127.0.0.1:{p} and x backend tcp://localhost:{p} both bind \
                 127.0.0.1:{p}"
            ),
        ),
        (
            format!("frontend = \"tcp://lo:{p}\"\nbackend = \">tcp://127.0.0.1:1\"\n"),
            format!("[metrics]\nlisten = \"0.0.0.0:{p}\"\n"),
            format!(
                "x frontend tcp://lo:{p} and [metrics] listen 0.0.0.0:{p} both bind 127.0.0.1:{p}"
            ),
        ),
    ];
    for (device, top, both) in cases {
        let path = temp_path("twice.toml");
        std::fs::write(
            &path,
            format!("{top}[[device]]\nname = \"x\"\nkind = \"streamer\"\n{device}"),
        )
        .expect("write config");
        let file = path.to_str().expect("utf-8 path");
        let out = zedge(&["check-config", file]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert_eq!(
            stderr,
            format!("zedge: {file}: {both}; bind each address in one place only\n")
        );
        let out = zedge(&["run", "--config", file]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stderr),
            format!("zedge: {file}: {both}; bind each address in one place only\n")
        );
    }
    let (front, back) = (
        format!("tcp://127.0.0.1:{p}"),
        format!("tcp://localhost:{p}"),
    );
    let out = zedge(&["streamer", "--frontend", &front, "--backend", &back]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "zedge: --frontend {front} and --backend {back} both bind 127.0.0.1:{p}; bind each \
             address in one place only\n"
        )
    );
    let out = zedge(&[
        "streamer",
        "--frontend",
        &front,
        "--backend",
        "tcp://127.0.0.1:1",
        "--metrics",
        &format!("0.0.0.0:{p}"),
    ]);
    assert_eq!(
        text(&out.stderr),
        format!(
            "zedge: --frontend {front} and --metrics 0.0.0.0:{p} both bind 127.0.0.1:{p}; bind \
             each address in one place only\n"
        )
    );
}

/// A path that is no config file is refused at once, not read for ever (`/dev/zero`) or
/// waited on (a FIFO): check-config with status 1, run with 2.
#[test]
fn devices_and_fifos_are_refused_not_read() {
    let out = zedge(&["check-config", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "zedge: /dev/zero: the config file is not a regular file (a device, FIFO or socket); \
         give a TOML file\n"
    );
    let fifo = temp_path("fifo.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let fifo = fifo.to_str().expect("utf-8 path");
    let out = zedge(&["run", "--config", fifo]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        format!(
            "zedge: {fifo}: the config file is not a regular file (a device, FIFO or socket); \
             give a TOML file\n"
        )
    );
}

/// A device of `max_peers` peers per side on free ports, alone in its file.
fn huge(max_peers: &str) -> String {
    format!(
        "[[device]]\nname = \"big\"\nkind = \"streamer\"\nfrontend = \"tcp://127.0.0.1:{}\"\n\
         backend = \"tcp://127.0.0.1:{}\"\nmax_peers = {max_peers}\n",
        free_port(),
        free_port()
    )
}

/// Exited by itself, not killed by a signal (an abort, a panic's abort, the OOM killer).
fn no_crash(status: ExitStatus, stderr: &str) {
    assert_eq!(status.signal(), None, "killed by a signal: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("memory allocation"), "{stderr}");
}

/// The bytes a refusal says the device needs: `N bytes` after "needs", or `None` for a figure
/// that saturated ("over 18446744073709551615 bytes").
fn needed_bytes(msg: &str) -> Option<u64> {
    let (_, rest) = msg.split_once(" needs ")?;
    let (n, _) = rest.split_once(" bytes (")?;
    n.parse().ok()
}

/// Limits that once made `run` abort on a 43 GB allocation (100,000,000 peers) or panic on an
/// overflow (2^63 - 1): both commands refuse them with what they cost, check-config with exit
/// status 1, run with 2 and before binding anything.
#[test]
fn huge_limits_are_refused_with_their_cost_not_crashed_on() {
    for max_peers in ["100000000", "9223372036854775807"] {
        let config = huge(max_peers);
        let path = temp_path("huge.toml");
        std::fs::write(&path, &config).expect("write config");
        let out = zedge(&["check-config", path.to_str().expect("utf-8 path")]);
        let _ = std::fs::remove_file(&path);
        let stderr = text(&out.stderr);
        no_crash(out.status, &stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(out.stdout.is_empty());
        let want = format!("zedge: {}:1: device \"big\" needs ", path.display());
        assert!(stderr.starts_with(&want), "{stderr}");
        let advice = format!(
            ", more than memory_max 256 MiB: lower max_peers on device \"big\" ({max_peers} \
             peers per side cost "
        );
        assert!(stderr.contains(&advice), "{stderr}");
        assert!(stderr.ends_with(") or raise memory_max\n"), "{stderr}");
        match needed_bytes(&stderr) {
            // Two slots per peer, then the input buffer (1 MiB and 4 KiB of room for frame
            // heads) and two such messages kept: what is left is whole slots of a plausible
            // size, each with what a connection holds by itself (6.5 KiB).
            Some(n) => {
                let peers = n - 3 * ((1 << 20) + 4096);
                assert_eq!(peers % 200_000_000, 0, "{stderr}");
                let slot = peers / 200_000_000;
                assert!(
                    (6656..=16384).contains(&slot),
                    "{slot} bytes a slot: {stderr}"
                );
                assert!(stderr.contains(" B for each on either side)"), "{stderr}");
            }
            None => {
                assert!(
                    stderr.contains("needs over 18446744073709551615 bytes (over 16 EiB)"),
                    "{stderr}"
                );
                assert!(
                    stderr.contains("peers per side cost over 16 EiB, "),
                    "{stderr}"
                );
            }
        }

        let mut run = ConfigRun::start(&config, &[]);
        let status = run.wait(Duration::from_secs(10));
        let run_stderr = run.stderr();
        no_crash(status, &run_stderr);
        assert_eq!(status.code(), Some(2), "{run_stderr}");
        assert!(!run_stderr.contains("listening on"), "{run_stderr}");
        // The same refusal, for the file run was given.
        let (_, check_what) = stderr.split_once(": device ").expect("placed");
        assert!(run_stderr.contains(check_what), "{run_stderr}");

        // And on the command line.
        let out = zedge(&["streamer", "--max-peers", max_peers]);
        let cli = text(&out.stderr);
        no_crash(out.status, &cli);
        assert_eq!(out.status.code(), Some(2), "{cli}");
        assert!(cli.starts_with("zedge: the settings need "), "{cli}");
        assert!(cli.contains("lower --max-peers ("), "{cli}");
    }
}

const BAD_KIND: &str = r#"# gateway
[[device]]
name = "sensors"
kind = "router"
frontend = "tcp://*:5559"
backend = "tcp://*:5560"
"#;

#[test]
fn check_config_names_file_line_device_and_key() {
    let path = temp_path("bad.toml");
    std::fs::write(&path, BAD_KIND).expect("write config");
    let out = zedge(&["check-config", path.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "zedge: {}:4: device \"sensors\": key \"kind\": expected one of forwarder, queue, \
             streamer, not \"router\"\n",
            path.display()
        )
    );
    assert!(out.stdout.is_empty());

    let out = zedge(&["check-config", "/nonexistent/zedge.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("zedge: /nonexistent/zedge.toml: cannot read"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn run_refuses_a_bad_config_with_status_2() {
    let mut run = ConfigRun::start(BAD_KIND, &[]);
    let status = run.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(2), "{}", run.stderr());
    assert!(
        run.stderr()
            .contains(":4: device \"sensors\": key \"kind\""),
        "{}",
        run.stderr()
    );
}

/// A forwarder and a streamer in one process, each with libzmq peers on both sides.
const TWO_DEVICES_PEERS: &str = r#"
import sys, time, zmq
feed_in, feed_out, jobs_in, jobs_out = sys.argv[1:5]
ctx = zmq.Context()
def sock(kind, ep):
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 1000)
    s.setsockopt(zmq.RCVTIMEO, 5000)
    s.connect(ep)
    return s
pub, sub = sock(zmq.PUB, feed_in), sock(zmq.SUB, feed_out)
sub.setsockopt(zmq.SUBSCRIBE, b"temp")
push, pull = sock(zmq.PUSH, jobs_in), sock(zmq.PULL, jobs_out)

# The subscription travels upstream asynchronously: publish until it has arrived.
deadline = time.time() + 10
got = None
while got is None and time.time() < deadline:
    pub.send_multipart([b"humidity", b"55"])
    pub.send_multipart([b"temp", b"21.5"])
    if sub.poll(100):
        got = sub.recv_multipart()
assert got == [b"temp", b"21.5"], got

for i in range(5):
    push.send_multipart([b"job", str(i).encode()])
jobs = [pull.recv_multipart() for _ in range(5)]
assert jobs == [[b"job", str(i).encode()] for i in range(5)], jobs
print("ok")
"#;

#[test]
fn run_config_runs_every_device_in_one_process() {
    two_devices(false);
}

/// The second device in a drop-in (conf.d beside the file): it runs beside the first, and the
/// start line names the drop-in.
#[test]
fn run_config_runs_the_devices_of_its_drop_ins_too() {
    two_devices(true);
}

/// A forwarder and a streamer from one config (the streamer in a drop-in if `dropped`), both
/// serving libzmq peers at once.
fn two_devices(dropped: bool) {
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let ep = |p: u16| format!("tcp://127.0.0.1:{p}");
    let feed = format!(
        r#"
[log]
level = "info"

[[device]]
name = "feed"
kind = "forwarder"
frontend = "{}"
backend = ["{}"]
"#,
        ep(ports[0]),
        ep(ports[1]),
    );
    let jobs = format!(
        r#"
[[device]]
name = "jobs"
kind = "streamer"
frontend = "{}"
backend = "{}"
"#,
        ep(ports[2]),
        ep(ports[3])
    );
    let mut run = if dropped {
        ConfigRun::start_with_drop_ins(&feed, &[("jobs.toml", &jobs)], &[])
    } else {
        ConfigRun::start(&format!("{feed}{jobs}"), &[])
    };
    let args: Vec<String> = ports.iter().map(|&p| ep(p)).collect();
    let peers = PyPeer::spawn(
        "feed+jobs",
        TWO_DEVICES_PEERS,
        &args,
        Duration::from_secs(30),
    );
    assert_eq!(peers.finish().trim(), "ok");
    run.assert_running();
    let stderr = run.stderr();
    for line in ["feed frontend listening on", "jobs backend listening on"] {
        assert!(stderr.contains(line), "no {line:?} in:\n{stderr}");
    }
    if dropped {
        assert!(stderr.contains("zedge.toml with "), "{stderr}");
        assert!(stderr.contains("conf.d/jobs.toml:"), "{stderr}");
    }
    run.stop_clean();
}

/// Limits that fit `memory_max` but not the memory the system gives (here `ulimit -v`, as a
/// board with less memory than the budget says): the allocation is refused, one line says
/// which table and what to lower, exit status 2, before anything is bound; never an abort.
#[test]
fn memory_the_system_will_not_give_is_exit_status_2_not_an_abort() {
    let under_ulimit = |args: &[&str]| {
        let bin = zedge_tests::broker::zedge_bin();
        std::process::Command::new("bash")
            .arg("-c")
            .arg("ulimit -v 4000000 && exec \"$@\"")
            .arg("bash")
            .arg(bin)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run zedge under bash")
    };
    let cases = [
        (
            "streamer",
            "max_peers = 50000000",
            "peer table (100000000 slots, ",
        ),
        (
            "forwarder",
            "max_subscriptions = 100000000",
            "subscription table (100000000 entries, ",
        ),
    ];
    for (kind, limit, table) in cases {
        let config = format!(
            "memory_max = \"1024G\"\n\n[[device]]\nname = \"big\"\nkind = \"{kind}\"\n\
             frontend = \"tcp://127.0.0.1:{}\"\nbackend = \"tcp://127.0.0.1:{}\"\n{limit}\n",
            free_port(),
            free_port()
        );
        let path = temp_path("big.toml");
        std::fs::write(&path, &config).expect("write config");
        let out = under_ulimit(&["run", "-v", "--config", path.to_str().expect("utf-8")]);
        let _ = std::fs::remove_file(&path);
        let stderr = text(&out.stderr);
        no_crash(out.status, &stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        let want = format!("zedge: device \"big\": the system refused its {table}");
        assert!(stderr.starts_with(&want), "{stderr}");
        let opt = limit.split(' ').next().unwrap_or_default();
        assert!(
            stderr.trim_end().ends_with(&format!(
                " bytes): out of memory; lower {opt} (and memory_max with it) or run where \
                 that much memory is available"
            )),
            "{stderr}"
        );
    }

    let out = under_ulimit(&[
        "streamer",
        "--max-peers",
        "50000000",
        "--memory-max",
        "1024G",
    ]);
    let stderr = text(&out.stderr);
    no_crash(out.status, &stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("zedge: the system refused its peer table (100000000 slots, "),
        "{stderr}"
    );
    assert!(
        stderr.contains("lower --max-peers (and --memory-max with it)"),
        "{stderr}"
    );
}
