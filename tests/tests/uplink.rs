//! The uplink recipes of board/README: an edge zedge feeds a cloud broker (a zedge, or
//! libzmq's proxy) by connecting its backend to the cloud's frontend, for each device; the
//! peers are the test clients (`zedge pub`, `sub`...). Connecting the wrong side is warned of
//! at both ends, each saying which side to use.

use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use zedge_tests::broker::{free_port, zedge_bin, Broker, Ep};
use zedge_tests::clients::{self, client};
use zedge_tests::PyPeer;

/// A client's output once it exits 0, within `secs`.
fn finish(c: Child, secs: u64) -> Output {
    let out = clients::finish(c, Duration::from_secs(secs));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// An edge `kind` device on loopback whose backend connects to `cloud_frontend`.
fn edge(kind: &str, cloud_frontend: &str) -> Broker {
    Broker::start_with(
        kind,
        &[Ep::Tcp],
        &[Ep::Connect(cloud_frontend.to_owned())],
        &[],
    )
}

/// Publishers on the edge, a subscriber on the cloud: the subscription travels up the chain
/// to the edge, and what matches comes down.
fn forwarder_uplink(cloud_frontend: &str, cloud_backend: &str) {
    let edge = edge("forwarder", cloud_frontend);
    let sub = client(&["sub", cloud_backend, "sensors/", "--count", "3"]);
    let publisher = client(&[
        "pub",
        edge.frontend(),
        "sensors/t1",
        "21.5",
        "--count",
        "400",
        "--rate",
        "20",
    ]);
    let out = finish(sub, 20);
    let mut publisher = publisher;
    let _ = publisher.kill();
    let _ = publisher.wait();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "sensors/t1\t21.5\n".repeat(3)
    );
}

#[test]
fn an_edge_forwarder_feeds_a_cloud_zedge_from_its_backend() {
    let cloud = Broker::start("forwarder", &[]);
    forwarder_uplink(cloud.frontend(), cloud.backend());
}

/// libzmq's proxy (XSUB frontend, XPUB backend), binding both.
const LIBZMQ_PROXY: &str = r#"
fe, be = sys.argv[1:3]
x = ctx.socket(zmq.XSUB); x.bind(fe)
p = ctx.socket(zmq.XPUB); p.bind(be)
print("ready", flush=True)
poller = zmq.Poller()
poller.register(x, zmq.POLLIN); poller.register(p, zmq.POLLIN)
end = time.monotonic() + 25
while time.monotonic() < end:
    for s, _ in poller.poll(100):
        (p if s is x else x).send_multipart(s.recv_multipart())
"#;

#[test]
fn an_edge_forwarder_feeds_a_libzmq_proxy_from_its_backend() {
    let fe = format!("tcp://127.0.0.1:{}", free_port());
    let be = format!("tcp://127.0.0.1:{}", free_port());
    let body = format!("{}{LIBZMQ_PROXY}", zedge_tests::zmq_prelude!());
    let proxy = PyPeer::spawn(
        "proxy",
        &body,
        &[fe.clone(), be.clone()],
        Duration::from_secs(40),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !proxy.stdout_so_far().contains("ready") {
        assert!(Instant::now() < deadline, "the proxy never bound");
        thread::sleep(Duration::from_millis(20));
    }
    forwarder_uplink(&fe, &be);
    drop(proxy);
}

#[test]
fn an_edge_streamer_feeds_a_cloud_zedge_from_its_backend() {
    let cloud = Broker::start("streamer", &[]);
    let edge = edge("streamer", cloud.frontend());
    let mut push = Command::new(zedge_bin())
        .args(["push", edge.frontend()])
        .stdin(Stdio::piped())
        .spawn()
        .expect("zedge push");
    let lines: String = (0..200).map(|i| format!("{i}\n")).collect();
    std::io::Write::write_all(&mut push.stdin.take().expect("stdin"), lines.as_bytes())
        .expect("write");
    assert!(push.wait().expect("wait").success());
    let out = finish(client(&["pull", cloud.backend(), "--count", "200"]), 20);
    assert_eq!(String::from_utf8_lossy(&out.stdout), lines);
}

#[test]
fn an_edge_queue_feeds_a_cloud_zedge_from_its_backend_and_replies_come_back() {
    let cloud = Broker::start("queue", &[]);
    let edge = edge("queue", cloud.frontend());
    let worker = client(&["rep", cloud.backend(), "--count", "3"]);
    let out = finish(
        client(&[
            "req",
            edge.frontend(),
            "ping",
            "--count",
            "3",
            "--timeout",
            "10s",
        ]),
        20,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ping\n".repeat(3));
    let served = finish(worker, 10);
    assert_eq!(String::from_utf8_lossy(&served.stdout), "ping\n".repeat(3));
}

/// The recipe's mistake (an edge forwarder's frontend connected to the cloud's frontend): both
/// ends warn at the default level, each naming the side to use.
#[test]
fn the_wrong_side_connected_is_warned_of_at_both_ends() {
    let cloud = Broker::start("forwarder", &[]);
    let edge = Broker::start_with(
        "forwarder",
        &[Ep::Connect(cloud.frontend().to_owned())],
        &[Ep::Tcp],
        &[],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let (edge_says, cloud_says) = (
        "this device's frontend (XSUB) connected where its backend (XPUB) belongs: to feed an \
         upstream broker, connect the backend",
        // "an XSUB belongs...", or "it belongs..." for one that refused ours first.
        "belongs on this device's backend (XPUB); a zedge that feeds this one connects its \
         backend here, not its frontend",
    );
    loop {
        let (e, c) = (edge.stderr(), cloud.stderr());
        let warned = |log: &str, what: &str| {
            log.lines()
                .any(|l| l.contains(" WARN ") && l.contains(what))
        };
        if warned(&e, edge_says) && warned(&c, cloud_says) {
            break;
        }
        assert!(Instant::now() < deadline, "edge:\n{e}\ncloud:\n{c}");
        thread::sleep(Duration::from_millis(100));
    }
}
