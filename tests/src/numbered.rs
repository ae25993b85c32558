//! What a peer that takes numbered messages (`%08d`) prints when it is done, one JSON line
//! (`n`, `first`, `last`, `increasing`, `odd`, `dense`), read back: the spool's tests
//! (`spool.rs`, `spool_forwarder.rs`).

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
