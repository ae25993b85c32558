//! A forwarder's store-and-forward spool (issue 15, docs/spool.md), with libzmq peers: an
//! edge forwarder whose backend connects up to a cloud XSUB keeps what the cloud subscribed
//! to on disk while the cloud is away, or while its link is at its high-water mark, and
//! sends it, in order, when it can; local subscribers get every publication live all along.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use zedge_core::wire::metadata::SocketType;
use zedge_tests::agent::Agent;
use zedge_tests::broker::{free_port, zedge_bin, Broker, Ep};
use zedge_tests::normal::no_panic;
use zedge_tests::numbered::{
    assert_got, assert_got_all, brief, field, metrics, num, sample, spool_dir, stop_during_replay,
    stop_with_live_queued,
};
use zedge_tests::wait::deadline;
use zedge_tests::{numbered_reader, raw, zmq_prelude, PyPeer};

/// A subscriber of everything that takes numbered messages (`%08d`) until it has `want`, or
/// until none came for `idle` seconds once one did (90 s for the first); then prints how
/// many, the first and last, whether they came in strictly increasing order, and the lengths
/// of any that were not a number. `mode`: `cloud` binds `ep` as an XSUB (a cloud broker's
/// frontend), `local` connects a SUB to it; `slow` is a cloud with the least buffers there
/// are that takes a message every `pause` seconds; `stall` is one with those buffers that
/// reads nothing for `pause` seconds once ready (subscribed, its socket's commands done),
/// then all it is sent; `hover` is one with those buffers that takes a message every `pause`
/// seconds one second, as fast as it can the next, and so on.
const SUBSCRIBER: &str = concat!(
    zmq_prelude!(),
    numbered_reader!(),
    r#"
mode, ep, want, idle, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
stall = 0.0
if mode == "stall":
    stall, pause = pause, 0.0
if mode == "local":
    s = ctx.socket(zmq.SUB); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVHWM, 0)
    s.setsockopt(zmq.SUBSCRIBE, b""); s.connect(ep)
else:
    s = ctx.socket(zmq.XSUB); s.setsockopt(zmq.LINGER, 0)
    if mode in ("slow", "stall", "hover"):
        s.setsockopt(zmq.RCVHWM, 10); s.setsockopt(zmq.RCVBUF, 4096)
    else:
        s.setsockopt(zmq.RCVHWM, 0)
    s.bind(ep)
    s.send(b"\x01")
print("ready", flush=True)
# Reading nothing, but the socket's commands done (ZMQ_EVENTS): its subscription goes to a
# connection as it comes, as for one that is busy elsewhere between reads.
until = time.monotonic() + stall
while time.monotonic() < until:
    s.getsockopt(zmq.EVENTS)
    time.sleep(0.05)
if mode == "hover":
    slow, t0 = pause, time.monotonic()
    pause = lambda: slow if int(time.monotonic() - t0) % 2 == 0 else 0.0
got, odd = take_numbered(s, want, idle, pause)
s.close(linger=0)
report(got, odd)
"#
);

/// A PUB socket that connects to `ep`, waits a second for the subscriptions, and publishes
/// `%08d` (and `pad` bytes more) from `start` up to `end` at `rate` a second (0: at once),
/// then lingers until zedge has them.
const PUBLISHER: &str = concat!(
    zmq_prelude!(),
    r#"
ep, start, end, rate, pad = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), b"p" * int(sys.argv[5])
s = sock(zmq.PUB, ep, SNDHWM=0, LINGER=30000)
time.sleep(1.0)
t0 = time.monotonic()
for i in range(start, end):
    if rate > 0:
        due = t0 + (i - start) / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
    s.send(b"%08d" % i + pad)
s.close()
ctx.term()
print("sent", flush=True)
"#
);

/// A subscriber (see [`SUBSCRIBER`]), ready once it says so.
fn subscriber(mode: &str, ep: &str, want: u64, idle: f64, pause: f64) -> PyPeer {
    let args = [
        mode.to_owned(),
        ep.to_owned(),
        want.to_string(),
        idle.to_string(),
        pause.to_string(),
    ];
    let p = PyPeer::spawn(mode, SUBSCRIBER, &args, Duration::from_secs(150));
    let until = Instant::now() + Duration::from_secs(20);
    while !p.stdout_so_far().contains("ready") {
        assert!(
            Instant::now() < until,
            "the {mode} subscriber did not start"
        );
        thread::sleep(Duration::from_millis(20));
    }
    p
}

fn publish(ep: &str, range: std::ops::Range<u64>, rate: f64, pad: usize) -> PyPeer {
    let args = [
        ep.to_owned(),
        range.start.to_string(),
        range.end.to_string(),
        rate.to_string(),
        pad.to_string(),
    ];
    PyPeer::spawn("publisher", PUBLISHER, &args, Duration::from_secs(120))
}

/// An edge forwarder: a loopback frontend for publishers, a backend bound on loopback for
/// local subscribers and connecting up to `cloud_ep`, spooling to `dir` if given.
fn edge(cloud_ep: &str, dir: Option<&Path>, extra: &[&str]) -> Broker {
    edge_at(Ep::Tcp, cloud_ep, dir, extra)
}

/// [`edge`] with its frontend at `front` (a port to bind again after a restart).
fn edge_at(front: Ep, cloud_ep: &str, dir: Option<&Path>, extra: &[&str]) -> Broker {
    let dir = dir.map(|d| d.display().to_string());
    let mut args: Vec<&str> = dir.iter().flat_map(|d| ["--spool", d.as_str()]).collect();
    args.extend_from_slice(extra);
    Broker::start_with(
        "forwarder",
        &[front],
        &[Ep::Tcp, Ep::Connect(cloud_ep.to_owned())],
        &args,
    )
}

#[test]
fn a_cloud_away_for_ten_seconds_gets_all_100000_publications_in_order_and_locals_get_them_live() {
    const N: u64 = 100_000;
    let dir = spool_dir("zedge-fspool", "outage");
    let cloud_ep = format!("tcp://127.0.0.1:{}", free_port());
    let mut broker = edge(&cloud_ep, Some(&dir), &[]);
    // The link works, then the cloud goes away.
    let first = subscriber("cloud", &cloud_ep, 1, 1.0, 0.0);
    publish(broker.frontend(), N..N + 1, 0.0, 0).finish();
    let out = first.finish();
    assert_eq!(num(&out, "first"), N as i64, "{out}");
    thread::sleep(Duration::from_millis(500));

    // Ten seconds of publications while it is away, beside a local subscriber, a slow one
    // (a tenth of the rate), one that never reads, and a peer that sends garbage.
    let local = subscriber("local", broker.backend(), N, 5.0, 0.0);
    let slow = subscriber("local", broker.backend(), 5_000, 5.0, 0.001);
    let mut hostile = Hostile::beside(&broker);
    publish(broker.frontend(), 0..N, N as f64 / 10.0, 0).finish();
    let out = local.finish();
    eprintln!("local: {out}");
    assert_got(&out, 0..N);
    // The slow one's queue holds what it has not read: in order, nothing missing.
    let out = slow.finish();
    eprintln!("slow local: {out}");
    assert_got(&out, 0..5_000);
    hostile.check();

    // Back: all of them, in order, once; then live again.
    let out = subscriber("cloud", &cloud_ep, N, 5.0, 0.0).finish();
    eprintln!("cloud: {out}");
    assert_got(&out, 0..N);
    broker.assert_running();
    broker.terminate();
    no_panic(&broker.stderr());
    let _ = fs::remove_dir_all(&dir);
}

