//! SIGHUP reloads `zedge run --config FILE`, through the real binary with libzmq peers:
//! devices added start answering, devices removed close their ports, a device whose limits
//! changed restarts and its peers reconnect, an endpoint added to a running device leaves the
//! peers of its other endpoints connected and their flow whole, and a file that cannot work is
//! refused with the old devices still serving. The command line's device has nothing to
//! reload.

use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use zedge_tests::agent::Agent;
use zedge_tests::broker::{free_port, tcp_addr, Broker};
use zedge_tests::systemd::ConfigRun;
use zedge_tests::PyPeer;

const SECOND: Duration = Duration::from_secs(1);

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

fn ep() -> String {
    format!("tcp://127.0.0.1:{}", free_port())
}

fn device(name: &str, kind: &str, front: &[&str], back: &[&str], extra: &str) -> String {
    let list = |eps: &[&str]| {
        let quoted: Vec<String> = eps.iter().map(|e| format!("\"{e}\"")).collect();
        format!("[{}]", quoted.join(", "))
    };
    format!(
        "[[device]]\nname = \"{name}\"\nkind = \"{kind}\"\nfrontend = {}\nbackend = {}\n{extra}\n",
        list(front),
        list(back)
    )
}

fn accepts(ep: &str) -> bool {
    TcpStream::connect_timeout(&tcp_addr(ep), Duration::from_millis(200)).is_ok()
}

