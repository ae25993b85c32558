//! What an operator reads at the default log level (no `-v`): a subscriber losing messages
//! because it reads too slowly is named, with how many it lost, while the others get
//! everything; a flood of peers refused in their handshake makes a few lines with counts;
//! every line names its device, the command line's too.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use zedge_core::wire::metadata::SocketType;
use zedge_tests::agent::Agent;
use zedge_tests::broker::{free_port, zedge_bin};
use zedge_tests::raw;
use zedge_tests::PyPeer;

/// Publishes argv[2] messages of 1000 bytes on argv[1], 500 at a time, 25 ms apart.
const PACED_PUB: &str = r#"
import sys, time, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.PUB)
s.setsockopt(zmq.SNDHWM, 0)
s.connect(sys.argv[1])
time.sleep(1.0)
n = int(sys.argv[2])
for i in range(n):
    s.send(b"%08d" % i + b"x" * 992)
    if i % 500 == 499:
        time.sleep(0.025)
s.close(linger=5000)
ctx.term()
"#;

/// `zedge ARGS` at the default log level (no `-v`, no `ZEDGE_LOG`), its stderr gathered.
struct Quiet {
    child: Child,
    stderr: Arc<Mutex<String>>,
    reader: Option<thread::JoinHandle<()>>,
}

