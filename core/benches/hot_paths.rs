//! Micro-benchmarks of the core's hot paths, to judge a change to the core without the whole
//! `tools/bench`: decoding frame heads, one small message through a streamer, and one message
//! matched against a forwarder's subscriptions.
//!
//! `cargo bench -p zedge-core` runs them all (`-- NAME` runs those whose name contains NAME);
//! each prints one line: the median of its timed batches in ns per operation and operations per
//! second, then the best batch. Without `--bench` (`cargo test --benches`) each runs for a few
//! milliseconds, as a smoke test. No criterion: a batch loop with `black_box` and `Instant`
//! keeps the build small. Figures from a shared or busy machine are noisy; compare runs on the
//! same machine, one after the other.

use std::hint::black_box;
use std::time::{Duration, Instant};

use zedge_core::conn::{Session, SessionConfig, TRANSMIT_BUFFER};
use zedge_core::device::{ByteQueue, Device, DeviceConfig, Kind, PeerId, Ring, Side, Slot};
use zedge_core::time::Instant as CoreInstant;
use zedge_core::wire::frame::FrameHead;
use zedge_core::wire::metadata::SocketType;
use zedge_core::wire::Writer;

/// Every peer's outbound queue: a fixed ring, as on a board. Its size bounds the device's
/// `queue_capacity()` (see `config`).
type Queue = Ring<{ 64 << 10 }>;

const NOW: CoreInstant = CoreInstant::ZERO;
/// Keys the subscription table's hashes; any value does for a benchmark.
const SEED: [u64; 2] = [1, 2];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let timing = Timing {
        budget: if args.iter().any(|a| a == "--bench") {
            Duration::from_secs(1)
        } else {
            Duration::from_millis(5)
        },
    };
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(*f));

    if wanted("frame_head_decode") {
        frame_head_decode(&timing);
    }
    for per_read in [1, 64] {
        let name = format!("streamer_16b_{per_read}_per_read");
        if wanted(&name) {
            streamer(&timing, &name, per_read);
        }
    }
    if wanted("forwarder_100x10_subs") {
        forwarder(&timing, "forwarder_100x10_subs");
    }
}

/// `FrameHead::decode` on a short data head, a long one, and a command head, in turn.
fn frame_head_decode(timing: &Timing) {
    let heads = [
        FrameHead::data(16, false).encode(),
        FrameHead::data(70_000, true).encode(),
        FrameHead::command(30).encode(),
    ];
    let mut i = 0;
    timing.run("frame_head_decode", 1, || {
        let bytes = heads[i].as_slice();
        i = if i == heads.len() - 1 { 0 } else { i + 1 };
        black_box(FrameHead::decode(black_box(bytes)))
            .expect("a valid head")
            .expect("a whole head");
    });
}

/// A 16-byte message from a PUSH producer's bytes into the streamer to the PULL worker's queue,
/// `per_read` messages per `handle_input`; the caller drains the wake-ups and the worker's
/// queue after each read. Timed per message.
fn streamer(timing: &Timing, name: &str, per_read: usize) {
    let cfg = config(Kind::Streamer);
    let mut slots = slots(2);
    let mut dev = Device::new(cfg, &mut slots, &mut [], SEED);
    let mut producer = Remote::connect(&mut dev, Side::Frontend, SocketType::Push);
    let mut worker = Remote::connect(&mut dev, Side::Backend, SocketType::Pull);
    handshake(&mut dev, &mut [&mut producer, &mut worker]);
    let frame = message(b"0123456789abcdef");
    let input = frame.repeat(per_read);

    assert_eq!(dev.handle_input(producer.id, &input, NOW), Ok(input.len()));
    let (a, b) = dev.output(worker.id);
    assert_eq!(
        [a, b].concat(),
        input,
        "the worker gets the messages as sent"
    );
    drain(&mut dev);

    timing.run(name, per_read as u64, || {
        let used = dev.handle_input(producer.id, black_box(&input), NOW);
        debug_assert_eq!(used, Ok(input.len()));
        black_box(used).expect("the streamer takes the messages");
        drain(&mut dev);
    });
}

