//! Peers that speak ZMTP 1.0 (RFC 13: libzmq 2.x), played by hand on raw sockets
//! (`zedge_tests::v1`): zedge tells them from their first bytes, as libzmq 4.3 does, and
//! speaks 1.0 to them on every device, beside libzmq (3.1) peers on the same sides; with
//! `--no-legacy` they are refused with that reason. Beside slow, stalled and hostile 1.0 peers
//! a normal libzmq flow gets every message.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use zedge_tests::agent::Agent;
use zedge_tests::broker::{Broker, Ep};
use zedge_tests::raw;
use zedge_tests::v1::{self, V1Peer};
use zedge_tests::wait::{deadline, until};

fn connected(broker: &Broker, lines: &[&str]) {
    until(deadline(30), "every peer connected", || {
        let log = broker.stderr();
        lines.iter().all(|l| log.contains(l))
    });
}

/// Each producer's messages, `[who, seq]`, reached the workers once each, in order per
/// worker.
fn every_once(got: &[Vec<Vec<u8>>], who: &[u8], n: usize) {
    let mut seqs: Vec<usize> = got
        .iter()
        .filter(|m| m[0] == who)
        .map(|m| {
            let seq = std::str::from_utf8(&m[1]).expect("a sequence number");
            seq.parse().expect("a sequence number")
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (0..n).collect::<Vec<_>>(),
        "every {} message once",
        String::from_utf8_lossy(who)
    );
}

#[test]
fn a_streamer_carries_1_0_and_3_1_producers_to_1_0_and_3_1_workers() {
    let broker = Broker::start("streamer", &[]);
    let mut old_worker = V1Peer::connect(broker.backend_addr(), b"");
    let mut new_worker = Agent::connect("new worker", "PULL", broker.backend(), &[]);
    let mut old_producer = V1Peer::connect(broker.frontend_addr(), b"");
    let mut new_producer = Agent::connect("new producer", "PUSH", broker.frontend(), &[]);
    connected(
        &broker,
        &[
            "PULL connected (ZMTP 1.0)",
            "PULL connected (ZMTP 3.1)",
            "PUSH connected (ZMTP 1.0)",
            "PUSH connected (ZMTP 3.1)",
        ],
    );
    const N: usize = 40;
    let long = [7u8; 300];
    for i in 0..N {
        let n = format!("{i:03}");
        old_producer.send(&[b"old", n.as_bytes(), &long]);
        new_producer.send(&[b"new", n.as_bytes(), &long]);
    }
    let mut got = new_worker.drain(2 * N, Duration::from_secs(2));
    let from_new = got.len();
    while let Some(m) = old_worker.recv(Duration::from_secs(1)) {
        got.push(m);
    }
    assert!(
        from_new > 0 && got.len() > from_new,
        "both workers served: {from_new} of {}",
        got.len()
    );
    every_once(&got, b"old", N);
    every_once(&got, b"new", N);
    assert!(got.iter().all(|m| m.len() == 3 && m[2] == long));
    broker.stop();
}

/// A forwarder with a 1.0 and a 3.1 publisher, a 1.0 subscriber (which filters for itself
/// and sends no subscription: it is taken to want everything, as libzmq's XPUB takes it) and
/// a 3.1 subscriber of topic `b`: the 1.0 one gets every message of both publishers, the 3.1
/// one only `b`; the 1.0 publisher hears the subscriptions as 1.0 messages.
#[test]
fn a_forwarder_carries_1_0_and_3_1_publishers_to_1_0_and_3_1_subscribers() {
    let broker = Broker::start("forwarder", &[]);
    let mut old_sub = V1Peer::connect(broker.backend_addr(), b"");
    let mut new_sub = Agent::connect("new subscriber", "SUB", broker.backend(), &[]);
    new_sub.sub(b"b");
    let mut old_pub = V1Peer::connect(broker.frontend_addr(), b"");
    let mut new_pub = Agent::connect("new publisher", "PUB", broker.frontend(), &[]);
    connected(
        &broker,
        &[
            "SUB connected (ZMTP 1.0)",
            "SUB connected (ZMTP 3.1)",
            "PUB connected (ZMTP 1.0)",
            "PUB connected (ZMTP 3.1)",
        ],
    );
    // The subscriptions upstream, as 1.0 messages: everything (the 1.0 subscriber's) and b.
    let mut heard = Vec::new();
    let by = Instant::now() + Duration::from_secs(10);
    while !(heard.contains(&b"\x01".to_vec()) && heard.contains(&b"\x01b".to_vec())) {
        assert!(Instant::now() < by, "subscriptions upstream: {heard:?}");
        if let Some(m) = old_pub.recv(Duration::from_millis(200)) {
            heard.push(m.concat());
        }
    }
    // Until the 3.1 publisher has heard the subscription too.
    let warm = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < warm, "b did not reach the 3.1 publisher");
        new_pub.send(&[b"b:warm"]);
        if !new_sub.drain(10, Duration::from_millis(100)).is_empty() {
            break;
        }
    }
    while old_sub.recv(Duration::from_millis(300)).is_some() {}
    let _ = new_sub.drain(1000, Duration::from_millis(300));
    const N: usize = 30;
    for i in 0..N {
        for t in ["a", "b"] {
            old_pub.send(&[format!("{t}:old:{i:03}").as_bytes()]);
            new_pub.send(&[format!("{t}:new:{i:03}").as_bytes()]);
        }
    }
    let mut all = Vec::new();
    while let Some(m) = old_sub.recv(Duration::from_secs(1)) {
        all.push(String::from_utf8(m.concat()).unwrap());
    }
    let b: Vec<String> = new_sub
        .drain(2 * N, Duration::from_secs(2))
        .into_iter()
        .map(|m| String::from_utf8(m[0].clone()).unwrap())
        .collect();
    for p in ["old", "new"] {
        for t in ["a", "b"] {
            let want: Vec<String> = (0..N).map(|i| format!("{t}:{p}:{i:03}")).collect();
            let seen: Vec<String> = all
                .iter()
                .filter(|m| m.starts_with(&format!("{t}:{p}:")))
                .cloned()
                .collect();
            assert_eq!(seen, want, "the 1.0 subscriber, {t} from the {p} publisher");
        }
        let want: Vec<String> = (0..N).map(|i| format!("b:{p}:{i:03}")).collect();
        let seen: Vec<String> = b
            .iter()
            .filter(|m| m.contains(&format!(":{p}:")))
            .cloned()
            .collect();
        assert_eq!(
            seen, want,
            "the 3.1 subscriber of b, from the {p} publisher"
        );
    }
    assert_eq!(b.len(), 2 * N, "only b: {b:?}");
    broker.stop();
}

