//! The test clients (`zedge sub`, `pub`, `push`, `pull`, `req`, `rep`) through each device and
//! straight against libzmq sockets (pyzmq), in the clear and through CURVE; and on a bad day:
//! a peer that is not ZeroMQ, one that never answers, a device that restarts under a
//! subscriber.

use std::io::Write;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use zedge_tests::broker::{free_port, Broker, Ep};
use zedge_tests::clients::{client, finish};
use zedge_tests::curve::{script, Keys};
use zedge_tests::PyPeer;

/// argv: keys (or -), mode, endpoint, then the mode's own. Each a libzmq peer:
/// `pub`: a PUB that connects (`bind`: binds) and sends `[a/i, i]` and `[b/i, i]` every 20 ms
/// for 10 s; `sub`: a SUB of topic `t/` that prints `ready`, then each message as JSON, N of
/// them; `pull`: a PULL that prints N messages as JSON; `push`: a PUSH that sends N messages
/// `[m, i]`; `rep`: a REP worker that answers `re:` + each of N requests; `req`: a REQ client
/// that sends N requests `q i` and prints each reply as JSON. `curve` as the 4th argument:
/// through CURVE, to the server `srv` (binding: as that server).
const PEER: &str = r#"
mode, ep = sys.argv[2:4]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 0
secure = len(sys.argv) > 5 and sys.argv[5] == "curve"
bind = mode.endswith("-bind")
mode = mode.replace("-bind", "")
t = {"pub": zmq.PUB, "sub": zmq.SUB, "pull": zmq.PULL, "push": zmq.PUSH, "rep": zmq.REP,
     "req": zmq.REQ}[mode]
if bind:
    s = ctx.socket(t)
    s.setsockopt(zmq.LINGER, LINGER)
    s.setsockopt(zmq.RCVTIMEO, 10000)
    if secure:
        pub_key, sec = cert("srv_secret")
        s.curve_server = True
        s.curve_publickey, s.curve_secretkey = pub_key, sec
    s.bind(ep)
elif secure:
    s = curve(t, ep, RCVTIMEO=10000)
else:
    s = sock(t, ep, RCVTIMEO=10000)
show = lambda m: print(json.dumps([f.decode("latin-1") for f in m]), flush=True)
if mode == "pub":
    print("ready", flush=True)
    end = time.monotonic() + 10
    i = 0
    while time.monotonic() < end:
        s.send_multipart([b"a/%d" % i, b"%d" % i])
        s.send_multipart([b"b/%d" % i, b"%d" % i])
        i += 1
        time.sleep(0.02)
elif mode == "sub":
    s.subscribe(b"t/")
    time.sleep(0.5)
    print("ready", flush=True)
    for _ in range(n):
        show(s.recv_multipart())
elif mode == "pull":
    print("ready", flush=True)
    for _ in range(n):
        show(s.recv_multipart())
elif mode == "push":
    for i in range(n):
        s.send_multipart([b"m", b"%d" % i])
elif mode == "rep":
    print("ready", flush=True)
    for _ in range(n):
        m = s.recv_multipart()
        s.send_multipart(m[:-1] + [b"re:" + m[-1]])
else:
    for i in range(n):
        s.send(b"q %d" % i)
        show(s.recv_multipart())
s.close()
ctx.term()
"#;

/// A libzmq peer of [`PEER`], CURVE keys from `keys` if given.
fn peer(keys: Option<&Keys>, args: &[&str]) -> PyPeer {
    let mut argv = vec![keys.map_or_else(|| "-".to_owned(), |k| k.arg(""))];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    // The CURVE prelude loads `srv`'s certificate: without keys, a prelude-free script.
    let body = if keys.is_some() {
        script(PEER)
    } else {
        format!("{}{PEER}", zedge_tests::zmq_prelude!())
    };
    PyPeer::spawn(args[0], &body, &argv, Duration::from_secs(30))
}