/// Until `ep` takes connections (`true`) or refuses them (`false`).
fn wait_accepting(ep: &str, want: bool) {
    let deadline = soon();
    while accepts(ep) != want {
        assert!(Instant::now() < deadline, "{ep} accepting is not {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One request through a queue, answered.
fn round_trip(req: &mut Agent, rep: &mut Agent, body: &[u8]) {
    req.send(&[body]);
    let got = rep.recv(10 * SECOND).expect("the worker got no request");
    assert_eq!(got, [body.to_vec()]);
    rep.send(&[b"re", body]);
    let reply = req.recv(10 * SECOND).expect("the client got no reply");
    assert_eq!(reply, [b"re".to_vec(), body.to_vec()]);
}

#[test]
fn reload_adds_removes_and_restarts_devices() {
    let (a, b, c) = ([ep(), ep()], [ep(), ep()], [ep(), ep()]);
    let jobs = |extra| device("jobs", "streamer", &[&a[0]], &[&a[1]], extra);
    let rpc = device("rpc", "queue", &[&b[0]], &[&b[1]], "");
    let mut run = ConfigRun::start(&(jobs("") + &rpc), &[]);
    run.wait_log("rpc backend listening", soon());
    let mut push = Agent::connect("push", "PUSH", &a[0], &[]);
    let mut pull = Agent::connect("pull", "PULL", &a[1], &["monitor"]);
    push.send(&[b"before"]);
    assert_eq!(pull.recv(10 * SECOND), Some(vec![b"before".to_vec()]));

    // jobs' limits change, rpc goes, api comes.
    let api = device("api", "queue", &[&c[0]], &[&c[1]], "");
    run.reload(&(jobs("max_peers = 100") + &api));
    run.wait_log("reload: 1 added, 1 removed, 1 restarted", soon());
    let restart = run.wait_log("device \"jobs\" restarted", soon());
    assert!(restart.contains("WARN"), "{restart}");
    assert!(
        restart.contains("its limits changed: its peers are disconnected and reconnect"),
        "{restart}"
    );
    wait_accepting(&c[0], true);
    wait_accepting(&b[0], false);
    assert!(!accepts(&b[1]));

    // The new device serves, and jobs' peers came back.
    let mut rep = Agent::connect("rep", "REP", &c[1], &[]);
    let mut req = Agent::connect("req", "REQ", &c[0], &[]);
    round_trip(&mut req, &mut rep, b"hello");
    push.send(&[b"after"]);
    assert_eq!(pull.recv(10 * SECOND), Some(vec![b"after".to_vec()]));
    let events = pull.events(Duration::ZERO);
    let handshakes = events
        .iter()
        .filter(|e| *e == "HANDSHAKE_SUCCEEDED")
        .count();
    assert_eq!(
        handshakes, 2,
        "the worker did not reconnect once: {events:?}"
    );

    run.stop_clean();
}

/// Sends `N` numbered messages, one a millisecond, on one connection, and prints how often it
/// connected and disconnected.
const NUMBERED: &str = r#"
import sys, time, zmq
from zmq.utils.monitor import recv_monitor_message
ep, n = sys.argv[1], int(sys.argv[2])
ctx = zmq.Context()
s = ctx.socket(zmq.PUSH)
s.setsockopt(zmq.LINGER, 5000)
mon = s.get_monitor_socket()
s.connect(ep)
for i in range(n):
    s.send(b"%d" % i)
    time.sleep(0.001)
time.sleep(0.5)
events = []
while mon.poll(100):
    events.append(recv_monitor_message(mon)["event"])
print("handshakes=%d disconnects=%d" % (
    events.count(zmq.EVENT_HANDSHAKE_SUCCEEDED), events.count(zmq.EVENT_DISCONNECTED)))
s.disable_monitor()
mon.close()
s.close()
ctx.term()
"#;

#[test]
fn an_endpoint_added_by_reload_leaves_the_other_peers_connected() {
    const N: usize = 1500;
    let (front, back, front2) = (ep(), ep(), ep());
    let one = device("work", "streamer", &[&front], &[&back], "");
    let mut run = ConfigRun::start(&one, &[]);
    run.wait_log("work backend listening", soon());
    let mut worker = Agent::connect("worker", "PULL", &back, &["monitor"]);
    let producer = PyPeer::spawn(
        "numbered",
        NUMBERED,
        &[front.clone(), N.to_string()],
        Duration::from_secs(60),
    );

    // A new frontend while the numbered flow runs; the worker and producer stay connected.
    let first = worker.recv(10 * SECOND).expect("the numbered flow started");
    run.reload(&device(
        "work",
        "streamer",
        &[&front, &front2],
        &[&back],
        "",
    ));
    run.wait_log(
        "reload: 0 added, 0 removed, 0 restarted, 1 with changed endpoints",
        soon(),
    );
    wait_accepting(&front2, true);
    let mut late = Agent::connect("late", "PUSH", &front2, &[]);
    late.send(&[b"late"]);

    let mut got = vec![first];
    got.extend(worker.drain(N, 3 * SECOND));
    let numbered: Vec<&[u8]> = got
        .iter()
        .map(|m| m[0].as_slice())
        .filter(|b| *b != b"late")
        .collect();
    let want: Vec<Vec<u8>> = (0..N).map(|i| i.to_string().into_bytes()).collect();
    assert_eq!(numbered.len(), N, "the numbered flow lost messages");
    assert!(
        numbered.iter().zip(&want).all(|(a, b)| a == b),
        "out of order or gaps"
    );
    assert_eq!(
        got.len(),
        N + 1,
        "the new endpoint's message did not arrive"
    );
    assert_eq!(producer.finish().trim(), "handshakes=1 disconnects=0");
    let events = worker.events(Duration::ZERO);
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "HANDSHAKE_SUCCEEDED")
            .count(),
        1,
        "{events:?}"
    );
    assert!(!events.iter().any(|e| e == "DISCONNECTED"), "{events:?}");

    // And taken away again: the port closes, the worker stays.
    run.reload(&one);
    run.wait_log(&format!("work frontend {front2}: closed"), soon());
    wait_accepting(&front2, false);
    let mut push = Agent::connect("push", "PUSH", &front, &[]);
    push.send(&[b"still"]);
    assert_eq!(worker.recv(10 * SECOND), Some(vec![b"still".to_vec()]));
    assert!(!worker
        .events(Duration::ZERO)
        .iter()
        .any(|e| e == "DISCONNECTED"));
    run.stop_clean();
}

#[test]
fn a_file_that_cannot_work_is_refused_and_the_old_devices_keep_serving() {
    let (front, back) = (ep(), ep());
    let rpc = device("rpc", "queue", &[&front], &[&back], "");
    let mut run = ConfigRun::start(&rpc, &[]);
    run.wait_log("rpc backend listening", soon());
    let mut rep = Agent::connect("rep", "REP", &back, &["monitor"]);
    let mut req = Agent::connect("req", "REQ", &front, &[]);
    round_trip(&mut req, &mut rep, b"one");

    // A mistake in the file: refused at warn with its place, nothing changes.
    run.reload(&device("rpc", "router", &[&front], &[&back], ""));
    let refused = run.wait_log("reload refused", soon());
    assert!(refused.contains("WARN"), "{refused}");
    assert!(
        refused.contains(":3: device \"rpc\": key \"kind\": expected one of"),
        "{refused}"
    );
    round_trip(&mut req, &mut rep, b"two");

    // A valid file whose new port is taken: refused before rpc is stopped.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port();
    let other = device(
        "other",
        "streamer",
        &[&format!("tcp://127.0.0.1:{port}")],
        &[&ep()],
        "",
    );
    run.reload(&other);
    let deadline = soon();
    while run.stderr().matches("reload refused").count() < 2 {
        assert!(Instant::now() < deadline, "{}", run.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    let stderr = run.stderr();
    let line = stderr.lines().rfind(|l| l.contains("reload refused"));
    let line = line.unwrap_or_default();
    assert!(line.contains("device \"other\": cannot bind"), "{line}");
    round_trip(&mut req, &mut rep, b"three");
    let events = rep.events(Duration::ZERO);
    assert!(!events.iter().any(|e| e == "DISCONNECTED"), "{events:?}");
    run.stop_clean();
}

#[test]
fn sighup_on_the_command_lines_device_has_nothing_to_reload() {
    let mut broker = Broker::start("streamer", &[]);
    let ok = Command::new("kill")
        .args(["-HUP", &broker.pid().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok);
    let deadline = soon();
    while !broker.stderr().contains("SIGHUP: nothing to reload") {
        broker.assert_running();
        assert!(Instant::now() < deadline, "{}", broker.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(accepts(broker.frontend()));
    broker.stop();
}

#[test]
fn a_connector_removed_by_reload_ends_its_connection_and_does_not_come_back() {
    let (front, up, back2) = (ep(), ep(), ep());
    let mut upstream = Agent::spawn(
        "upstream",
        "PULL",
        &[format!("bind={up}"), "monitor".into()],
    );
    let conf = |back: &str| device("feed", "streamer", &[&front], &[back], "");
    let mut run = ConfigRun::start(&conf(&format!(">{up}")), &[]);
    run.wait_log("feed frontend listening", soon());
    let mut push = Agent::connect("push", "PUSH", &front, &[]);
    push.send(&[b"one"]);
    assert_eq!(upstream.recv(10 * SECOND), Some(vec![b"one".to_vec()]));

    run.reload(&conf(&back2));
    run.wait_log(&format!("feed backend >{up}: closed"), soon());
    assert!(
        upstream.wait_event("DISCONNECTED", 10 * SECOND),
        "still connected"
    );
    let events = upstream.events(SECOND);
    let accepted = events.iter().filter(|e| *e == "ACCEPTED").count();
    assert_eq!(accepted, 1, "the connector came back: {events:?}");
    wait_accepting(&back2, true);
    run.stop_clean();
}

/// A reload that opens a loopback endpoint to every interface on the same port (board/README
/// section 5: `tcp://127.0.0.1:5559` becomes `tcp://*:5559`), with the device's keys changed
/// (a restart) or not (its endpoints rewired): the new bind waits for the old listener to go,
/// and the device serves on it. Before, the new bind came first, was refused as in use, and
/// so was the whole reload.
#[test]
fn a_reload_that_opens_a_loopback_port_to_every_interface_binds_it() {
    let (fport, bport) = (free_port(), free_port());
    let back = format!("tcp://127.0.0.1:{bport}");
    let rpc = |front: &str, extra: &str| device("rpc", "queue", &[front], &[&back], extra);
    let looped = format!("tcp://127.0.0.1:{fport}");
    let mut run = ConfigRun::start(&rpc(&looped, ""), &[]);
    run.wait_log("rpc backend listening", soon());
    let mut rep = Agent::connect("rep", "REP", &back, &[]);
    // Rewired: only the frontend changes.
    run.reload(&rpc(&format!("tcp://*:{fport}"), ""));
    run.wait_log(&format!("adds tcp://*:{fport}"), soon());
    assert!(!run.stderr().contains("reload refused"), "{}", run.stderr());
    let mut req = Agent::connect("req", "REQ", &looped, &[]);
    round_trip(&mut req, &mut rep, b"rewired");
    // Gone before the restart: a worker that reconnects would be given the next request.
    drop((req, rep));
    // Back to loopback, then opened with a heartbeat change (a restart).
    run.reload(&rpc(&looped, ""));
    run.wait_log(&format!("removes tcp://*:{fport}"), soon());
    run.reload(&rpc(
        &format!("tcp://*:{fport}"),
        "heartbeat_ivl = \"2s\"\n",
    ));
    run.wait_log("restarted because its limits changed", soon());
    run.wait_log(
        &format!("rpc frontend listening on tcp://*:{fport}"),
        soon(),
    );
    assert!(!run.stderr().contains("reload refused"), "{}", run.stderr());
    let mut rep = Agent::connect("rep2", "REP", &back, &[]);
    let mut req = Agent::connect("req2", "REQ", &looped, &[]);
    round_trip(&mut req, &mut rep, b"restarted");
    run.stop_clean();
}
