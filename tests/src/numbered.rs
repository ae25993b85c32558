//! What a peer that takes numbered messages (`%08d`) prints when it is done, one JSON line
//! (`n`, `first`, `last`, `increasing`, `odd`, `dense`, `unique`, `lowest`, `highest`, and
//! `runs`: the numbers got, as `a-b` runs separated by `;`),
//! read back: the spool's tests (`spool.rs`, `spool_forwarder.rs`).

use std::fs;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use crate::broker::Broker;
use crate::normal::no_panic;
use crate::PyPeer;

/// A device's metrics (`--metrics ADDR`), as text.
pub fn metrics(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the metrics endpoint");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a read timeout");
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
        .expect("send the request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read the metrics");
    text
}

/// A sample of [`metrics`]' `text`: `name` with `labels` after the device's (`,k="v"`).
pub fn sample(text: &str, device: &str, name: &str, labels: &str) -> f64 {
    let key = format!("{name}{{device=\"{device}\"{labels}}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in\n{text}"))
}

/// A directory for one test's spool, empty: `prefix`, `tag` and the test process's id.
pub fn spool_dir(prefix: &str, tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("{prefix}-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

/// The value of `key` in the line `json`, as written.
pub fn field(json: &str, key: &str) -> String {
    let at = json
        .find(&format!("\"{key}\": "))
        .unwrap_or_else(|| panic!("no {key} in {json}"));
    let rest = &json[at + key.len() + 4..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().to_owned()
}

/// The number `key` holds in the line `json`.
pub fn num(json: &str, key: &str) -> i64 {
    let v: f64 = field(json, key)
        .parse()
        .unwrap_or_else(|_| panic!("{key} in {json}"));
    v as i64
}

/// It got every number of `want`, some maybe more than once (sent again after a crash or a
/// stop), and nothing else.
pub fn assert_got_all(out: &str, want: std::ops::Range<u64>) {
    assert_range(out, &want, ["unique", "lowest", "highest"]);
}

/// It got the numbers of `want`, each once, in order, and nothing else.
pub fn assert_got(out: &str, want: std::ops::Range<u64>) {
    assert_range(out, &want, ["n", "first", "last"]);
    assert_eq!(field(out, "increasing"), "true", "{out}");
}

/// `out` without its `runs` (long when the numbers came interleaved with another peer's),
/// for a message.
pub fn brief(out: &str) -> &str {
    out.find(", \"runs\"").map_or(out, |at| &out[..at])
}

/// The numbers the peers that printed `outs` got between them.
pub fn got_between(outs: &[&str]) -> std::collections::BTreeSet<u64> {
    let mut all = std::collections::BTreeSet::new();
    for out in outs {
        let runs = field(out, "runs");
        for run in runs.trim_matches('"').split(';').filter(|r| !r.is_empty()) {
            let (a, b) = run
                .split_once('-')
                .unwrap_or_else(|| panic!("a run: {run}"));
            let (a, b): (u64, u64) = (a.parse().expect("a number"), b.parse().expect("a number"));
            all.extend(a..=b);
        }
    }
    all
}

/// The fields `keys` (a count, the first and the last) say `out` got `want`, and nothing
/// else came.
fn assert_range(out: &str, want: &std::ops::Range<u64>, keys: [&str; 3]) {
    assert_eq!(
        keys.map(|k| num(out, k)),
        [
            (want.end - want.start) as i64,
            want.start as i64,
            want.end as i64 - 1
        ],
        "{keys:?} of {want:?}: {out}"
    );
    assert_eq!(field(out, "odd"), "[]", "{out}");
}

/// A device with a spool is stopped (`how`: `TERM`, or `KILL`) 2.5 s into the replay of `n`
/// numbered messages to a slow receiver, and started again on the same spool: the receiver
/// gets every one of them (attacker round 20, F1). `start(None)` starts the device, with
/// `--spool-fsync 200ms`; `start(Some(front))` starts it again with its frontend at `front`;
/// `fill(front)` sends the messages while the receiver is away; `receiver()` starts it.
pub fn stop_during_replay(
    how: &str,
    n: u64,
    start: impl Fn(Option<&str>) -> Broker,
    fill: impl FnOnce(&str),
    receiver: impl FnOnce() -> PyPeer,
) {
    let mut broker = start(None);
    let front = broker.frontend().to_owned();
    // The receiver away: all of them spooled, and synced.
    fill(&front);
    thread::sleep(Duration::from_millis(1000));
    let rx = receiver();
    thread::sleep(Duration::from_millis(2500));
    if how == "TERM" {
        broker.terminate();
    } else {
        broker.kill();
    }
    no_panic(&broker.stderr());
    let mut broker = start(Some(&front));
    let out = rx.finish();
    eprintln!("{how}: {out}");
    broker.assert_running();
    broker.terminate();
    no_panic(&broker.stderr());
    assert_got_all(&out, 0..n);
}

/// Attacker round 22, F3: what a receiver's queue held live (handed to it straight, not
/// through the spool) was lost at every stop. A device is started (`start(None)`, its
/// receivers already waiting for it), given a burst of numbers at once (`fill`, with the
/// frontend's endpoint) that a slow receiver cannot take in time, and stopped (SIGTERM)
/// 1.5 s later; then started again on the same spool and frontend (`start(Some(front))`),
/// and runs until `received` returns (what the receivers got). Returns that, and what the
/// device said until it stopped the first time.
pub fn stop_with_live_queued<R>(
    start: impl Fn(Option<&str>) -> Broker,
    fill: impl FnOnce(&str),
    received: impl FnOnce() -> R,
) -> (R, String) {
    let mut broker = start(None);
    let front = broker.frontend().to_owned();
    // Connected, and an uplink settled.
    thread::sleep(Duration::from_millis(1500));
    fill(&front);
    thread::sleep(Duration::from_millis(1500));
    broker.terminate();
    let stopped = broker.stderr();
    no_panic(&stopped);
    let mut broker = start(Some(&front));
    let got = received();
    broker.assert_running();
    broker.terminate();
    no_panic(&broker.stderr());
    (got, stopped)
}

/// Python for a peer that takes numbered messages (after [`zmq_prelude`](crate::zmq_prelude)):
/// `take_numbered(s, want, idle, pause)` takes them from socket `s` until it has `want`, or
/// none came for `idle` seconds once one did (90 s for the first), sleeping `pause` seconds
/// after each; `report(got, odd)` prints the JSON line [`assert_got`] and [`field`] read.
#[macro_export]
macro_rules! numbered_reader {
    () => {
        r#"
def take_numbered(s, want, idle, pause=0.0):
    got, odd = [], []
    poller = zmq.Poller(); poller.register(s, zmq.POLLIN)
    end = time.monotonic() + 90
    while len(got) < want:
        if not poller.poll(max(0.0, end - time.monotonic()) * 1000):
            break
        m = s.recv_multipart()
        if len(m) == 1 and len(m[0]) >= 8 and m[0][:8].isdigit():
            got.append(int(m[0][:8]))
        else:
            odd.append(len(b"".join(m)))
        p = pause() if callable(pause) else pause
        if p > 0:
            time.sleep(p)
        end = time.monotonic() + idle
    return got, odd

def report(got, odd):
    increasing = all(b > a for a, b in zip(got, got[1:]))
    descents = sum(1 for a, b in zip(got, got[1:]) if b < a)
    back_at = [[a, b] for a, b in zip(got, got[1:]) if b < a][:8]
    dense = got == list(range(got[0], got[0] + len(got))) if got else True
    runs = []
    for x in sorted(set(got)):
        if runs and runs[-1][1] == x - 1:
            runs[-1][1] = x
        else:
            runs.append([x, x])
    print(json.dumps({"n": len(got), "first": got[0] if got else -1,
                      "last": got[-1] if got else -1, "increasing": increasing, "odd": odd,
                      "dense": dense, "unique": len(set(got)), "lowest": min(got, default=-1),
                      "highest": max(got, default=-1), "descents": descents, "back_at": back_at,
                      "runs": ";".join("%d-%d" % (a, b) for a, b in runs)}), flush=True)
"#
    };
}