/// Run `zedge ARGS` with `input` on stdin to its end: its stdout, having exited 0.
fn run(args: &[&str], input: &str) -> String {
    let mut c = client(args);
    c.stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = finish(c, Duration::from_secs(20));
    assert!(
        out.status.success(),
        "zedge {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("text")
}

/// Run `zedge ARGS`, expected to fail: its stderr.
fn fails(args: &[&str], within: Duration) -> String {
    let mut c = client(args);
    drop(c.stdin.take());
    let out = finish(c, within);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8(out.stderr).expect("text")
}

/// The JSON lines a [`PEER`] printed, as frames.
fn messages(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .filter(|l| l.starts_with('['))
        .map(|l| {
            l.trim_matches(|c| c == '[' || c == ']')
                .split(", ")
                .map(|f| f.trim_matches('"').to_owned())
                .collect()
        })
        .collect()
}

/// Until a [`PEER`] has printed `ready` (it is connected and subscribed).
fn ready(p: &PyPeer) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.stdout_so_far().contains("ready") {
        assert!(Instant::now() < deadline, "the peer never got ready");
        thread::sleep(Duration::from_millis(20));
    }
}

/// `zedge sub` prints the messages of its topic a libzmq publisher sends; `zedge pub`'s reach
/// a libzmq subscriber; given a `keys`' `srv`, through a CURVE forwarder.
fn forwarder(keys: Option<&Keys>) {
    let secret;
    let mut args = vec![];
    let mut key = vec![];
    let curve_arg;
    if let Some(k) = keys {
        secret = k.arg("srv_secret");
        args = vec!["--curve-secret", &secret];
        curve_arg = k.public("srv");
        key = vec!["--curve-server-key", &curve_arg];
    }
    let broker = Broker::start("forwarder", &args);
    let (fe, be) = (broker.frontend(), broker.backend());
    let curve = if keys.is_some() { "curve" } else { "plain" };
    let publisher = peer(keys, &["pub", fe, "0", curve]);
    let out = run(&[&["sub", be, "a/", "--count", "5"][..], &key].concat(), "");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    let first: u64 = lines[0]
        .split('\t')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number");
    for (i, l) in lines.iter().enumerate() {
        let k = first + i as u64;
        assert_eq!(*l, format!("a/{k}\t{k}"), "{out}");
    }
    let _ = publisher.finish();

    let subscriber = peer(keys, &["sub", be, "5", curve]);
    ready(&subscriber);
    run(
        &[&["pub", fe, "t/x", "hello", "--count", "3"][..], &key].concat(),
        "",
    );
    run(&[&["pub", fe, "t/y"][..], &key].concat(), "one\ntwo\n");
    let got = messages(&subscriber.finish());
    let want = [
        ["t/x", "hello"],
        ["t/x", "hello"],
        ["t/x", "hello"],
        ["t/y", "one"],
        ["t/y", "two"],
    ];
    assert_eq!(got, want);
}

#[test]
fn sub_and_pub_through_a_forwarder_with_libzmq_peers() {
    forwarder(None);
}

#[test]
fn sub_and_pub_through_a_curve_forwarder_with_libzmq_curve_peers() {
    forwarder(Some(&Keys::generate()));
}

#[test]
fn push_and_pull_through_a_streamer_with_libzmq_peers() {
    let broker = Broker::start("streamer", &[]);
    let (fe, be) = (broker.frontend(), broker.backend());
    let worker = peer(None, &["pull", be, "100"]);
    ready(&worker);
    let lines: String = (0..100).map(|i| format!("w\t{i}\n")).collect();
    run(&["push", fe], &lines);
    let got = messages(&worker.finish());
    assert_eq!(got.len(), 100);
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m, &["w".to_owned(), i.to_string()]);
    }

    let producer = peer(None, &["push", fe, "50"]);
    let out = run(&["pull", be, "--count", "50", "-d", "|"], "");
    let _ = producer.finish();
    let want: String = (0..50).map(|i| format!("m|{i}\n")).collect();
    assert_eq!(out, want);
}