/// A 16-byte message from a publisher into a forwarder with 100 subscribers of 10 topics each
/// (1,000 subscriptions, 100 topics): each message matches the 10 subscribers of its topic and
/// is queued for them; the caller drains the wake-ups and those queues. Timed per message.
fn forwarder(timing: &Timing, name: &str) {
    const SUBSCRIBERS: usize = 100;
    const TOPICS_EACH: usize = 10;
    let kind = Kind::Forwarder { classic: false };
    let mut cfg = config(kind);
    cfg.subscriptions.max = SUBSCRIBERS * TOPICS_EACH;
    let mut slots = slots(SUBSCRIBERS + 1);
    let mut subs = vec![0u8; cfg.subscription_bytes()];
    let mut dev = Device::new(cfg, &mut slots, &mut subs, SEED);
    let mut publisher = Remote::connect(&mut dev, Side::Frontend, SocketType::Pub);
    let mut subscribers: Vec<Remote> = (0..SUBSCRIBERS)
        .map(|_| Remote::connect(&mut dev, Side::Backend, SocketType::Sub))
        .collect();
    let mut all: Vec<&mut Remote> = subscribers.iter_mut().collect();
    all.push(&mut publisher);
    handshake(&mut dev, &mut all);
    // Subscriber i takes topics t(i), t(i + 10), ... (mod 100): every topic has 10 subscribers.
    for (i, s) in subscribers.iter_mut().enumerate() {
        for k in 0..TOPICS_EACH {
            s.subscribe(&topic(i + 10 * k));
        }
    }
    let mut all: Vec<&mut Remote> = subscribers.iter_mut().collect();
    all.push(&mut publisher);
    handshake(&mut dev, &mut all);
    assert_eq!(dev.subscriptions().0, SUBSCRIBERS * TOPICS_EACH);

    let messages: Vec<Vec<u8>> = (0..100)
        .map(|t| message(&[&topic(t)[..], b"-0123456789ab"].concat()))
        .collect();
    assert_eq!(
        dev.handle_input(publisher.id, &messages[42], NOW),
        Ok(messages[42].len())
    );
    assert_eq!(drain(&mut dev), 10 * messages[42].len(), "10 subscribers");

    let mut t = 0;
    timing.run(name, 1, || {
        let input = &messages[t];
        t = if t == messages.len() - 1 { 0 } else { t + 1 };
        black_box(dev.handle_input(publisher.id, black_box(input), NOW))
            .expect("the forwarder takes the message");
        drain(&mut dev);
    });
}

// ---------------------------------------------------------------------------------------------
// Setup: a device, and remote peers that complete their handshakes with it.
// ---------------------------------------------------------------------------------------------

/// Small limits, so that every peer's queue fits a [`Queue`].
fn config(kind: Kind) -> DeviceConfig {
    let mut cfg = DeviceConfig::new(kind);
    cfg.limits.max_message_size = 16 << 10;
    cfg.queue_hwm = 16 << 10;
    assert_eq!(cfg.validate(), Ok(()));
    assert!(cfg.queue_capacity() <= Queue::new().capacity());
    cfg
}

fn slots(n: usize) -> Vec<Slot<Queue>> {
    (0..n).map(|_| Slot::default()).collect()
}

/// One data frame.
fn message(body: &[u8]) -> Vec<u8> {
    let head = FrameHead::data(body.len() as u64, false).encode();
    [head.as_slice(), body].concat()
}

fn topic(n: usize) -> Vec<u8> {
    format!("t{:02}", n % 100).into_bytes()
}

/// What the caller does between reads: take the wake-ups and write every woken peer's output
/// (here: drop it). Returns the bytes written.
fn drain(dev: &mut Device<'_, Queue>) -> usize {
    let mut written = 0;
    while let Some(id) = dev.poll_wake() {
        let (a, b) = dev.output(id);
        let n = a.len() + b.len();
        dev.consume_output(id, n);
        written += n;
    }
    written
}

