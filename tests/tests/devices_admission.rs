//! Admission through the real binary: caps per side and per source address, connections
//! that never finish their handshake, and the warnings that report refusals. Real peers are
//! libzmq (pyzmq); the crowds are raw TCP connections.
//!
//! The floods open thousands of descriptors in this process and in the broker, and their
//! timing is the point, so they take turns ([`FLOOD`]) rather than run beside each other.

use std::net::{SocketAddr, TcpStream};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use zedge_core::wire::metadata::SocketType;
use zedge_tests::agent::Agent;
use zedge_tests::broker::{free_port, Broker, Ep};
use zedge_tests::raw;
use zedge_tests::systemd::ConfigRun;
use zedge_tests::wait::{deadline, until};
use zedge_tests::PyPeer;

/// Silent connections in a flood.
const FLOOD_SIZE: usize = 5000;
/// What a real peer may take, under a flood, to finish its handshake and pass ten messages.
const UNDER_FLOOD_WITHIN: Duration = Duration::from_secs(2);
/// "At once", for a connection the broker refuses.
const REFUSED_WITHIN: Duration = Duration::from_secs(1);

static FLOOD: Mutex<()> = Mutex::new(());

fn one_flood_at_a_time() -> MutexGuard<'static, ()> {
    FLOOD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Room for a flood's descriptors: lift this process's soft limit to the hard one.
fn raise_fd_limit(need: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        setrlimit(Resource::Nofile, lim).expect("raise RLIMIT_NOFILE to its hard limit");
    }
    let have = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    assert!(
        have >= need,
        "this test opens about {need} descriptors and the open-files limit is {have}: raise it \
         (ulimit -n) to run it"
    );
}

/// `n` connections to `addr`, opened one after another as fast as one thread can and never
/// sent a byte. After the first `mark` are open, `marked` is told.
fn flood(
    addr: SocketAddr,
    n: usize,
    mark: usize,
    marked: mpsc::Sender<()>,
) -> thread::JoinHandle<Vec<TcpStream>> {
    thread::spawn(move || {
        let mut open = Vec::with_capacity(n);
        for i in 0..n {
            if i == mark {
                let _ = marked.send(());
            }
            open.push(TcpStream::connect(addr).expect("open a silent connection"));
        }
        open
    })
}

