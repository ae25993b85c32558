//! `zedge keygen NAME`: a CURVE key pair in CZMQ's certificate format, read by pyzmq's
//! `zmq.auth.load_certificate` (the reference reader) as zedge wrote it.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use zedge_tests::systemd::{temp_path, zedge};
use zedge_tests::PyPeer;

/// Loads the certificates given (argv) with pyzmq and prints their keys, one file a line.
const LOAD: &str = r#"
import sys, zmq, zmq.auth
for path in sys.argv[1:]:
    public, secret = zmq.auth.load_certificate(path)
    print(public.decode(), secret.decode() if secret else "-")
    if secret:
        assert zmq.curve_public(secret) == public, "the secret key's public key"
"#;

#[test]
fn keygen_writes_a_pair_pyzmq_reads_and_never_overwrites_it() {
    let dir = temp_path("keygen");
    std::fs::create_dir_all(&dir).unwrap();
    let name = dir.join("gateway");
    let out = zedge(&["keygen", name.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let public = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(public.len(), 40, "{public}");

    let secret_path = dir.join("gateway_secret");
    let mode = std::fs::metadata(&secret_path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the secret file's mode");
    let args = vec![
        name.to_str().unwrap().to_owned(),
        secret_path.to_str().unwrap().to_owned(),
    ];
    let loaded = PyPeer::spawn("load", LOAD, &args, Duration::from_secs(30)).finish();
    let lines: Vec<&str> = loaded.lines().collect();
    assert_eq!(lines[0], format!("{public} -"), "{loaded}");
    assert!(lines[1].starts_with(&format!("{public} ")), "{loaded}");

    // A second run would overwrite: refused, the files as they were.
    let before = std::fs::read(&secret_path).unwrap();
    let again = zedge(&["keygen", name.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("exists; remove it first"), "{err}");
    assert_eq!(std::fs::read(&secret_path).unwrap(), before);
    // No NAME: a usage error.
    assert_eq!(zedge(&["keygen"]).status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}
