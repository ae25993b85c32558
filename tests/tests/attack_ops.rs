//! The attacker and the bad radio link, at the process's edges: connect-and-close storms, a
//! full descriptor table, signals during traffic and reload storms, and configs with extreme
//! values, through the real binary. Each test asserts what the innocent side must still get,
//! as in `attack.rs`: every message, within the isolation bound, the process alive, no panic,
//! a clear error.

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use zedge_core::wire::metadata::SocketType;
use zedge_tests::broker::{cpu_secs, free_port, Broker};
use zedge_tests::flow::{retry_latency, Flow, FlowResult, FlowSpec, ISOLATION_MS};
use zedge_tests::normal::{field, no_panic, normal_flow};
use zedge_tests::raw;
use zedge_tests::systemd::{zedge, ConfigRun};
use zedge_tests::wait::deadline;
use zedge_tests::PyPeer;

// ---------------------------------------------------------------------------------------------
// Admission: connect-and-close storms, descriptor exhaustion.
// ---------------------------------------------------------------------------------------------

/// Open files of `pid` now.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A 200 msgs/s streamer flow while `rate` connections a second to each side connect and
/// close at once, sending nothing. Prints the connections made.
fn connect_and_close_storm(rate: f64) -> FlowResult {
    let mut broker = Broker::start("streamer", &[]);
    let mut flow = Flow::start(
        "streamer",
        broker.frontend(),
        broker.backend(),
        FlowSpec::ticks(200, 2.0),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let storms: Vec<_> = [broker.frontend_addr(), broker.backend_addr()]
        .into_iter()
        .map(|addr| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let start = Instant::now();
                let mut made = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    if TcpStream::connect(addr).is_ok() {
                        made += 1;
                    }
                    let due = start + Duration::from_secs_f64(f64::from(made) / rate);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        thread::sleep(wait);
                    }
                }
                made
            })
        })
        .collect();
    flow.go();
    let r = flow.finish();
    stop.store(true, Ordering::Relaxed);
    let made: Vec<u32> = storms
        .into_iter()
        .map(|t| t.join().expect("storm"))
        .collect();
    eprintln!("connections made and closed: {made:?}");
    broker.assert_running();
    no_panic(&broker.stderr());
    broker.stop();
    r
}

/// Before the accept loop took fair turns (it yielded after each accept, but `accept` takes
/// a waiting connection without the reactor, so the other sockets waited): 93-326 ms, over
/// the bound in 5 runs of 6; after: 13-53 ms, with one run of 108-127 ms in ten suite runs
/// at a load average of 5 on 2 cores.
#[test]
#[ignore = "probe: 5,000 connect-and-close a second on each side; 13-53 ms since the accept loop takes fair turns (93-326 ms before), but over 100 ms now and then when the machine is loaded"]
fn a_connect_and_close_storm_costs_no_latency() {
    let r = retry_latency(ISOLATION_MS, || connect_and_close_storm(5000.0));
    r.assert_within("connect-and-close storms on both sides", ISOLATION_MS);
}

