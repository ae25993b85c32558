//! CURVE peers for the tests: key pairs made by the binary, and what a Python script needs
//! to open libzmq CURVE sockets with them.

use std::path::PathBuf;
use std::process::Command;

use crate::broker::zedge_bin;
use crate::systemd::temp_path;

/// Key pairs made by `zedge keygen` in a directory of their own: `srv` (the device), `cli`
/// (an allowed client), `intruder` (a client not on the list), and `allowed`, a file with
/// `cli`'s public key.
#[derive(Debug)]
pub struct Keys {
    dir: PathBuf,
}

impl Keys {
    pub fn generate() -> Keys {
        let dir = temp_path("curve");
        std::fs::create_dir_all(&dir).expect("make the key directory");
        let keys = Keys { dir };
        for name in ["srv", "cli", "intruder", "edge"] {
            keys.keygen(name);
        }
        let cli = keys.public("cli");
        std::fs::write(keys.path("allowed"), format!("# the clients\n{cli}\n"))
            .expect("write the allow-list");
        keys
    }

    pub fn keygen(&self, name: &str) {
        let out = Command::new(zedge_bin())
            .arg("keygen")
            .arg(self.path(name))
            .output()
            .expect("run zedge keygen");
        assert!(out.status.success(), "{out:?}");
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// A public key in Z85, from its certificate.
    pub fn public(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.path(name)).expect("read a certificate");
        let line = text
            .lines()
            .find(|l| l.contains("public-key"))
            .expect("a public-key line");
        line.split('"').nth(1).expect("a quoted key").to_owned()
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Shared by the scripts: CURVE sockets from the key directory.
pub const CURVE_PRELUDE: &str = r#"
import zmq.auth, urllib.request, socket, os
assert zmq.has("curve"), "this libzmq has no CURVE"
keys = sys.argv[1]
def cert(name):
    return zmq.auth.load_certificate(os.path.join(keys, name))
SRV = cert("srv")[0]
def curve(t, ep, me="cli", server=None, **opts):
    pub, sec = cert(me + "_secret")
    return sock(t, ep, CURVE_SERVERKEY=server or SRV, CURVE_PUBLICKEY=pub,
                CURVE_SECRETKEY=sec, **opts)
def metric(url, name):
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total
"#;

/// A pyzmq script: the prelude ([`crate::zmq_prelude`]), [`CURVE_PRELUDE`], then `body`.
pub fn script(body: &str) -> String {
    format!("{}{CURVE_PRELUDE}{body}", crate::zmq_prelude!())
}
