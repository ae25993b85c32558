//! The systemd notify protocol, spoken by the real binary to a fake `$NOTIFY_SOCKET`.
//!
//! `zedge run --config FILE` runs two devices with `WATCHDOG_USEC=200000` (a 200 ms watchdog,
//! so pings every 100 ms). The tests check that READY=1 comes once, with every port already
//! taking connections; that WATCHDOG=1 keeps coming; that STATUS= carries each device's live
//! counters; and that SIGTERM brings STOPPING=1 and exit status 0.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use zedge_core::conn::SessionConfig;
use zedge_core::wire::metadata::SocketType;
use zedge_tests::broker::{free_port, ipc_path};
use zedge_tests::systemd::{ConfigRun, FakeSystemd, Notice};
use zedge_tests::Driver;

const BUDGET: Duration = Duration::from_secs(20);

/// Two devices: `work`, a streamer on two TCP ports, and `rpc`, a queue on TCP and IPC.
struct Ports {
    work: [SocketAddr; 2],
    rpc: SocketAddr,
    ipc: PathBuf,
}

impl Ports {
    fn pick() -> Ports {
        let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        Ports {
            work: [addr(free_port()), addr(free_port())],
            rpc: addr(free_port()),
            ipc: ipc_path("rpc-backend"),
        }
    }

    fn config(&self) -> String {
        format!(
            r#"
[[device]]
name = "work"
kind = "streamer"
frontend = "tcp://{}"
backend = "tcp://{}"

[[device]]
name = "rpc"
kind = "queue"
frontend = "tcp://{}"
backend = "ipc://{}"
"#,
            self.work[0],
            self.work[1],
            self.rpc,
            self.ipc.display()
        )
    }

    /// Whether every endpoint takes a connection now.
    fn all_accept(&self) -> Result<(), String> {
        for addr in [self.work[0], self.work[1], self.rpc] {
            TcpStream::connect_timeout(&addr, Duration::from_millis(500))
                .map_err(|e| format!("{addr}: {e}"))?;
        }
        UnixStream::connect(&self.ipc).map_err(|e| format!("{}: {e}", self.ipc.display()))?;
        Ok(())
    }
}

/// Start `zedge run` against `systemd`, on fresh ports until none is taken meanwhile.
fn start(systemd: &mut FakeSystemd, env: &[(&str, &str)]) -> (ConfigRun, Ports, Notice) {
    let socket = systemd.notify_socket().to_owned();
    let mut env = env.to_vec();
    env.push(("NOTIFY_SOCKET", &socket));
    for _ in 0..5 {
        let ports = Ports::pick();
        let mut run = ConfigRun::start(&ports.config(), &env);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(n) = systemd.recv(Instant::now() + Duration::from_millis(50)) {
                if n.get("READY") == Some("1") {
                    return (run, ports, n);
                }
            }
            match run.exited() {
                Some(_) if run.stderr().contains("in use") => break, // port race: again
                Some(status) => panic!("zedge exited ({status}):\n{}", run.stderr()),
                None if Instant::now() > deadline => {
                    panic!("no READY=1 within 5 s; got {:#?}", systemd.seen)
                }
                None => {}
            }
        }
    }
    panic!("could not find free ports in 5 tries");
}

fn watchdogs(notices: &[Notice]) -> Vec<Instant> {
    notices
        .iter()
        .filter(|n| n.get("WATCHDOG") == Some("1"))
        .map(|n| n.at)
        .collect()
}