#[test]
fn req_and_rep_through_a_queue_with_libzmq_peers() {
    let broker = Broker::start("queue", &[]);
    let (fe, be) = (broker.frontend(), broker.backend());
    let worker = peer(None, &["rep", be, "3"]);
    ready(&worker);
    let out = run(&["req", fe, "ping", "--count", "3"], "");
    assert_eq!(out, "re:ping\nre:ping\nre:ping\n");
    let _ = worker.finish();

    let echo = client(&["rep", be, "--count", "4"]);
    let requester = peer(None, &["req", fe, "4"]);
    let got = messages(&requester.finish());
    let want: Vec<Vec<String>> = (0..4).map(|i| vec![format!("q {i}")]).collect();
    assert_eq!(got, want);
    let out = finish(echo, Duration::from_secs(10));
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "q 0\nq 1\nq 2\nq 3\n");
}

/// Straight against libzmq sockets that bind (no device between): the clients are ZeroMQ
/// peers of their own, through CURVE to a libzmq CURVE server too.
#[test]
fn the_clients_talk_to_libzmq_sockets_that_bind() {
    let keys = Keys::generate();
    let key = keys.public("srv");
    let ep = format!("tcp://127.0.0.1:{}", free_port());
    let publisher = peer(Some(&keys), &["pub-bind", &ep, "0", "curve"]);
    ready(&publisher);
    let out = run(
        &["sub", &ep, "b/", "--count", "2", "--curve-server-key", &key],
        "",
    );
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.lines().all(|l| l.starts_with("b/")), "{out}");
    let _ = publisher.finish();

    let ep = format!("tcp://127.0.0.1:{}", free_port());
    let worker = peer(None, &["pull-bind", &ep, "2"]);
    ready(&worker);
    run(
        &[
            "push", &ep, "00ff", "abcd", "--format", "hex", "--count", "2",
        ],
        "",
    );
    let got = worker.finish();
    let bytes = [r"\u0000\u00ff", r"\u00ab\u00cd"].map(String::from);
    assert_eq!(messages(&got), [bytes.clone(), bytes], "{got}");

    let ep = format!("tcp://127.0.0.1:{}", free_port());
    let server = peer(Some(&keys), &["rep-bind", &ep, "1", "curve"]);
    ready(&server);
    let secret = keys.arg("cli_secret");
    let out = run(
        &[
            "req",
            &ep,
            "hi",
            "--curve-server-key",
            &key,
            "--curve-secret",
            &secret,
        ],
        "",
    );
    assert_eq!(out, "re:hi\n");
    let _ = server.finish();
}

/// Bad days: a peer that is not ZeroMQ, one that says nothing, a worker that never answers,
/// the wrong security: each ends in one clear line and status 1, within its timeout; and a
/// subscriber whose device restarts connects again and gets what comes after.
#[test]
fn clients_fail_clearly_on_a_bad_day_and_a_subscriber_outlives_a_restart() {
    // Not ZeroMQ: an HTTP server's answer.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let ep = format!("tcp://{}", listener.local_addr().expect("addr"));
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        thread::sleep(Duration::from_millis(500));
        // Then one that accepts and says nothing.
        let (_quiet, _) = listener.accept().expect("accept");
        thread::sleep(Duration::from_secs(3));
    });
    let e = fails(&["sub", &ep, "--timeout", "2s"], Duration::from_secs(5));
    assert!(e.starts_with("zedge sub: "), "{e}");
    assert!(e.contains("greeting"), "{e}");
    let e = fails(&["sub", &ep, "--timeout", "1s"], Duration::from_secs(5));
    assert_eq!(
        e.trim_end(),
        format!("zedge sub: {ep}: no handshake within 1s (is a device there?)")
    );
    server.join().expect("the fake server");

    // A worker that takes requests and never answers.
    let broker = Broker::start("queue", &[]);
    let deaf = peer(None, &["pull", broker.backend(), "0"]);
    let e = fails(
        &["req", broker.frontend(), "x", "--timeout", "1s"],
        Duration::from_secs(5),
    );
    assert!(e.contains("no reply within 1s"), "{e}");
    drop(deaf);

    // The wrong security: a CURVE device, a client in the clear.
    let keys = Keys::generate();
    let secret = keys.arg("srv_secret");
    let curve = Broker::start("streamer", &["--curve-secret", &secret]);
    let e = fails(&["push", curve.frontend(), "x"], Duration::from_secs(5));
    assert!(e.contains("give --curve-server-key"), "{e}");

    // A subscriber whose forwarder restarts on the same ports.
    let first = Broker::start("forwarder", &[]);
    let (fe, be) = (first.frontend().to_owned(), first.backend().to_owned());
    let sub = client(&["sub", &be, "a/", "--count", "2"]);
    thread::sleep(Duration::from_millis(500));
    first.stop();
    thread::sleep(Duration::from_millis(1500));
    let second = Broker::start_with("forwarder", &[Ep::Bind(fe.clone())], &[Ep::Bind(be)], &[]);
    let publisher = peer(None, &["pub", &fe, "0"]);
    let out = finish(sub, Duration::from_secs(15));
    let _ = publisher.finish();
    drop(second);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(stderr.contains("connecting again"), "{stderr}");
}

