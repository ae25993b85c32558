//! SIGTERM through the real binary: every device flushes what it has queued for up to a
//! second, then says per device how many messages (and bytes) it could not deliver, at warn,
//! or at info that every message was written; the exit status is 0 either way.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use zedge_core::conn::SessionConfig;
use zedge_core::wire::metadata::SocketType;
use zedge_tests::broker::{free_port, tcp_addr};
use zedge_tests::systemd::ConfigRun;
use zedge_tests::{Driver, PyPeer};

/// Pushes 1000-byte messages until zedge takes no more for 200 ms; prints how many it sent.
const PUSH_UNTIL_FULL: &str = r#"
import sys, time, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.PUSH)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.SNDHWM, 100)
s.setsockopt(zmq.SNDTIMEO, 200)
s.connect(sys.argv[1])
n = 0
end = time.time() + 30
while time.time() < end:
    try:
        s.send(b"m" * 1000)
    except zmq.Again:
        break
    n += 1
print(n)
s.close()
ctx.term()
"#;

/// `N` from `... N word`, the number before `word` in `line`.
fn before(line: &str, word: &str) -> u64 {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| w.trim_start_matches('(') == word);
    at.and_then(|i| words.get(i.checked_sub(1)?))
        .map(|w| w.trim_start_matches('('))
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number before {word:?} in {line:?}"))
}

#[test]
fn sigterm_flushes_then_reports_what_each_device_could_not_deliver() {
    let ep = || format!("tcp://127.0.0.1:{}", free_port());
    let (front, back) = (ep(), ep());
    let config = format!(
        "[[device]]\nname = \"jobs\"\nkind = \"streamer\"\nfrontend = \"{front}\"\n\
         backend = \"{back}\"\n\n[[device]]\nname = \"idle\"\nkind = \"queue\"\n\
         frontend = \"{}\"\nbackend = \"{}\"\n",
        ep(),
        ep()
    );
    let mut run = ConfigRun::start(&config, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    run.wait_log("idle backend listening", deadline);

    // A worker that finishes its handshake and then never reads: jobs' queue for it fills.
    let stream = TcpStream::connect(tcp_addr(&back)).expect("connect the worker");
    let mut worker = Driver::new(stream, SessionConfig::new(SocketType::Pull));
    worker.ready(deadline);
    let producer = PyPeer::spawn(
        "push until full",
        PUSH_UNTIL_FULL,
        &[front],
        Duration::from_secs(60),
    );
    let sent: u64 = producer.finish().trim().parse().expect("a count");

    let stopped = Instant::now();
    run.sigterm();
    let status = run.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{}", run.stderr());
    assert!(stopped.elapsed() >= Duration::from_millis(900), "no flush");
    let stderr = run.stderr();
    let line = stderr
        .lines()
        .find(|l| l.contains("jobs stopped"))
        .unwrap_or_else(|| panic!("no report for jobs:\n{stderr}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(
        line.contains("stopped with output not delivered, lost: ")
            && line.contains("queued for 1 peer when the flush deadline passed"),
        "{line}"
    );
    // Whole frames of 1000 bytes and a 9-byte head each, the first maybe partly written.
    let (messages, bytes) = (before(line, "messages"), before(line, "bytes)"));
    eprintln!("{line} ({sent} sent)");
    assert!(messages >= 100 && messages <= sent, "{line} ({sent} sent)");
    assert!(
        bytes <= messages * 1009 && bytes > (messages - 1) * 1009,
        "{messages} messages cannot be {bytes} bytes: {line}"
    );
    let idle = stderr.lines().find(|l| l.contains("idle stopped"));
    let idle = idle.unwrap_or_else(|| panic!("no report for idle:\n{stderr}"));
    assert!(idle.contains("INFO"), "{idle}");
    assert!(
        idle.ends_with("idle stopped: every queued message written"),
        "{idle}"
    );
    drop(worker);
}