impl Quiet {
    fn start(args: &[&str]) -> Quiet {
        let mut child = Command::new(zedge_bin())
            .args(args)
            .env_remove("ZEDGE_LOG")
            .env_remove("JOURNAL_STREAM")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run zedge");
        let stderr = Arc::new(Mutex::new(String::new()));
        let reader = child.stderr.take().map(|mut pipe| {
            let sink = stderr.clone();
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut buf) {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    sink.lock().expect("stderr lock").push_str(&text);
                }
            })
        });
        Quiet {
            child,
            stderr,
            reader,
        }
    }

    fn log(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// The first line holding `text`, waited for until `deadline`.
    fn line(&self, text: &str, deadline: Instant) -> String {
        loop {
            if let Some(l) = self.log().lines().find(|l| l.contains(text)) {
                return l.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {text:?}:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, exit 0, and the whole log.
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().expect("zedge exits");
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        assert_eq!(status.code(), Some(0), "{}", self.log());
        self.log()
    }
}

impl Drop for Quiet {
    /// A test that failed before [`Quiet::stop`] leaves no zedge running behind it.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn ep() -> String {
    format!("tcp://127.0.0.1:{}", free_port())
}

#[test]
fn a_slow_subscriber_losing_messages_is_warned_of_at_the_default_level() {
    let (fe, be) = (ep(), ep());
    let z = Quiet::start(&[
        "forwarder",
        "--frontend",
        &fe,
        "--backend",
        &be,
        "--queue-hwm",
        "256K",
    ]);
    let log = || z.log();
    let soon = Instant::now() + Duration::from_secs(5);
    let start = z.line("zedge 0.1.0 starting from the command line", soon);
    assert!(start.contains(" NOTE "), "{start}");
    assert!(
        start.ends_with(&format!("forwarder frontend {fe} backend {be}")),
        "{start}"
    );
    // Nothing else at the default level while all is well: no peer connects, no listening.
    assert_eq!(log().lines().count(), 1, "{}", log());
    // One subscriber that never reads (its own buffers small), one that reads everything.
    let _deaf = Agent::connect(
        "deaf",
        "SUB",
        &be,
        &["sub=-", "opt=RCVHWM=1", "opt=RCVBUF=4096"],
    );
    let mut reader_sub = Agent::connect("reader", "SUB", &be, &["sub=-"]);
    let n = 20_000;
    let publisher = PyPeer::spawn(
        "pub",
        PACED_PUB,
        &[fe.clone(), n.to_string()],
        Duration::from_secs(60),
    );
    let got = reader_sub.drain(n, Duration::from_secs(3));
    publisher.finish();
    assert_eq!(
        got.len(),
        n,
        "the reading subscriber lost messages:\n{}",
        log()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let line = loop {
        if let Some(l) = log().lines().find(|l| l.contains("slow subscriber lost")) {
            break l.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no warning at the default level:\n{}",
            log()
        );
        thread::sleep(Duration::from_millis(100));
    };
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("forwarder backend 127.0.0.1"), "{line}");
    assert!(line.contains("queue_hwm (0.25 MiB)"), "{line}");
    // Said once per interval for that peer, not per message.
    let count = log().matches("slow subscriber lost").count();
    assert!(count <= 2, "{count} warnings:\n{}", log());
    let all = z.stop();
    let last = all.lines().last().unwrap_or_default();
    assert!(last.contains(" NOTE  zedge stopped after "), "{all}");
    assert!(last.contains(&format!(": {n} messages in, ")), "{last}");
}

#[test]
fn a_connector_that_cannot_connect_says_so_once_and_again_when_it_does() {
    let (fe, up) = (ep(), free_port());
    let upstream = format!("tcp://127.0.0.1:{up}");
    let z = Quiet::start(&[
        "streamer",
        "--frontend",
        &fe,
        "--backend",
        &format!(">{upstream}"),
    ]);
    let soon = Instant::now() + Duration::from_secs(10);
    let failed = z.line("cannot connect", soon);
    assert!(
        failed.contains(" WARN ") && failed.contains(&format!("backend >{upstream}")),
        "{failed}"
    );
    thread::sleep(Duration::from_secs(2)); // several more attempts
    assert_eq!(z.log().matches("cannot connect").count(), 1, "{}", z.log());
    let _worker = Agent::spawn("worker", "PULL", &[format!("bind={upstream}")]);
    let back = z.line("connected after", Instant::now() + Duration::from_secs(15));
    assert!(
        back.contains(" NOTE ") && back.contains("failed attempts"),
        "{back}"
    );
    z.stop();
}

#[test]
fn a_flood_of_peers_of_the_wrong_type_makes_a_few_lines_naming_the_device_with_counts() {
    let (fe, be) = (ep(), ep());
    let z = Quiet::start(&["streamer", "--frontend", &fe, "--backend", &be]);
    let soon = Instant::now() + Duration::from_secs(10);
    z.line("starting from the command line", soon);
    // 200 subscribers knock on a PULL frontend, one after the other.
    let addr = zedge_tests::broker::tcp_addr(&fe);
    let n = 200;
    for _ in 0..n {
        let mut s = raw::connect(addr, soon);
        s.write_all(&raw::greeting()).expect("greeting");
        s.write_all(&raw::ready(SocketType::Sub)).expect("READY");
        raw::closed_by(&mut s, Instant::now() + Duration::from_secs(5));
    }
    let first = z.line("refused", soon + Duration::from_secs(20));
    assert!(
        first.contains(" WARN  streamer frontend: refused 1 peer: "),
        "{first}"
    );
    assert!(
        first.contains("wrong socket type (the last, 127.0.0.1:")
            && first.contains(" sent SUB, which cannot talk to PULL)"),
        "{first}"
    );
    // The device still works.
    let mut pull = Agent::connect("pull", "PULL", &be, &[]);
    let mut push = Agent::connect("push", "PUSH", &fe, &[]);
    push.burst(10, &[b"m"]);
    assert_eq!(pull.drain(10, Duration::from_secs(5)).len(), 10);
    let all = z.stop();
    let lines: Vec<&str> = all.lines().filter(|l| l.contains("refused")).collect();
    // The first at once, the rest held for the minute, reported at stop at the latest.
    assert!(lines.len() <= 3, "{lines:#?}");
    let counted: u64 = lines
        .iter()
        .filter_map(|l| {
            l.split("refused ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert_eq!(counted, n, "{lines:#?}");
    assert!(
        lines
            .last()
            .is_some_and(|l| l.contains(" peers in the last 60 s: wrong socket type")),
        "{lines:#?}"
    );
    // Every line of the device names it: none starts with a side.
    for l in all.lines() {
        let text = l.splitn(3, ' ').nth(2).unwrap_or_default().trim_start();
        assert!(
            !text.starts_with("frontend") && !text.starts_with("backend"),
            "a line without the device's name: {l}"
        );
    }
}
