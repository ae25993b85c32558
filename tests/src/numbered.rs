//! What a peer that takes numbered messages (`%08d`) prints when it is done, one JSON line
//! (`n`, `first`, `last`, `increasing`, `odd`, `dense`, `unique`, `lowest`, `highest`),
//! read back: the spool's tests (`spool.rs`, `spool_forwarder.rs`).

use std::fs;
use std::path::PathBuf;

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
    assert_eq!(
        (num(out, "unique"), num(out, "lowest"), num(out, "highest")),
        (
            (want.end - want.start) as i64,
            want.start as i64,
            want.end as i64 - 1
        ),
        "every one of {want:?}: {out}"
    );
    assert_eq!(field(out, "odd"), "[]", "{out}");
}

/// It got the numbers of `want`, each once, in order, and nothing else.
pub fn assert_got(out: &str, want: std::ops::Range<u64>) {
    assert_eq!(
        (num(out, "n"), num(out, "first"), num(out, "last")),
        (
            (want.end - want.start) as i64,
            want.start as i64,
            want.end as i64 - 1
        ),
        "{out}"
    );
    assert_eq!(field(out, "increasing"), "true", "{out}");
    assert_eq!(field(out, "odd"), "[]", "{out}");
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
        if pause > 0:
            time.sleep(pause)
        end = time.monotonic() + idle
    return got, odd

def report(got, odd):
    increasing = all(b > a for a, b in zip(got, got[1:]))
    dense = got == list(range(got[0], got[0] + len(got))) if got else True
    print(json.dumps({"n": len(got), "first": got[0] if got else -1,
                      "last": got[-1] if got else -1, "increasing": increasing, "odd": odd,
                      "dense": dense, "unique": len(set(got)), "lowest": min(got, default=-1),
                      "highest": max(got, default=-1)}), flush=True)
"#
    };
}
