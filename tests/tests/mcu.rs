//! zedge-core on a microcontroller (issue 16): the sensor node firmware (`mcu/`, a Cortex-M4
//! under `qemu-system-arm -M mps2-an386`) is a ZeroMQ PUB over its UART, which QEMU bridges
//! to a TCP socket; a zedge forwarder connects to it, and a libzmq SUB on the forwarder's
//! backend gets the readings it subscribed to, filtered at the node.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use zedge_core::wire::metadata::SocketType;
use zedge_tests::broker::{free_port, Broker, Ep};
use zedge_tests::normal::no_panic;
use zedge_tests::wait::deadline;
use zedge_tests::{raw, zmq_prelude, PyPeer};

/// A SUB of `topic` on `ep` that prints, as JSON, every message it got within `secs` of the
/// first (which it waits 30 s for at most).
const SUB: &str = concat!(
    zmq_prelude!(),
    r#"
ep, topic, secs = sys.argv[1], sys.argv[2].encode(), float(sys.argv[3])
s = ctx.socket(zmq.SUB); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.SUBSCRIBE, topic)
s.connect(ep)
print("ready", flush=True)
got = []
end = time.monotonic() + 30
while time.monotonic() < end:
    if s.poll(100):
        if not got:
            end = time.monotonic() + secs
        got.append(s.recv().decode())
print(json.dumps(got), flush=True)
"#
);

/// The firmware, built for its target (its own workspace in `mcu/`).
fn firmware() -> PathBuf {
    let mcu = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mcu");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--locked", "-q"])
        .current_dir(&mcu)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the node firmware did not build");
    mcu.join("target/thumbv7em-none-eabihf/release/zedge-node")
}

