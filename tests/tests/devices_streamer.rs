//! The streamer device (`zedge streamer`): PULL frontend for producers, PUSH backend for
//! workers. Every message reaches exactly one worker, and a worker that joins later gets its
//! share.

mod zmqrs;

use std::collections::BTreeMap;
use std::time::Duration;

use zedge_tests::agent::{Agent, Msg};
use zedge_tests::broker::Broker;
use zedge_tests::wait::{deadline, until};

const POLL: Duration = Duration::from_millis(50);

/// Messages received, by worker, keyed by their unique id.
#[derive(Default)]
struct Received {
    by_id: BTreeMap<Vec<Vec<u8>>, Vec<usize>>,
    per_worker: Vec<usize>,
}

impl Received {
    fn take(&mut self, worker: usize, msgs: Vec<Msg>) {
        if self.per_worker.len() <= worker {
            self.per_worker.resize(worker + 1, 0);
        }
        for m in msgs {
            assert_eq!(m.len(), 3, "worker {worker}: malformed message {m:?}");
            self.by_id.entry(m).or_default().push(worker);
            self.per_worker[worker] += 1;
        }
    }

    fn total(&self) -> usize {
        self.per_worker.iter().sum()
    }
}

#[test]
fn two_producers_three_workers_every_message_exactly_once() {
    let end = deadline(45);
    let broker = Broker::start("streamer", &[]);
    let rt = zmqrs::runtime();
    let mut workers = vec![
        Agent::connect("w1", "PULL", broker.backend(), &[]),
        Agent::connect("w2", "PULL", broker.backend(), &[]),
    ];
    // One libzmq producer and one zmq.rs producer.
    let mut p1 = Agent::connect("p1", "PUSH", broker.frontend(), &[]);
    let mut p2: zeromq::PushSocket = zmqrs::connect(&rt, broker.frontend());
    let mut got = Received::default();
    let mut sent = 0;

    // Phase 1: two workers.
    p1.burst(200, &[b"p1", b"a"]);
    for i in 0..200 {
        zmqrs::send(&rt, &mut p2, &[b"p2", b"a", i.to_string().as_bytes()]);
    }
    sent += 400;
    until(end, "phase 1 is delivered", || {
        for (w, agent) in workers.iter_mut().enumerate() {
            got.take(w, agent.drain(1000, POLL));
        }
        got.total() >= sent
    });
    assert!(
        got.per_worker.iter().all(|&n| n > 0),
        "work must be spread over both workers: {:?}",
        got.per_worker
    );

    // Phase 2: a third worker joins; batches go on until it has had its share.
    let mut w3 = Agent::connect("w3", "PULL", broker.backend(), &["monitor"]);
    assert!(
        w3.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)),
        "w3 did not connect"
    );
    workers.push(w3);
    let mut batch = 0u32;
    until(end, "the third worker gets work", || {
        let b = format!("b{batch}");
        p1.burst(50, &[b"p1", b.as_bytes()]);
        for i in 0..50 {
            zmqrs::send(
                &rt,
                &mut p2,
                &[b"p2", b.as_bytes(), i.to_string().as_bytes()],
            );
        }
        sent += 100;
        batch += 1;
        for (w, agent) in workers.iter_mut().enumerate() {
            got.take(w, agent.drain(1000, POLL));
        }
        batch >= 6 && got.per_worker.get(2).copied().unwrap_or(0) >= 20
    });
    until(end, "phase 2 is delivered", || {
        for (w, agent) in workers.iter_mut().enumerate() {
            got.take(w, agent.drain(1000, POLL));
        }
        got.total() >= sent
    });
    // Anything late would be a duplicate.
    for (w, agent) in workers.iter_mut().enumerate() {
        got.take(w, agent.drain(1000, Duration::from_millis(300)));
    }
    eprintln!("{sent} sent; per worker {:?}", got.per_worker);

    let dups: Vec<_> = got.by_id.iter().filter(|(_, w)| w.len() > 1).collect();
    assert!(
        dups.is_empty(),
        "delivered more than once: {:?}",
        &dups[..dups.len().min(5)]
    );
    assert_eq!(got.total(), sent, "every message exactly once");
    let mut want = Vec::new();
    for (producer, batches) in [(b"p1", batch), (b"p2", batch)] {
        for (tag, n) in std::iter::once(("a".to_owned(), 200))
            .chain((0..batches).map(|b| (format!("b{b}"), 50)))
        {
            for i in 0..n {
                want.push(vec![
                    producer.to_vec(),
                    tag.clone().into_bytes(),
                    i.to_string().into_bytes(),
                ]);
            }
        }
    }
    want.sort();
    let have: Vec<_> = got.by_id.keys().cloned().collect();
    assert_eq!(have.len(), want.len());
    assert!(
        have == want,
        "the set of delivered ids differs from the set sent"
    );
    assert!(got.per_worker.len() == 3 && got.per_worker.iter().all(|&n| n > 0));

    drop(p2);
    p1.close();
    for w in workers {
        w.close();
    }
    broker.stop();
}

#[test]
fn messages_wait_for_a_worker_and_none_is_lost() {
    let end = deadline(30);
    let broker = Broker::start("streamer", &[]);
    let mut p = Agent::connect("p", "PUSH", broker.frontend(), &["monitor"]);
    assert!(p.wait_event("HANDSHAKE_SUCCEEDED", Duration::from_secs(10)));
    // No worker yet: the broker holds what it takes and pushes back on the rest.
    p.burst(500, &[b"early", &[b'e'; 1000]]);
    let mut w = Agent::connect("w", "PULL", broker.backend(), &[]);
    let mut got = Vec::new();
    until(end, "the late worker gets everything", || {
        got.extend(w.drain(1000, POLL));
        got.len() >= 500
    });
    got.extend(w.drain(1000, Duration::from_millis(300)));
    let want: Vec<Msg> = (0..500)
        .map(|i: u32| {
            vec![
                b"early".to_vec(),
                vec![b'e'; 1000],
                i.to_string().into_bytes(),
            ]
        })
        .collect();
    assert!(
        got == want,
        "{} messages, not the 500 sent in order",
        got.len()
    );
    p.close();
    w.close();
    broker.stop();
}
