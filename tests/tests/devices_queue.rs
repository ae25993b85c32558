//! The queue device (`zedge queue`): ROUTER frontend for clients, DEALER backend for workers.
//! Real libzmq clients and servers (pyzmq), plus zmq.rs; servers join while traffic runs, and
//! every reply must reach the client that asked.

mod zmqrs;

use std::collections::BTreeMap;
use std::time::Duration;

use zedge_tests::agent::Agent;
use zedge_tests::broker::Broker;
use zedge_tests::wait::{deadline, until};
use zedge_tests::PyPeer;

/// A REP server: replies to every request with the request's frames plus its own id, until
/// the stop file appears. Prints how many it served.
const REP_SERVER: &str = r#"
import os, sys, time, zmq
ep, sid, stop = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
ctx = zmq.Context()
s = ctx.socket(zmq.REP)
s.setsockopt(zmq.LINGER, 2000)
s.connect(ep)
served = 0
while not os.path.exists(stop):
    if s.poll(20):
        req = s.recv_multipart()
        s.send_multipart(req + [sid])
        served += 1
print(served)
s.close()
ctx.term()
"#;

struct Server {
    peer: PyPeer,
}

impl Server {
    fn start(ep: &str, id: &str, stop: &str) -> Server {
        let args = [ep.to_owned(), id.to_owned(), stop.to_owned()];
        Server {
            peer: PyPeer::spawn(id, REP_SERVER, &args, Duration::from_secs(50)),
        }
    }

    fn served(self) -> usize {
        let out = self.peer.finish();
        out.trim()
            .parse()
            .unwrap_or_else(|_| panic!("server said {out:?}"))
    }
}

