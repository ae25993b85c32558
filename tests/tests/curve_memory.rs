//! CURVE with large messages under `memory_max`: each CURVE peer needs its own ciphertext, so
//! a device that sealed a whole large frame per subscriber would need the message's size per
//! peer, beyond what its queues hold. Frames over `SEAL_WHOLE_MAX` are sealed as they go out
//! instead (a device that sends to CURVE peers stores its messages whole), so every
//! subscriber that reads gets every message whether or not others stopped reading, and the
//! broker stays within its memory.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use zedge_core::curve::crypto::{KeyPair, KEY_LEN};
use zedge_core::curve::message::OVERHEAD;
use zedge_core::wire::frame::FrameHead;
use zedge_tests::broker::Broker;
use zedge_tests::curve::{handshake_by_hand, script, sealing_by_hand, Keys};
use zedge_tests::systemd::zedge;
use zedge_tests::PyPeer;

/// argv: keys, frontend, backend, readers, non-readers, message bytes, messages, bad day.
/// `readers` CURVE subscribers read every message, in order, none waiting over 5 s between
/// two; `non-readers` subscribe and never read (stalled). On a bad day a slow CURVE
/// subscriber reads one message a second, and hostile peers keep connecting: libzmq clients
/// with the wrong server key, and greetings followed by garbage.
const FAN_OUT: &str = r#"
fe, be = sys.argv[2:4]
readers, idle, size, count, bad_day = map(int, sys.argv[4:9])
subs = [curve(zmq.SUB, be, RCVHWM=0) for _ in range(readers)]
stuck = [curve(zmq.SUB, be, RCVHWM=1, RCVBUF=4096) for _ in range(idle)]
for s in subs + stuck:
    s.subscribe(b"")
stop = threading.Event()
if bad_day:
    slow = curve(zmq.SUB, be, RCVHWM=1, RCVBUF=4096)
    slow.subscribe(b"")
    read_slowly(slow, 1, stop)
    def hostile():
        wrong = zmq.curve_keypair()[0]
        host, port = be[len("tcp://"):].rsplit(":", 1)
        greeting = b"\xff" + b"\0" * 8 + b"\x7f\x03\x01CURVE" + b"\0" * 15 + b"\0" * 32
        held = []
        while not stop.is_set():
            held.append(curve(zmq.SUB, be, server=wrong))
            c = socket.create_connection((host, int(port)))
            c.sendall(greeting + b"\x04\xc8" + os.urandom(200))
            held.append(c)
            if len(held) > 40:
                for h in held[:20]:
                    h.close()
                held = held[20:]
            time.sleep(0.02)
    threading.Thread(target=hostile, daemon=True).start()
pub = curve(zmq.PUB, fe, SNDHWM=0)
time.sleep(1.5)
got, gaps = [0] * readers, [0.0] * readers
def read(i, s):
    s.setsockopt(zmq.RCVTIMEO, 30000)
    last = time.monotonic()
    for k in range(count):
        m = s.recv()
        assert len(m) == size and m[:8] == b"%08d" % k, (i, k, len(m), m[:8])
        now = time.monotonic()
        if k > 0:
            gaps[i] = max(gaps[i], now - last)
        last = now
        got[i] += 1
threads = [threading.Thread(target=read, args=(i, s), daemon=True) for i, s in enumerate(subs)]
for t in threads:
    t.start()
start = time.monotonic()
for k in range(count):
    pub.send(b"%08d" % k + b"q" * (size - 8))
    time.sleep(0.2)
for t in threads:
    t.join(90)
stop.set()
whole = got == [count] * readers and max(gaps) < 5.0
print("OK" if whole else "SHORT", got, "in %.1f s, longest wait %.2f s" % (time.monotonic() - start, max(gaps)))
"#;

/// The broker's peak resident memory (`VmHWM`), in MiB.
fn peak_mib(broker: &Broker) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", broker.pid()))
        .expect("read the broker's status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line");
    kib >> 10
}

