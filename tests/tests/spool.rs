//! A streamer's store-and-forward spool (issue 15, docs/spool.md), with libzmq peers: an
//! edge streamer whose backend connects up to a cloud PULL socket keeps its producers' work
//! on disk while the cloud is away and sends it, in order, when it is back; across a SIGKILL
//! and a torn segment file; beside producers that abort, stall and send garbage.

use std::fs;
use std::net::TcpStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use zedge_core::wire::metadata::SocketType;
use zedge_tests::agent::Agent;
use zedge_tests::broker::{free_port, Broker, Ep};
use zedge_tests::normal::no_panic;
use zedge_tests::numbered::{
    self, assert_got, assert_got_all, brief, field, got_between, metrics, num, spool_dir,
    stop_during_replay, stop_with_live_queued,
};
use zedge_tests::systemd::ConfigRun;
use zedge_tests::wait::deadline;
use zedge_tests::{numbered_reader, raw, zmq_prelude, PyPeer};

/// A PULL socket that binds `ep` (the cloud) and takes numbered messages (`%08d`) until it
/// has `want`, or until none came for `idle` seconds once one did (90 s for the first), then
/// closes at once (with `small`, its receive buffers the least there are, and it waits 1.5 s
/// before closing: the rest is sent to it meanwhile, and held for it; with `slow PAUSE`, the
/// least buffers too, and it sleeps PAUSE seconds after each message; with `stall PAUSE`,
/// the least buffers, and it reads nothing for PAUSE seconds first);
/// prints how many, the first and last, whether they came in strictly increasing order,
/// and any that were not a number.
const CLOUD: &str = concat!(
    zmq_prelude!(),
    numbered_reader!(),
    r#"
ep, want, idle = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
mode = sys.argv[4] if len(sys.argv) > 4 else ""
pause = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
s = ctx.socket(zmq.PULL); s.setsockopt(zmq.LINGER, 0)
if mode:
    s.setsockopt(zmq.RCVHWM, 1); s.setsockopt(zmq.RCVBUF, 4096)
s.bind(ep)
print("bound", flush=True)
if mode == "stall":
    time.sleep(pause)
    pause = 0.0
got, odd = take_numbered(s, want, idle, pause)
if mode == "small":
    time.sleep(1.5)
s.close(linger=0)
report(got, odd)
"#
);

/// A PUSH socket that connects to `ep` and sends `%08d` (and `pad` bytes more, if given) from
/// `start` up to `end` at `rate` a second (0: at once), each send() within 3 s (zedge must keep taking), then waits until
/// zedge has all of them (close with linger). Prints the longest send() in ms.
const PRODUCER: &str = concat!(
    zmq_prelude!(),
    r#"
ep, start, end, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
pad = b"p" * int(sys.argv[5]) if len(sys.argv) > 5 else b""
s = sock(zmq.PUSH, ep, SNDHWM=100, SNDTIMEO=3000, LINGER=30000)
t0 = time.monotonic()
worst = 0.0
for i in range(start, end):
    if rate > 0:
        due = t0 + (i - start) / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
    a = time.monotonic()
    s.send(b"%08d" % i + pad)
    worst = max(worst, time.monotonic() - a)
s.close()
ctx.term()
print(json.dumps({"worst_send_ms": round(worst * 1000, 1)}), flush=True)
"#
);

/// The cloud's PULL socket, bound once it says so.
fn cloud(ep: &str, want: u64, idle_secs: f64) -> PyPeer {
    cloud_with(ep, want, idle_secs, &[])
}

fn cloud_with(ep: &str, want: u64, idle_secs: f64, more: &[&str]) -> PyPeer {
    let mut args = vec![ep.to_owned(), want.to_string(), idle_secs.to_string()];
    args.extend(more.iter().map(|a| (*a).to_owned()));
    let c = PyPeer::spawn("cloud", CLOUD, &args, Duration::from_secs(150));
    let until = Instant::now() + Duration::from_secs(20);
    while !c.stdout_so_far().contains("bound") {
        assert!(Instant::now() < until, "the cloud did not bind {ep}");
        thread::sleep(Duration::from_millis(20));
    }
    c
}

fn produce(ep: &str, range: std::ops::Range<u64>, rate: f64) -> PyPeer {
    produce_padded(ep, range, rate, 0)
}

fn produce_padded(ep: &str, range: std::ops::Range<u64>, rate: f64, pad: usize) -> PyPeer {
    PyPeer::spawn(
        "producer",
        PRODUCER,
        &[
            ep.to_owned(),
            range.start.to_string(),
            range.end.to_string(),
            rate.to_string(),
            pad.to_string(),
        ],
        Duration::from_secs(120),
    )
}

