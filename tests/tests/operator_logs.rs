//! What an operator reads at the default log level (no `-v`): a subscriber losing messages
//! because it reads too slowly is named, with how many it lost, while the others get
//! everything.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use zedge_tests::agent::Agent;
use zedge_tests::broker::{free_port, zedge_bin};
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