/// One device under memory at a time in this file: each pushes hundreds of MiB through CURVE
/// on both cores, and two at once starve each other's Python peers into losses that are the
/// machine's, not the broker's (eight readers of 8 MiB lost one message beside the two 12 MiB
/// senders' test).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A CURVE device under `memory_max`, for a script to run against.
struct Under {
    kind: String,
    keys: Keys,
    broker: Broker,
    memory_max: u64,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Under {
    /// A CURVE `kind` device under `memory_max` with `max_msg` and `extra` flags.
    fn start(kind: &str, memory_max: u64, max_msg: &str, extra: &[&str]) -> Under {
        // A test that failed while holding it has let it go.
        let turn = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let keys = Keys::generate();
        let mem = format!("{memory_max}M");
        let secret = keys.arg("srv_secret");
        let mut flags = vec![
            "--curve-secret",
            &secret,
            "--memory-max",
            &mem,
            "--max-msg-size",
            max_msg,
        ];
        flags.extend_from_slice(extra);
        let broker = Broker::start(kind, &flags);
        Under {
            kind: kind.to_owned(),
            keys,
            broker,
            memory_max,
            _turn: turn,
        }
    }

    /// Run `body` with argv keys, frontend, backend and `args`: the broker still runs, the
    /// script printed `ok`, and the broker's peak memory stayed near `memory_max` (its fixed
    /// costs and the allocator's slack on top). Returns its log.
    fn run(&mut self, body: &str, args: &[String], ok: &str) -> String {
        let mut argv = vec![
            self.keys.arg(""),
            self.broker.frontend().into(),
            self.broker.backend().into(),
        ];
        argv.extend_from_slice(args);
        let out = PyPeer::spawn("curve", &script(body), &argv, Duration::from_secs(150)).finish();
        eprintln!("{out}");
        self.broker.assert_running();
        let log = self.broker.stderr();
        assert!(out.contains(ok), "{out}\n{log}");
        let peak = peak_mib(&self.broker);
        let memory_max = self.memory_max;
        assert!(
            peak <= memory_max + 24,
            "peak {peak} MiB over memory_max {memory_max}M"
        );
        log
    }
}

/// [`Under::run`] on a fresh device, where no peer may be closed as a stalled sender.
fn run_under(
    kind: &str,
    memory_max: u64,
    max_msg: &str,
    extra: &[&str],
    body: &str,
    args: &[String],
    ok: &str,
) -> String {
    let log = Under::start(kind, memory_max, max_msg, extra).run(body, args, ok);
    assert!(!log.contains("stalled"), "{log}");
    log
}

/// A CURVE forwarder under `memory_max`: `readers` and `idle` subscribers (and a slow one and
/// hostile peers on a `bad_day`), `count` messages of `size` bytes: every reader gets all of
/// them, in time.
fn fan_out(
    memory_max: u64,
    max_msg: &str,
    readers: usize,
    idle: usize,
    size: usize,
    count: usize,
    bad_day: bool,
) {
    let args = [readers, idle, size, count, usize::from(bad_day)].map(|n| n.to_string());
    let log = run_under("forwarder", memory_max, max_msg, &[], FAN_OUT, &args, "OK");
    if bad_day {
        assert!(
            log.contains("CURVE handshake failed"),
            "no hostile peer seen:\n{log}"
        );
    }
}

/// Each subscriber's queue holds the messages it has not all read: 8 of 8 MiB each, and the
/// publisher's 8 MiB, fit the budget 128 MiB leaves. A message comes every 200 ms, faster
/// than eight CURVE readers take it here: a subscriber a message behind holds more than the
/// default `queue_hwm` (1M), and with the kernel's share bounded (`kernel_send_max`) it
/// lost messages as over its mark. A device carrying bursts of large messages sets a mark
/// that holds the burst.
#[test]
fn eight_curve_readers_of_8_mib_messages_get_all_of_them() {
    let args = [8, 0, 8 << 20, 6, 0].map(|n: usize| n.to_string());
    let mark = ["--queue-hwm", "24M"];
    run_under("forwarder", 128, "10M", &mark, FAN_OUT, &args, "OK");
}

/// The bad day: twenty CURVE subscribers that never read, a slow one and hostile peers
/// beside the one that reads, which still gets every 1 MiB message in time.
#[test]
fn a_curve_reader_gets_every_1_mib_message_beside_stalled_slow_and_hostile_peers() {
    fan_out(48, "4M", 1, 20, 1 << 20, 60, true);
}

/// `zedge check-config` on a config of one forwarder with CURVE on `sides`, and `extra`
/// lines: its status and what it printed.
fn check_config(keys: &Keys, sides: &str, extra: &str) -> (bool, String) {
    let path = keys.path("zedge.toml");
    let config = format!(
        "[[device]]\nname = \"f\"\nkind = \"forwarder\"\nfrontend = [\"tcp://127.0.0.1:7001\"]\n\
         backend = [\"tcp://127.0.0.1:7002\"]\ncurve_secret = {:?}\ncurve_sides = \"{sides}\"\n\
         max_msg_size = \"8M\"\n{extra}",
        keys.arg("srv_secret")
    );
    std::fs::write(&path, config).expect("write the config");
    let out = zedge(&["check-config", &path.display().to_string()]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Sending to CURVE peers stores messages whole, `store_forward_max` following
/// `max_msg_size`; one written below it is refused, saying why; with CURVE on the publishers'
/// side only, large messages are still cut through.
#[test]
fn a_device_that_sends_to_curve_peers_stores_its_messages_whole() {
    let keys = Keys::generate();
    let (ok, text) = check_config(&keys, "both", "");
    assert!(ok, "{text}");
    assert!(text.contains("messages  all received whole (CURVE frames are sealed whole)"));
    assert!(text.contains("8.01 MiB input"), "{text}");

    let (ok, text) = check_config(&keys, "backend", "store_forward_max = \"1M\"\n");
    assert!(!ok, "{text}");
    assert!(
        text.contains("key \"store_forward_max\": must be at least max_msg_size (8388608) on a device that sends to CURVE peers"),
        "{text}"
    );

    let (ok, text) = check_config(&keys, "frontend", "");
    assert!(ok, "{text}");
    assert!(
        text.contains("whole up to 1 MiB, cut through above"),
        "{text}"
    );
}

/// argv: keys, frontend, backend, senders, message bytes, messages each. CURVE producers
/// send at once; one CURVE worker must get every message, each sender's in order.
const SENDERS: &str = r#"
fe, be = sys.argv[2:4]
senders, size, count = map(int, sys.argv[4:7])
pull = curve(zmq.PULL, be, RCVHWM=0)
pull.setsockopt(zmq.RCVTIMEO, 30000)
pushes = [curve(zmq.PUSH, fe, SNDHWM=0) for _ in range(senders)]
time.sleep(1.5)
def send(i, s):
    for k in range(count):
        s.send(b"%02d%06d" % (i, k) + b"w" * (size - 8))
for i, s in enumerate(pushes):
    threading.Thread(target=send, args=(i, s), daemon=True).start()
start = time.monotonic()
next_of = [0] * senders
for _ in range(senders * count):
    m = pull.recv()
    i, k = int(m[:2]), int(m[2:8])
    assert len(m) == size and k == next_of[i], (i, k, next_of[i], len(m))
    next_of[i] += 1
print("OK", next_of, "in %.1f s" % (time.monotonic() - start))
"#;

/// A CURVE streamer under `memory_max`, with `max_msg_size`: `senders` CURVE producers of
/// `count` messages of `size` bytes each, sent at once; one CURVE worker gets all of them,
/// each sender's in order, none is closed as a stalled sender, and the broker stays within
/// its memory.
fn senders(memory_max: u64, max_msg: &str, senders: usize, size: usize, count: usize) {
    let args = [senders, size, count].map(|n| n.to_string());
    let all = format!("OK {:?}", vec![count; senders]);
    run_under(
        "streamer",
        memory_max,
        max_msg,
        &["--max-peers", "64"],
        SENDERS,
        &args,
        &all,
    );
}

/// Three producers of 15 MiB messages under a memory_max that holds one of them at a time as
/// ciphertext, one arriving whole and one queued: each frame arrives whole in turn (the
/// cipher lane).
#[test]
fn three_curve_senders_of_15_mib_messages_all_get_through_in_80_mib() {
    senders(80, "16M", 3, 15 << 20, 4);
}

/// Fifty producers of 1 MiB messages, whose partial frames can take all the shared budget:
/// the worker's output, sealed as it goes when it has no room to seal whole, must not wait on
/// it. (The attacker's `bigsenders.py 50 1 80M 10`, 50 processes sending for 10 s, stalled
/// two runs in three before; this one process with 50 sockets rarely fills the budget so.)
#[test]
fn fifty_curve_senders_of_1_mib_messages_all_get_through_in_24_mib() {
    senders(24, "2M", 50, 1 << 20, 2);
}

/// argv: keys, frontend, backend, message bytes, messages, longest wait (s). A libzmq CURVE
/// producer sends numbered messages; a CURVE worker must get every one, in order, none later
/// than the longest wait after the one before (the first, after the producer's start).
const LARGE_SENDER: &str = r#"
fe, be = sys.argv[2:4]
size, count = map(int, sys.argv[4:6])
longest = float(sys.argv[6])
pull = curve(zmq.PULL, be, RCVHWM=1)
pull.setsockopt(zmq.RCVTIMEO, int(longest * 1000))
push = curve(zmq.PUSH, fe, SNDHWM=1)
def send():
    for k in range(count):
        push.send(b"%08d" % k + b"w" * (size - 8))
threading.Thread(target=send, daemon=True).start()
start = last = time.monotonic()
waits = []
for k in range(count):
    try:
        m = pull.recv()
    except zmq.Again:
        print("LATE: message %d not here %.0f s after the one before; waits so far %s"
              % (k, longest, ["%.1f" % w for w in waits]))
        sys.exit(0)
    assert len(m) == size and m[:8] == b"%08d" % k, (k, len(m), m[:8])
    now = time.monotonic()
    waits.append(now - last)
    last = now
print("OK", count, "in %.1f s, longest wait %.1f s" % (time.monotonic() - start, max(waits)))
"#;

/// Hostile CURVE senders of the cipher lane (attacker round 2's `lane_loris.py`), each on a
/// thread of its own until [`Tricklers::stop`]: a handshake made by hand, a MESSAGE frame
/// announced at 15 MiB, 14 MiB of it at once, then 100 bytes every 200 ms; closed, it
/// connects again 200 ms later.
struct Tricklers {
    stop: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Tricklers {
    fn start(n: u8, addr: SocketAddr, server: [u8; KEY_LEN]) -> Tricklers {
        let stop = Arc::new(AtomicBool::new(false));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let threads = (1..=n)
            .map(|i| {
                let (stop, streams) = (stop.clone(), streams.clone());
                thread::spawn(move || trickle(i, addr, &server, &stop, &streams))
            })
            .collect();
        Tricklers {
            stop,
            streams,
            threads,
        }
    }

    fn stop(self) {
        self.stop.store(true, Relaxed);
        for s in self.streams.lock().expect("the tricklers' streams").iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
        for t in self.threads {
            t.join().expect("a trickler");
        }
    }
}

fn trickle(
    i: u8,
    addr: SocketAddr,
    server: &[u8; KEY_LEN],
    stop: &AtomicBool,
    streams: &Mutex<Vec<TcpStream>>,
) {
    let client = KeyPair::from_secret([i; 32]);
    let announced = (15 << 20) + OVERHEAD;
    let mut body = vec![0x5a; 14 << 20];
    body[..8].copy_from_slice(b"\x07MESSAGE");
    body[8..16].copy_from_slice(&3u64.to_be_bytes());
    let mut round = 0u8;
    while !stop.load(Relaxed) {
        round = round.wrapping_add(1);
        let mut secret = [0x7e; KEY_LEN];
        (secret[0], secret[1]) = (i, round);
        let transient = KeyPair::from_secret(secret);
        let sent =
            handshake_by_hand(addr, server, &client, &transient, "PUSH").and_then(|mut s| {
                streams
                    .lock()
                    .expect("the tricklers' streams")
                    .push(s.try_clone()?);
                s.write_all(FrameHead::data(announced as u64, false).encode().as_slice())?;
                s.write_all(&body)?;
                let mut at = body.len();
                while at < announced && !stop.load(Relaxed) {
                    thread::sleep(Duration::from_millis(200));
                    s.write_all(&[0x5a; 100])?;
                    at += 100;
                }
                Ok(())
            });
        if sent.is_err() {
            thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Four hostile CURVE senders keep asking for the cipher lane (attacker round 2): each takes
/// it in turn, sends most of a 15 MiB frame and trickles the rest, and connects again once
/// closed. Beside them a libzmq CURVE producer of 15 MiB messages still gets every one through
/// to its worker, in order, none over 20 s after the one before: the lane goes to those that
/// waited longest, a sender that brings its frames in waits for one newcomer at most, and a
/// trickler holding it is closed within a quarter of the progress timeout. (Before, the lane
/// went to whoever asked first once let go, and its holder kept it for the whole progress
/// timeout: the producer got two messages through in 20 s.)
#[test]
fn a_curve_sender_of_15_mib_messages_gets_the_cipher_lane_beside_tricklers() {
    let mut under = Under::start("streamer", 80, "16M", &[]);
    let server = under.keys.public_key("srv");
    let tricklers = Tricklers::start(4, under.broker.frontend_addr(), server);
    thread::sleep(Duration::from_secs(2));
    let args = [15 << 20, 6, 20].map(|n: usize| n.to_string());
    let log = under.run(LARGE_SENDER, &args, "OK 6");
    tricklers.stop();
    assert!(
        log.contains("it held the cipher lane while others waited for memory"),
        "no trickler closed for holding the cipher lane:\n{log}"
    );
}

/// How a hostile CURVE sender holds the input lane ([`hold_input_lane`]).
#[derive(Clone, Copy)]
struct Holding {
    /// Its first frame, whole, with MORE set.
    first: usize,
    /// The second frame's length, trickled 1000 B every 200 ms (5 KB/s: more than the least
    /// rate, 4 KiB per 1.25 s).
    second: usize,
    /// Once a message is done, the next at once on the same connection.
    repeat: bool,
}

/// A hostile CURVE sender of the input lane (attacker rounds 4 and 5, `r4_inlane.py`,
/// `r5_pace.py`) on a thread of its own until `stop`: a handshake made by hand, a whole first
/// frame with MORE set (which comes through and holds the input lane, being part of a
/// message), then the second frame trickled ([`Holding`]). Closed, it connects again.
fn hold_input_lane(addr: SocketAddr, server: [u8; KEY_LEN], how: Holding, stop: &AtomicBool) {
    let client = KeyPair::from_secret([0x41; 32]);
    let first = vec![0x31; how.first];
    let second = vec![0x32; how.second];
    let mut round = 0u8;
    while !stop.load(Relaxed) {
        round = round.wrapping_add(1);
        let mut secret = [0x6b; KEY_LEN];
        secret[0] = round;
        let transient = KeyPair::from_secret(secret);
        let sent = sealing_by_hand(addr, &server, &client, &transient, "PUSH").and_then(|mut h| {
            h.stream.set_write_timeout(Some(Duration::from_secs(5)))?;
            loop {
                let frame = h.message(&first, true);
                h.stream.write_all(&frame)?;
                // A frame sealed whole, sent a little at a time.
                let frame = h.message(&second, false);
                for piece in frame.chunks(1000) {
                    if stop.load(Relaxed) {
                        return Ok(());
                    }
                    h.stream.write_all(piece)?;
                    thread::sleep(Duration::from_millis(200));
                }
                if !how.repeat {
                    return Ok(());
                }
            }
        });
        if sent.is_err() {
            thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A libzmq CURVE producer of 12 MiB messages under `memory_max` beside a hostile sender that
/// holds the input lane [`Holding`] so: 20 messages arrive, in order, none over 10 s after
/// the one before, and the hostile was closed for holding a lane. Returns the log.
fn large_sender_beside_a_lane_holder(memory_max: u64, how: Holding) -> String {
    let mut under = Under::start("streamer", memory_max, "16M", &[]);
    let server = under.keys.public_key("srv");
    let addr = under.broker.frontend_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let hostile = {
        let stop = stop.clone();
        thread::spawn(move || hold_input_lane(addr, server, how, &stop))
    };
    thread::sleep(Duration::from_secs(3));
    let args = [12 << 20, 20, 10].map(|n: usize| n.to_string());
    let log = under.run(LARGE_SENDER, &args, "OK 20");
    stop.store(true, Relaxed);
    hostile.join().expect("the hostile sender");
    // Closed holding the input lane as its second frame trickles, or, its first frame slow
    // to come through the cipher lane on a loaded machine, holding that.
    assert!(
        log.contains("lane while others waited for"),
        "the hostile was not closed for holding a lane:\n{log}"
    );
    log
}

/// A CURVE sender that holds the input lane in the middle of a message (its first frame here,
/// its second trickled at 5 KB/s, above the least rate) kept every other connection from the
/// cipher lane for as long as its 14 MB took (47 minutes): a libzmq producer of 12 MiB
/// messages beside it got none through in 25 s. Now a lane's holder owes the part of its
/// message known so far that would bring it within four progress timeouts, while others
/// wait: it is closed within a turn, each time it comes back, and the producer's messages go
/// through, none over 10 s after the one before.
#[test]
fn a_curve_sender_of_12_mib_messages_gets_through_beside_one_that_trickles_holding_the_input_lane()
{
    large_sender_beside_a_lane_holder(
        80,
        Holding {
            first: 2 << 20,
            second: 14_000_000,
            repeat: false,
        },
    );
}

/// As above, the hostile's messages a whole 12 MiB first frame and a 100 KB second trickled
/// at 5 KB/s, one after the other on one connection (attacker round 5, `r5_pace.py ... 96M`;
/// under 80M here, where neither 12 MiB message fits in the budget and each takes the lanes):
/// a frame that short owed only the least rate, so each message held the lanes 20 s, and the
/// producer got one message through in 30 s. Now what a lane's holder owes is reckoned from
/// its whole message as far as it is known (12 MiB and more).
#[test]
fn a_curve_sender_of_12_mib_messages_gets_through_beside_one_that_repeats_short_trickled_frames() {
    large_sender_beside_a_lane_holder(
        80,
        Holding {
            first: 12 << 20,
            second: 100_000,
            repeat: true,
        },
    );
}

/// argv: keys, frontend, backend, bytes, seconds. A libzmq CURVE worker gets one message of
/// `bytes` within `seconds`.
const ONE_MESSAGE: &str = r#"
fe, be = sys.argv[2:4]
size, secs = int(sys.argv[4]), float(sys.argv[5])
pull = curve(zmq.PULL, be)
pull.setsockopt(zmq.RCVTIMEO, int(secs * 1000))
m = pull.recv()
assert len(m) == size, len(m)
print("OK got", len(m))
"#;

/// A CURVE sender of a 2 MiB frame over a slow link (64 KiB every 100 ms: about 3 s) under
/// heartbeats of 500 ms and a 1.5 s timeout. Its session sees nothing of a frame before its
/// last byte, and it can answer no PING meanwhile: it was closed as silent while it sent
/// (attacker round 5: a 15 MiB message at 300 KB/s never got through). The ciphertext that
/// comes now counts as its sign of life, and the message arrives.
#[test]
fn a_curve_sender_of_a_large_frame_over_a_slow_link_is_not_taken_for_dead() {
    let mut under = Under::start(
        "streamer",
        256,
        "16M",
        &["--heartbeat-ivl", "500ms", "--heartbeat-timeout", "1500ms"],
    );
    let server = under.keys.public_key("srv");
    let addr = under.broker.frontend_addr();
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_secs(1));
        let client = KeyPair::from_secret([0x51; 32]);
        let transient = KeyPair::from_secret([0x52; 32]);
        let mut h = sealing_by_hand(addr, &server, &client, &transient, "PUSH")
            .expect("a handshake made by hand");
        let frame = h.message(&vec![0x33; 2 << 20], false);
        for piece in frame.chunks(64 << 10) {
            if h.stream.write_all(piece).is_err() {
                return false;
            }
            thread::sleep(Duration::from_millis(100));
        }
        true
    });
    let args = [(2 << 20).to_string(), "20".into()];
    let log = under.run(ONE_MESSAGE, &args, "OK got");
    assert!(
        sender.join().expect("the sender"),
        "closed as it sent:\n{log}"
    );
}

/// argv: keys, frontend, backend, message bytes, in flight, replies, longest wait (s). A
/// libzmq CURVE DEALER client keeps `in flight` numbered requests outstanding through a queue;
/// a libzmq CURVE DEALER worker echoes them. Every reply must come back, in order, none later
/// than the longest wait after the one before.
const ECHO: &str = r#"
fe, be = sys.argv[2:4]
size, inflight, replies = map(int, sys.argv[4:7])
longest = float(sys.argv[7])
w = curve(zmq.DEALER, be)
stop = threading.Event()
def work():
    w.setsockopt(zmq.RCVTIMEO, 100)
    while not stop.is_set():
        try:
            m = w.recv_multipart(copy=False)
        except zmq.Again:
            continue
        w.send_multipart(m, copy=False)
threading.Thread(target=work, daemon=True).start()
c = curve(zmq.DEALER, fe)
c.setsockopt(zmq.RCVTIMEO, int(longest * 1000))
time.sleep(0.5)
sent = got = 0
while got < replies:
    while sent - got < inflight:
        c.send(b"%08d" % sent + b"r" * (size - 8))
        sent += 1
    try:
        m = c.recv()
    except zmq.Again:
        print("STALLED after", got, "replies of", sent, "requests")
        sys.exit(1)
    assert len(m) == size and int(m[:8]) == got, (len(m), m[:8], got)
    got += 1
stop.set()
print("OK", got)
"#;

/// A CURVE queue whose memory_max holds one 15 MiB frame as ciphertext, one arriving whole and
/// one queued (the shared budget is about 1.5 MiB): a client keeps four 15 MiB requests in
/// flight to an echoing worker. The client's connection took the cipher lane for a request
/// and waited for the input lane, held by the worker's connection with the start of a reply
/// (its routing frames) waiting for the cipher lane for the body: both stopped for good
/// (attacker round, `queue_deadlock.py 80M 4 30 15`, 4 runs of 5 within 2-19 s).
#[test]
fn a_curve_queue_echoes_15_mib_requests_four_in_flight_in_80_mib() {
    let args = [15 << 20, 4, 24, 10].map(|n: usize| n.to_string());
    run_under("queue", 80, "16M", &[], ECHO, &args, "OK 24");
}

/// argv: keys, frontend, backend, seconds, longest latency (s), device kind[, the larger
/// flow's message bytes]. Through a forwarder (or a streamer), two libzmq CURVE publishers
/// (producers): one of 1 KB messages (50 a second), one of 64 KB (10 a second), each numbered and stamped with when it was
/// sent. A CURVE subscriber (worker) must get every one of both, each sender's in order, none
/// later than the longest latency after it was sent; beside it, through a forwarder, a
/// subscriber that never reads (stalled) and one that reads a message a second (a streamer
/// would deal them the reader's messages). A warm-up (unnumbered) runs until the reader
/// hears both senders, so that no numbered message goes before its subscription is in place.
/// Messages of other senders (not tagged as the flows' are) are passed over.
const FLOWS_BESIDE_HOLDERS: &str = r#"
import struct
fe, be = sys.argv[2:4]
secs, longest = float(sys.argv[4]), float(sys.argv[5])
stop = threading.Event()
if sys.argv[6] == "forwarder":
    reader = curve(zmq.SUB, be, RCVHWM=0)
    stalled = curve(zmq.SUB, be, RCVHWM=1, RCVBUF=4096)
    slow = curve(zmq.SUB, be, RCVHWM=1, RCVBUF=4096)
    for s in (reader, stalled, slow):
        s.subscribe(b"")
    read_slowly(slow, 1, stop)
    sender = zmq.PUB
else:
    reader = curve(zmq.PULL, be, RCVHWM=0)
    sender = zmq.PUSH
large = int(sys.argv[7]) if len(sys.argv) > 7 else 64000
flows = {b"s": (1000, 0.02), b"L": (large, 0.1)}
pubs = {tag: curve(sender, fe, SNDHWM=0) for tag in flows}
heard = set()
t0 = time.monotonic()
phases = {}
sent = {tag: 0 for tag in flows}
done = threading.Event()
def publish(tag):
    size, every = flows[tag]
    p = pubs[tag]
    while heard != set(flows):
        p.send(tag + b"w" + b"\0" * 16)
        time.sleep(0.05)
    phases[tag] = round(time.monotonic() - t0, 1)
    end = time.monotonic() + secs
    k = 0
    while time.monotonic() < end:
        head = tag + b"n" + struct.pack(">Qd", k, time.monotonic())
        p.send(head + b"x" * (size - len(head)))
        k += 1
        sent[tag] = k
        time.sleep(every)
threads = [threading.Thread(target=publish, args=(t,), daemon=True) for t in flows]
for t in threads:
    t.start()
reader.setsockopt(zmq.RCVTIMEO, 100)
got = {tag: 0 for tag in flows}
worst = {tag: 0.0 for tag in flows}
late, wrong = [], []
deadline = None
while True:
    try:
        m = reader.recv()
    except zmq.Again:
        m = None
    now = time.monotonic()
    if m is not None and m[:1] in flows:
        tag, kind = m[:1], m[1:2]
        if kind == b"w":
            heard.add(tag)
        else:
            k, at = struct.unpack(">Qd", m[2:18])
            size = flows[tag][0]
            if k != got[tag] or len(m) != size:
                wrong.append((tag, k, got[tag], len(m)))
            got[tag] = k + 1
            worst[tag] = max(worst[tag], now - at)
            if now - at > longest:
                late.append((tag, k, round(now - at, 2)))
    if deadline is None and not any(t.is_alive() for t in threads):
        deadline = now + longest + 2
    if deadline is not None and (got == sent or now > deadline):
        break
stop.set()
whole = got == sent and not late and not wrong and min(sent.values()) > 0
print("OK" if whole else "SHORT", "got", got, "of", sent,
      "worst latency", {t: round(w, 3) for t, w in worst.items()},
      "late", late[:5], len(late), "wrong", wrong[:5],
      "warm-up done (s)", phases, "all in %.1f s" % (time.monotonic() - t0))
# Not the interpreter's teardown: a publisher's unsent 64 KB messages can hold it for tens of
# seconds when the test fails.
sys.stdout.flush()
os._exit(0)
"#;

/// Hostile CURVE publishers (the attacker's `fill_conns.py`), made by [`Holders::start`]: a
/// handshake made by hand, a MESSAGE frame announced at 3 MiB, [`HOLD_FIRST`] of it at once,
/// then 4 KB every 250 ms (16 KB/s: above the least progress rate, in the cipher lane or
/// not), so that none is closed as a stalled sender and each holds what it sent for as long
/// as it is connected. The frame never completes.
struct Holders {
    stop: Arc<AtomicBool>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    threads: Vec<thread::JoinHandle<()>>,
}

/// What each [`Holders`] connection sends of its frame at once.
const HOLD_FIRST: usize = 200_000;

impl Holders {
    /// `n` connections to `addr`, made `per_thread` at a time on threads of their own; back
    /// once all have sent their first part.
    fn start(
        n: usize,
        per_thread: usize,
        addr: SocketAddr,
        server: [u8; KEY_LEN],
        socket_type: &'static str,
    ) -> Holders {
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(Vec::new()));
        let ready = Arc::new(std::sync::Barrier::new(n.div_ceil(per_thread) + 1));
        let threads = (0..n)
            .step_by(per_thread)
            .map(|first| {
                let (stop, held, ready) = (stop.clone(), held.clone(), ready.clone());
                let ids = first..(first + per_thread).min(n);
                thread::spawn(move || hold(ids, addr, &server, socket_type, &stop, &held, &ready))
            })
            .collect();
        ready.wait();
        Holders {
            stop,
            held,
            threads,
        }
    }

    /// Stop them: how many were still connected (the device closed none of them).
    fn stop(mut self) -> usize {
        self.stop.store(true, Relaxed);
        for t in std::mem::take(&mut self.threads) {
            t.join().expect("a holder");
        }
        let held = self.held.lock().expect("the holders' streams");
        held.iter()
            .filter(|s| {
                // What the device sent (its READY) is read; an end or an error: closed.
                let mut buf = [0u8; 4096];
                loop {
                    match (&**s).read(&mut buf) {
                        Ok(0) => return false,
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                        Err(_) => return false,
                    }
                }
            })
            .count()
    }
}

impl Drop for Holders {
    /// Their connections end before the device is stopped, even when a test fails.
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Ok(held) = self.held.lock() {
            for s in held.iter() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

fn hold(
    ids: std::ops::Range<usize>,
    addr: SocketAddr,
    server: &[u8; KEY_LEN],
    socket_type: &str,
    stop: &AtomicBool,
    held: &Mutex<Vec<TcpStream>>,
    ready: &std::sync::Barrier,
) {
    let announced = (3 << 20) + OVERHEAD;
    let mut first = vec![0x5a; HOLD_FIRST];
    first[..8].copy_from_slice(b"\x07MESSAGE");
    first[8..16].copy_from_slice(&3u64.to_be_bytes());
    let mut mine = Vec::new();
    for i in ids {
        let client = KeyPair::from_secret([0x3c; 32]);
        let mut secret = [0x7e; KEY_LEN];
        secret[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let transient = KeyPair::from_secret(secret);
        let made =
            handshake_by_hand(addr, server, &client, &transient, socket_type).and_then(|mut s| {
                s.set_write_timeout(Some(Duration::from_secs(10)))?;
                s.write_all(FrameHead::data(announced as u64, false).encode().as_slice())?;
                s.write_all(&first)?;
                s.set_nonblocking(true)?;
                Ok(s)
            });
        match made {
            Ok(s) => {
                held.lock()
                    .expect("the holders' streams")
                    .push(s.try_clone().expect("a stream's clone"));
                mine.push(s);
            }
            Err(e) => eprintln!("holder {i}: {e}"),
        }
    }
    ready.wait();
    while !stop.load(Relaxed) {
        thread::sleep(Duration::from_millis(250));
        for s in &mut mine {
            // Refused while the device reads none of it (it waits for memory): the bytes
            // wait here, the frame no further along.
            let _ = s.write(&[0x5a; 4000]);
        }
    }
}

/// A CURVE `kind` device under 40M (a shared budget of about 8 MiB) with heartbeats off, 120
/// hostile CURVE `holder_type` peers each holding 200 KB of a frame announced at 3 MiB (about
/// 256 KiB of the budget each, doubling: far more than all of it), trickling on so that none
/// is closed, and libzmq CURVE flows of 1 KB and 64 KB messages beside them
/// ([`FLOWS_BESIDE_HOLDERS`]): every message arrives, in order, none over 3 s after it was
/// sent; the holders were refused memory and are still connected.
fn flows_beside_holders(kind: &str, holder_type: &'static str) {
    let mut under = Under::start(
        kind,
        40,
        "4M",
        &["--heartbeat-ivl", "0", "--max-handshaking", "256"],
    );
    let server = under.keys.public_key("srv");
    let addr = under.broker.frontend_addr();
    let holders = Holders::start(120, 10, addr, server, holder_type);
    thread::sleep(Duration::from_millis(500));
    let args = ["8", "3", kind].map(String::from);
    let log = under.run(FLOWS_BESIDE_HOLDERS, &args, "OK");
    let still = holders.stop();
    eprintln!("{still} of 120 holders still connected");
    // The holders were refused memory: the share was all theirs to take.
    assert!(log.contains("buffers could not grow"), "{log}");
    assert!(
        still >= 110,
        "only {still} of 120 holders were still connected:\n{log}"
    );
}

/// Senders part-way through large frames may hold no more than the share of the budget that
/// buffers waiting on a peer may hold (3/4), so that frames that complete, and the flows that
/// keep up, still have the last quarter ([`flows_beside_holders`]): through a CURVE
/// forwarder, beside a subscriber that never reads and one that reads a message a second.
/// (The attacker's round: 1000 such senders stopped a CURVE flow for good, 0 of 27; with a
/// partial frame drawing from the whole budget, the 64 KB flow gets 0 of 80 here.)
#[test]
fn curve_flows_of_1_kb_and_64_kb_get_through_beside_120_partial_frame_holders() {
    flows_beside_holders("forwarder", "PUB");
}

/// [`flows_beside_holders`] through a CURVE streamer: PUSH holders, producers and a worker.
#[test]
fn curve_flows_get_through_a_streamer_beside_120_partial_frame_holders() {
    flows_beside_holders("streamer", "PUSH");
}

/// argv: keys, frontend, backend, seconds. Two CURVE producers send 12 MiB messages back to
/// back, a third sends 64 KB messages 20 times a second, all to one CURVE worker: both large
/// senders get messages through, and every 64 KB message arrives, in order, within 6 s (0.5
/// to 1.5 s is usual; over 3 s now and then on a loaded machine, on builds before and after
/// the lanes' pace alike).
const TWO_LARGE_SENDERS: &str = r#"
fe, be = sys.argv[2:4]
secs = float(sys.argv[4])
pull = curve(zmq.PULL, be, RCVHWM=0)
pull.setsockopt(zmq.RCVTIMEO, 100)
bigs = [curve(zmq.PUSH, fe) for _ in range(2)]
small = curve(zmq.PUSH, fe)
time.sleep(1.5)
stop = threading.Event()
def big(i, s):
    k = 0
    while not stop.is_set():
        s.send(b"B%d%06d" % (i, k) + b"w" * (12 * 2**20 - 8))
        k += 1
sent = [0]
def smalls():
    while not stop.is_set():
        small.send(b"S%07d%017.6f" % (sent[0], time.monotonic()) + b"s" * (65536 - 25))
        sent[0] += 1
        time.sleep(0.05)
for i, s in enumerate(bigs):
    threading.Thread(target=big, args=(i, s), daemon=True).start()
threading.Thread(target=smalls, daemon=True).start()
got_big, next_small, worst = [0, 0], 0, 0.0
end = time.monotonic() + secs
while True:
    if time.monotonic() > end:
        stop.set()
    try:
        m = pull.recv()
    except zmq.Again:
        if stop.is_set() and next_small == sent[0] or time.monotonic() > end + 10:
            break
        continue
    if m[:1] == b"B":
        got_big[int(m[1:2])] += 1
    else:
        k = int(m[1:8])
        assert k == next_small, (k, next_small)
        next_small += 1
        worst = max(worst, time.monotonic() - float(m[8:25]))
print("big", got_big, "small", next_small, "of", sent[0], "worst %.2f s" % worst)
assert min(got_big) >= 2, got_big
assert next_small == sent[0] and worst < 6.0, (next_small, sent[0], worst)
print("OK")
"#;

/// Two senders of large messages under a memory_max where both lanes are in use: the one
/// whose next frame came through the cipher lane as it handed its last message on went
/// first for the cipher lane each time, so it kept both lanes, turn after turn (attacker
/// round 4, `r4_inlane.py 0 12 ... 96M 20` with two senders: the other sender got 0 messages
/// in 50 s and a 64 KB flow 7 of 390). Now a sender whose message is whole waits its turn.
/// Then the worker's output, sealing a large message as it goes with the budget held by the
/// senders' frames, took 4 KiB past it per wake-up: worst 2.3-7.4 s (12 s with 256 KiB socket
/// buffers, attacker round 16's K1). Now one output at a time seals a whole `TX_HIGH` so
/// (`budget/output.rs`): 0.7-2.0 s.
#[test]
fn two_curve_senders_of_12_mib_messages_and_a_64_kb_flow_all_get_through_in_96_mib() {
    run_under(
        "streamer",
        96,
        "16M",
        &[],
        TWO_LARGE_SENDERS,
        &["8".into()],
        "OK",
    );
}

/// Senders of a large CURVE message over radio links (attacker round 8's F8, `curve.py`
/// through its pacing proxy), each on a thread of its own until [`Radios::stop`]: a
/// handshake made by hand, then a MESSAGE frame of 15 MiB, the first 2 MiB at once and the
/// rest at 850 KB/s. None trickles: the device hears from each at a radio's pace whenever
/// it reads it. (The frame is not sealed, which takes tens of seconds in a test build: none
/// is all here, and so opened and refused, before about 16 s.)
struct Radios {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Radios {
    fn start(n: u8, addr: SocketAddr, server: [u8; KEY_LEN]) -> Radios {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (1..=n)
            .map(|i| {
                let stop = stop.clone();
                thread::spawn(move || radio(i, addr, &server, &stop))
            })
            .collect();
        Radios { stop, threads }
    }

    fn stop(self) {
        self.stop.store(true, Relaxed);
        for t in self.threads {
            t.join().expect("a radio sender");
        }
    }
}

fn radio(i: u8, addr: SocketAddr, server: &[u8; KEY_LEN], stop: &AtomicBool) {
    const TICK: Duration = Duration::from_millis(50);
    /// 850 KB/s.
    const PER_TICK: usize = 42_500;
    let client = KeyPair::from_secret([0x90 + i; 32]);
    let transient = KeyPair::from_secret([0xa0 + i; 32]);
    let Ok(mut stream) = handshake_by_hand(addr, server, &client, &transient, "PUSH") else {
        return;
    };
    let announced = (15 << 20) + OVERHEAD;
    let mut frame = FrameHead::data(announced as u64, false)
        .encode()
        .as_slice()
        .to_vec();
    frame.extend_from_slice(b"\x07MESSAGE");
    frame.extend_from_slice(&3u64.to_be_bytes());
    frame.resize(frame.len() - 16 + announced, 0x61);
    stream.set_nonblocking(true).expect("a nonblocking stream");
    let (mut at, mut burst) = (0, 2 << 20);
    while at < frame.len() && !stop.load(Relaxed) {
        let end = (at + burst.max(PER_TICK)).min(frame.len());
        match stream.write(&frame[at..end]) {
            Ok(n) => {
                at += n;
                burst = burst.saturating_sub(n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
        if burst == 0 || at < end {
            thread::sleep(TICK);
        }
    }
}

/// Eight CURVE senders of 15 MiB messages over radio links ([`Radios`]) beside libzmq CURVE
/// flows of 1 KB and 256 KiB messages, through a streamer whose memory_max (80M) leaves a
/// shared budget of about 1.4 MiB beside its lanes ([`FLOWS_BESIDE_HOLDERS`]). The radios'
/// frames cannot arrive whole below the share of the budget a frame part-way here may hold
/// (3/4): they wait for the cipher lane, one at a time, holding none of it. A 256 KiB frame,
/// never all in the socket at once (the kernel holds less unread), completes from that share:
/// every message of both flows arrives, in order, within 3 s of being sent. (Before, the
/// radios' frames filled the share as they waited, and the 256 KiB flow waited behind them
/// for the lane, about 18 s a turn: attacker round 8's F8, its 64 KiB flow got 1 message in
/// 30 s.)
#[test]
fn curve_flows_get_through_beside_eight_senders_of_15_mib_over_radio_links() {
    let mut under = Under::start("streamer", 80, "16M", &["--heartbeat-ivl", "0"]);
    let server = under.keys.public_key("srv");
    let radios = Radios::start(8, under.broker.frontend_addr(), server);
    let args = ["10", "3", "streamer", "262144"].map(String::from);
    let log = under.run(FLOWS_BESIDE_HOLDERS, &args, "OK");
    radios.stop();
    assert!(log.contains("buffers could not grow"), "{log}");
}

/// argv: keys, frontend, backend, device kind, seconds, longest latency (s), slow senders,
/// `pairs`, `frames` or `proven`.
///
/// The slow senders (attacker round 9's F1, `curve.py --rotate --big 100000 --burst 300000
/// --rate 40000`) are libzmq CURVE PUSHes (a queue's: DEALER clients) of two-part messages,
/// `[a, 100 KB]`, whose bytes go through a proxy that passes the first 300 KB of each
/// connection at once and the rest at 40 KB/s, each connection from a loopback address of its
/// own: the common envelope (or topic) and body over a radio link. Nothing in it is
/// malformed, and each keeps the pace every rule asks of a sender.
///
/// With `frames` (attacker round 10's F1, `curve.py --rotate --single --big 100000 --fburst
/// 0.8 --frate 6000`) they send one-frame 100 KB messages, and the proxy passes each frame of
/// 8 KiB or more with its head and first 80 % at once, its rest at 6 KB/s; every sixteenth
/// connection stalls after its first frame's 80 %. The proxy takes every connection libzmq
/// makes again after the device closed one, each from the next loopback address. A queue
/// also has a client that sends 200 requests of 64 KB and never reads a reply. With `proven`
/// (attacker round 11's F1, `curve.py ... --fproof 1 --fburst 0.2 --frate 22000`), the same,
/// but each connection's first large frame goes whole at once (it shows the device its frames
/// come at once), and each later one 20 % at once and the rest at 22 KB/s. With `payers`
/// (attacker round 12's F1, `... --big 330000 --fdur 200000:1.1 --att-gap 0.3`), as `proven`
/// with one-frame 330 KB messages, 0.3 s apart, each later frame's rest sent evenly over
/// 1.1 s: each pays its rest within the turn a frame that took memory beyond the share owes
/// (every sixteenth stalls after its first frame, whole).
///
/// A libzmq CURVE sender of numbered 64 KB messages, connected 2 s before the slow senders
/// begin (a flow that was there before them: a connection younger than `PROVEN_AFTER_MS`
/// takes nothing beyond the share), from 4 s after they began sends as fast as the
/// device takes them, each stamped with when it was sent: a PUSH to a streamer (1,000 may
/// wait in libzmq), read by a CURVE PULL worker that passes over the slow senders' messages;
/// or a DEALER client of a queue (64 requests unanswered at most, its replies read first),
/// whose CURVE DEALER worker echoes its requests (and drops the others). Every one must come
/// back, in order, within the longest latency.
const FAST_FLOW: &str = r#"
import struct
fe, be, kind = sys.argv[2:5]
secs, longest, slow = float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
frames = sys.argv[8] in ("frames", "proven", "payers")
proven = sys.argv[8] in ("proven", "payers")
payers = sys.argv[8] == "payers"
stop = threading.Event()
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(64)
up_host, up_port = fe[len("tcp://"):].rsplit(":", 1)
def exact(c, n):
    d = b""
    while len(d) < n:
        x = c.recv(n - len(d))
        if not x:
            raise OSError("closed")
        d += x
    return d
def pace_frames(c, u, stall):
    # Each frame of 8 KiB or more: its head and 80 % of it at once, the rest at 6 KB/s (or,
    # `stall`, never: the sender stalls part-way through its first large frame); `proven`:
    # the first whole at once, each later one 20 % at once and the rest at 22 KB/s. The
    # greeting goes as it comes (libzmq sends its signature, then waits for the device's).
    greeting = 0
    while greeting < 64:
        d = c.recv(64 - greeting)
        if not d:
            raise OSError("closed")
        u.sendall(d)
        greeting += len(d)
    large = 0
    while not stop.is_set():
        h = exact(c, 2)
        if h[0] & 2:
            h += exact(c, 7)
            n = struct.unpack(">Q", h[1:9])[0]
        else:
            n = h[1]
        if n < 8192:
            u.sendall(h + exact(c, n))
            continue
        large += 1
        first = n if proven and large == 1 else n // 5 if proven else n * 4 // 5
        u.sendall(h + exact(c, first))
        rest = n - first
        # `payers`: the rest evenly over 1.1 s, within the turn a frame beyond the share owes.
        step = -(-rest // 22) if payers else 1100 if proven else 300
        while stall and not stop.is_set():
            time.sleep(0.05)
        while rest and not stop.is_set():
            time.sleep(0.05)
            k = min(rest, step)
            u.sendall(exact(c, k))
            rest -= k
def pace(c, i):
    u = socket.socket()
    u.bind(("127.0.0.%d" % (i % 200 + 2), 0))
    u.connect((up_host, int(up_port)))
    def down():
        try:
            while True:
                d = u.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        if frames:
            # Closed by the device: so is the sender's connection, and libzmq connects again.
            c.close()
    threading.Thread(target=down, daemon=True).start()
    if frames:
        try:
            pace_frames(c, u, i % 16 == 0)
        except OSError:
            pass
        return
    sent, credit, last = 0, 0.0, time.monotonic()
    try:
        while not stop.is_set():
            if sent < 300000:
                d = c.recv(min(65536, 300000 - sent))
            else:
                time.sleep(0.05)
                now = time.monotonic()
                credit, last = min(credit + 40000 * (now - last), 8000), now
                if credit < 1:
                    continue
                d = c.recv(int(credit))
                credit -= len(d)
            if not d:
                break
            u.sendall(d)
            sent += len(d)
            if sent <= 300000:
                last = time.monotonic()
    except OSError:
        pass
def accept():
    i = 0
    while i < slow or frames:
        c, _ = listener.accept()
        threading.Thread(target=pace, args=(c, i), daemon=True).start()
        i += 1
threading.Thread(target=accept, daemon=True).start()
proxy = "tcp://127.0.0.1:%d" % listener.getsockname()[1]
def slow_sender():
    s = curve(zmq.DEALER if kind == "queue" else zmq.PUSH, proxy, SNDHWM=2, SNDTIMEO=200)
    body = b"a" * (330000 if payers else 100000)
    while not stop.is_set():
        try:
            s.send_multipart([body] if frames else [b"a", body])
        except zmq.Again:
            pass
        if payers:
            time.sleep(0.3)
# The flow connects first, as a flow that was there before the attack (a connection younger
# than PROVEN_AFTER_MS takes nothing beyond the share of frames part-way here).
if kind == "queue":
    sender = curve(zmq.DEALER, fe, SNDHWM=1000, RCVHWM=0)
    reader = sender
    worker = curve(zmq.DEALER, be, SNDHWM=0, RCVHWM=0)
else:
    sender = curve(zmq.PUSH, fe, SNDHWM=1000)
    reader = curve(zmq.PULL, be, RCVHWM=0)
time.sleep(2)
for _ in range(slow):
    threading.Thread(target=slow_sender, daemon=True).start()
time.sleep(3)
def echo():
    worker.setsockopt(zmq.RCVTIMEO, 100)
    while not stop.is_set():
        try:
            m = worker.recv_multipart()
        except zmq.Again:
            continue
        if len(m) >= 2 and m[1][:1] == b"n":
            worker.send_multipart(m)
if kind == "queue":
    threading.Thread(target=echo, daemon=True).start()
if kind == "queue" and frames:
    # A client that sends requests and never reads a reply.
    stalled = curve(zmq.DEALER, fe, SNDHWM=100, SNDTIMEO=0, RCVHWM=1)
    for k in range(200):
        try:
            stalled.send(b"n" + b"s" * 64000)
        except zmq.Again:
            break
time.sleep(1)
sent = [0]
def send():
    # As fast as the device takes them, at most 64 on their way, as the queue's client below:
    # a message waits for the device, not behind a thousand of the flow's own in its queue
    # (then its latency was the 2-core machine's pace, 0.6-1.6 s with no attacker at all).
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if sent[0] - got >= 64:
            time.sleep(0.001)
            continue
        head = b"n" + struct.pack(">Qd", sent[0], time.monotonic())
        sender.send(head + b"x" * (64000 - len(head)))
        sent[0] += 1
# libzmq sockets are not thread-safe: the queue's client sends and reads on one thread.
# `unordered`: other workers answer too, each in its own time: every reply once, in any order.
unordered = sys.argv[8] == "unordered"
got, worst, late, wrong, seen = 0, 0.0, 0, [], set()
def take(m):
    global got, worst, late
    if m[:1] != b"n":
        return
    now = time.monotonic()
    k, at = struct.unpack(">Qd", m[1:17])
    if unordered:
        if k in seen:
            wrong.append((k, "twice"))
        seen.add(k)
        got = len(seen)
    else:
        if k != got:
            wrong.append((k, got))
        got = k + 1
    worst = max(worst, now - at)
    late += now - at > longest
if kind == "queue":
    # Replies first; at most 64 requests unanswered.
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if sender.poll(100 if sent[0] - got >= 64 else 0, zmq.POLLIN):
            take(sender.recv())
            continue
        if sent[0] - got < 64:
            head = b"n" + struct.pack(">Qd", sent[0], time.monotonic())
            sender.send(head + b"x" * (64000 - len(head)))
            sent[0] += 1
    done = time.monotonic()
else:
    t = threading.Thread(target=send, daemon=True)
    t.start()
    done = None
reader.setsockopt(zmq.RCVTIMEO, 100)
while True:
    try:
        take(reader.recv())
    except zmq.Again:
        pass
    now = time.monotonic()
    if done is None and not t.is_alive():
        done = now
    if done is not None and (got == sent[0] or now > done + longest + 2):
        break
stop.set()
whole = got == sent[0] > 0 and not late and not wrong
print("OK" if whole else "SHORT", "got", got, "of", sent[0], "worst latency %.3f" % worst,
      "late", late, "wrong", wrong[:5])
sys.stdout.flush()
os._exit(0)
"#;

/// How long [`FAST_FLOW`] sends, in seconds: its slow senders have spent the budget by then
/// (each test asserts "buffers could not grow"), and a stall of one of the turns these tests
/// were written for (1.25 to 3.6 s) shows as a late message.
const FLOW_SECS: &str = "5";

/// A libzmq CURVE flow of 64 KB messages as fast as the device takes them, beside eight slow
/// senders of `[a, 100 KB]` messages ([`FAST_FLOW`]), through a CURVE `kind` device under 80M
/// (a shared budget of about 1.4 MiB beside its lanes): every message arrives, in order,
/// within 3 s.
fn fast_flow_beside_slow_pairs(kind: &str) {
    fast_flow_beside(kind, "3", "8", "pairs");
}

/// [`FAST_FLOW`] through a CURVE `kind` device under 80M, with these arguments; the budget
/// must have been spent.
fn fast_flow_beside(kind: &str, longest: &str, slow: &str, mode: &str) {
    let args = [kind, FLOW_SECS, longest, slow, mode].map(String::from);
    let log = Under::start(kind, 80, "16M", &[]).run(FAST_FLOW, &args, "OK");
    assert!(log.contains("buffers could not grow"), "{log}");
}

/// [`fast_flow_beside_slow_pairs`] through a streamer. Before, a slow sender's input kept the
/// input lane between its messages, holding only the next one's `a` while its body trickled
/// in, and the others' bodies, opened and whole, waited for it with the budget spent: the
/// flow got nothing (attacker round 9's F1: 0 of 1,000 in 30 s).
#[test]
fn a_fast_curve_flow_gets_through_a_streamer_beside_eight_slow_senders_of_two_part_messages() {
    fast_flow_beside_slow_pairs("streamer");
}

/// [`fast_flow_beside_slow_pairs`] through a queue, the slow senders its clients. Before,
/// their frames part-way here held the share of the budget such frames may hold, and the
/// client's frames (which arrive in a millisecond, but are never all in the socket at once)
/// waited behind them for the cipher lane, 2.5 s a turn: 3 replies of 2,000 in 15 s
/// (attacker round 9's F1). A frame whose bytes come at once now takes from the last quarter.
#[test]
fn a_fast_curve_client_is_answered_by_a_queue_beside_eight_slow_clients_of_two_part_messages() {
    fast_flow_beside_slow_pairs("queue");
}

/// A libzmq CURVE flow of 64 KB messages as fast as the device takes them, beside sixteen
/// senders of one-frame 100 KB messages, each frame's first 80 % at once and its rest at
/// 6 KB/s (one in sixteen stalled after that 80 %; a queue's client that never reads its
/// replies beside), connecting again when closed ([`FAST_FLOW`] `frames`), through a CURVE
/// `kind` device under 80M: every message arrives, in order, within 1.5 s (here: within
/// 0.05 s through a queue, 0.2 s through a streamer; on dbd4dd2, 2.5-2.8 s for both, or 3 of
/// 1,000 and 0 of 64; attacker round 10's F1: 4-181 of 1,000 in 15 s through a streamer).
/// Two things let the slow senders hold the budget: a frame that had taken room for all of it asked for a
/// whole read's room more for its last 16 KB, was refused, and waited for memory for good with
/// its rest in the socket, never judged for it; and a wait for memory was never counted
/// against a frame, so one whose sender trickled while it waited found the whole frame in the
/// socket, completed it at once and passed for one that keeps up.
fn fast_flow_beside_frame_bursts(kind: &str) {
    fast_flow_beside(kind, "1.5", "16", "frames");
}

#[test]
fn a_fast_curve_flow_gets_through_a_streamer_beside_sixteen_senders_of_frames_mostly_at_once() {
    fast_flow_beside_frame_bursts("streamer");
}

#[test]
fn a_fast_curve_client_is_answered_by_a_queue_beside_sixteen_clients_of_frames_mostly_at_once() {
    fast_flow_beside_frame_bursts("queue");
}

/// As [`fast_flow_beside_frame_bursts`], the slow senders each sending their first frame
/// whole at once and every later one 20 % at once and the rest at 22 KB/s ([`FAST_FLOW`]
/// `proven`): every message within 2.5 s. Attacker round 11's F1: a frame that took memory
/// beyond the share as one that kept up owed a quarter of itself each 1.25 s, which 22 KB/s
/// paid, so sixteen such held the share and the last quarter (246-2,229 of 1,000-3,000 in
/// 15 s, 3.6 s gaps, through a streamer); it now owes all its rest within 1.25 s.
#[test]
fn a_fast_curve_flow_gets_through_a_streamer_beside_sixteen_proven_senders_that_then_trickle() {
    fast_flow_beside("streamer", "2.5", "16", "proven");
}

#[test]
fn a_fast_curve_client_is_answered_by_a_queue_beside_sixteen_proven_clients_that_then_trickle() {
    fast_flow_beside("queue", "2.5", "16", "proven");
}

/// [`FAST_FLOW`] `payers` through a CURVE `kind` device under 80M, twelve of them: every
/// message within 3 s (attacker round 12's F1: 1,214-1,550 of 3,000 through a streamer,
/// p99 5.3-8.1 s; nobody closed, every rule kept). (1.5 s until session 27: the queue's
/// client's worst reply took 0.4-1.7 s on this 2-core machine from run to run, the same
/// build failing and passing, and CI went red on it.) A 330 KB frame fits below the share, so
/// three such part-way here hold the share and a fourth, proven and keeping up as it began,
/// takes the last quarter and pays its rest within the turn; each time one completed, another
/// payer's next frame (its start in the socket already) asked first and had the memory given
/// back, and the flow's frames, each needing 64 KB at once for its ciphertext, its plaintext
/// and its sealed copy to the worker, found none. Now a flow that keeps up keeps its buffers
/// for its next frame (`LINGER_MS`), and a buffer that completes as soon as it has its room
/// (a frame all in its socket, plaintext opened, output to a peer that reads) claims what is
/// given back before anyone else (`budget/claim.rs`).
fn fast_flow_beside_payers(kind: &str) {
    fast_flow_beside(kind, "3", "12", "payers");
}

#[test]
fn a_fast_curve_flow_gets_through_a_streamer_beside_twelve_senders_that_pay_each_frame_in_its_turn()
{
    fast_flow_beside_payers("streamer");
}

#[test]
fn a_fast_curve_client_is_answered_by_a_queue_beside_twelve_clients_that_pay_each_frame_in_its_turn(
) {
    fast_flow_beside_payers("queue");
}

/// argv: keys, frontend, kind, senders, sizes (`12000,20000`: sender i sends the i-th mod
/// their number), gap, seconds. Ordinary libzmq CURVE senders (PUSH, or a queue's DEALER
/// clients) in a process of their own, each on a thread of its own, each sending one whole
/// message at once every `gap` seconds for `seconds`: nobody breaks a rule, nobody trickles.
const HOGS: &str = r#"
fe, kind = sys.argv[2:4]
n, sizes = int(sys.argv[4]), [int(x) for x in sys.argv[5].split(",")]
gap, secs = float(sys.argv[6]), float(sys.argv[7])
end = time.monotonic() + secs
sent = [0] * n
def run(i):
    s = curve(zmq.DEALER if kind == "queue" else zmq.PUSH, fe, SNDHWM=2, SNDTIMEO=200)
    body = b"h" * sizes[i % len(sizes)]
    while time.monotonic() < end:
        try:
            s.send(body)
            sent[i] += 1
        except zmq.Again:
            pass
        time.sleep(gap)
    s.close(0)
ts = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("hogs sent", sum(sent))
"#;

/// [`FAST_FLOW`] through a CURVE `kind` device under 80M, its own `slow` senders in `mode`
/// beside, and [`HOGS`]: `hogs` ordinary senders of a whole 12 or 20 KB message every `gap`
/// seconds, from before the flow sends until after it ends: every 64 KB message of the flow
/// within `longest` seconds. A queue's worker answers only the flow, so `worker_inflight` is
/// off (the hogs' requests would fill the worker's window, as documented).
fn fast_flow_beside_hogs(kind: &str, hogs: &str, gap: &str, slow: &str, mode: &str, longest: &str) {
    let extra: &[&str] = if kind == "queue" {
        &["--worker-inflight", "0"]
    } else {
        &[]
    };
    let mut under = Under::start(kind, 80, "16M", extra);
    let argv = [
        under.keys.arg(""),
        under.broker.frontend().into(),
        kind.into(),
        hogs.into(),
        "12000,20000".into(),
        gap.into(),
        "12".into(),
    ];
    let hogs = PyPeer::spawn("hogs", &script(HOGS), &argv, Duration::from_secs(60));
    let args = [kind, FLOW_SECS, longest, slow, mode].map(String::from);
    let log = under.run(FAST_FLOW, &args, "OK");
    eprintln!("{}", hogs.finish());
    assert!(log.contains("buffers could not grow"), "{log}");
}

/// Ninety-six hogs, a message every 0.2 s: every message of the flow within 1.5 s (here p99
/// below 0.2 s). Attacker round 13's F1: each hog's next frame came within `LINGER_MS`
/// (250 ms) of its last, so its buffers never drained and stayed kept (96 x 20-40 KB, twice
/// the 1.3 MiB budget), and what one gave back by chance went to the smallest claim: the flow
/// got 0 of 1,000 (1 of 1,000 through a streamer, 4 of 67 through a queue, on 0342c22
/// without the yield below). Now a kept receive buffer is let go while another's claim
/// stands, and claims are served first come.
#[test]
fn a_fast_curve_flow_gets_through_a_streamer_beside_96_senders_of_whole_messages_every_fifth_second(
) {
    fast_flow_beside_hogs("streamer", "96", "0.2", "0", "pairs", "1.5");
}

#[test]
fn a_fast_curve_client_is_answered_by_a_queue_beside_96_clients_of_whole_messages_every_fifth_second(
) {
    fast_flow_beside_hogs("queue", "96", "0.2", "0", "pairs", "1.5");
}

/// Forty-eight hogs, a message every 20 ms (38 MB/s), beside sixteen proven senders that
/// trickle ([`FAST_FLOW`] `proven`, as in
/// [`a_fast_curve_flow_gets_through_a_streamer_beside_sixteen_proven_senders_that_then_trickle`]):
/// every message of the flow within 3 s. Attacker round 13's F2: the tricklers held the
/// share, the hogs' plaintext buffers, kept for their next message, held the rest, and the
/// flow got 107-187 of 1,000 (1,060 of 2,000 on 9a498fa). A kept plaintext buffer is now let
/// go, as a kept receive buffer is, while another's claim stands. (Here, in release, with at
/// most 64 of the flow's messages on their way: worst 0.3-1.2 s; 0.1 s without the
/// tricklers.)
#[test]
fn a_fast_curve_flow_gets_through_a_streamer_beside_48_fast_senders_and_16_that_trickle() {
    fast_flow_beside_hogs("streamer", "48", "0.02", "16", "proven", "3");
}

/// argv: keys, frontend, backend, clients, workers, seconds. Ordinary libzmq CURVE peers of
/// a queue, in a process of their own: `workers` DEALER workers that answer every request at
/// once, and `clients` DEALER clients, each sending one 60 KB request every 0.2 s and reading
/// every reply as it comes.
const ANSWERED_CLIENTS: &str = r#"
fe, be = sys.argv[2:4]
nc, nw, secs = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
end = time.monotonic() + secs
count = {"req": 0, "rep": 0}
def worker():
    s = curve(zmq.DEALER, be, RCVTIMEO=100, SNDTIMEO=1000)
    while time.monotonic() < end + 2:
        try:
            s.send_multipart(s.recv_multipart())
        except zmq.Again:
            pass
    s.close(0)
def client():
    s = curve(zmq.DEALER, fe, SNDTIMEO=200, SNDHWM=4)
    body = b"q" * 60000
    due = time.monotonic()
    while time.monotonic() < end:
        if time.monotonic() >= due:
            try:
                s.send(body)
                count["req"] += 1
            except zmq.Again:
                pass
            due += 0.2
        try:
            s.recv(zmq.NOBLOCK)
            count["rep"] += 1
        except zmq.Again:
            time.sleep(0.005)
    s.close(0)
ts = [threading.Thread(target=worker, daemon=True) for _ in range(nw)]
ts += [threading.Thread(target=client, daemon=True) for _ in range(nc)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("answered clients", count)
"#;

/// A CURVE queue under 84M (a shared budget of about 3.7 MiB), 48 ordinary clients of a 60
/// KB request every 0.2 s, each reading its replies, and two CURVE workers answering them
/// ([`ANSWERED_CLIENTS`]), beside [`FAST_FLOW`]'s client: every one of its 64 KB requests
/// answered (by its own worker or theirs, so in any order) within 3 s. Attacker round 14's F1: the queue stopped for good (0 of 3,000 in
/// 15 s): every output buffer, empty, was kept for its reader (each write renewed
/// `LINGER_MS`), and the device's queues held the rest of the budget with the replies for
/// outputs that could not seal them, their inputs holding all of FREE.
#[test]
fn a_curve_client_is_answered_by_a_queue_beside_48_clients_that_are_answered_too() {
    let mut under = Under::start("queue", 84, "16M", &["--worker-inflight", "0"]);
    let argv = [
        under.keys.arg(""),
        under.broker.frontend().into(),
        under.broker.backend().into(),
        "48".into(),
        "2".into(),
        "12".into(),
    ];
    let peers = PyPeer::spawn(
        "answered",
        &script(ANSWERED_CLIENTS),
        &argv,
        Duration::from_secs(60),
    );
    // Their workers answer the flow's requests that come to them too: in any order.
    let args = ["queue", FLOW_SECS, "3", "0", "unordered"].map(String::from);
    let log = under.run(FAST_FLOW, &args, "OK");
    eprintln!("{}", peers.finish());
    assert!(log.contains("buffers could not grow"), "{log}");
}

/// Hostile CURVE senders that send most of a frame at once and then trickle, each on a thread
/// of its own, connecting again whenever they are closed, until [`BurstTricklers::stop`]: a
/// handshake made by hand, (from the 17th on) a whole 20 KB message, then a MESSAGE frame
/// announced at 400 KB, 300 KB of it at once (its
/// frame keeps up, and a quarter of its rest is in the socket: it may take from the last
/// quarter of the budget), then 1,000 B every 250 ms (above the least rate every sender owes).
/// Each counts how often it was closed.
struct BurstTricklers {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<usize>>,
}

impl BurstTricklers {
    /// Tricklers `ids` (each from 127.0.0.(10 + id)).
    fn start(ids: std::ops::Range<u8>, addr: SocketAddr, server: [u8; KEY_LEN]) -> BurstTricklers {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = ids
            .map(|i| {
                let stop = stop.clone();
                thread::spawn(move || burst_trickle(i, addr, &server, &stop))
            })
            .collect();
        BurstTricklers { stop, threads }
    }

    /// Stop them: how many times the device closed one.
    fn stop(self) -> usize {
        self.stop.store(true, Relaxed);
        self.threads
            .into_iter()
            .map(|t| t.join().expect("a burst trickler"))
            .sum()
    }
}

fn burst_trickle(i: u8, addr: SocketAddr, server: &[u8; KEY_LEN], stop: &AtomicBool) -> usize {
    let announced = 400_000 + OVERHEAD;
    let mut frame = FrameHead::data(announced as u64, false)
        .encode()
        .as_slice()
        .to_vec();
    frame.extend_from_slice(b"\x07MESSAGE");
    frame.extend_from_slice(&3u64.to_be_bytes());
    frame.resize(frame.len() - 16 + announced, 0x62);
    let mut closed = 0;
    let mut round = 0u8;
    while !stop.load(Relaxed) {
        round = round.wrapping_add(1);
        let client = KeyPair::from_secret([0xb0 + i; 32]);
        // A transient key of its own for each connection.
        let mut secret = [0x44; 32];
        secret[..2].copy_from_slice(&[round, i]);
        let transient = KeyPair::from_secret(secret);
        // From an address of its own: a strike on the flows' address (a trickler closed)
        // would judge them all in shorter turns.
        let made = connect_from([127, 0, 0, 10 + i], addr)
            .and_then(|s| zedge_tests::curve::sealing_over(s, server, &client, &transient, "PUSH"));
        let Ok(mut peer) = made else {
            thread::sleep(Duration::from_millis(100));
            continue;
        };
        // Those from 16 on send one whole 20 KB message first, at once: the connection has
        // shown that its frames come whole (only then may they take beyond the share).
        let first = if i >= 16 {
            peer.message(&[0x63; 20_000], false)
        } else {
            Vec::new()
        };
        let mut s = peer.stream;
        let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
        if s.write_all(&first).is_err() || s.write_all(&frame[..300_000]).is_err() {
            closed += 1;
            continue;
        }
        let mut at = 300_000;
        let _ = s.set_nonblocking(true);
        while !stop.load(Relaxed) && at < frame.len() - 1 {
            thread::sleep(Duration::from_millis(250));
            match s.write(&frame[at..(at + 1000).min(frame.len() - 1)]) {
                Ok(n) => at += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
            // Closed by the device: an end or a reset.
            let mut buf = [0u8; 256];
            match (&s).read(&mut buf) {
                Ok(0) => break,
                Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => break,
                _ => {}
            }
        }
        if !stop.load(Relaxed) {
            closed += 1;
        }
    }
    closed
}

/// A TCP connection to `to` from the loopback address `from`.
fn connect_from(from: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    use rustix::net::{bind, connect, socket, AddressFamily, SocketType};
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None)?;
    bind(&fd, &SocketAddr::from((from, 0)))?;
    connect(&fd, &to)?;
    Ok(TcpStream::from(fd))
}

/// The bad day for frames that keep up: a CURVE streamer under 40M (a shared budget of about
/// 9 MiB) with heartbeats off, 28 hostile senders, each from an address of its own, that send
/// 300 KB of a 400 KB frame at once and then trickle 4 KB/s, connecting again when closed
/// ([`BurstTricklers`]): the first 16 fill the share below the lanes, and the 12 that come 2 s
/// later, each first sending a whole message at once, take from the last quarter as frames
/// that keep up, and spend the budget. Beside them libzmq CURVE flows of 1 KB and
/// 64 KB messages with a reader ([`FLOWS_BESIDE_HOLDERS`]): every message of both flows
/// arrives, in order, within 3 s, and tricklers are closed while others wait for memory (for
/// holding the cipher lane, or memory beyond the share: their rest is owed within a progress
/// timeout, and a trickle piling up unread while they wait for more memory does not excuse
/// them). On b4e14cb^, where the wait excused them, the late ones were never closed; since
/// 1c69913 a connection must first bring a frame whole at once to take beyond the share, and
/// which of them get that far depends on the budget's state. (With 8 late ones the budget is
/// not spent since each frame reads its trickle into the room it took for all of it: nobody
/// waits for memory, and nobody is closed.)
#[test]
fn curve_flows_get_through_beside_senders_that_burst_a_frame_and_trickle_the_rest() {
    let mut under = Under::start(
        "streamer",
        40,
        "4M",
        &["--heartbeat-ivl", "0", "--max-handshaking", "256"],
    );
    let server = under.keys.public_key("srv");
    let addr = under.broker.frontend_addr();
    // The first fill the share below the lanes; those after them find it full.
    let first = BurstTricklers::start(0..16, addr, server);
    thread::sleep(Duration::from_secs(2));
    let tricklers = BurstTricklers::start(16..28, addr, server);
    thread::sleep(Duration::from_millis(500));
    let args = ["8", "3", "streamer"].map(String::from);
    let log = under.run(FLOWS_BESIDE_HOLDERS, &args, "OK");
    let closed = tricklers.stop() + first.stop();
    eprintln!("tricklers closed {closed} times");
    assert!(closed >= 4, "closed {closed} times:\n{log}");
}

/// argv: keys, frontend, backend, publishers, subscribers, seconds, longest wait. `publishers`
/// CURVE PUBs send `x` + 60 KB every 0.1 s to `subscribers` CURVE SUBs of `x` that read all
/// they can (48 subscribers: 29 MB/s of sealed fan-out per publisher); beside them a CURVE flow
/// of `n` + 64 KB messages, 100 a second, to one SUB of `n`: every flow message arrives, in
/// order, none later than `longest` seconds.
const FAN_OUT_BESIDE_A_FLOW: &str = r#"
import struct
fe, be = sys.argv[2:4]
pubs, nsubs = int(sys.argv[4]), int(sys.argv[5])
secs, longest = float(sys.argv[6]), float(sys.argv[7])
stop = threading.Event()
reader = curve(zmq.SUB, be, RCVHWM=0)
reader.subscribe(b"n")
subs = [curve(zmq.SUB, be, RCVHWM=0) for _ in range(nsubs)]
for s in subs:
    s.subscribe(b"x")
sender = curve(zmq.PUB, fe, SNDHWM=1000)
heavy = [0]
def read_all():
    poller = zmq.Poller()
    for s in subs:
        poller.register(s, zmq.POLLIN)
    while not stop.is_set():
        for s, _ in poller.poll(100):
            while True:
                try:
                    s.recv(zmq.NOBLOCK)
                    heavy[0] += 1
                except zmq.Again:
                    break
def publish():
    p = curve(zmq.PUB, fe, SNDHWM=100)
    body = b"x" + b"h" * 60000
    while not stop.is_set():
        p.send(body)
        time.sleep(0.1)
threading.Thread(target=read_all, daemon=True).start()
time.sleep(1.5)
for _ in range(pubs):
    threading.Thread(target=publish, daemon=True).start()
time.sleep(2)
sent = [0]
def send():
    end = time.monotonic() + secs
    while time.monotonic() < end:
        head = b"n" + struct.pack(">Qd", sent[0], time.monotonic())
        sender.send(head + b"f" * (64000 - len(head)))
        sent[0] += 1
        time.sleep(0.01)
t = threading.Thread(target=send, daemon=True)
t.start()
got, worst, late, wrong = 0, 0.0, 0, []
reader.setsockopt(zmq.RCVTIMEO, 100)
done = None
while True:
    try:
        m = reader.recv()
        now = time.monotonic()
        k, at = struct.unpack(">Qd", m[1:17])
        if k != got:
            wrong.append((k, got))
        got = k + 1
        worst = max(worst, now - at)
        late += now - at > longest
    except zmq.Again:
        pass
    now = time.monotonic()
    if done is None and not t.is_alive():
        done = now
    if done is not None and (got == sent[0] or now > done + longest + 2):
        break
stop.set()
whole = got == sent[0] > 0 and not late and not wrong
print("OK" if whole else "SHORT", "got", got, "of", sent[0], "worst latency %.3f" % worst,
      "late", late, "wrong", wrong[:5], "fan-out delivered", heavy[0])
sys.stdout.flush()
os._exit(0)
"#;

/// The bad day for a forwarder's fan-out of large CURVE messages under a tight budget: under
/// 84M (a shared budget of 3.7 MiB), 8 publishers of 60 KB every 0.1 s to 48 CURVE
/// subscribers that read all they can, and a flow of 64 KB messages, 100 a second, to one
/// subscriber of its own ([`FAN_OUT_BESIDE_A_FLOW`]): every flow message arrives, in order,
/// within 3 s. Before, with the share of buffers behind spent, each 60 KB body was copied to
/// each subscriber instead of stored once, the copies held the budget, every publisher waited
/// for memory to read, and the flow's publisher dropped its messages at its high-water mark
/// (attacker round 14, F2; on 94c821d 85 of 962 arrived, the last 14 s late; with 4
/// publishers and 24 subscribers all did).
#[test]
fn a_curve_flow_gets_through_a_forwarder_beside_a_fan_out_of_60_kb_to_48_subscribers() {
    let args = ["8", "48", "10", "3"].map(String::from);
    let log = Under::start("forwarder", 84, "16M", &[]).run(FAN_OUT_BESIDE_A_FLOW, &args, "OK");
    assert!(
        log.contains("memory_max is spent"),
        "the budget was never spent:\n{log}"
    );
}

/// Round 15's F1 with its own peers (`tools/attack/round15/hold.py` and round 9's flow,
/// `tools/attack/round9/curve.py`): under 84M (a shared budget of 3.7 MiB), 100 CURVE
/// subscribers of the flow's topic that never read (RCVHWM 1, SO_RCVBUF 4096) connect 3 s
/// before a CURVE flow of 64 KB messages at 200 a second. Each one's CURVE layer holds sealed
/// output it never reads while its queue is empty; once that has waited a second it counts
/// as behind and is closed for the flow's subscriber, which keeps up. On c131b8a none ever
/// counted as behind: the flow's subscriber got 1,603-1,635 of 3,000 with a 6.6 s gap; since,
/// 2,756-2,758 with no gap but the drain's. (The first second still costs the flow about 240
/// messages: tools/attack/round15/FINDINGS.md, session 27.)
#[test]
fn a_curve_subscriber_keeps_up_beside_100_that_never_read_its_topic() {
    let mut under = Under::start("forwarder", 84, "16M", &[]);
    let attack = ["round15/hold.py", "19", "0", "60000", "7", "100", "1", "-1"];
    let flow = flow_beside_attack(&mut under, &attack, &[("TOPIC", "n")]);
    let closed = flow
        .log
        .matches("a subscriber lagging while memory_max was spent")
        .count();
    let Flow { sent, got, gap, .. } = flow;
    eprintln!("flow {got} of {sent}, longest gap {gap} s; {closed} closed as lagging");
    assert!(
        got >= sent * 0.85 && gap < 2.0,
        "the flow's subscriber got {got} of {sent}, longest gap {gap} s; {closed} closed\n{}",
        flow.log
    );
}

/// Round 15's F2 with its own peers (`tools/attack/round15/qcli15.py` and round 9's flow):
/// under 84M, 100 CURVE DEALER clients (from four addresses) that send a 60 KB request a
/// second and never read their replies (RCVHWM 1, SO_RCVBUF 4096), two CURVE echo workers,
/// and a CURVE client of 64 KB requests at 200 a second, 3 s later. Each deaf client's queue,
/// emptied into its socket, kept its 60 KB buffer for the next reply: a hundred of them were
/// the whole shared budget, every connection waited for memory, and no reply ever found a
/// client full, so nothing closed anyone (on 51ddc41: 1,708-2,742 of 2,500-3,000, p99 3.6-8 s,
/// gaps to 4.9 s). Now the empty queues let go of their buffers when a connection waits for
/// memory, and a queue then closes the clients that hold replies they have not read for
/// `client_stall`: 3,000 of 3,000, p99 0.05-0.13 s in three runs (1.62 s once, in a CI run on
/// a machine loaded by two other jobs: the bound is 3 s).
#[test]
fn a_curve_client_is_answered_beside_100_that_never_read_their_replies() {
    let mut under = Under::start("queue", 84, "16M", &["--worker-inflight", "0"]);
    let attack = ["round15/qcli15.py", "19", "100", "60000", "1.0", "2"];
    let flow = flow_beside_attack(&mut under, &attack, &[("NOREAD", "1"), ("SRCS", "4")]);
    let Flow {
        sent,
        got,
        gap,
        p99,
        ..
    } = flow;
    eprintln!("flow {got} of {sent}, p99 {p99} s, longest gap {gap} s");
    assert!(
        got == sent && p99 < 3.0,
        "the flow's client got {got} of {sent}, p99 {p99} s, longest gap {gap} s\n{}",
        flow.log
    );
}

/// What round 9's flow (`tools/attack/round9/curve.py`, 64 KB messages at 200 a second for
/// 15 s) got, and the broker's log.
struct Flow {
    sent: f64,
    got: f64,
    gap: f64,
    p99: f64,
    log: String,
}

/// Round 9's flow through `under`'s device, 3 s after the attack `script args` (a script
/// under tools/attack, given the ports and the server key first, with `env`) started.
fn flow_beside_attack(under: &mut Under, attack: &[&str], env: &[(&str, &str)]) -> Flow {
    let tools = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/attack");
    let port = |a: SocketAddr| a.port().to_string();
    let (fe, be) = (
        port(under.broker.frontend_addr()),
        port(under.broker.backend_addr()),
    );
    let key = under.keys.arg("srv");
    let python = zedge_tests::python::python();
    let (script, args) = attack.split_first().expect("a script");
    let stalled = std::process::Command::new(python)
        .arg(tools.join(script))
        .args([&fe, &be, &key])
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the attack");
    let _stalled = KillOnDrop(stalled);
    thread::sleep(Duration::from_secs(3));
    let kind = under.kind.clone();
    let flow = std::process::Command::new(python)
        .arg(tools.join("round9/curve.py"))
        .args([
            &fe, &be, &key, "--kind", &kind, "--secs", "15", "--pace", "200",
        ])
        .output()
        .expect("run the flow");
    let out = String::from_utf8_lossy(&flow.stdout).into_owned();
    let log = under.broker.stderr();
    under.broker.assert_running();
    let json = out
        .lines()
        .rfind(|l| l.starts_with('{'))
        .unwrap_or_default();
    let figure = |key: &str| -> f64 {
        let at = json
            .find(&format!("\"{key}\": "))
            .unwrap_or_else(|| panic!("no {key} in {out}"));
        let rest = &json[at + key.len() + 4..];
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        rest[..end]
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{key} in {json}"))
    };
    Flow {
        sent: figure("sent"),
        got: figure("normal_got"),
        gap: figure("max_gap_s"),
        p99: figure("lat_p99"),
        log,
    }
}

/// A child process killed when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