/// A peer application's socket: its session, and the bytes in flight each way.
struct Remote {
    id: PeerId,
    session: Session,
    to_device: Vec<u8>,
    from_device: Vec<u8>,
}

impl Remote {
    fn connect(dev: &mut Device<'_, Queue>, side: Side, ty: SocketType) -> Self {
        Remote {
            id: dev
                .add_peer(side, Queue::new(), NOW)
                .expect("a free peer slot"),
            session: Session::new(SessionConfig::new(ty), NOW),
            to_device: Vec::new(),
            from_device: Vec::new(),
        }
    }

    fn subscribe(&mut self, topic: &[u8]) {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        self.session
            .write_subscription(&mut w, true, topic)
            .expect("subscribing after the handshake");
        let n = w.len();
        self.to_device.extend_from_slice(&buf[..n]);
    }

    /// Move bytes both ways once; returns whether any moved.
    fn exchange(&mut self, dev: &mut Device<'_, Queue>) -> bool {
        let mut buf = [0u8; TRANSMIT_BUFFER];
        let n = self.session.poll_transmit(&mut buf);
        self.to_device.extend_from_slice(&buf[..n]);
        let used = dev
            .handle_input(self.id, &self.to_device, NOW)
            .expect("the device takes the remote's bytes");
        self.to_device.drain(..used);
        let (a, b) = dev.output(self.id);
        let out = a.len() + b.len();
        self.from_device.extend_from_slice(a);
        self.from_device.extend_from_slice(b);
        dev.consume_output(self.id, out);
        let mut read = 0;
        loop {
            let input = self
                .session
                .handle_input(&self.from_device[read..], NOW)
                .expect("the remote takes the device's bytes");
            if input.needs_more() {
                break;
            }
            read += input.consumed;
        }
        self.from_device.drain(..read);
        n + used + out + read > 0
    }
}

/// Exchange bytes until nothing moves: handshakes, then subscriptions, are done.
fn handshake(dev: &mut Device<'_, Queue>, remotes: &mut [&mut Remote]) {
    loop {
        let mut moved = false;
        for r in remotes.iter_mut() {
            moved |= r.exchange(dev);
        }
        drain(dev);
        if !moved {
            break;
        }
    }
    assert!(remotes.iter().all(|r| r.session.is_ready()));
}

// ---------------------------------------------------------------------------------------------
// Timing.
// ---------------------------------------------------------------------------------------------

struct Timing {
    /// Time spent in timed batches, per benchmark.
    budget: Duration,
}

impl Timing {
    /// Call `op` (which does `per_call` operations) in batches long enough that reading the
    /// clock does not count, until the budget is spent, and print one line.
    fn run(&self, name: &str, per_call: u64, mut op: impl FnMut()) {
        let min_batch = (self.budget / 500).max(Duration::from_micros(100));
        let mut batch = 1u64;
        loop {
            let t = Instant::now();
            for _ in 0..batch {
                op();
            }
            if t.elapsed() >= min_batch || batch >= 1 << 32 {
                break;
            }
            batch *= 2;
        }
        let ops = (batch * per_call) as f64;
        let mut ns = Vec::new();
        let start = Instant::now();
        while start.elapsed() < self.budget || ns.len() < 5 {
            let t = Instant::now();
            for _ in 0..batch {
                op();
            }
            ns.push(t.elapsed().as_nanos() as f64 / ops);
        }
        ns.sort_by(f64::total_cmp);
        let median = ns[ns.len() / 2];
        println!(
            "{name:<28} {median:>9.1} ns/op {:>10} ops/s   (best {:.1} ns; {} batches of {ops} ops)",
            rate(1e9 / median),
            ns[0],
            ns.len(),
        );
    }
}

fn rate(per_sec: f64) -> String {
    match per_sec {
        r if r >= 1e9 => format!("{:.2}G", r / 1e9),
        r if r >= 1e6 => format!("{:.2}M", r / 1e6),
        r if r >= 1e3 => format!("{:.1}k", r / 1e3),
        r => format!("{r:.0}"),
    }
}
