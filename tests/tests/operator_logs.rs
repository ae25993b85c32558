//! What an operator reads at the default log level (no `-v`): a subscriber losing messages
//! because it reads too slowly is named, with how many it lost, while the others get
//! everything.

use std::io::Read;
use std::process::{Command, Stdio};
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

#[test]
fn a_slow_subscriber_losing_messages_is_warned_of_at_the_default_level() {
    let (fe, be) = (
        format!("tcp://127.0.0.1:{}", free_port()),
        format!("tcp://127.0.0.1:{}", free_port()),
    );
    let mut child = Command::new(zedge_bin())
        .args(["forwarder", "--frontend", &fe, "--backend", &be])
        .args(["--queue-hwm", "256K"])
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
                sink.lock().unwrap().push_str(&text);
            }
        })
    });
    let log = || stderr.lock().unwrap().clone();
    thread::sleep(Duration::from_millis(300));
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
    assert!(line.contains("backend 127.0.0.1"), "{line}");
    assert!(line.contains("queue_hwm (0.25 MiB)"), "{line}");
    // Said once per interval for that peer, not per message.
    let count = log().matches("slow subscriber lost").count();
    assert!(count <= 2, "{count} warnings:\n{}", log());
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("zedge exits");
    if let Some(r) = reader {
        let _ = r.join();
    }
    assert_eq!(status.code(), Some(0), "{}", log());
}
