//! A control endpoint under a flood beside a device's flow: what the flow still gets.

use std::time::{Duration, Instant};

use crate::agent::Agent;
use crate::broker::Broker;
use crate::PyPeer;

/// A control client that sends one command (argv: endpoint, seconds, command) as fast as it
/// can and never reads the answers; prints how many it sent.
const FLOOD: &str = r#"
import sys, time, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.SNDHWM, 0)
s.setsockopt(zmq.RCVHWM, 1)
s.connect(sys.argv[1])
end = time.time() + float(sys.argv[2])
command = sys.argv[3].encode()
n = 0
while time.time() < end:
    s.send_multipart([b"", command])
    n += 1
print(n)
"#;

/// Floods the streamer `broker`'s control endpoint `ctl` with `command` for 4 s while a
/// PUSH/PULL pair sends 5 rounds of 200 messages through it: every round arrives whole,
/// within 2 s. Returns how many requests the flood sent.
pub fn flood_beside_flow(broker: &Broker, ctl: &str, command: &str) -> u64 {
    let mut pull = Agent::connect("pull", "PULL", broker.backend(), &[]);
    let mut push = Agent::connect("push", "PUSH", broker.frontend(), &[]);
    push.send(&[b"warm"]);
    assert!(pull.recv(Duration::from_secs(5)).is_some());
    let args = [ctl.to_owned(), "4".into(), command.to_owned()];
    let flood = PyPeer::spawn("flood", FLOOD, &args, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500));
    for round in 0..5 {
        let start = Instant::now();
        push.burst(200, &[b"m"]);
        let got = pull.drain(200, Duration::from_millis(500));
        assert_eq!(got.len(), 200, "round {round}: {} of 200", got.len());
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "round {round} took {:?} beside the flood",
            start.elapsed()
        );
    }
    flood.finish().trim().parse().expect("the flood's count")
}