/// The cloud takes a message every 0.3 ms behind the least buffers there are, and 20,000
/// of 1 KB come at 5,000 a second: its queue reaches its mark (64K). Without a spool it loses
/// messages there, as any forwarder's subscriber at its mark does; with one, what it cannot
/// take waits on disk, and it gets every one, in order, while a local subscriber gets them
/// live.
#[test]
fn a_cloud_link_at_its_mark_loses_nothing_with_a_spool_and_messages_without() {
    const N: u64 = 20_000;
    let run = |dir: Option<&Path>| {
        let cloud_ep = format!("tcp://127.0.0.1:{}", free_port());
        let mut broker = edge(&cloud_ep, dir, &["--queue-hwm", "64K"]);
        let cloud = subscriber("slow", &cloud_ep, N, 4.0, 0.0003);
        let local = subscriber("local", broker.backend(), N, 4.0, 0.0);
        // Connected and subscribed, and the uplink settled, before the first.
        thread::sleep(Duration::from_millis(1000));
        publish(broker.frontend(), 0..N, 5000.0, 1000).finish();
        let (cloud, local) = (cloud.finish(), local.finish());
        broker.assert_running();
        broker.terminate();
        no_panic(&broker.stderr());
        eprintln!("spool {dir:?}: cloud {cloud} local {local}");
        assert_got(&local, 0..N);
        cloud
    };
    let without = run(None);
    assert!(
        num(&without, "n") < N as i64,
        "the cloud's link never reached its mark: {without}"
    );
    let dir = spool_dir("zedge-fspool", "mark");
    let with = run(Some(&dir));
    assert_got(&with, 0..N);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn after_a_sigkill_mid_outage_every_synced_publication_reaches_the_cloud_once() {
    const N: u64 = 20_000;
    let dir = spool_dir("zedge-fspool", "kill");
    let cloud_ep = format!("tcp://127.0.0.1:{}", free_port());
    let mut broker = edge(&cloud_ep, Some(&dir), &["--spool-fsync", "200ms"]);
    let front = broker.frontend().to_owned();
    publish(&front, 0..N, 0.0, 0).finish();
    // Past a sync: these are durable.
    thread::sleep(Duration::from_millis(1500));
    // More, and the kill right after: these may or may not have been synced.
    publish(&front, N..N + 500, 0.0, 0).finish();
    broker.kill();

    let mut broker = edge_at(Ep::Bind(front.clone()), &cloud_ep, Some(&dir), &[]);
    let out = subscriber("cloud", &cloud_ep, N + 500, 3.0, 0.0).finish();
    eprintln!("cloud: {out}");
    broker.assert_running();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    assert!(stderr.contains("messages to send"), "{stderr}");
    assert_eq!(
        field(&out, "increasing"),
        "true",
        "none twice, in order: {out}"
    );
    assert_eq!(num(&out, "first"), 0, "{out}");
    assert!(num(&out, "n") >= N as i64, "every synced message: {out}");
    // What came is everything up to some point: a crash loses the unsynced end only.
    assert_eq!(field(&out, "dense"), "true", "{out}");
    let _ = fs::remove_dir_all(&dir);
}

/// Attacker round 20, F1: the spool's cursor moved as a message was handed to the cloud's
/// queue, not as the socket wrote it, so a stop or a crash during the replay to a slow cloud
/// lost what that queue held (10,924 at the default high-water mark). Now what the queue
/// had not written stays in the spool and is sent after the restart: every message arrives,
/// some maybe twice.
#[test]
fn a_stop_or_a_kill_during_the_replay_to_a_slow_cloud_loses_nothing_its_queue_held() {
    const N: u64 = 12_000;
    for how in ["TERM", "KILL"] {
        let dir = spool_dir("zedge-fspool", &format!("stop{how}"));
        let cloud_ep = format!("tcp://127.0.0.1:{}", free_port());
        let start = |front: Option<&str>| match front {
            None => edge(&cloud_ep, Some(&dir), &["--spool-fsync", "200ms"]),
            Some(f) => edge_at(Ep::Bind(f.to_owned()), &cloud_ep, Some(&dir), &[]),
        };
        // 100 B each, and a cloud that takes about 3,000 a second: the replay fills its
        // queue.
        let fill = |front: &str| drop(publish(front, 0..N, 0.0, 100).finish());
        let cloud = || subscriber("slow", &cloud_ep, 2 * N, 3.0, 0.0003);
        stop_during_replay(how, N, start, fill, cloud);
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Attacker round 22, F3: what an uplink's queue held live (handed to it straight, as it
/// kept up) was lost at every stop: 6,145 of a burst of 20,000 at a 1 MiB high-water mark,
/// 12,310 at 8 MiB (c73a3c3, here: 12,350 of 20,000 at 8 MiB). Now it goes into the spool
/// at the stop (8 MiB: the burst never reached the mark), or when the uplink's lane begins
/// to spool (256 KiB: what its queue held live goes into the spool ahead of what the lane
/// spools from then on), for that uplink alone: after the restart it gets every
/// publication, each connection's in order (and, live at the stop, each once, though an
/// uplink that is away had them all spooled). An uplink that kept up, beside it, gets each
/// one once, whatever a local subscriber that never reads and a peer that sends garbage do.
#[test]
fn what_a_slow_uplink_had_queued_live_at_a_stop_reaches_it_after_the_restart() {
    const N: u64 = 12_000;
    for hwm in ["8M", "256K"] {
        let a_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        // The least buffers there are (its connections have them from it), as a slow link:
        // else the kernel takes the whole burst on loopback.
        rustix::net::sockopt::set_socket_recv_buffer_size(&a_listener, 4096).expect("rcvbuf");
        let a_ep = format!("tcp://{}", a_listener.local_addr().expect("its address"));
        let b_ep = cloud_endpoint();
        // C is away all along: its lane spools every publication, so A's (live, at 8 MiB)
        // passes over them in the log.
        let c_ep = cloud_endpoint();
        let dir = spool_dir("zedge-fspool", &format!("live{hwm}"));
        let dir_arg = dir.display().to_string();
        // Beside them until the stop, a local subscriber that never reads and a publisher
        // that sends garbage.
        let hostile = std::cell::RefCell::new(None);
        let uplinks = [a_ep.clone(), b_ep.clone(), c_ep.clone()];
        let start = restartable(&uplinks, &dir_arg, hwm, Some(&hostile));
        // A (ours) takes about 3,000 a second; B (libzmq) all at once.
        let a = raw_cloud(
            a_listener,
            N as usize,
            Duration::from_secs(4),
            Duration::from_micros(333),
        );
        let b = subscriber("cloud", &b_ep, N, 4.0, 0.0);
        let fill = |front: &str| drop(publish(front, 0..N, 0.0, 100).finish());
        let received = || (a.join().expect("the raw cloud"), b.finish());
        let ((a, b), stopped) = stop_with_live_queued(start, fill, received);
        // At 8 MiB the burst was all live; at 256 KiB it went into the spool as the lane
        // began to spool.
        let said = stopped.contains("queued live and not yet sent to");
        assert_eq!(said, hwm == "8M", "{stopped}");
        let sizes: Vec<usize> = a.iter().map(Vec::len).collect();
        eprintln!("{hwm}: slow A, by connection {sizes:?}");
        eprintln!("{hwm}: B {}", brief(&b));
        assert_each_in_order_all_in(&a, N);
        if hwm == "8M" {
            // A was live all along: after the restart it gets what it had not begun from its
            // own block in the spool, and nothing it had from C's messages there (attacker
            // round 27, G5: its cursor stayed where it last passed them, and it got those it
            // had written again, then its own block's on top).
            assert_eq!(sizes.iter().sum::<usize>(), N as usize, "{sizes:?}");
        }
        assert_got(&b, 0..N);
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Attacker round 27, G5: an uplink that is live (its lane parked, at 8 MiB) and stalls
/// just before a stop, its socket's buffers full part-way through a message, while another
/// uplink is away (its lane spools every publication, in the log all its lanes read). Its
/// cursor stayed where it had last passed over the away one's messages: after the restart
/// it got those it had written again, then its own block of what it had not begun on top.
/// Now its cursor moves past them at the stop: it gets every publication once, but the one
/// its socket was writing when its connection was cut (lost with it, as a live one is).
#[test]
fn a_live_uplink_stalled_at_a_stop_gets_after_the_restart_what_it_had_not_begun_and_nothing_twice()
{
    const N: u64 = 12_000;
    let a_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    rustix::net::sockopt::set_socket_recv_buffer_size(&a_listener, 4096).expect("rcvbuf");
    let a_ep = format!("tcp://{}", a_listener.local_addr().expect("its address"));
    let c_ep = cloud_endpoint();
    let dir = spool_dir("zedge-fspool", "livestall");
    let dir_arg = dir.display().to_string();
    let uplinks = [a_ep.clone(), c_ep.clone()];
    let start = restartable(&uplinks, &dir_arg, "8M", None);
    // A takes about 3,000 a second, and reads nothing for 4 s after its first 2,000: the
    // stop (1.5 s after the burst) and its flush come meanwhile.
    let stall = Some((2_000, Cut::Stall(Duration::from_secs(4))));
    // It waits for no more connections once it has all but the one that may be lost.
    let a = raw_cloud_stalling(
        a_listener,
        N as usize - 1,
        Duration::from_secs(6),
        Duration::from_micros(333),
        stall,
    );
    let fill = |front: &str| drop(publish(front, 0..N, 0.0, 100).finish());
    let received = || a.join().expect("the raw cloud");
    let (a, stopped) = stop_with_live_queued(start, fill, received);
    assert!(
        stopped.contains("queued live and not yet sent to"),
        "{stopped}"
    );
    // The stop tells what A had queued from what is lost: at most the message its socket
    // was writing (attacker round 27, G8: all of it was said to be not delivered).
    assert!(
        stopped.contains("stays in the spool, or goes to it, sent after the restart: "),
        "{stopped}"
    );
    if let Some(lost) = stopped
        .lines()
        .find(|l| l.contains("not delivered, lost: "))
    {
        assert!(lost.contains("lost: 1 message ("), "{lost}");
    }
    let sizes: Vec<usize> = a.iter().map(Vec::len).collect();
    eprintln!("stalled A, by connection {sizes:?}");
    for (i, c) in a.iter().enumerate() {
        if let Some(w) = c.windows(2).find(|w| w[1] <= w[0]) {
            panic!("connection {i} of {sizes:?}: {} after {}", w[1], w[0]);
        }
    }
    let all: std::collections::BTreeSet<u64> = a.iter().flatten().copied().collect();
    assert_eq!(all.len(), sizes.iter().sum::<usize>(), "twice: {sizes:?}");
    assert!(all.len() as u64 >= N - 1, "{} of {N}: {sizes:?}", all.len());
    let _ = fs::remove_dir_all(&dir);
}

/// Attacker round 28, H3: an uplink that is live (its lane parked, at 8 MiB) and leaves with
/// messages queued that it had not begun, while another uplink is away (its lane spools
/// every publication, in the log all its lanes read), and the device stops before it is
/// back. What it had not begun went into the log for its lane alone, but its cursor stayed
/// where it had last passed over the away one's copies of them: after the restart it got
/// those again, then its own block of them on top. Now its cursor moves to its block once
/// the block is written: it gets each publication once, in order, but what its connection
/// held when it closed it (lost with it, as with any ZeroMQ peer).
#[test]
fn a_live_uplink_that_leaves_before_a_stop_gets_after_the_restart_what_it_had_not_begun_once() {
    const N: u64 = 12_000;
    let a_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    rustix::net::sockopt::set_socket_recv_buffer_size(&a_listener, 4096).expect("rcvbuf");
    let a_ep = format!("tcp://{}", a_listener.local_addr().expect("its address"));
    let c_ep = cloud_endpoint();
    let dir = spool_dir("zedge-fspool", "liveleave");
    let dir_arg = dir.display().to_string();
    let hostile = std::cell::RefCell::new(None);
    let uplinks = [a_ep.clone(), c_ep.clone()];
    let start = restartable(&uplinks, &dir_arg, "8M", Some(&hostile));
    // What its connection can hold when it closes it: zedge's socket's send buffer
    // (`kernel_send_max`, 256 KiB) and its own (4 KiB, twice as the kernel counts), in
    // messages of 110 bytes on the wire.
    const HELD: u64 = (256 * 1024 + 2 * 4096) / 110;
    // A takes about 3,000 a second, closes its connection after its first 2,000 and is
    // away for 4 s: the stop (1.5 s after the burst) comes meanwhile.
    let leave = Some((2_000, Cut::Leave(Duration::from_secs(4))));
    let a = raw_cloud_stalling(
        a_listener,
        (N - HELD) as usize,
        Duration::from_secs(3),
        Duration::from_micros(333),
        leave,
    );
    let fill = |front: &str| drop(publish(front, 0..N, 0.0, 100).finish());
    let received = || a.join().expect("the raw cloud");
    let (a, stopped) = stop_with_live_queued(start, fill, received);
    if let Some(h) = hostile.borrow_mut().as_mut() {
        h.check();
    }
    let sizes: Vec<usize> = a.iter().map(Vec::len).collect();
    eprintln!("A, by connection {sizes:?}");
    assert!(
        sizes.len() >= 2 && sizes[0] == 2_000,
        "{sizes:?}\n{stopped}"
    );
    for (i, c) in a.iter().enumerate() {
        if let Some(w) = c.windows(2).find(|w| w[1] <= w[0]) {
            panic!("connection {i} of {sizes:?}: {} after {}", w[1], w[0]);
        }
    }
    let all: std::collections::BTreeSet<u64> = a.iter().flatten().copied().collect();
    assert_eq!(all.len(), sizes.iter().sum::<usize>(), "twice: {sizes:?}");
    // What is missing is what its connection held when it closed it: one run, right after
    // the last it read, no more than the buffers hold.
    let missing: Vec<u64> = (0..N).filter(|k| !all.contains(k)).collect();
    eprintln!("A lost {} with its connection", missing.len());
    if let (Some(&first), Some(&last)) = (missing.first(), missing.last()) {
        assert_eq!(first, a[0][1_999] + 1, "{sizes:?}");
        assert_eq!(last - first + 1, missing.len() as u64, "{sizes:?}");
        assert!(
            missing.len() as u64 <= HELD,
            "lost {}: {sizes:?}",
            missing.len()
        );
    }
    let _ = fs::remove_dir_all(&dir);
}

/// Attacker round 20, F4 and F5: a forwarder with two uplinks. Each has a lane of its own
/// in the spool, so each goes at its own pace: one that is connected and reads nothing holds
/// neither the other's publications nor its own (before, everything went to the spool and
/// waited behind it until its heartbeats closed it, about 40 s), and one that is away while
/// the other is up is spooled for (before, nothing was kept for it: the other was
/// connected). Beside them, a local subscriber that never reads and a peer that sends
/// garbage.
#[test]
fn two_uplinks_each_at_its_own_pace_one_stalled_then_away_costs_the_other_nothing() {
    const N: u64 = 20_000;
    let (a_ep, b_ep) = (cloud_endpoint(), cloud_endpoint());
    let addr = format!("127.0.0.1:{}", free_port());
    let ctl = format!("tcp://127.0.0.1:{}", free_port());
    let extra = ["--queue-hwm", "256K", "--metrics", &addr, "--control", &ctl];
    let (mut broker, dir) = edge_to("lanes", &[&a_ep, &b_ep], &extra);
    // A reads all along; B reads nothing for its first 16 s.
    let a = subscriber("cloud", &a_ep, 2 * N, 8.0, 0.0);
    let b = subscriber("stall", &b_ep, 2 * N, 5.0, 16.0);
    let mut hostile = Hostile::beside(&broker);
    // Both connected (zedge tries again within its 5 s backoff), then 2N in 8 s: B's queue
    // fills at once. A gets every one live meanwhile, each within its 8 s idle limit.
    connections(&broker, &a_ep, 1);
    connections(&broker, &b_ep, 1);
    publish(broker.frontend(), 0..N, 5000.0, 1000).finish();
    publish(broker.frontend(), N..2 * N, 5000.0, 1000).finish();
    let out = a.finish();
    eprintln!("uplink a: {}", brief(&out));
    assert_got(&out, 0..2 * N);
    // B wakes: every one, in order, once (its queue's, then its lane's in the spool).
    let out = b.finish();
    eprintln!("uplink b, stalled: {}", brief(&out));
    assert_got(&out, 0..2 * N);
    // A is back at once; B is away while N more come: spooled for B while A gets them
    // live. Then B is back.
    let a = subscriber("cloud", &a_ep, N, 8.0, 0.0);
    connections(&broker, &a_ep, 2);
    publish(broker.frontend(), 2 * N..3 * N, 5000.0, 1000).finish();
    let out = a.finish();
    eprintln!("uplink a, again: {}", brief(&out));
    assert_got(&out, 2 * N..3 * N);
    // The metrics say so per uplink: all N wait for B, its lane spools; A's does not.
    let lane = |text: &str, ep: &str, name: &str| {
        sample(text, "forwarder", name, &format!(",uplink=\"{ep}\""))
    };
    let until = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = metrics(&addr);
        let waits = lane(&text, &b_ep, "zedge_spool_lane_messages");
        if waits == N as f64 || Instant::now() > until {
            break text;
        }
        thread::sleep(Duration::from_millis(200));
    };
    let figures = |ep: &str| {
        ["zedge_spool_lane_messages", "zedge_spool_lane_spooling"].map(|name| lane(&text, ep, name))
    };
    assert_eq!(figures(&b_ep), [N as f64, 1.0], "B away");
    assert_eq!(figures(&a_ep), [0.0, 0.0], "A live");
    assert!(lane(&text, &b_ep, "zedge_spool_lane_oldest_age_seconds") > 0.0);
    // STATS, and `zedge stat`, too.
    let mut req = Agent::connect("control", "REQ", &ctl, &[]);
    req.send(&[b"STATS"]);
    let stats = req.recv(Duration::from_secs(5)).expect("STATS answered");
    let stats = String::from_utf8_lossy(&stats[0]).into_owned();
    req.close();
    for (ep, spooling, n) in [(&a_ep, false, 0), (&b_ep, true, N)] {
        let want = format!("{{\"uplink\":\"{ep}\",\"spooling\":{spooling},\"messages\":{n},");
        assert!(stats.contains(&want), "{want} in {stats}");
    }
    let out = std::process::Command::new(zedge_tests::broker::zedge_bin())
        .args(["stat", &addr])
        .output()
        .expect("run zedge stat");
    let table = String::from_utf8_lossy(&out.stdout);
    let row = format!("spool to {b_ep}, spooling");
    let at = table.lines().position(|l| l.trim() == row);
    let figures = at.and_then(|k| table.lines().nth(k + 1));
    assert!(
        figures.is_some_and(|l| l.trim_end().ends_with(&format!(" {N}"))),
        "{table}"
    );
    let out = subscriber("cloud", &b_ep, N, 5.0, 0.0).finish();
    eprintln!("uplink b, back: {}", brief(&out));
    assert_got(&out, 2 * N..3 * N);
    let stderr = ended_well(&mut broker, &mut hostile);
    for line in stderr
        .lines()
        .filter(|l| l.contains("XSUB") || l.contains("spool"))
    {
        eprintln!("{line}");
    }
    let _ = fs::remove_dir_all(&dir);
}

/// An uplink that reads about as fast as the publications come, 1,500 a second one second
/// and flat out the next, with the least buffers there are: its queue hovers at its mark,
/// and its lane goes from spooling to live and back, again and again. It gets every
/// publication once, in order; beside it a cloud that reads and a local subscriber get each
/// one live (within their 8 s idle limits), whatever a local subscriber that never reads and
/// a peer that sends garbage do. (Attacker round 25 measured it with 60,000: its
/// `e2_hover.sh`, lanes switching about 12 times.)
#[test]
fn a_slow_uplink_hovering_at_its_mark_gets_every_publication_once_and_costs_the_others_nothing() {
    const N: u64 = 30_000;
    let Hovering {
        mut broker,
        dir,
        addr,
        a,
        b,
        mut hostile,
    } = hovering_beside_reading("hover", "64K", N);
    let local = subscriber("local", broker.backend(), N, 8.0, 0.0);
    publish(broker.frontend(), 0..N, 3000.0, 1000).finish();
    for (name, p) in [("hovering", a), ("reading", b), ("local", local)] {
        let out = p.finish();
        eprintln!("{name}: {}", brief(&out));
        assert_got(&out, 0..N);
    }
    // The hovering uplink's lane spooled some and not all: it went live again.
    let text = metrics(&addr);
    let appended = sample(
        &text,
        "forwarder",
        "zedge_spool_messages_total",
        ",event=\"appended\"",
    );
    eprintln!("spooled for the hovering uplink: {appended}");
    assert!(appended > 0.0 && appended < N as f64, "{appended} of {N}");
    ended_well(&mut broker, &mut hostile);
    let _ = fs::remove_dir_all(&dir);
}

/// Attacker round 26, F1 and F2: 3 MB publications, every other one aborted half-way (its
/// publisher leaves), come among 100 B ones, at `--queue-hwm 256K`: a steady uplink's lane
/// goes from live to spooling and back with each large one, while a hovering uplink's lane
/// spools part of the time (so the spool takes the large ones too). Each uplink gets every
/// small publication once, in order, and every whole large one (none of an aborted one).
/// Before, the steady uplink got runs of small ones twice, rewound (those held back behind
/// a large one for it and for the spool), and after an abort newer ones came ahead of older.
#[test]
fn large_publications_whole_and_aborted_cost_each_uplink_no_small_one_twice_or_out_of_order() {
    const N: u64 = 30_000;
    const BIG: usize = 3_000_000;
    // Our own clouds, one connection at a time: an uplink that had been written part of an
    // aborted publication is reset, and a libzmq XSUB would take its old connection's last
    // messages and the new one's turn about. A reads 1,500 a second with the least buffers
    // (its lane goes from live to spooling and back); B all it gets.
    let a_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    rustix::net::sockopt::set_socket_recv_buffer_size(&a_listener, 4096).expect("rcvbuf");
    let a_ep = format!("tcp://{}", a_listener.local_addr().expect("its address"));
    let b_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let b_ep = format!("tcp://{}", b_listener.local_addr().expect("its address"));
    let addr = format!("127.0.0.1:{}", free_port());
    let extra = ["--queue-hwm", "256K", "--metrics", &addr];
    let (mut broker, dir) = edge_to("large", &[&a_ep, &b_ep], &extra);
    let idle = Duration::from_secs(6);
    let a = raw_cloud(a_listener, usize::MAX, idle, Duration::from_micros(666));
    let b = raw_cloud(b_listener, usize::MAX, idle, Duration::ZERO);
    let mut hostile = Hostile::beside(&broker);
    connections(&broker, &a_ep, 1);
    connections(&broker, &b_ep, 1);
    let small = publish(broker.frontend(), 0..N, 3000.0, 100);
    // After the small publisher's second of waiting: a large one every 0.4 s, every other
    // one from a publisher that leaves half-way, for 8 s of the flow's 10.
    thread::sleep(Duration::from_millis(1000));
    let front = broker.frontend_addr();
    let large = thread::spawn(move || {
        let body = vec![b'L'; BIG];
        let whole = raw::message_bytes(&[&body]);
        let mut steady = raw::handshake(front, SocketType::Pub, deadline(10));
        let mut sent = 0;
        for k in 0..20 {
            thread::sleep(Duration::from_millis(400));
            if k % 2 == 0 {
                steady.write_all(&whole).expect("a large publication");
                sent += 1;
            } else {
                let mut quitter = raw::handshake(front, SocketType::Pub, deadline(10));
                quitter
                    .write_all(&whole[..BIG / 2])
                    .expect("half a large publication");
            }
        }
        sent
    });
    small.finish();
    let whole = large.join().expect("the large publisher");
    let outs = [
        ("slow", a.join().expect("cloud a")),
        ("reading", b.join().expect("cloud b")),
    ];
    let text = metrics(&addr);
    let counted = |l: &&str| !l.starts_with('#') && (l.contains("dropped") || l.contains("spool"));
    for line in text.lines().filter(counted) {
        eprintln!("{line}");
    }
    for (name, conns) in outs {
        let (bigs, small): (Vec<Vec<u64>>, Vec<Vec<u64>>) = conns
            .into_iter()
            .map(|c| c.into_iter().partition(|&n| n >= LARGE))
            .unzip();
        let sizes: Vec<usize> = small.iter().map(Vec::len).collect();
        eprintln!("{name}: by connection {sizes:?}");
        assert_each_in_order_all_in(&small, N);
        assert_eq!(sizes.iter().sum::<usize>(), N as usize, "{name}: twice");
        let bigs: Vec<u64> = bigs.into_iter().flatten().collect();
        assert_eq!(bigs.len(), whole, "{name}: whole large ones");
        assert!(bigs.iter().all(|&l| l == LARGE | BIG as u64), "{name}");
    }
    ended_well(&mut broker, &mut hostile);
    let _ = fs::remove_dir_all(&dir);
}

/// Attacker round 29, I7: half of a large publication cut through, then nothing, while more is
/// published behind it than the spool's queue can hold back (`queue_hwm` and
/// `max_msg_size`, about 1.1 MB here): the spool lets go of the large one and says so at
/// warning, with what it took of it (only `dropped.memory` counted it), and the uplink, away
/// meanwhile, gets every small one behind it, in order, once, beside hostile peers.
#[test]
fn a_stalled_large_publication_the_spool_cannot_hold_back_behind_is_let_go_of_and_said() {
    const N: u64 = 4_000;
    let cloud_ep = cloud_endpoint();
    // Messages past 64K are cut through as they come.
    let extra = [
        "--queue-hwm",
        "64K",
        "--max-msg-size",
        "1M",
        "--store-forward-max",
        "64K",
    ];
    let (mut broker, dir) = edge_to("let-go", &[&cloud_ep], &extra);
    let mut hostile = Hostile::beside(&broker);
    let body = vec![b'L'; 900_000];
    let whole = raw::message_bytes(&[&body]);
    let mut stalled = raw::handshake(broker.frontend_addr(), SocketType::Pub, deadline(10));
    stalled
        .write_all(&whole[..450_000])
        .expect("half a large publication");
    // 4 MB at 2 MB/s: past what can be held back within a second, well within the stalled
    // sender's patience (four progress timeouts).
    publish(broker.frontend(), 0..N, 2000.0, 1000).finish();
    let said = "let go of a large message coming slowly (0.43 MiB taken of it)";
    let until = Instant::now() + Duration::from_secs(10);
    while !broker.stderr().contains(said) {
        assert!(Instant::now() < until, "{}", broker.stderr());
        thread::sleep(Duration::from_millis(50));
    }
    let out = subscriber("cloud", &cloud_ep, N, 5.0, 0.0).finish();
    eprintln!("cloud: {}", brief(&out));
    assert_got(&out, 0..N);
    drop(stalled);
    ended_well(&mut broker, &mut hostile);
    let _ = fs::remove_dir_all(&dir);
}

/// Past `spool_max` (2M, segments of 1 MiB) while the cloud is away, the oldest segments
/// go: their messages are counted as dropped, by the spool and with the device's drops
/// (attacker round 30, J7: the stop's total said 0), and said at warning; the cloud gets
/// the newest that were kept, in order, once, beside hostile peers (the subscriber that
/// never reads subscribed to what is not published here: its own losses would count with
/// the device's too).
#[test]
fn past_spool_max_the_oldest_publications_go_counted_and_the_cloud_gets_the_newest_in_order() {
    const N: u64 = 40_000;
    let cloud_ep = cloud_endpoint();
    let addr = format!("127.0.0.1:{}", free_port());
    let extra = ["--spool-max", "2M", "--metrics", &addr];
    let (mut broker, dir) = edge_to("past-max", &[&cloud_ep], &extra);
    let mut hostile = Hostile::beside_on(&broker, b"x");
    // About 4.4 MB on disk.
    publish(broker.frontend(), 0..N, 0.0, 100).finish();
    let event = |text: &str, e: &str| {
        let labels = format!(",event=\"{e}\"");
        sample(text, "forwarder", "zedge_spool_messages_total", &labels)
    };
    let until = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = metrics(&addr);
        if event(&text, "appended") >= N as f64 {
            break text;
        }
        assert!(Instant::now() < until, "not all appended:\n{text}");
        thread::sleep(Duration::from_millis(100));
    };
    let spool = event(&text, "dropped");
    let device = sample(
        &text,
        "forwarder",
        "zedge_messages_dropped_total",
        ",side=\"backend\",reason=\"hwm\"",
    );
    assert!(spool > 0.0, "{text}");
    assert_eq!(device, spool, "{text}");
    let kept = N - spool as u64;
    let out = subscriber("cloud", &cloud_ep, kept, 5.0, 0.0).finish();
    eprintln!("cloud: {}", brief(&out));
    assert_got(&out, N - kept..N);
    let stderr = ended_well(&mut broker, &mut hostile);
    assert!(stderr.contains("past spool_max"), "{stderr}");
    let total = format!("{N} messages in, {} out, {} dropped", kept, spool as u64);
    assert!(stderr.contains(&total), "{total}:\n{stderr}");
    let _ = fs::remove_dir_all(&dir);
}

/// Attacker round 25, H1: the same `>` endpoint given twice named two of the spool's
/// readers alike, the spool never opened, and once an uplink was away the forwarder held its
/// publishers (and every subscriber) for good. Now the two connections share a lane: the
/// spool opens, the uplink given twice gets each publication from both, and the one that
/// was away gets what it missed.
#[test]
fn the_same_uplink_endpoint_twice_shares_a_lane_and_the_spool_opens() {
    const N: u64 = 5_000;
    let (a_ep, b_ep) = (cloud_endpoint(), cloud_endpoint());
    let (mut broker, dir) = edge_to("twice", &[&a_ep, &a_ep, &b_ep], &[]);
    let a = subscriber("cloud", &a_ep, 2 * N, 5.0, 0.0);
    let local = subscriber("local", broker.backend(), N, 5.0, 0.0);
    connections(&broker, &a_ep, 2);
    publish(broker.frontend(), 0..N, 5000.0, 100).finish();
    let out = local.finish();
    assert_got(&out, 0..N);
    let out = a.finish();
    eprintln!("uplink a, given twice: {}", brief(&out));
    assert_eq!(num(&out, "n"), 2 * N as i64, "{}", brief(&out));
    assert_got_all(&out, 0..N);
    let out = subscriber("cloud", &b_ep, N, 5.0, 0.0).finish();
    eprintln!("uplink b, away: {}", brief(&out));
    assert_got(&out, 0..N);
    broker.assert_running();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    assert!(!stderr.contains("cannot open"), "{stderr}");
    let _ = fs::remove_dir_all(&dir);
}

/// Attacker round 25, H1: a forwarder whose spool cannot be opened (here its directory is
/// locked by another process for good) held its publishers, and every subscriber with them,
/// for good once its spool's queue was full. Now they wait 5 s at most; then what comes for
/// the uplink that is away is lost, as without a spool, and the flow goes on: the local
/// subscriber gets the last publication, in order (it may lose some at its own mark when
/// the publisher's backlog comes at once, as any subscriber would). An uplink that is there
/// connects after those 5 s (it waits for the spool to open) and gets the publications live
/// from then on (attacker round 28, H2: its lane, spooling from the start, never stopped,
/// and it got nothing).
#[test]
fn a_spool_that_cannot_be_opened_holds_the_publishers_5_s_at_most() {
    const N: u64 = 20_000;
    let dir = spool_dir("zedge-fspool", "locked");
    fs::create_dir_all(&dir).expect("spool dir");
    let locker = lock(&dir, 60);
    let (away, there) = (cloud_endpoint(), cloud_endpoint());
    let cloud = subscriber("cloud", &there, N, 8.0, 0.0);
    let dir_arg = dir.display().to_string();
    let backends = [Ep::Tcp, Ep::Connect(away), Ep::Connect(there)];
    let args = ["--spool", dir_arg.as_str(), "--queue-hwm", "64K"];
    let mut broker = Broker::start_with("forwarder", &[Ep::Tcp], &backends, &args);
    let local = subscriber("local", broker.backend(), N, 8.0, 0.0);
    thread::sleep(Duration::from_millis(500));
    publish(broker.frontend(), 0..N, 2000.0, 100).finish();
    for (name, p) in [("local", local), ("uplink", cloud)] {
        let out = p.finish();
        eprintln!("{name}: {}", brief(&out));
        assert_eq!(num(&out, "last"), N as i64 - 1, "{name}: {}", brief(&out));
        assert_eq!(field(&out, "increasing"), "true", "{name}: {}", brief(&out));
    }
    broker.assert_running();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    assert!(stderr.contains("cannot open it yet"), "{stderr}");
    drop(locker);
    let _ = fs::remove_dir_all(&dir);
}

/// Attacker round 29, I1: a spool locked past its 5 s hold, then let go. Its uplink, which
/// had nothing spooled, connected after the hold and got new publications live; what the
/// spool's queue held from before then was written to the log when it opened, and the lane,
/// live, passed over it: lost, and counted nowhere. Attacker round 30, J1: the same for what
/// was held while it was away and came back, all within the lock (only the first stretch
/// was given). Now the uplink gets what was held for it, and what it had queued when it
/// left, once the spool opens, in order, ahead of its new publications: every publication
/// once (those held after the live ones), but what its first connection held when it closed
/// it. Beside it, a local subscriber that never reads and a publisher of garbage.
#[test]
fn an_uplink_live_or_away_while_the_spool_was_locked_gets_what_was_held_for_it_when_it_opens() {
    const N: u64 = 12_000;
    let dir = spool_dir("zedge-fspool", "lockedlate");
    fs::create_dir_all(&dir).expect("spool dir");
    let locker = lock(&dir, 10);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    rustix::net::sockopt::set_socket_recv_buffer_size(&listener, 4096).expect("rcvbuf");
    let ep = format!("tcp://{}", listener.local_addr().expect("its address"));
    // Connected after the hold (5 s), it closes its connection after 1,000 publications
    // live and is away for a second, back well before the lock goes (10 s).
    const HELD: u64 = (256 * 1024 + 2 * 4096) / 110;
    let leave = Some((1_000, Cut::Leave(Duration::from_secs(1))));
    let a = raw_cloud_stalling(
        listener,
        (N - HELD) as usize,
        Duration::from_secs(4),
        Duration::ZERO,
        leave,
    );
    let dir_arg = dir.display().to_string();
    let backends = [Ep::Tcp, Ep::Connect(ep)];
    // The spool's queue holds what the lock holds (about 1 MB).
    let args = ["--spool", dir_arg.as_str(), "--queue-hwm", "2M"];
    let mut broker = Broker::start_with("forwarder", &[Ep::Tcp], &backends, &args);
    let mut hostile = Hostile::beside(&broker);
    publish(broker.frontend(), 0..N, 1000.0, 100).finish();
    let a = a.join().expect("the raw cloud");
    let stderr = ended_well(&mut broker, &mut hostile);
    drop(locker);
    let sizes: Vec<usize> = a.iter().map(Vec::len).collect();
    eprintln!("A, by connection {sizes:?}");
    assert!(sizes.len() >= 2 && sizes[0] == 1_000, "{sizes:?}\n{stderr}");
    let all: std::collections::BTreeSet<u64> = a.iter().flatten().copied().collect();
    assert_eq!(all.len(), sizes.iter().sum::<usize>(), "twice: {sizes:?}");
    // Its second connection: live ones, then what was held (once out of order), then in
    // order.
    let steps = a[1].windows(2).filter(|w| w[1] <= w[0]).count();
    assert!(steps <= 1, "{steps} steps back: {sizes:?}");
    // What is missing is what its first connection held when it closed it: one run, right
    // after the last it read, no more than the buffers hold.
    let missing: Vec<u64> = (0..N).filter(|k| !all.contains(k)).collect();
    eprintln!("A lost {} with its first connection", missing.len());
    if let (Some(&first), Some(&last)) = (missing.first(), missing.last()) {
        assert_eq!(first, a[0][999] + 1, "{sizes:?}\n{stderr}");
        assert_eq!(last - first + 1, missing.len() as u64, "{sizes:?}");
        assert!(missing.len() as u64 <= HELD, "lost {}", missing.len());
    }
    assert!(
        stderr.contains("held while it could not be opened go to"),
        "{stderr}"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// Attacker round 27, G4: a device whose spool is locked (by the device a reload replaces,
/// until it has stopped) connected to its uplinks at once, and they got new publications
/// live, then what the spool held. Now the uplinks' connections wait for the spool to open
/// (5 s at most), and then everything it holds goes to them first, in order.
#[test]
fn uplinks_connect_once_the_spool_is_open() {
    const N: u64 = 2_000;
    let dir = spool_dir("zedge-fspool", "waitopen");
    let cloud_ep = cloud_endpoint();
    // The first device spools N for the cloud that is away, and stops.
    let mut broker = edge(&cloud_ep, Some(&dir), &[]);
    let front = broker.frontend().to_owned();
    publish(&front, 0..N, 0.0, 100).finish();
    thread::sleep(Duration::from_millis(500));
    broker.terminate();
    no_panic(&broker.stderr());
    // Its directory locked for 2 s more, as by a device still stopping.
    fs::create_dir_all(&dir).expect("spool dir");
    let locker = lock(&dir, 2);
    let cloud = subscriber("cloud", &cloud_ep, 2 * N, 5.0, 0.0);
    let mut broker = edge_at(Ep::Bind(front.clone()), &cloud_ep, Some(&dir), &[]);
    // New publications while the spool is locked: they come after the spooled ones.
    publish(&front, N..2 * N, 1000.0, 100).finish();
    let out = cloud.finish();
    eprintln!("cloud: {}", brief(&out));
    assert_got(&out, 0..2 * N);
    broker.assert_running();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    let said = |what: &str| {
        stderr
            .find(what)
            .unwrap_or_else(|| panic!("{what}: {stderr}"))
    };
    assert!(
        said("connecting once the spool is open") < said(": open"),
        "{stderr}"
    );
    assert!(said(": open") < said("XSUB connected"), "{stderr}");
    drop(locker);
    let _ = fs::remove_dir_all(&dir);
}

/// Another process holds the lock of the spool directory `dir` for `secs` seconds (as a
/// device still stopping, or another zedge, would), from when this returns.
fn lock(dir: &Path, secs: u64) -> PyPeer {
    // Built first: a build after the lock is taken would eat into it.
    zedge_bin();
    let lock = dir.join("lock").display().to_string();
    let locker = PyPeer::spawn(
        "locker",
        "import fcntl, sys, time\n\
         f = open(sys.argv[1], 'w')\n\
         fcntl.flock(f, fcntl.LOCK_EX)\n\
         print('locked', flush=True)\n\
         time.sleep(float(sys.argv[2]))\n",
        &[lock, secs.to_string()],
        Duration::from_secs(secs + 10),
    );
    let until = Instant::now() + Duration::from_secs(20);
    while !locker.stdout_so_far().contains("locked") {
        assert!(Instant::now() < until, "the locker did not start");
        thread::sleep(Duration::from_millis(20));
    }
    locker
}

/// A cloud XSUB of our own on `listener`: it takes one connection at a time, to its end,
/// subscribed to everything, reading a message every `pause`, until it has `want` numbers
/// in all or none came for `idle`; returns what each connection brought, in order. (A libzmq
/// XSUB takes from the connection a stop closed, whose last bytes are still on their way,
/// and the next one at once, interleaved: the order zedge sent in is not what it reads.)
fn raw_cloud(
    listener: std::net::TcpListener,
    want: usize,
    idle: Duration,
    pause: Duration,
) -> thread::JoinHandle<Vec<Vec<u64>>> {
    raw_cloud_stalling(listener, want, idle, pause, None)
}

/// What [`raw_cloud_stalling`]'s first connection does once it brought a number of messages.
#[derive(Clone, Copy)]
enum Cut {
    /// Read nothing for this long, then go on.
    Stall(Duration),
    /// Close the connection, and take no other for this long.
    Leave(Duration),
}

/// What [`raw_cloud`] records for a message that is not a number: this, and its length.
const LARGE: u64 = 1 << 40;

/// [`raw_cloud`] whose first connection does `cut.1` once it brought `cut.0` messages.
fn raw_cloud_stalling(
    listener: std::net::TcpListener,
    want: usize,
    idle: Duration,
    pause: Duration,
    cut: Option<(usize, Cut)>,
) -> thread::JoinHandle<Vec<Vec<u64>>> {
    thread::spawn(move || {
        let mut conns: Vec<Vec<u64>> = Vec::new();
        listener.set_nonblocking(true).expect("nonblocking");
        let mut last = Instant::now() + Duration::from_secs(30);
        while conns.iter().map(Vec::len).sum::<usize>() < want && Instant::now() < last {
            let Ok((mut s, _)) = listener.accept() else {
                thread::sleep(Duration::from_millis(20));
                continue;
            };
            s.set_nonblocking(false).expect("blocking");
            if !raw::accept_handshake(&mut s, SocketType::XSub, deadline(10)) {
                continue;
            }
            s.write_all(&raw::message_bytes(&[b"\x01"]))
                .expect("subscribe");
            let mut got = Vec::new();
            let end = loop {
                match raw::next_message(&mut s, Instant::now() + idle) {
                    Ok(m) => {
                        let number = m[0].get(..8).and_then(|d| std::str::from_utf8(d).ok());
                        match number.and_then(|d| d.parse::<u64>().ok()) {
                            Some(n) => got.push(n),
                            None => got.push(LARGE | m.iter().map(Vec::len).sum::<usize>() as u64),
                        }
                        thread::sleep(pause);
                        match cut.filter(|c| conns.is_empty() && got.len() == c.0) {
                            Some((k, Cut::Stall(how_long))) => {
                                eprintln!("raw cloud: {k} in, reading nothing for {how_long:?}");
                                thread::sleep(how_long);
                            }
                            Some((k, Cut::Leave(how_long))) => {
                                eprintln!("raw cloud: {k} in, away for {how_long:?}");
                                drop(s);
                                thread::sleep(how_long);
                                break std::io::Error::other("closed by the cloud");
                            }
                            None => {}
                        }
                    }
                    Err(e) => break e,
                }
            };
            eprintln!("raw cloud: a connection brought {}, then {end}", got.len());
            if !got.is_empty() {
                // zedge connects again within its reconnect backoff (5 s at most).
                last = Instant::now() + idle.max(Duration::from_secs(8));
            }
            conns.push(got);
        }
        conns
    })
}

/// A start for [`stop_with_live_queued`]: an edge forwarder with a local backend and a
/// connection up to each of `uplinks`, spooling to `dir` at `--queue-hwm hwm`, its frontend
/// bound again at a restart; the first start puts the hostile peers beside it in `hostile`,
/// if given (until the stop).
fn restartable<'a>(
    uplinks: &'a [String],
    dir: &'a str,
    hwm: &'a str,
    hostile: Option<&'a std::cell::RefCell<Option<Hostile>>>,
) -> impl Fn(Option<&str>) -> Broker + 'a {
    move |front| {
        let first = front.is_none();
        let front = front.map_or(Ep::Tcp, |f| Ep::Bind(f.to_owned()));
        let mut backends = vec![Ep::Tcp];
        backends.extend(uplinks.iter().map(|u| Ep::Connect(u.clone())));
        let args = ["--spool", dir, "--queue-hwm", hwm];
        let broker = Broker::start_with("forwarder", &[front], &backends, &args);
        if let Some(h) = hostile.filter(|_| first) {
            *h.borrow_mut() = Some(Hostile::beside(&broker));
        }
        broker
    }
}

/// Every number of `0..n` in what `conns` brought, each connection's in order.
fn assert_each_in_order_all_in(conns: &[Vec<u64>], n: u64) {
    let sizes: Vec<usize> = conns.iter().map(Vec::len).collect();
    for (i, c) in conns.iter().enumerate() {
        if let Some(w) = c.windows(2).find(|w| w[1] <= w[0]) {
            panic!("connection {i} of {sizes:?}: {} after {}", w[1], w[0]);
        }
    }
    let all: std::collections::BTreeSet<u64> = conns.iter().flatten().copied().collect();
    let missing: Vec<u64> = (0..n).filter(|k| !all.contains(k)).take(10).collect();
    assert!(
        missing.is_empty(),
        "missing {missing:?}... of {n}; connections {sizes:?}"
    );
    assert_eq!(all.len() as u64, n, "others than 0..{n}");
}

/// Beside the flow: a local subscriber that never reads, and a publisher that sends
/// garbage.
struct Hostile {
    _stalled: std::net::TcpStream,
    garbage: std::net::TcpStream,
}

impl Hostile {
    fn beside(broker: &Broker) -> Hostile {
        Hostile::beside_on(broker, b"")
    }

    /// [`Hostile::beside`], the subscriber that never reads subscribed to `topic`.
    fn beside_on(broker: &Broker, topic: &[u8]) -> Hostile {
        let mut stalled = raw::handshake(broker.backend_addr(), SocketType::Sub, deadline(10));
        stalled
            .write_all(&raw::subscribe(topic))
            .expect("subscribe");
        let mut garbage = raw::connect(broker.frontend_addr(), deadline(10));
        garbage.write_all(&[0x55; 64]).expect("write garbage");
        Hostile {
            _stalled: stalled,
            garbage,
        }
    }

    /// The garbage's sender was closed (the subscriber that never reads stays connected).
    fn check(&mut self) {
        let (refused, _) = raw::closed_by(&mut self.garbage, deadline(5));
        assert!(refused, "the peer that sent garbage was not closed");
    }
}

/// The hostile peers were dealt with, and `broker`, still running, stopped without a
/// panic: its log.
fn ended_well(broker: &mut Broker, hostile: &mut Hostile) -> String {
    hostile.check();
    broker.assert_running();
    broker.terminate();
    let stderr = broker.stderr();
    no_panic(&stderr);
    stderr
}

/// An edge forwarder (`--queue-hwm hwm`, metrics at `addr`) with two uplinks, each taking
/// `n` numbered publications: `a` hovers at its mark (1,500 a second one second, flat out the
/// next, with the least buffers), `b` reads all along; both connected, and the hostile peers
/// beside.
struct Hovering {
    broker: Broker,
    dir: std::path::PathBuf,
    addr: String,
    a: PyPeer,
    b: PyPeer,
    hostile: Hostile,
}

fn hovering_beside_reading(tag: &str, hwm: &str, n: u64) -> Hovering {
    let (a_ep, b_ep) = (cloud_endpoint(), cloud_endpoint());
    let addr = format!("127.0.0.1:{}", free_port());
    let extra = ["--queue-hwm", hwm, "--metrics", &addr];
    let (broker, dir) = edge_to(tag, &[&a_ep, &b_ep], &extra);
    let a = subscriber("hover", &a_ep, n, 8.0, 1.0 / 1500.0);
    let b = subscriber("cloud", &b_ep, n, 8.0, 0.0);
    let hostile = Hostile::beside(&broker);
    connections(&broker, &a_ep, 1);
    connections(&broker, &b_ep, 1);
    Hovering {
        broker,
        dir,
        addr,
        a,
        b,
        hostile,
    }
}

/// A loopback endpoint for a cloud XSUB to bind.
fn cloud_endpoint() -> String {
    format!("tcp://127.0.0.1:{}", free_port())
}

/// An edge forwarder spooling to a directory of its own (named by `tag`): a loopback
/// frontend, a backend bound on loopback for local subscribers and connecting up to each of
/// `uplinks`.
fn edge_to(tag: &str, uplinks: &[&str], extra: &[&str]) -> (Broker, std::path::PathBuf) {
    let dir = spool_dir("zedge-fspool", tag);
    let dir_arg = dir.display().to_string();
    let mut backends = vec![Ep::Tcp];
    backends.extend(uplinks.iter().map(|u| Ep::Connect(u.to_string())));
    let mut args = vec!["--spool", dir_arg.as_str()];
    args.extend_from_slice(extra);
    let broker = Broker::start_with("forwarder", &[Ep::Tcp], &backends, &args);
    (broker, dir)
}

/// Wait (10 s at most) until `broker` has said `n` times that an uplink at `ep` connected.
fn connections(broker: &Broker, ep: &str, n: usize) {
    let port = ep.rsplit(':').next().unwrap_or_default();
    let said = format!("{port}: XSUB connected");
    let until = Instant::now() + Duration::from_secs(10);
    while broker.stderr().matches(&said).count() < n {
        assert!(Instant::now() < until, "uplink {ep} did not connect");
        thread::sleep(Duration::from_millis(20));
    }
}