/// An edge streamer: a loopback frontend (`front`: a port to bind again after a restart) and
/// a backend that connects to `cloud_ep`, spooling to `dir`.
fn edge(front: Ep, cloud_ep: &str, dir: &Path, extra: &[&str]) -> Broker {
    let dir = dir.display().to_string();
    let mut args = vec!["--spool", dir.as_str()];
    args.extend_from_slice(extra);
    Broker::start_with(
        "streamer",
        &[front],
        &[Ep::Connect(cloud_ep.to_owned())],
        &args,
    )
}

fn segment_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|it| {
            it.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn an_uplink_down_for_ten_seconds_loses_none_of_100000_messages_and_keeps_their_order() {
    const N: u64 = 100_000;
    let dir = spool_dir("zedge-spool", "outage");
    let cloud_ep = format!("tcp://127.0.0.1:{}", free_port());
    let mut broker = edge(Ep::Tcp, &cloud_ep, &dir, &[]);
    // The link works, then the cloud goes away.
    let first = cloud(&cloud_ep, 1, 1.0);
    produce(broker.frontend(), N..N + 1, 0.0).finish();
    let out = first.finish();
    assert_eq!(num(&out, "first"), N as i64, "{out}");
    thread::sleep(Duration::from_millis(500));

    // Ten seconds of work while it is away: the producer is never held.
    let started = Instant::now();
    let out = produce(broker.frontend(), 0..N, N as f64 / 10.0).finish();
    eprintln!("producer: {out} in {:?}", started.elapsed());
    assert!(num(&out, "worst_send_ms") < 3000, "{out}");
    thread::sleep(Duration::from_millis(1500));
    let on_disk = segment_bytes(&dir);
    assert!(
        on_disk >= N * 10,
        "{on_disk} bytes of segments for {N} messages of 10 bytes"
    );

    // Back: all of them, in order, once.
    let out = cloud(&cloud_ep, N, 5.0).finish();
    eprintln!("cloud: {out}");
    assert_got(&out, 0..N);
    broker.assert_running();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    // Sent through, the spool keeps at most its newest segment, and nothing in it to send.
    assert!(stderr.contains("spool"), "{stderr}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn after_a_sigkill_every_message_synced_before_it_arrives_and_none_twice() {
    const N: u64 = 20_000;
    let dir = spool_dir("zedge-spool", "kill");
    let cloud_ep = format!("tcp://127.0.0.1:{}", free_port());
    let mut broker = edge(Ep::Tcp, &cloud_ep, &dir, &["--spool-fsync", "200ms"]);
    let front = broker.frontend().to_owned();
    produce(&front, 0..N, 0.0).finish();
    // Past a sync: these are durable.
    thread::sleep(Duration::from_millis(1500));
    // More, and the kill right after: these may or may not have been synced.
    produce(&front, N..N + 500, 0.0).finish();
    broker.kill();

    let mut broker = edge(Ep::Bind(front.clone()), &cloud_ep, &dir, &[]);
    let out = cloud(&cloud_ep, N + 500, 3.0).finish();
    eprintln!("cloud: {out}");
    broker.assert_running();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    assert!(stderr.contains("messages to send"), "{stderr}");
    let n = num(&out, "n");
    assert_eq!(
        field(&out, "increasing"),
        "true",
        "none twice, in order: {out}"
    );
    assert_eq!(num(&out, "first"), 0, "{out}");
    assert!(n >= N as i64, "every synced message: {out}");
    assert!(num(&out, "last") < (N + 500) as i64, "{out}");
    // What came is everything up to some point: a crash loses the unsynced end only.
    assert_eq!(field(&out, "dense"), "true", "{out}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_segment_cut_in_the_middle_of_a_record_loses_that_record_only_and_says_so() {
    const N: u64 = 5000;
    let dir = spool_dir("zedge-spool", "torn");
    let cloud_ep = format!("tcp://127.0.0.1:{}", free_port());
    let mut broker = edge(Ep::Tcp, &cloud_ep, &dir, &[]);
    let front = broker.frontend().to_owned();
    produce(&front, 0..N, 0.0).finish();
    thread::sleep(Duration::from_millis(1500));
    broker.terminate();
    // The power went as the last block was written: its last 7 bytes never made it.
    let newest = fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .max()
        .expect("a segment");
    let len = fs::metadata(&newest).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&newest)
        .unwrap()
        .set_len(len - 7)
        .unwrap();

    let mut broker = edge(Ep::Bind(front), &cloud_ep, &dir, &[]);
    let out = cloud(&cloud_ep, N, 3.0).finish();
    eprintln!("cloud: {out}");
    broker.assert_running();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    assert!(stderr.contains("was cut at byte"), "{stderr}");
    // The message cut (the last, 10 bytes with its head) is the only one lost.
    assert_got(&out, 0..N - 1);
    let _ = fs::remove_dir_all(&dir);
}

/// The bad day: while the uplink is away, one producer sends half of a 2 MiB message (cut
/// through to the spool) and hangs up, one sends the head of another and stalls, one sends
/// garbage, one trickles a two-frame message a byte every 100 ms, and one keeps sending small
/// numbered messages. The last is held at most while the stalled one's message waits out its
/// progress timeout; when the uplink is back the cloud gets every numbered message, in order,
/// once, the trickled one whole, and nothing of the broken ones.
#[test]
fn aborted_stalled_and_hostile_producers_cost_a_normal_one_nothing_through_the_spool() {
    const N: u64 = 3000;
    const BIG: usize = 2 << 20;
    let dir = spool_dir("zedge-spool", "badday");
    let cloud_ep = format!("tcp://127.0.0.1:{}", free_port());
    let mut broker = edge(Ep::Tcp, &cloud_ep, &dir, &["--progress-timeout", "1s"]);
    let front = broker.frontend_addr();
    let normal = produce(broker.frontend(), 0..N, 500.0);
    // A slow producer: "slow" and ten bytes more, 18 bytes on the wire, over 1.8 s.
    let mut slow = raw::handshake(front, SocketType::Push, deadline(10));
    let trickler = thread::spawn(move || {
        let mut wire = vec![0x01, 4];
        wire.extend_from_slice(b"slow");
        wire.extend_from_slice(&[0x00, 10]);
        wire.extend_from_slice(b"0123456789");
        for b in wire {
            std::io::Write::write_all(&mut slow, &[b]).expect("trickle");
            thread::sleep(Duration::from_millis(100));
        }
        slow
    });
    thread::sleep(Duration::from_millis(500));
    let head = |len: usize| {
        let mut h = vec![0x02u8];
        h.extend_from_slice(&(len as u64).to_be_bytes());
        h
    };
    // Half a message, then gone.
    let mut quitter = raw::handshake(front, SocketType::Push, deadline(10));
    let mut bytes = head(BIG);
    bytes.extend(vec![7u8; BIG / 2]);
    std::io::Write::write_all(&mut quitter, &bytes).expect("write half");
    thread::sleep(Duration::from_millis(300));
    drop(quitter);
    // The head of another, then nothing.
    let mut staller: TcpStream = raw::handshake(front, SocketType::Push, deadline(10));
    let mut bytes = head(BIG);
    bytes.extend(vec![9u8; 200 << 10]);
    std::io::Write::write_all(&mut staller, &bytes).expect("write head");
    // Garbage for a greeting.
    let mut garbage = raw::connect(front, deadline(10));
    std::io::Write::write_all(&mut garbage, &[0x55; 64]).expect("write garbage");
    let out = normal.finish();
    eprintln!("normal producer: {out}");
    assert!(num(&out, "worst_send_ms") < 3000, "{out}");
    let (refused, _) = raw::closed_by(&mut garbage, deadline(5));
    assert!(refused, "the peer that sent garbage was not closed");
    let slow = trickler.join().expect("the slow producer");

    let out = cloud(&cloud_ep, N + 1, 3.0).finish();
    eprintln!("cloud: {out}");
    // Every numbered one, in order, once; the trickled one whole (14 bytes, the one "odd":
    // not a number); nothing of the broken ones.
    assert_eq!(
        (num(&out, "n"), num(&out, "first"), num(&out, "last")),
        (N as i64, 0, N as i64 - 1),
        "{out}"
    );
    assert_eq!(field(&out, "increasing"), "true", "{out}");
    assert_eq!(field(&out, "odd"), "[14]", "{out}");
    drop((staller, slow));
    broker.assert_running();
    broker.terminate();
    no_panic(&broker.stderr());
    let _ = fs::remove_dir_all(&dir);
}

/// A sample of the streamer device's metrics: `name` with `labels` after its device's.
fn sample(text: &str, name: &str, labels: &str) -> f64 {
    numbered::sample(text, "streamer", name, labels)
}

#[test]
fn the_spool_shows_in_metrics_stats_and_zedge_stat_while_the_uplink_is_away_and_after() {
    const N: u64 = 1000;
    let dir = spool_dir("zedge-spool", "shown");
    let cloud_ep = format!("tcp://127.0.0.1:{}", free_port());
    let addr = format!("127.0.0.1:{}", free_port());
    let ctl = format!("tcp://127.0.0.1:{}", free_port());
    let mut broker = edge(
        Ep::Tcp,
        &cloud_ep,
        &dir,
        &["--metrics", &addr, "--control", &ctl],
    );
    produce(broker.frontend(), 0..N, 0.0).finish();
    thread::sleep(Duration::from_millis(2200));
    let text = metrics(&addr);
    assert_eq!(sample(&text, "zedge_spool_messages", ""), N as f64);
    assert_eq!(sample(&text, "zedge_spool_spooling", ""), 1.0);
    assert_eq!(
        sample(&text, "zedge_spool_messages_total", ",event=\"appended\""),
        N as f64
    );
    assert!(
        sample(&text, "zedge_spool_oldest_age_seconds", "") > 0.5,
        "{text}"
    );
    let (appended, written) = (
        sample(&text, "zedge_spool_bytes_total", ",what=\"appended\""),
        sample(&text, "zedge_spool_bytes_total", ",what=\"written\""),
    );
    assert_eq!(appended, (N * 10) as f64);
    assert!(
        written > appended && written < appended * 1.2,
        "{written} for {appended}"
    );
    assert!(sample(&text, "zedge_spool_syncs_total", "") >= 1.0);
    // Nothing went to the backend's peers yet: what went to the spool is not counted there.
    assert_eq!(
        sample(&text, "zedge_messages_sent_total", ",side=\"backend\""),
        0.0
    );
    let out = std::process::Command::new(zedge_tests::broker::zedge_bin())
        .args(["stat", &addr])
        .output()
        .expect("run zedge stat");
    let table = String::from_utf8_lossy(&out.stdout);
    let line = table
        .lines()
        .find(|l| l.contains("spool messages"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(line.trim_end().ends_with(&N.to_string()), "{table}");
    let mut req = Agent::connect("control", "REQ", &ctl, &[]);
    req.send(&[b"STATS"]);
    let stats = req.recv(Duration::from_secs(5)).expect("STATS answered");
    let stats = String::from_utf8_lossy(&stats[0]).into_owned();
    assert!(
        stats.contains(&format!(
            "\"spool\":{{\"spooling\":true,\"messages\":{N},\"bytes\":"
        )),
        "{stats}"
    );
    assert!(
        stats.contains(&format!("\"appended\":{N},\"sent\":0,")),
        "{stats}"
    );
    req.close();

    let out = cloud(&cloud_ep, N, 3.0).finish();
    eprintln!("cloud: {out}");
    assert_eq!(num(&out, "n"), N as i64, "{out}");
    thread::sleep(Duration::from_millis(300));
    let text = metrics(&addr);
    assert_eq!(sample(&text, "zedge_spool_messages", ""), 0.0);
    assert_eq!(sample(&text, "zedge_spool_spooling", ""), 0.0);
    assert_eq!(
        sample(&text, "zedge_spool_messages_total", ",event=\"sent\""),
        N as f64
    );
    assert_eq!(
        sample(&text, "zedge_messages_sent_total", ",side=\"backend\""),
        N as f64
    );
    assert_eq!(
        sample(&text, "zedge_messages_received_total", ",side=\"frontend\""),
        N as f64
    );
    broker.assert_running();
    broker.terminate();
    let _ = fs::remove_dir_all(&dir);
}

/// An uplink that goes away with work queued for it (a radio link that drops): what zedge
/// had queued and not begun to write goes back through the spool, ahead of the rest, and the
/// cloud gets it when it is back. Lost: what the connection had taken (the kernel's buffers,
/// here the least there are, and the cloud's own), never a message twice.
#[test]
fn an_uplink_that_leaves_with_work_queued_gets_it_when_it_is_back() {
    const N: u64 = 20_000;
    let dir = spool_dir("zedge-spool", "recover");
    let cloud_ep = format!("tcp://127.0.0.1:{}", free_port());
    let first = cloud_with(&cloud_ep, 100, 5.0, &["small"]);
    let mut broker = edge(Ep::Tcp, &cloud_ep, &dir, &["--kernel-send-max", "4K"]);
    produce(broker.frontend(), 0..N, 0.0).finish();
    let one = first.finish();
    eprintln!("cloud, first: {one}");
    assert_got(&one, 0..100);
    thread::sleep(Duration::from_millis(500));
    let out = cloud(&cloud_ep, N, 3.0).finish();
    eprintln!("cloud, back: {out}");
    assert_eq!(field(&out, "increasing"), "true", "{out}");
    assert_eq!(field(&out, "dense"), "true", "{out}");
    let (n, from) = (num(&out, "n"), num(&out, "first"));
    assert_eq!(num(&out, "last"), N as i64 - 1, "{out}");
    assert!(from >= 100, "none twice: {out}");
    // Lost: what the first connection had taken beyond what its application read.
    let lost = from - 100;
    assert!(lost < 3000, "{lost} lost of the {} queued: {out}", N - 100);
    assert!(n > (N as i64) / 2, "{out}");
    broker.assert_running();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    let _ = fs::remove_dir_all(&dir);
}

/// Attacker round 19, F3: a reload that restarts a streamer with a spool (its `spool_rate`
/// changed) starts the new device while the old one still holds the spool's lock; the new
/// one opens it once the old has let go, and sends what it holds.
#[test]
fn a_reload_that_restarts_the_device_keeps_its_spool() {
    const N: u64 = 2000;
    let dir = spool_dir("zedge-spool", "reload");
    let front = format!("tcp://127.0.0.1:{}", free_port());
    let cloud_ep = format!("tcp://127.0.0.1:{}", free_port());
    let config = |rate: &str| {
        format!(
            "[[device]]\nname = \"jobs\"\nkind = \"streamer\"\nfrontend = \"{front}\"\n\
             backend = \">{cloud_ep}\"\nspool = \"{}\"\nspool_rate = \"{rate}\"\n",
            dir.display()
        )
    };
    let mut run = ConfigRun::start(&config("0"), &[]);
    run.wait_log("listening on", Instant::now() + Duration::from_secs(10));
    produce(&front, 0..N, 0.0).finish();
    thread::sleep(Duration::from_millis(1500));
    run.reload(&config("10M"));
    run.wait_log("spool", Instant::now() + Duration::from_secs(10));
    let out = cloud(&cloud_ep, N, 3.0).finish();
    eprintln!("cloud: {out}");
    assert_got(&out, 0..N);
    run.assert_running();
    let stderr = run.stderr();
    no_panic(&stderr);
    // Opened at once if the old device had let go of its lock by then, else on a retry.
    let opened = stderr.matches("messages to send in").count() >= 2 || stderr.contains(": open");
    assert!(opened, "the new device opened the spool:\n{stderr}");
    run.stop_clean();
    let _ = fs::remove_dir_all(&dir);
}

/// Attacker round 20, F1, for a streamer: the spool's cursor moved as a message was handed to
/// the worker's queue, not as the socket wrote it, so a stop or a crash during the replay to
/// a slow cloud lost what that queue held. Now it stays in the spool and goes after the
/// restart: every message arrives, some maybe twice.
#[test]
fn a_stop_or_a_kill_during_the_replay_to_a_slow_cloud_loses_nothing_its_queue_held() {
    const N: u64 = 12_000;
    for how in ["TERM", "KILL"] {
        let dir = spool_dir("zedge-spool", &format!("stop{how}"));
        let cloud_ep = format!("tcp://127.0.0.1:{}", free_port());
        let start = |front: Option<&str>| match front {
            None => edge(Ep::Tcp, &cloud_ep, &dir, &["--spool-fsync", "200ms"]),
            Some(f) => edge(Ep::Bind(f.to_owned()), &cloud_ep, &dir, &[]),
        };
        // 2.5 MB, more than the kernel's socket buffers hold, and a cloud that takes about
        // 3,000 a second (the stop comes with about 7,500 taken): the replay fills the
        // worker's queue.
        let fill = |front: &str| drop(produce_padded(front, 0..N, 0.0, 200).finish());
        let cloud = || cloud_with(&cloud_ep, 2 * N, 3.0, &["slow", "0.0003"]);
        stop_during_replay(how, N, start, fill, cloud);
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Attacker round 22, F3: what the cloud worker's queue held live (handed to it straight,
/// as it kept up) was lost at every stop: 5,764 of a burst of 20,000 at a 1 MiB high-water
/// mark (c73a3c3, here: 14,041 of 20,000 at 8 MiB). Now it goes into the spool, at the stop
/// (8 MiB: the burst never reached the mark) or as the spool begins to take work (256 KiB),
/// and the cloud gets every message after the restart (some twice: what the spool sent
/// again from its cursor).
#[test]
fn what_a_slow_cloud_had_queued_live_at_a_stop_reaches_it_after_the_restart() {
    const N: u64 = 12_000;
    for hwm in ["8M", "256K"] {
        let dir = spool_dir("zedge-spool", &format!("live{hwm}"));
        let cloud_ep = format!("tcp://127.0.0.1:{}", free_port());
        let start = |front: Option<&str>| {
            let front = front.map_or(Ep::Tcp, |f| Ep::Bind(f.to_owned()));
            edge(front, &cloud_ep, &dir, &["--queue-hwm", hwm])
        };
        // About 3,000 a second, with the least buffers there are.
        let cloud = cloud_with(&cloud_ep, 2 * N, 4.0, &["slow", "0.0003"]);
        let fill = |front: &str| drop(produce_padded(front, 0..N, 0.0, 100).finish());
        let (out, stopped) = stop_with_live_queued(start, fill, || cloud.finish());
        eprintln!("{hwm}: {}", brief(&out));
        let said = stopped.contains("queued live and not yet sent go to the spool");
        assert_eq!(said, hwm == "8M", "{stopped}");
        assert_got_all(&out, 0..N);
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Attacker round 22, F2: a message of 2 MB that the cloud's socket was writing when the
/// device stopped was lost: its connection, dropped at the stop, counted as done with it. Now
/// the stop leaves it in the spool, and the restart sends it.
#[test]
fn a_large_message_being_written_at_a_stop_is_sent_after_the_restart() {
    const N: u64 = 8;
    let dir = spool_dir("zedge-spool", "bigstop");
    let cloud_ep = format!("tcp://127.0.0.1:{}", free_port());
    let mut broker = edge(Ep::Tcp, &cloud_ep, &dir, &["--spool-fsync", "200ms"]);
    let front = broker.frontend().to_owned();
    produce_padded(&front, 0..N, 0.0, 2_000_000).finish();
    thread::sleep(Duration::from_millis(1000));
    // A cloud that takes one a second behind the least buffers: a message is being written
    // at any time.
    let cloud = cloud_with(&cloud_ep, 2 * N, 5.0, &["slow", "1.0"]);
    thread::sleep(Duration::from_millis(2500));
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    assert!(stderr.contains("not delivered"), "{stderr}");
    let mut broker = edge(Ep::Bind(front.clone()), &cloud_ep, &dir, &[]);
    let out = cloud.finish();
    eprintln!("cloud: {out}");
    broker.assert_running();
    broker.terminate();
    no_panic(&broker.stderr());
    assert_got_all(&out, 0..N);
    let _ = fs::remove_dir_all(&dir);
}

/// Wait (8 s at most) until `broker` says a PULL worker at `port` connected.
fn connected(broker: &Broker, port: &str) {
    let until = Instant::now() + Duration::from_secs(8);
    while !broker.stderr().contains(&format!("{port}: PULL connected")) {
        assert!(Instant::now() < until, "no worker at port {port} connected");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Attacker round 22, F4: a worker that stays connected and reads nothing held what its queue
/// had of the spool, and the spool's cursor with it: nothing sent after could be deleted, and
/// a restart sent everything since again. Now, once its socket has taken none of it for the
/// progress timeout, what it had not begun goes to the worker that reads. Every message
/// reaches one of them (the stalled one only what its socket had taken), the normal one
/// within a few seconds, and a restart sends almost nothing again.
#[test]
fn a_worker_that_reads_nothing_gives_the_spools_work_to_one_that_reads() {
    const N: u64 = 20_000;
    let dir = spool_dir("zedge-spool", "stalled");
    let (normal_ep, stalled_ep) = (
        format!("tcp://127.0.0.1:{}", free_port()),
        format!("tcp://127.0.0.1:{}", free_port()),
    );
    // PINGs every second, queued behind the stalled worker's messages (attacker round 23:
    // a PING at the end of its queue once kept all of them there, and the cursor passed
    // them), and none closed for its heartbeats meanwhile.
    let args = [
        "--spool-fsync",
        "200ms",
        "--progress-timeout",
        "2s",
        "--kernel-send-max",
        "4K",
        "--heartbeat-ivl",
        "1s",
        "--heartbeat-timeout",
        "60s",
    ];
    let start = |front: Ep, backends: &[&str]| {
        let backends: Vec<Ep> = backends
            .iter()
            .map(|b| Ep::Connect((*b).to_owned()))
            .collect();
        let dir = dir.display().to_string();
        let mut all = vec!["--spool", dir.as_str()];
        all.extend_from_slice(&args);
        Broker::start_with("streamer", &[front], &backends, &all)
    };
    let mut broker = start(Ep::Tcp, &[&normal_ep, &stalled_ep]);
    let front = broker.frontend().to_owned();
    // Its 14 s start here, the device running (the first test to start one builds it).
    let stalled = cloud_with(&stalled_ep, N, 3.0, &["stall", "14"]);
    connected(&broker, stalled_ep.rsplit(':').next().unwrap_or_default());
    // 4 MB while only the stalled worker is there: its queue fills (1 MiB), the rest is
    // spooled.
    produce_padded(&front, 0..N, 0.0, 200).finish();
    thread::sleep(Duration::from_millis(1000));
    let t0 = Instant::now();
    let normal = cloud(&normal_ep, N, 4.0).finish();
    eprintln!("normal worker: {} ({:?})", brief(&normal), t0.elapsed());
    broker.assert_running();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    assert!(
        stderr.contains("messages it had not begun go to the other workers"),
        "{stderr}"
    );

    // Started again on the same spool, the stalled worker not among its backends.
    let mut broker = start(Ep::Bind(front.clone()), &[&normal_ep]);
    let again = cloud(&normal_ep, N, 3.0);
    produce(&front, N..N + 10, 0.0).finish();
    let again = again.finish();
    eprintln!("normal worker, after the restart: {}", brief(&again));
    broker.assert_running();
    broker.terminate();
    no_panic(&broker.stderr());
    let stalled = stalled.finish();
    eprintln!("stalled worker: {}", brief(&stalled));

    // Every message reached one of them, but for the one the stalled worker's socket had
    // begun when the device stopped: dropped with its connection, as what a link that goes
    // down holds is with any ZeroMQ peer (the stop said so). Its kernel buffers held few.
    let got = got_between(&[&normal, &stalled, &again]);
    let missing: Vec<u64> = (0..N + 10).filter(|n| !got.contains(n)).collect();
    assert!(
        missing.len() <= 1,
        "missing {} of them: {missing:?}",
        missing.len()
    );
    if !missing.is_empty() {
        assert!(
            stderr.contains("output not delivered, lost: 1 message"),
            "{stderr}"
        );
    }
    assert!(num(&stalled, "unique") < 1000, "{}", brief(&stalled));
    assert!(
        num(&normal, "unique") > (N - 1000) as i64,
        "{}",
        brief(&normal)
    );
    // The restart sent again no more than the last checkpoint's worth (64 KiB).
    assert!(
        num(&again, "n") - 10 < 400,
        "sent again after the restart: {}",
        brief(&again)
    );
    let _ = fs::remove_dir_all(&dir);
}

/// Attacker round 23, F2: a worker that sends its own PINGs and reads 2,000 B every half
/// second, below what counts as progress (16 KiB in the progress timeout), beside a libzmq
/// worker that reads, a slow one (1,000 a second) and a stalled one (nothing for 12 s), the
/// spool replaying: what the trickler's and the stalled one's queues held goes to the others
/// (before, the trickle kept it there, and the PONG queued behind its messages kept the
/// give-back from taking any); the slow one keeps its work. Between them they get every
/// message but what the trickler's connection took, none twice.
#[test]
fn a_worker_that_reads_a_trickle_gives_the_spools_work_to_one_that_reads() {
    const N: u64 = 10_000;
    let dir = spool_dir("zedge-spool", "trickle");
    let (normal_ep, trickle_port) = (format!("tcp://127.0.0.1:{}", free_port()), free_port());
    let trickle_ep = format!("tcp://127.0.0.1:{trickle_port}");
    let listener = std::net::TcpListener::bind(("127.0.0.1", trickle_port)).expect("bind");
    rustix::net::sockopt::set_socket_recv_buffer_size(&listener, 4096).expect("SO_RCVBUF");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickler = {
        let stop = stop.clone();
        thread::spawn(move || -> usize {
            use std::io::{Read, Write};
            use std::sync::atomic::Ordering;
            let Ok((mut s, _)) = listener.accept() else {
                return 0;
            };
            let _ = s.write_all(&raw::greeting());
            let _ = s.write_all(&raw::ready(SocketType::Pull));
            let mut took = 0;
            let mut buf = [0u8; 2000];
            let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
            while !stop.load(Ordering::Relaxed) {
                // A PING each time: the PONG is queued behind what it holds.
                let _ = s.write_all(&raw::ping(0, b""));
                thread::sleep(Duration::from_millis(500));
                let mut n = 0;
                while let Ok(k @ 1..) = s.read(&mut buf[n..]) {
                    n += k;
                    if n == buf.len() {
                        break;
                    }
                }
                took += n;
            }
            took
        })
    };
    // And a slow worker, 1,000 a second behind the least buffers: slow, not stalled.
    let slow_port = free_port();
    let slow_ep = format!("tcp://127.0.0.1:{slow_port}");
    let slow = cloud_with(&slow_ep, N, 5.0, &["slow", "0.001"]);
    // And one that reads nothing for 12 s (then what its connection took).
    let stalled_port = free_port();
    let stalled_ep = format!("tcp://127.0.0.1:{stalled_port}");
    let stalled = cloud_with(&stalled_ep, N, 2.0, &["stall", "12"]);
    let dir_arg = dir.display().to_string();
    let mut broker = Broker::start_with(
        "streamer",
        &[Ep::Tcp],
        &[
            Ep::Connect(trickle_ep),
            Ep::Connect(normal_ep.clone()),
            Ep::Connect(slow_ep),
            Ep::Connect(stalled_ep),
        ],
        &[
            "--spool",
            &dir_arg,
            "--progress-timeout",
            "2s",
            "--kernel-send-max",
            "4K",
        ],
    );
    let front = broker.frontend().to_owned();
    connected(&broker, &trickle_port.to_string());
    produce_padded(&front, 0..N, 0.0, 200).finish();
    thread::sleep(Duration::from_millis(500));
    let normal = cloud(&normal_ep, N, 5.0).finish();
    eprintln!("normal worker: {}", brief(&normal));
    let slow = slow.finish();
    eprintln!("slow worker: {}", brief(&slow));
    let stalled = stalled.finish();
    eprintln!("stalled worker: {}", brief(&stalled));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let took = trickler.join().expect("the trickler");
    broker.assert_running();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    // The trickler gave its work back; the slow worker, which keeps taking, did not.
    let gave = |port: u16| {
        stderr.lines().any(|l| {
            l.contains(&format!("{port}: its socket took less than"))
                && l.contains("messages it had not begun go to the other workers")
        })
    };
    assert!(gave(trickle_port), "{stderr}");
    assert!(gave(stalled_port), "{stderr}");
    assert!(!gave(slow_port), "{stderr}");
    // What the trickler's connection took: what it read (210 B a message), and its
    // kernel's buffers (4 KiB each way here, and what Linux adds). None twice.
    let got = got_between(&[&normal, &slow, &stalled]);
    let missing = N as i64 - got.len() as i64;
    let read = took as i64 / 210;
    assert!(
        missing <= read + 100,
        "{missing} missing, {read} read: {} {}",
        brief(&normal),
        brief(&slow)
    );
    assert_eq!(
        num(&normal, "n") + num(&slow, "n") + num(&stalled, "n"),
        got.len() as i64,
        "none twice: {} {}",
        brief(&normal),
        brief(&slow)
    );
    let _ = fs::remove_dir_all(&dir);
}

/// Attacker round 24, G1: a worker that reads nothing is sent 2 MB messages straight (it was
/// the only one), the body going socket to socket and coming back to its queue when it took
/// none; then a reader comes, and the spool is sent to it. Before, the body's return made the
/// stalled worker's frames unfollowed: its begun message could not be excused, the cursor
/// waited for it for good, and a stop sent every spooled message again. Now the cursor moves
/// on: the restart has nothing to send.
#[test]
fn a_large_message_stalled_at_a_worker_does_not_hold_the_spools_cursor() {
    const N: u64 = 10;
    let dir = spool_dir("zedge-spool", "bigstall");
    let (reader_ep, stalled_port) = (format!("tcp://127.0.0.1:{}", free_port()), free_port());
    let stalled_ep = format!("tcp://127.0.0.1:{stalled_port}");
    let dir_arg = dir.display().to_string();
    let args = [
        "--spool",
        dir_arg.as_str(),
        "--spool-fsync",
        "200ms",
        "--progress-timeout",
        "2s",
    ];
    let backends = [
        Ep::Connect(stalled_ep.clone()),
        Ep::Connect(reader_ep.clone()),
    ];
    let mut broker = Broker::start_with("streamer", &[Ep::Tcp], &backends, &args);
    let front = broker.frontend().to_owned();
    let stalled = cloud_with(&stalled_ep, N, 3.0, &["stall", "20"]);
    connected(&broker, &stalled_port.to_string());
    produce_padded(&front, 0..N, 0.0, 2_000_000).finish();
    thread::sleep(Duration::from_millis(1000));
    let reader = cloud(&reader_ep, N, 4.0).finish();
    eprintln!("reader: {}", brief(&reader));
    broker.assert_running();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    assert!(
        stderr.contains("is no longer waited for by the spool"),
        "{stderr}"
    );
    let mut again = Broker::start_with("streamer", &[Ep::Tcp], &backends[1..], &args);
    thread::sleep(Duration::from_millis(500));
    let restarted = again.stderr();
    again.terminate();
    drop(stalled);
    assert!(
        restarted.contains(": 0 messages to send"),
        "the restart sends nothing again:\n{restarted}"
    );
    // The reader got every message but those the stalled worker took straight.
    assert!(
        num(&reader, "unique") >= (N - 3) as i64,
        "{}",
        brief(&reader)
    );
    let _ = fs::remove_dir_all(&dir);
}