/// A queue with a 1.0 client (identity `C1`) and a 3.1 REQ client, a 1.0 worker and a 3.1
/// DEALER worker, both echoing: every reply goes back to the client that asked.
#[test]
fn a_queue_answers_1_0_and_3_1_clients_through_1_0_and_3_1_workers() {
    let broker = Broker::start("queue", &[]);
    let mut old_worker = V1Peer::connect(broker.backend_addr(), b"");
    let mut new_worker = Agent::connect("new worker", "DEALER", broker.backend(), &[]);
    let mut old_client = V1Peer::connect(broker.frontend_addr(), b"C1");
    let mut new_client = Agent::connect("new client", "REQ", broker.frontend(), &[]);
    connected(
        &broker,
        &[
            "DEALER connected (ZMTP 1.0)",
            "DEALER connected (ZMTP 3.1)",
            "DEALER connected (ZMTP 1.0, identity \"C1\")",
            "REQ connected (ZMTP 3.1)",
        ],
    );
    const N: usize = 10;
    let (mut served_old, mut served_new) = (0, 0);
    for i in 0..N {
        let old_ask = format!("old {i}");
        let new_ask = format!("new {i}");
        old_client.send(&[b"", old_ask.as_bytes()]);
        new_client.send(&[new_ask.as_bytes()]);
        // Each request reaches one worker, which echoes it with its envelope.
        let mut served = 0;
        let by = Instant::now() + Duration::from_secs(10);
        while served < 2 {
            assert!(Instant::now() < by, "request {i}: {served} of 2 served");
            if let Some(m) = old_worker.recv(Duration::from_millis(50)) {
                let parts: Vec<&[u8]> = m.iter().map(Vec::as_slice).collect();
                old_worker.send(&parts);
                (served, served_old) = (served + 1, served_old + 1);
            }
            if let Some(m) = new_worker.recv(Duration::from_millis(50)) {
                let parts: Vec<&[u8]> = m.iter().map(Vec::as_slice).collect();
                new_worker.send(&parts);
                (served, served_new) = (served + 1, served_new + 1);
            }
        }
        let r = old_client.recv(Duration::from_secs(5)).expect("a reply");
        assert_eq!(r, [b"".to_vec(), old_ask.into_bytes()]);
        let r = new_client.recv(Duration::from_secs(5)).expect("a reply");
        assert_eq!(r, [new_ask.into_bytes()]);
    }
    assert!(
        served_old > 0 && served_new > 0,
        "both workers served: {served_old} and {served_new}"
    );
    broker.stop();
}