/// QEMU running the node; stopped when dropped (a failed assertion must not leave it
/// spinning).
struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The node booted under QEMU, its UART a TCP server on `port`; what it logs goes to `log`.
fn boot(elf: &Path, port: u16, log: &Path) -> Qemu {
    let out = std::fs::File::create(log).expect("a log file");
    let child = Command::new("qemu-system-arm")
        .args(["-M", "mps2-an386", "-nographic", "-monitor", "none"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .arg("-serial")
        .arg(format!("tcp:127.0.0.1:{port},server,nowait"))
        .arg("-kernel")
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("a log file"))
        .stderr(out)
        .spawn()
        .expect("qemu-system-arm (Debian's qemu-system-arm; tools/test installs it)");
    let child = Qemu(child);
    let until = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains("node: up")
    {
        assert!(Instant::now() < until, "the node did not boot");
        thread::sleep(Duration::from_millis(50));
    }
    child
}

/// A reading: `sensor/<id> <counter> <value> subs=<n> stack=<bytes>`.
struct Reading {
    id: u32,
    counter: u32,
    subs: u32,
    stack: u32,
}

fn parse(m: &str) -> Reading {
    let word = |i: usize| m.split(' ').nth(i).unwrap_or_else(|| panic!("{m}"));
    let after = |w: &str, key: &str| -> u32 {
        w.strip_prefix(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{m}"))
    };
    Reading {
        id: after(word(0), "sensor/"),
        counter: word(1).parse().unwrap_or_else(|_| panic!("{m}")),
        subs: after(word(3), "subs="),
        stack: after(word(4), "stack="),
    }
}

fn readings(ep: &str, topic: &str, secs: f64) -> Vec<Reading> {
    let args = [ep.to_owned(), topic.to_owned(), secs.to_string()];
    let sub = PyPeer::spawn("sub", SUB, &args, Duration::from_secs(60));
    let out = sub.finish();
    let json = out.lines().last().unwrap_or("[]");
    json.trim_matches(|c| c == '[' || c == ']')
        .split("\", \"")
        .map(|m| m.trim_matches('"'))
        .filter(|m| !m.is_empty())
        .map(parse)
        .collect()
}

/// Sensor 2's readings only, each counter once and in order (the node reads every 100 ms:
/// consecutive), and only the subscription the SUB made reached the node.
fn assert_stream(got: &[Reading], what: &str) {
    assert!(got.len() >= 10, "{what}: {} readings", got.len());
    assert!(
        got.iter().all(|r| r.id == 2),
        "{what}: a topic it did not ask for"
    );
    assert!(
        got.windows(2).all(|w| w[1].counter == w[0].counter + 1),
        "{what}: counters {:?}",
        got.iter().map(|r| r.counter).collect::<Vec<_>>()
    );
    assert!(
        got.iter().all(|r| r.subs == 1),
        "{what}: subscriptions that reached the node"
    );
}

#[test]
fn a_sensor_node_under_qemu_publishes_through_a_forwarder_to_a_libzmq_subscriber() {
    let elf = firmware();
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("zedge-mcu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let log = dir.join("node.log");
    let node = boot(&elf, port, &log);

    // Garbage on the line first: the node answers none of it and stays up.
    {
        let mut line = TcpStream::connect(("127.0.0.1", port)).expect("the node's serial line");
        let mut junk: Vec<u8> = (0..4000u32).map(|i| (i * 131 % 251) as u8).collect();
        junk.extend_from_slice(&[0xFF; 64]);
        junk.extend_from_slice(b"\xff\0\0\0\0\0\0\0\x01\x7fGET / HTTP/1.1\r\n\r\n");
        line.write_all(&junk).expect("write garbage");
        thread::sleep(Duration::from_millis(500));
    }

    // A peer that finishes its handshake as a SUB, subscribes, and leaves in the middle of
    // a command (attacker round 21, F1): the serial line does not say it left, and the next
    // peer's greeting must not be taken for the rest of that command.
    {
        let at = format!("127.0.0.1:{port}").parse().expect("an address");
        let mut line = raw::handshake(at, SocketType::Sub, deadline(10));
        line.write_all(&raw::subscribe(b"sensor/1"))
            .expect("subscribe");
        // A command frame of 64 bytes, of which 4 come.
        line.write_all(&[0x04, 0x40, 0x09, b'S'])
            .expect("half a command");
        thread::sleep(Duration::from_millis(300));
    }

    // A greeting the garbage began may hold the node's session until it times out (2 s),
    // and zedge's first greeting with it: zedge gives up on that connection after its own
    // handshake timeout and connects again. A serial line tells neither side when the other
    // is gone: heartbeats do (the node answers PINGs).
    let serial = format!("tcp://127.0.0.1:{port}");
    let mut broker = Broker::start_with(
        "forwarder",
        &[Ep::Connect(serial)],
        &[Ep::Tcp],
        &["--handshake-timeout", "3s", "--heartbeat-ivl", "1s"],
    );
    let got = readings(broker.backend(), "sensor/2", 3.0);
    assert_stream(&got, "first boot");
    let stack = got.last().map_or(0, |r| r.stack);
    eprintln!("{} readings, peak stack {stack} bytes", got.len());
    assert!(stack > 0 && stack < 16 << 10, "peak stack {stack}");

    // The node restarts mid-stream: the forwarder connects again, subscriptions are sent
    // again, and the stream resumes from the new boot's first readings.
    drop(node);
    let log2 = dir.join("node2.log");
    let node = boot(&elf, port, &log2);
    let got = readings(broker.backend(), "sensor/2", 8.0);
    assert_stream(&got, "after a restart");
    assert!(
        got[0].counter < 80,
        "a new boot's counters: {}",
        got[0].counter
    );

    broker.assert_running();
    broker.terminate();
    no_panic(&broker.stderr());
    drop(node);
    let first = std::fs::read_to_string(&log).unwrap_or_default();
    eprintln!("{first}");
    assert_eq!(
        first.matches("node: up").count(),
        1,
        "no reset loop: {first}"
    );
    assert!(!first.contains("panic"), "{first}");
    let _ = std::fs::remove_dir_all(&dir);
}