fn stop_file(tag: &str) -> String {
    let path = format!("/tmp/zedge-test-{}-{tag}.stop", std::process::id());
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn replies_return_to_the_client_that_asked_while_servers_join() {
    let end = deadline(45);
    let broker = Broker::start("queue", &[]);
    let stop = stop_file("queue-rr");
    let rt = zmqrs::runtime();
    let mut servers = vec![Server::start(broker.backend(), "s1", &stop)];
    let mut clients: Vec<(String, Agent)> = (1..=3)
        .map(|i| {
            let name = format!("c{i}");
            let agent = Agent::connect(&name, "REQ", broker.frontend(), &[]);
            (name, agent)
        })
        .collect();
    let mut rs: zeromq::ReqSocket = zmqrs::connect(&rt, broker.frontend());

    let mut by_server: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let mut requests = 0;
    let mut round = 0u32;
    until(end, "the late servers have served 20 requests each", || {
        if round == 10 {
            servers.push(Server::start(broker.backend(), "s2", &stop));
        }
        if round == 20 {
            servers.push(Server::start(broker.backend(), "s3", &stop));
        }
        let r = round.to_string();
        // Every client has a request in flight at once.
        for (name, c) in &mut clients {
            c.send(&[name.as_bytes(), r.as_bytes()]);
        }
        zmqrs::send(&rt, &mut rs, &[b"rs", r.as_bytes()]);
        for (name, c) in &mut clients {
            let reply = c
                .recv(Duration::from_secs(10))
                .unwrap_or_else(|| panic!("{name}: no reply to request {r}"));
            check_reply(name, &r, &reply, &mut by_server);
        }
        let reply = zmqrs::recv(&rt, &mut rs, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("zmq.rs REQ: no reply to request {r}"));
        check_reply("rs", &r, &reply, &mut by_server);
        requests += clients.len() + 1;
        round += 1;
        let late = |id: &[u8]| by_server.get(id).copied().unwrap_or(0) >= 20;
        round > 30 && late(b"s2") && late(b"s3")
    });
    std::fs::write(&stop, b"").expect("write stop file");
    let served: Vec<usize> = servers.into_iter().map(Server::served).collect();
    eprintln!("{round} rounds; served {served:?}; replies by server {by_server:?}");
    assert_eq!(served.iter().sum::<usize>(), requests, "served {served:?}");
    assert!(
        served.iter().all(|&n| n > 0),
        "every server, the late ones too, must get work: served {served:?}, replies {by_server:?}"
    );
    let _ = std::fs::remove_file(&stop);
    drop(rs);
    for (_, c) in clients {
        c.close();
    }
    broker.stop();
}

/// A reply is the request (client name, round) and the id of a server.
fn check_reply(
    client: &str,
    round: &str,
    reply: &[Vec<u8>],
    by_server: &mut BTreeMap<Vec<u8>, usize>,
) {
    assert_eq!(reply.len(), 3, "{client}: malformed reply {reply:?}");
    assert_eq!(
        (&reply[0][..], &reply[1][..]),
        (client.as_bytes(), round.as_bytes()),
        "{client} got a reply to another request: {reply:?}"
    );
    assert!(
        [&b"s1"[..], b"s2", b"s3"].contains(&&reply[2][..]),
        "{client}: reply from an unknown server: {reply:?}"
    );
    *by_server.entry(reply[2].clone()).or_default() += 1;
}

#[test]
fn multipart_requests_and_replies_pass_intact_between_dealers() {
    let broker = Broker::start("queue", &[]);
    let rt = zmqrs::runtime();
    // A DEALER worker sees the routing envelope the broker adds: [client id, request...].
    let mut worker = Agent::connect("worker", "DEALER", broker.backend(), &[]);
    let mut c1 = Agent::connect("c1", "DEALER", broker.frontend(), &[]);
    let mut c2: zeromq::DealerSocket = zmqrs::connect(&rt, broker.frontend());

    let long: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let request: Vec<&[u8]> = vec![b"", b"part1", b"", &long, b"last"];
    let mut envelopes = Vec::new();
    for round in 0..5u8 {
        c1.send(&request);
        let tag = [b'z', round];
        zmqrs::send(&rt, &mut c2, &[b"zmq.rs", &tag]);
        // Both requests reach the worker, each behind a routing frame naming its client.
        for _ in 0..2 {
            let got = worker
                .recv(Duration::from_secs(10))
                .expect("the worker got no request");
            assert!(!got[0].is_empty(), "no routing frame: {got:?}");
            let body: Vec<&[u8]> = got[1..].iter().map(Vec::as_slice).collect();
            if body == request {
                envelopes.push(("c1", got[0].clone()));
            } else {
                assert_eq!(body, [&b"zmq.rs"[..], &tag], "request altered: {got:?}");
                envelopes.push(("c2", got[0].clone()));
            }
            // Reply with the request and a marker, through the same envelope.
            let mut reply: Vec<&[u8]> = got.iter().map(Vec::as_slice).collect();
            reply.push(b"reply");
            worker.send(&reply);
        }
        let mut want1: Vec<Vec<u8>> = request.iter().map(|f| f.to_vec()).collect();
        want1.push(b"reply".to_vec());
        assert_eq!(
            c1.recv(Duration::from_secs(10)).expect("c1 got no reply"),
            want1
        );
        let want2 = vec![b"zmq.rs".to_vec(), tag.to_vec(), b"reply".to_vec()];
        assert_eq!(
            zmqrs::recv(&rt, &mut c2, Duration::from_secs(10)).expect("c2 got no reply"),
            want2
        );
    }
    let c1_ids: Vec<_> = envelopes
        .iter()
        .filter(|e| e.0 == "c1")
        .map(|e| &e.1)
        .collect();
    let c2_ids: Vec<_> = envelopes
        .iter()
        .filter(|e| e.0 == "c2")
        .map(|e| &e.1)
        .collect();
    assert!(
        c1_ids.windows(2).all(|w| w[0] == w[1]),
        "c1's routing id changed"
    );
    assert!(
        c2_ids.windows(2).all(|w| w[0] == w[1]),
        "c2's routing id changed"
    );
    assert_ne!(c1_ids[0], c2_ids[0], "two clients with one routing id");

    // A reply for a client that has left is dropped; the broker carries on.
    c1.send(&[b"", b"going"]);
    let got = worker.recv(Duration::from_secs(10)).expect("no request");
    c1.close();
    let gone: Vec<&[u8]> = got.iter().map(Vec::as_slice).collect();
    worker.send(&gone);
    let mut c3 = Agent::connect("c3", "REQ", broker.frontend(), &[]);
    c3.send(&[b"after"]);
    let got = worker
        .recv(Duration::from_secs(10))
        .expect("no request from c3");
    assert_eq!(got[1..], [b"".to_vec(), b"after".to_vec()], "REQ envelope");
    let mut reply: Vec<&[u8]> = got.iter().map(Vec::as_slice).collect();
    reply.push(b"ok");
    worker.send(&reply);
    assert_eq!(
        c3.recv(Duration::from_secs(10)),
        Some(vec![b"after".to_vec(), b"ok".to_vec()])
    );
    drop(c2);
    c3.close();
    worker.close();
    broker.stop();
}