/// A sender waiting on its user (standard input quiet for longer than the device's heartbeat
/// timeout) keeps its connection: it answers the device's PINGs meanwhile, and its message,
/// typed late, arrives. Before, the device dropped it after 3 s of silence and the late
/// message was lost while `zedge push` exited 0.
#[test]
fn a_sender_quiet_for_longer_than_the_heartbeat_timeout_keeps_its_connection() {
    let broker = Broker::start("streamer", &["--heartbeat-ivl", "300ms"]);
    let mut push = client(&["push", broker.frontend()]);
    thread::sleep(Duration::from_millis(2500));
    let mut stdin = push.stdin.take().expect("stdin");
    stdin.write_all(b"typed late\n").expect("write");
    drop(stdin);
    let out = finish(push, Duration::from_secs(10));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pulled = run(&["pull", broker.backend(), "--count", "1"], "");
    assert_eq!(pulled, "typed late\n");
}

/// `--format z85` prints a frame Z85 cannot write (its size no multiple of 4) as `~` and its
/// hex, says so once on stderr, and goes on; `--max-msg-size` is named when a message is over
/// it; a reader that goes away (`| head -n 1`) ends the client quietly, status 0.
#[test]
fn receivers_print_every_frame_name_max_msg_size_and_end_quietly_when_the_reader_goes() {
    use std::io::{BufRead, BufReader};
    let broker = Broker::start("streamer", &[]);
    let (fe, be) = (broker.frontend(), broker.backend());

    let pull = client(&["pull", be, "--format", "z85", "--count", "4"]);
    thread::sleep(Duration::from_millis(300));
    run(&["push", fe], "abcd\nabcde\nabcdefgh\nxyz\n");
    let out = finish(pull, Duration::from_secs(10));
    assert!(out.status.success(), "{out:?}");
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).expect("text"),
        String::from_utf8(out.stderr).expect("text"),
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!((lines[0].len(), lines[2].len()), (5, 10), "{stdout}");
    assert_eq!((lines[1], lines[3]), ("~6162636465", "~78797a"), "{stdout}");
    assert_eq!(
        stderr,
        "zedge pull: a frame whose size is no multiple of 4, which Z85 cannot write, is printed \
         as ~ and its hex (--format z85 reads it back so); this is said once\n"
    );

    let mut small = client(&["pull", be, "--max-msg-size", "10", "--count", "1"]);
    thread::sleep(Duration::from_millis(300));
    run(&["push", fe], "0123456789abcdefghij\n");
    thread::sleep(Duration::from_millis(1000));
    let _ = small.kill();
    let out = small.wait_with_output().expect("output");
    let stderr = String::from_utf8(out.stderr).expect("text");
    assert!(
        stderr.contains(&format!(
            "zedge pull: {be}: a message of at least 20 bytes came, over --max-msg-size (10 \
             bytes); it is lost: give a larger --max-msg-size to take such messages; \
             connecting again"
        )),
        "{stderr}"
    );

    let mut pull = client(&["pull", be]);
    thread::sleep(Duration::from_millis(300));
    run(&["push", fe], "first\n");
    let mut first = String::new();
    BufReader::new(pull.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("a line");
    assert_eq!(first, "first\n");
    // The reader is gone, as `head -n 1` goes: the next message ends the client, quietly.
    run(&["push", fe], "second\nthird\n");
    let out = finish(pull, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