#[test]
fn ready_when_listening_then_watchdog_status_and_stopping_on_sigterm() {
    let deadline = Instant::now() + BUDGET;
    let mut systemd = FakeSystemd::bind();
    let (mut run, ports, ready) = start(&mut systemd, &[("WATCHDOG_USEC", "200000")]);

    // READY=1 comes once every endpoint is bound: each takes a connection now.
    if let Err(e) = ports.all_accept() {
        panic!("READY=1 arrived but an endpoint does not accept: {e}");
    }
    assert_eq!(
        ready.get("STATUS"),
        Some("work: 0 peers, 0 msgs in, 0 msgs out; rpc: 0 peers, 0 msgs in, 0 msgs out"),
        "{ready:?}"
    );

    // Traffic through `work`: a producer and a worker, three messages.
    let connect = |addr, st| {
        let mut d = Driver::new(
            TcpStream::connect(addr).expect("connect"),
            SessionConfig::new(st),
        );
        d.ready(deadline);
        d
    };
    let mut producer = connect(ports.work[0], SocketType::Push);
    let mut worker = connect(ports.work[1], SocketType::Pull);
    for i in 0..3u8 {
        producer.send(&[b"job", &[i]]);
    }
    for i in 0..3u8 {
        let msg = worker.message(deadline);
        assert_eq!(msg[1].body, [i]);
    }
    let status = systemd.wait_for(
        "STATUS",
        |s| s.starts_with("work: 2 peers, 3 msgs in, 3 msgs out; rpc: 0 peers"),
        deadline,
    );
    assert!(status.at > ready.at);

    // The watchdog was petted all along, about every 100 ms.
    let pings = watchdogs(&systemd.seen);
    assert!(
        pings.len() >= 5,
        "only {} WATCHDOG=1 in {:?}",
        pings.len(),
        status.at - ready.at
    );
    let longest = pings
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    assert!(
        longest < Duration::from_secs(2),
        "a {longest:?} gap between pings"
    );
    assert!(systemd
        .seen
        .iter()
        .all(|n| n.get("READY").is_none() || n.at == ready.at));

    drop((producer, worker));
    run.sigterm();
    systemd.wait_for("STOPPING", |v| v == "1", deadline);
    let status = run.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{}", run.stderr());
    assert!(!ports.ipc.exists(), "the IPC socket file was left behind");
}

#[test]
fn abstract_socket_and_a_watchdog_meant_for_another_process() {
    let deadline = Instant::now() + BUDGET;
    let mut systemd = FakeSystemd::bind_abstract();
    let env = [("WATCHDOG_USEC", "200000"), ("WATCHDOG_PID", "1")];
    let (mut run, ports, _) = start(&mut systemd, &env);
    ports
        .all_accept()
        .expect("every endpoint accepts after READY=1");

    let quiet = systemd.collect(Instant::now() + Duration::from_millis(600));
    assert!(
        watchdogs(&quiet).is_empty(),
        "WATCHDOG=1 sent though WATCHDOG_PID names another process: {quiet:#?}"
    );
    run.sigterm();
    systemd.wait_for("STOPPING", |v| v == "1", deadline);
    assert_eq!(run.wait(Duration::from_secs(10)).code(), Some(0));
}

#[test]
fn no_ready_when_an_endpoint_cannot_be_bound() {
    let mut systemd = FakeSystemd::bind();
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut ports = Ports::pick();
    ports.rpc = taken.local_addr().expect("address");
    let socket = systemd.notify_socket().to_owned();
    let mut run = ConfigRun::start(&ports.config(), &[("NOTIFY_SOCKET", &socket)]);
    let status = run.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1), "{}", run.stderr());
    let stderr = run.stderr();
    assert!(
        stderr.contains(&format!("device \"rpc\": cannot bind tcp://{}", ports.rpc)),
        "{stderr}"
    );
    let heard = systemd.collect(Instant::now() + Duration::from_millis(200));
    assert!(heard.is_empty(), "zedge told systemd {heard:#?}");
}

/// SIGHUP with a device added: STATUS= lists it, the watchdog is petted all along (every
/// device thread, old and new, beats), and stopping warns about none of them.
#[test]
fn a_reload_shows_in_status_and_the_watchdog_goes_on() {
    let deadline = Instant::now() + BUDGET;
    let mut systemd = FakeSystemd::bind();
    let (mut run, ports, _) = start(&mut systemd, &[("WATCHDOG_USEC", "200000")]);
    let late = format!(
        "\n[[device]]\nname = \"late\"\nkind = \"streamer\"\nfrontend = \"tcp://127.0.0.1:{}\"\n\
         backend = \"tcp://127.0.0.1:{}\"\n",
        free_port(),
        free_port()
    );
    run.reload(&(ports.config() + &late));
    let status = systemd.wait_for("STATUS", |s| s.contains("; late: 0 peers"), deadline);
    assert!(status
        .get("STATUS")
        .is_some_and(|s| s.starts_with("work: 0 peers")));
    let after = systemd.collect(Instant::now() + Duration::from_millis(600));
    assert!(
        watchdogs(&after).len() >= 3,
        "the watchdog stopped after the reload: {after:#?}"
    );
    run.sigterm();
    systemd.wait_for("STOPPING", |v| v == "1", deadline);
    assert_eq!(run.wait(Duration::from_secs(10)).code(), Some(0));
    let stderr = run.stderr();
    assert!(!stderr.contains("WARN"), "{stderr}");
}