#[test]
fn a_full_descriptor_table_costs_no_cpu_and_the_device_recovers() {
    let mut broker = Broker::start("streamer", &["--heartbeat-ivl", "0"]);
    let pid = broker.pid();
    // The running broker's open-files limit drops to 32 (prlimit on its pid).
    let ok = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), "--nofile=32:32"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "prlimit --pid {pid} --nofile=32:32 failed (util-linux prlimit needed)"
    );
    let mut w =
        zedge_tests::agent::Agent::connect("worker", "PULL", broker.backend(), &["monitor"]);
    let mut p = zedge_tests::agent::Agent::connect("producer", "PUSH", broker.frontend(), &[]);
    assert!(w.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    p.send(&[b"warm"]);
    assert_eq!(
        w.recv(Duration::from_secs(10)),
        Some(vec![b"warm".to_vec()])
    );
    // 60 raw peers: more than the table holds; the kernel keeps the rest in the backlog.
    let held: Vec<TcpStream> = (0..60)
        .filter_map(|_| {
            let mut s = TcpStream::connect(broker.frontend_addr()).ok()?;
            let _ = s.write_all(&raw::greeting());
            Some(s)
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    assert!(
        open_fds(pid) >= 30,
        "the table did not fill: {} open",
        open_fds(pid)
    );
    let cpu0 = cpu_secs(pid);
    thread::sleep(Duration::from_secs(2));
    let spent = cpu_secs(pid) - cpu0;
    assert!(
        spent < 0.5,
        "at its open-files limit the broker spun: {spent:.2} s of CPU in 2 s"
    );
    // The peers already in still flow, a large (spliced) body included.
    p.send(&[b"during"]);
    assert_eq!(
        w.recv(Duration::from_secs(10)),
        Some(vec![b"during".to_vec()])
    );
    drop(held);
    thread::sleep(Duration::from_millis(500));
    let mut late =
        zedge_tests::agent::Agent::connect("late producer", "PUSH", broker.frontend(), &[]);
    late.send(&[b"after"]);
    assert_eq!(
        w.recv(Duration::from_secs(10)),
        Some(vec![b"after".to_vec()])
    );
    late.close();
    p.close();
    w.close();
    broker.assert_running();
    no_panic(&broker.stderr());
    broker.stop();
}

// ---------------------------------------------------------------------------------------------
// Signals and config.
// ---------------------------------------------------------------------------------------------

#[test]
fn sigterm_with_a_stalled_cut_through_message_in_flight_exits_promptly() {
    let mut broker = Broker::start("streamer", &["--heartbeat-ivl", "0"]);
    // A worker that never reads, a producer 3 MiB into a 30 MiB message that then stalls.
    let stalled = raw::handshake(broker.backend_addr(), SocketType::Pull, deadline(10));
    let mut p = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
    let mut bytes = raw::data_head(1, true);
    bytes.push(b'h');
    bytes.extend(raw::data_head(30 << 20, false));
    bytes.extend(vec![b'q'; 3 << 20]);
    p.set_write_timeout(Some(Duration::from_secs(10)))
        .expect("write timeout");
    let _ = p.write_all(&bytes);
    thread::sleep(Duration::from_millis(300));
    // SIGPIPE from outside is ignored.
    let ok = Command::new("kill")
        .args(["-PIPE", &broker.pid().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok);
    thread::sleep(Duration::from_millis(200));
    broker.assert_running();
    let t = Instant::now();
    let status = broker.terminate();
    let took = t.elapsed();
    assert_eq!(status.code(), Some(0), "{}", broker.stderr());
    assert!(
        took < Duration::from_secs(3),
        "SIGTERM took {took:?} with a stalled message in flight"
    );
    no_panic(&broker.stderr());
    drop((stalled, p));
}

#[test]
fn extreme_timeouts_and_sizes_that_are_accepted_do_not_overflow() {
    let max = u64::MAX.to_string();
    for args in [
        vec!["--heartbeat-ivl", &max],
        vec!["--heartbeat-ivl", "1", "--heartbeat-timeout", "1"],
        vec!["--heartbeat-ivl", "1000", "--heartbeat-timeout", &max],
        vec!["--handshake-timeout", &max],
        vec!["--handshake-timeout", "0"],
        vec!["--progress-timeout", &max],
        vec!["--max-msg-size", &max],
    ] {
        let mut broker = Broker::start("streamer", &args);
        // A peer that pings with the largest TTL, and one that stops inside its greeting.
        let mut s = raw::handshake(broker.frontend_addr(), SocketType::Push, deadline(10));
        let _ = s.write_all(&raw::ping(u16::MAX, b"ctx"));
        let mut half = raw::connect(broker.frontend_addr(), deadline(10));
        let _ = half.write_all(&raw::greeting()[..10]);
        normal_flow(&mut broker, "streamer");
        thread::sleep(Duration::from_millis(100));
        no_panic(&broker.stderr());
        broker.stop();
    }
}

fn ep() -> String {
    format!("tcp://127.0.0.1:{}", free_port())
}

fn device(name: &str, kind: &str, front: &str, back: &str) -> String {
    format!(
        "[[device]]\nname = \"{name}\"\nkind = \"{kind}\"\nfrontend = \"{front}\"\nbackend = \"{back}\"\n"
    )
}

/// Arguments: frontend, backend, ... pairs of a streamer's endpoints; one message through each.
const THROUGH: &str = r#"
import sys, zmq
ctx = zmq.Context()
eps = sys.argv[1:]
for fe, be in zip(eps[::2], eps[1::2]):
    pull = ctx.socket(zmq.PULL); pull.setsockopt(zmq.RCVTIMEO, 10000); pull.connect(be)
    push = ctx.socket(zmq.PUSH); push.setsockopt(zmq.LINGER, 0); push.connect(fe)
    push.send(b"through")
    assert pull.recv() == b"through", (fe, be)
    push.close(); pull.close(linger=0)
ctx.destroy(linger=0)
print("through")
"#;

/// One message through each (frontend, backend) pair, in one libzmq process.
fn streams(pairs: &[(&str, &str)]) {
    let args: Vec<String> = pairs
        .iter()
        .flat_map(|(fe, be)| [(*fe).to_owned(), (*be).to_owned()])
        .collect();
    let out = PyPeer::spawn("through", THROUGH, &args, Duration::from_secs(30)).finish();
    assert_eq!(out.trim(), "through");
}

#[test]
fn reloads_that_swap_endpoints_and_rename_devices_keep_serving() {
    let (a, b, c, d) = (ep(), ep(), ep(), ep());
    let mut run = ConfigRun::start(
        &(device("a", "streamer", &a, &b) + &device("b", "streamer", &c, &d)),
        &[],
    );
    run.wait_log("b backend listening", deadline(10));
    streams(&[(&a, &b)]);
    // The two frontends change places in one reload.
    run.reload(&(device("a", "streamer", &c, &b) + &device("b", "streamer", &a, &d)));
    run.wait_log("2 with changed endpoints", deadline(10));
    streams(&[(&c, &b), (&a, &d)]);
    // Both devices renamed, endpoints kept: the new ones must bind what the old ones held.
    run.reload(&(device("x", "streamer", &c, &b) + &device("y", "streamer", &a, &d)));
    run.wait_log("2 added, 2 removed", deadline(10));
    streams(&[(&c, &b), (&a, &d)]);
    run.assert_running();
    no_panic(&run.stderr());
    run.stop_clean();
}

/// Arguments: frontend, backend, N. Pushes N numbered messages 2 ms apart and checks the PULL
/// gets each once, in order; prints `got=.. max_ms=..`.
const STREAM_ROUND_TRIPS: &str = r#"
import sys, time, zmq
fe, be, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = zmq.Context()
a = ctx.socket(zmq.PUSH); a.setsockopt(zmq.LINGER, 0); a.connect(fe)
b = ctx.socket(zmq.PULL); b.setsockopt(zmq.RCVTIMEO, 5000); b.connect(be)
a.send(b"warm"); assert b.recv() == b"warm"
print("warm", flush=True)
got, worst = 0, 0.0
for i in range(n):
    t = time.monotonic()
    a.send(b"%d" % i)
    try:
        assert b.recv() == b"%d" % i
    except zmq.Again:
        break
    got += 1
    worst = max(worst, time.monotonic() - t)
    time.sleep(0.002)
print("got=%d max_ms=%.1f" % (got, worst * 1000))
ctx.destroy(linger=0)
"#;

#[test]
fn a_sighup_storm_during_traffic_loses_nothing() {
    let (a, b, c, d) = (ep(), ep(), ep(), ep());
    let base = device("jobs", "streamer", &a, &b);
    let mut run = ConfigRun::start(&(base.clone() + &device("rpc", "queue", &c, &d)), &[]);
    run.wait_log("rpc backend listening", deadline(10));
    let peer = PyPeer::spawn(
        "round trips",
        STREAM_ROUND_TRIPS,
        &[a.clone(), b.clone(), "800".to_owned()],
        Duration::from_secs(60),
    );
    // 100 reloads, 10 ms apart, half of them restarting the other device.
    thread::sleep(Duration::from_millis(500));
    for i in 0..100 {
        let other = if i % 2 == 0 {
            device("rpc", "queue", &c, &d)
        } else {
            device("rpc", "queue", &c, &d) + "max_peers = 100\n"
        };
        run.reload(&(base.clone() + &other));
        thread::sleep(Duration::from_millis(10));
    }
    let out = peer.finish();
    eprintln!("{}", out.trim());
    assert_eq!(
        field(&out, "got"),
        800.0,
        "messages lost in a SIGHUP storm: {out}"
    );
    run.assert_running();
    no_panic(&run.stderr());
    run.stop_clean();
}

#[test]
fn an_integer_too_large_for_toml_reads_as_the_keys_own_error() {
    let path = zedge_tests::systemd::temp_path("huge-int.toml");
    let config = format!(
        "{}queue_hwm = 99999999999999999999999\n",
        device("a", "streamer", &ep(), &ep())
    );
    std::fs::write(&path, config).expect("write config");
    let out = zedge(&["check-config", path.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    no_panic(&stderr);
    assert!(
        stderr.contains("queue_hwm") && stderr.contains("expected bytes"),
        "unclear error for a too-large integer: {stderr}"
    );
    assert!(
        !stderr.contains("i128") && !stderr.contains('`'),
        "{stderr}"
    );
}