/// The total of the counts in the broker's warnings that contain `what`:
/// `... (N refused for this cause since the last report)`.
fn reported(stderr: &str, what: &str) -> u64 {
    stderr
        .lines()
        .filter(|l| l.contains(" WARN ") && l.contains(what))
        .filter_map(|l| {
            l.rsplit_once(" (")?
                .1
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// Under a flood of silent connections to `flooded` ("frontend" or "backend") of a streamer,
/// a libzmq peer that connects to that side mid-flood still gets its handshake done and ten
/// messages through, within [`UNDER_FLOOD_WITHIN`]; the peer on the other side was in first.
fn real_peer_gets_in_under_a_flood(flooded: &str) {
    let _turn = one_flood_at_a_time();
    raise_fd_limit(FLOOD_SIZE as u64 + 256);
    let mut broker = Broker::start("streamer", &[]);
    let frontend = flooded == "frontend";
    let (steady_type, steady_ep, new_type, new_ep, flood_addr) = if frontend {
        let be = broker.backend().to_owned();
        (
            "PULL",
            be,
            "PUSH",
            broker.frontend().to_owned(),
            broker.frontend_addr(),
        )
    } else {
        let fe = broker.frontend().to_owned();
        (
            "PUSH",
            fe,
            "PULL",
            broker.backend().to_owned(),
            broker.backend_addr(),
        )
    };
    let mut steady = Agent::connect("steady", steady_type, &steady_ep, &["monitor"]);
    assert!(steady.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    let mut new = Agent::spawn("new", new_type, &[]);
    let (marked, mid_flood) = mpsc::channel();
    let silent = flood(flood_addr, FLOOD_SIZE, FLOOD_SIZE / 2, marked);
    mid_flood
        .recv_timeout(Duration::from_secs(20))
        .expect("the flood got going");

    // The new peer connects mid-flood; the producer's messages wait in libzmq until the path
    // through the broker is up.
    let t0 = Instant::now();
    new.connect_to(&new_ep);
    let (producer, worker) = if frontend {
        (&mut new, &mut steady)
    } else {
        (&mut steady, &mut new)
    };
    for i in 0..10u32 {
        producer.send(&[b"through", i.to_string().as_bytes()]);
    }
    let mut got = Vec::new();
    until(deadline(20), "ten messages through the new peer", || {
        got.extend(worker.drain(10 - got.len(), Duration::from_millis(20)));
        got.len() == 10
    });
    let took = t0.elapsed();
    let silent = silent.join().expect("the flood thread");
    eprintln!(
        "{flooded} under {} silent connections: a new libzmq {new_type} finished its handshake \
         and passed 10 messages in {took:?}",
        silent.len()
    );
    let want: Vec<Vec<Vec<u8>>> = (0..10u32)
        .map(|i| vec![b"through".to_vec(), i.to_string().into_bytes()])
        .collect();
    assert_eq!(got, want);
    assert!(
        took <= UNDER_FLOOD_WITHIN,
        "a real peer took {took:?} to get in and pass ten messages under a flood of \
         {FLOOD_SIZE} silent connections to the {flooded}"
    );
    broker.assert_running();
    // Connections closed to make room are warned about: the first at once, the rest when
    // their interval ends (not waited for here).
    let stderr = broker.stderr();
    assert!(
        stderr.contains(&format!(
            "{flooded} 127.0.0.1: closed while still in its handshake"
        )),
        "no warning about connections closed to make room"
    );
    drop(silent);
    new.close();
    steady.close();
    broker.stop();
}

#[test]
fn a_real_peer_gets_in_under_a_flood_of_silent_connections_to_the_frontend() {
    real_peer_gets_in_under_a_flood("frontend");
}

#[test]
fn a_real_peer_gets_in_under_a_flood_of_silent_connections_to_the_backend() {
    real_peer_gets_in_under_a_flood("backend");
}

/// Receive `n` messages on `worker` (each `[tag, i]`), in order.
fn expect_work(worker: &mut Agent, tag: &[u8], n: u32) {
    let mut got = Vec::new();
    until(deadline(20), "the worker gets its messages", || {
        got.extend(worker.drain(n as usize - got.len(), Duration::from_millis(100)));
        got.len() >= n as usize
    });
    let want: Vec<Vec<Vec<u8>>> = (0..n)
        .map(|i| vec![tag.to_vec(), i.to_string().into_bytes()])
        .collect();
    assert_eq!(got, want);
}

/// The broker closes `s` at once, sending nothing: it was refused.
fn assert_refused(s: &mut TcpStream, what: &str) {
    let (closed, seen) = raw::closed_by(s, Instant::now() + REFUSED_WITHIN);
    assert!(closed, "{what} was not refused within {REFUSED_WITHIN:?}");
    assert_eq!(
        seen, 0,
        "{what} was refused after {seen} bytes: it had been let in"
    );
}

#[test]
fn a_frontend_full_of_idle_producers_leaves_the_backend_open() {
    let broker = Broker::start("streamer", &["--max-peers", "50"]);
    let fe = broker.frontend_addr();
    let mut idle: Vec<TcpStream> = (0..50)
        .map(|_| raw::handshake(fe, SocketType::Push, deadline(10)))
        .collect();
    assert_refused(&mut raw::connect(fe, deadline(10)), "a 51st producer");
    // The backend has max_peers of its own: a new worker gets in, and gets work.
    let mut worker = Agent::connect("worker", "PULL", broker.backend(), &["monitor"]);
    assert!(worker.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    for i in 0..10u32 {
        raw::send_message(&mut idle[7], &[b"work", i.to_string().as_bytes()]);
    }
    expect_work(&mut worker, b"work", 10);
    let stderr = broker.stderr();
    assert_eq!(
        reported(&stderr, "max_peers (50) reached on this side"),
        1,
        "one refusal, warned about at once"
    );
    assert!(
        stderr.contains("WARN  streamer frontend 127.0.0.1:"),
        "{stderr}"
    );
    worker.close();
    drop(idle);
    broker.stop();
}

#[test]
fn a_burst_of_refusals_is_reported_when_its_interval_ends() {
    let (fe, be) = (free_port(), free_port());
    let config = format!(
        "[[device]]\nname = \"gw\"\nkind = \"streamer\"\nfrontend = \"tcp://127.0.0.1:{fe}\"\n\
         backend = \"tcp://127.0.0.1:{be}\"\nmax_peers = 2\n"
    );
    let mut run = ConfigRun::start(&config, &[]);
    let addr = SocketAddr::from(([127, 0, 0, 1], fe));
    let two: Vec<TcpStream> = (0..2)
        .map(|_| raw::handshake(addr, SocketType::Push, deadline(10)))
        .collect();
    let burst = 20;
    for i in 0..burst {
        assert_refused(
            &mut raw::connect(addr, deadline(10)),
            &format!("connection {i}"),
        );
    }
    // The first is reported at once, the other 19 when the interval ends, 10 s after the
    // first, with nothing happening meanwhile.
    let cause = format!("refused on tcp://127.0.0.1:{fe}: max_peers (2) reached");
    until(deadline(15), "the refusals held back are reported", || {
        thread::sleep(Duration::from_millis(100));
        reported(&run.stderr(), &cause) == burst
    });
    let stderr = run.stderr();
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(&cause)).collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    for (line, n) in lines.iter().zip([1, burst - 1]) {
        assert!(line.contains(" WARN  gw frontend 127.0.0.1:"), "{line}");
        let count = format!("({n} refused for this cause since the last report)");
        assert!(line.ends_with(&count), "{line}");
    }
    run.assert_running();
    drop(two);
}

#[test]
fn one_address_at_its_cap_is_refused_and_other_addresses_are_not() {
    let broker = Broker::start("streamer", &["--max-peers-per-address", "3"]);
    let fe = broker.frontend_addr();
    let mut three: Vec<TcpStream> = (0..3)
        .map(|_| raw::handshake(fe, SocketType::Push, deadline(10)))
        .collect();
    assert_refused(
        &mut raw::connect(fe, deadline(10)),
        "a 4th producer from 127.0.0.1",
    );
    // The cap is per side: a worker from 127.0.0.1 on the backend gets in.
    let mut worker = Agent::connect("worker", "PULL", broker.backend(), &["monitor"]);
    assert!(worker.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    // Another address (libzmq's source-address form of connect) gets in on the frontend.
    let other = format!("tcp://127.0.0.2:0;{fe}");
    let mut producer = Agent::connect("producer from 127.0.0.2", "PUSH", &other, &[]);
    producer.burst(10, &[b"other"]);
    let mut got = Vec::new();
    until(deadline(20), "ten messages from 127.0.0.2", || {
        got.extend(worker.drain(10 - got.len(), Duration::from_millis(100)));
        got.len() >= 10
    });
    assert!(got.iter().all(|m| m[0] == b"other"), "{got:?}");
    // And one of the three that leaves makes room for its address again.
    drop(three.pop());
    let end = deadline(10);
    until(end, "a connection from 127.0.0.1 gets in again", || {
        let mut s = raw::connect(fe, end);
        !raw::closed_by(&mut s, Instant::now() + Duration::from_millis(300)).0
    });
    let stderr = broker.stderr();
    assert!(
        stderr.contains("WARN  streamer frontend 127.0.0.1:")
            && reported(
                &stderr,
                "max_peers_per_address (3) reached for this address"
            ) >= 1,
        "{stderr}"
    );
    producer.close();
    worker.close();
    broker.stop();
}

/// Arguments: frontend, backend, count. `count` PUSH sockets (so as many connections) send
/// one message each; the PULL gets every one.
const MANY_PRODUCERS: &str = r#"
import sys, zmq
fe, be, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)
pull.connect(be)
pushes = []
for i in range(n):
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 5000)
    s.connect(fe)
    pushes.append(s)
for i, s in enumerate(pushes):
    s.send(b"%d" % i)
got = set()
while len(got) < n:
    assert pull.poll(10000), ("only", len(got))
    got.add(pull.recv())
assert got == {b"%d" % i for i in range(n)}, sorted(got)
ctx.destroy(linger=0)
print("all", len(got))
"#;

fn many_producers(broker: &Broker, n: usize) {
    let args = [
        broker.frontend().to_owned(),
        broker.backend().to_owned(),
        n.to_string(),
    ];
    let out = PyPeer::spawn("producers", MANY_PRODUCERS, &args, Duration::from_secs(30)).finish();
    assert_eq!(out.trim(), format!("all {n}"));
}

#[test]
fn a_hundred_local_producers_over_loopback_fit_the_defaults() {
    let broker = Broker::start("streamer", &[]);
    // All at once: more than max_handshaking (64) may be in their handshake together, and
    // some may be asked to try again, but none is kept out and no message is lost.
    many_producers(&broker, 100);
    let stderr = broker.stderr();
    assert!(!stderr.contains("max_peers_per_address"), "{stderr}");
    broker.stop();
}

#[test]
fn ipc_peers_are_not_capped_by_address() {
    let broker = Broker::start_with(
        "streamer",
        &[Ep::Ipc],
        &[Ep::Tcp],
        &["--max-peers-per-address", "2"],
    );
    many_producers(&broker, 10);
    broker.stop();
}

/// argv: frontend, backend, delay ms each way, source addresses. Greetings a hundred a second,
/// from 127.0.0.2 or, with more than one address, from 127.1.0.2, 127.2.0.2 and so on in turn
/// (each its own /24), each connection held open and sending nothing more; beside them new
/// producers from 127.0.0.1 through a proxy that delays every chunk (a radio link), one after
/// another, each with one message, and a steady producer connected before the flood, a
/// message every 20 ms. Prints how many new producers got through within 5 s each, and how
/// many of the steady producer's messages came, in order, of how many it sent.
const SLOW_LINK_UNDER_GREETINGS: &str = r#"
import sys, time, socket, threading, asyncio, zmq
fe, be, delay = sys.argv[1], sys.argv[2], float(sys.argv[3]) / 1000
naddr = int(sys.argv[4])
sources = ["127.0.0.2"] if naddr == 1 else ["127.%d.0.2" % (1 + i) for i in range(naddr)]
host, port = fe[len("tcp://"):].rsplit(":", 1)
port = int(port)

async def pipe(reader, writer):
    q = asyncio.Queue()
    async def pump():
        while (item := await q.get()) is not None:
            due, data = item
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            writer.write(data)
            await writer.drain()
        writer.close()
    t = asyncio.ensure_future(pump())
    try:
        while data := await reader.read(65536):
            q.put_nowait((time.monotonic() + delay, data))
    except OSError:
        pass
    q.put_nowait(None)
    await t

async def handle(cr, cw):
    sr, sw = await asyncio.open_connection(host, port)
    await asyncio.gather(pipe(cr, sw), pipe(sr, cw), return_exceptions=True)

proxy_port = []
def serve():
    loop = asyncio.new_event_loop()
    srv = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    proxy_port.append(srv.sockets[0].getsockname()[1])
    loop.run_forever()
threading.Thread(target=serve, daemon=True).start()
while not proxy_port:
    time.sleep(0.01)

ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)
pull.connect(be)
stop = threading.Event()
sent = []
def steady():
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 1000)
    push.connect(fe)
    while not stop.is_set():
        push.send(b"steady %d" % len(sent))
        sent.append(1)
        time.sleep(0.02)
    push.close()
steady_thread = threading.Thread(target=steady, daemon=True)
steady_thread.start()
time.sleep(0.5)

greeting = b"\xff" + b"\0" * 8 + b"\x7f\x03\x01NULL" + b"\0" * 16 + b"\0" * 32
flooding = threading.Event()
def flood():
    held, nxt, n = [], time.time(), 0
    while not flooding.is_set():
        try:
            c = socket.socket()
            c.bind((sources[n % len(sources)], 0))
            n += 1
            c.settimeout(0.5)
            c.connect((host, port))
            c.sendall(greeting)
            held.append(c)
        except OSError:
            pass
        while len(held) > 800:
            held.pop(0).close()
        nxt += 0.01
        time.sleep(max(0.0, nxt - time.time()))
threading.Thread(target=flood, daemon=True).start()

steadies = []
def take(timeout_ms):
    if not pull.poll(timeout_ms):
        return None
    m = pull.recv()
    if m.startswith(b"steady "):
        steadies.append(int(m.split()[1]))
    return m

time.sleep(2)
through = 0
for i in range(5):
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.connect("tcp://127.0.0.1:%d" % proxy_port[0])
    tag = b"slow %d" % i
    push.send(tag)
    end = time.time() + 5
    while (left := end - time.time()) > 0:
        if take(int(left * 1000) + 1) == tag:
            through += 1
            break
    push.close()
flooding.set()
stop.set()
steady_thread.join()
while len(steadies) < len(sent) and take(3000) is not None:
    pass
in_order = steadies == list(range(len(steadies)))
print("through %d steady %d/%d%s" % (through, len(steadies), len(sent), "" if in_order else " out of order"))
ctx.destroy(linger=0)
"#;

/// The slow-link producers under a flood of greetings from `addresses` source addresses:
/// the script's line, and the broker's log.
fn slow_link_under_greetings(addresses: usize) -> (String, String) {
    let _one = one_flood_at_a_time();
    let mut broker = Broker::start("streamer", &[]);
    let args = [
        broker.frontend().to_owned(),
        broker.backend().to_owned(),
        "50".to_owned(),
        addresses.to_string(),
    ];
    let out = PyPeer::spawn(
        "slow link",
        SLOW_LINK_UNDER_GREETINGS,
        &args,
        Duration::from_secs(90),
    )
    .finish();
    let stderr = broker.stderr();
    broker.assert_running();
    broker.stop();
    (out.trim().to_owned(), stderr)
}

/// Every one of the five slow-link producers got through, and the steady producer lost
/// nothing.
fn assert_all_through(out: &str, stderr: &str) {
    let (through, steady) = out
        .strip_prefix("through ")
        .and_then(|r| r.split_once(" steady "))
        .unwrap_or_else(|| panic!("unexpected script output: {out}"));
    assert_eq!(
        through, "5",
        "new producers over the slow link: {out}\n{stderr}"
    );
    let (got, sent) = steady
        .split_once('/')
        .unwrap_or_else(|| panic!("unexpected script output: {out}"));
    assert!(
        sent.parse::<u32>().is_ok_and(|n| n > 100) && got == sent,
        "the steady producer: {out}"
    );
}

/// Attacker round 3: with max_handshaking full of greeted connections from one host, a new
/// peer over a link with latency was closed at once to make room (unanswered until its
/// greeting crossed the link, it ranked below them). The flood's address makes room among
/// its own, so every new peer over the slow link gets in.
#[test]
fn a_peer_over_a_slow_link_gets_in_under_a_flood_of_greetings_from_one_host() {
    let (out, stderr) = slow_link_under_greetings(1);
    assert_all_through(&out, &stderr);
    assert!(
        stderr.contains("127.0.0.2: closed while still in its handshake"),
        "the flood made room among its own: {stderr}"
    );
}

/// Attacker round 4: the same flood from 64 addresses, one connection in its handshake each
/// as the real peer has, closed every new peer over the slow link while it was unanswered
/// (0 of 5 got through). The quiet go first, and one under way alone from its address is
/// never closed. The addresses are in 64 /24s: no rule by network prefix passes this.
#[test]
fn a_peer_over_a_slow_link_gets_in_under_a_flood_of_greetings_from_64_addresses() {
    let (out, stderr) = slow_link_under_greetings(64);
    assert_all_through(&out, &stderr);
    assert!(
        stderr.contains("closed while still in its handshake"),
        "the flood's quiet connections made room: {stderr}"
    );
}