/// A normal libzmq flow through a streamer, beside 1.0 peers: a slow producer (its identity a
/// byte at a time, its frames a byte every 5 ms), a stalled one (its identity, then half a
/// frame), and hostile ones (the longest identity length there is, a frame of length 0 after
/// a good message, a frame over `max_msg_size`), which are closed, each with its reason at
/// debug. The flow gets every message, in order, and so do the slow producer's and the
/// message before the bad frame.
#[test]
fn a_flow_gets_every_message_beside_slow_stalled_and_hostile_1_0_peers() {
    let broker = Broker::start("streamer", &["--max-msg-size", "64K", "-vv"]);
    let mut worker = Agent::connect("worker", "PULL", broker.backend(), &[]);
    let mut producer = Agent::connect("producer", "PUSH", broker.frontend(), &[]);
    let addr = broker.frontend_addr();
    let slow = thread::spawn(move || {
        let mut s = raw::connect(addr, deadline(10));
        let mut bytes = v1::frame(b"", false);
        for i in 0..20 {
            bytes.extend(v1::message(&[b"slow", format!("{i:03}").as_bytes()]));
        }
        for b in bytes {
            s.write_all(&[b]).expect("a slow byte");
            thread::sleep(Duration::from_millis(5));
        }
        s
    });
    let mut stalled = raw::connect(addr, deadline(10));
    stalled
        .write_all(
            &[
                v1::frame(b"", false),
                v1::frame(&[1; 200], false)[..100].to_vec(),
            ]
            .concat(),
        )
        .expect("a stalled producer");
    let hostile: Vec<Vec<u8>> = vec![
        [&[0xff][..], &[0xff; 8], &[0x00]].concat(),
        [
            v1::frame(b"", false),
            v1::message(&[b"before", b"000"]),
            vec![0x00, 0x00],
        ]
        .concat(),
        [
            v1::frame(b"", false),
            vec![0xff],
            (100_000u64).to_be_bytes().to_vec(),
            vec![0x00],
        ]
        .concat(),
    ];
    let mut closed = Vec::new();
    for bytes in &hostile {
        let mut s = raw::connect(addr, deadline(10));
        s.write_all(bytes).expect("hostile bytes");
        closed.push(s);
    }
    const N: usize = 2000;
    producer.burst(N, &[b"flow"]);
    let slow = slow.join().expect("the slow producer");
    // The flow's, the slow producer's 20 and the one before a bad frame.
    let got = worker.drain(N + 21, Duration::from_secs(3));
    let flow: Vec<usize> = got
        .iter()
        .filter(|m| m[0] == b"flow")
        .map(|m| std::str::from_utf8(&m[1]).unwrap().parse().unwrap())
        .collect();
    assert_eq!(flow, (0..N).collect::<Vec<_>>(), "the flow, in order");
    let slow_got: Vec<&[u8]> = got
        .iter()
        .filter(|m| m[0] == b"slow")
        .map(|m| m[1].as_slice())
        .collect();
    let want: Vec<String> = (0..20).map(|i| format!("{i:03}")).collect();
    assert_eq!(
        slow_got,
        want.iter().map(String::as_bytes).collect::<Vec<_>>(),
        "the slow 1.0 producer"
    );
    assert!(
        got.iter()
            .any(|m| m == &[b"before".to_vec(), b"000".to_vec()]),
        "what came before a bad frame goes on"
    );
    for (i, s) in closed.iter_mut().enumerate() {
        let (gone, _) = raw::closed_by(s, Instant::now() + Duration::from_secs(10));
        assert!(gone, "hostile 1.0 peer {i} not closed");
    }
    drop((slow, stalled));
    let log = broker.stderr();
    for why in ["Identity", "length 0", "the limit is 65536"] {
        assert!(log.contains(why), "no line says {why:?}:\n{log}");
    }
    broker.stop();
}

/// With `--no-legacy`, a 1.0 peer is refused, and the log says what it speaks.
#[test]
fn with_no_legacy_a_1_0_peer_is_refused_with_what_it_speaks() {
    let broker = Broker::start("streamer", &["--no-legacy", "-vv"]);
    let mut s = raw::connect(broker.frontend_addr(), deadline(10));
    s.write_all(&v1::frame(b"", false)).expect("an identity");
    let (gone, _) = raw::closed_by(&mut s, Instant::now() + Duration::from_secs(10));
    assert!(gone, "not closed");
    until(deadline(10), "the refusal logged", || {
        broker.stderr().contains("ZMTP 1.0")
    });
    broker.stop();
}

/// zedge connecting out (a `>` endpoint) to a 1.0 worker that listens, as a libzmq 2.x PULL
/// bound: it sends its identity at once, reads zedge's signature as zedge's, and gets a
/// libzmq producer's messages as 1.0 frames.
#[test]
fn zedge_connecting_out_speaks_1_0_to_a_1_0_server() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let ep = format!("tcp://{}", listener.local_addr().expect("its address"));
    let broker = Broker::start_with("streamer", &[Ep::Tcp], &[Ep::Connect(ep)], &[]);
    let (mut s, _) = listener.accept().expect("zedge connects");
    s.write_all(&v1::frame(b"", false)).expect("our identity");
    let mut sig = [0u8; 10];
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    s.read_exact(&mut sig).expect("zedge's signature");
    assert_eq!(sig, v1::SIGNATURE);
    let mut server = V1Peer { s };
    connected(&broker, &["PULL connected (ZMTP 1.0)"]);
    let mut producer = Agent::connect("producer", "PUSH", broker.frontend(), &[]);
    const N: usize = 50;
    producer.burst(N, &[b"to the 1.0 server"]);
    for i in 0..N {
        let m = server.recv(Duration::from_secs(5)).expect("a message");
        assert_eq!(
            m,
            [b"to the 1.0 server".to_vec(), i.to_string().into_bytes()]
        );
    }
    broker.stop();
}
