//! JeroMQ 0.3 (Debian's `libjeromq-java`), a real and independent ZMTP 2.0 implementation, as a
//! peer: `tests/java/JeromqPeer.java`, driven a line at a time, compiled once per test process.
//! `tools/test` installs JeroMQ and a JDK; without them these tests fail saying so, they never
//! skip.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use crate::agent::hex;

/// Where the JeroMQ jar is: `ZEDGE_JEROMQ`, else Debian's.
pub fn jar() -> PathBuf {
    let jar = std::env::var_os("ZEDGE_JEROMQ").map_or_else(
        || PathBuf::from("/usr/share/java/jeromq.jar"),
        PathBuf::from,
    );
    assert!(
        jar.exists(),
        "JeroMQ not found at {} (set ZEDGE_JEROMQ, or run tools/test, which installs \
         libjeromq-java)",
        jar.display()
    );
    jar
}

/// The compiled peer's class directory.
fn classes() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("zedge-jeromq-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("make the class directory");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("java/JeromqPeer.java");
        let out = Command::new("javac")
            .arg("-cp")
            .arg(jar())
            .arg("-d")
            .arg(&dir)
            .arg(&src)
            .output()
            .unwrap_or_else(|e| panic!("javac: {e} (run tools/test, which installs a JDK)"));
        assert!(
            out.status.success(),
            "javac JeromqPeer.java failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// One JeroMQ socket in its own JVM, bound or connected, answering one line per command.
#[derive(Debug)]
pub struct Jeromq {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Jeromq {
    /// A `ty` socket (PUSH, PULL, PUB, SUB, REQ, REP, DEALER, ROUTER...) that `how` ("bind" or
    /// "connect") `endpoint`, with JeromqPeer's `opts`; returns once it says it is ready.
    pub fn start(ty: &str, how: &str, endpoint: &str, opts: &[&str]) -> Jeromq {
        let cp = format!("{}:{}", jar().display(), classes().display());
        let mut child = Command::new("java")
            .args(["-cp", &cp, "JeromqPeer", ty, how, endpoint])
            .args(opts)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("java: {e} (run tools/test, which installs a JDK)"));
        let stdin = child.stdin.take().expect("peer stdin");
        let lines = reader(child.stdout.take().expect("peer stdout"));
        let mut peer = Jeromq {
            child,
            stdin,
            lines,
        };
        assert_eq!(
            peer.line(Duration::from_secs(30)),
            "ready",
            "JeroMQ {ty} did not start"
        );
        peer
    }

    /// Send `cmd` and return the peer's one-line answer.
    pub fn cmd(&mut self, cmd: &str) -> String {
        writeln!(self.stdin, "{cmd}").expect("write to the JeroMQ peer");
        self.stdin.flush().expect("flush to the JeroMQ peer");
        self.line(Duration::from_secs(60))
    }

    /// Send one message, a frame per element.
    pub fn send(&mut self, frames: &[&[u8]]) {
        let words: Vec<String> = frames.iter().map(|f| hex(f)).collect();
        let answer = self.cmd(&format!("send {}", words.join(" ")));
        assert_eq!(answer, "ok", "JeroMQ send");
    }

    /// The next message (within the peer's receive timeout), or `None`.
    pub fn recv(&mut self) -> Option<Vec<Vec<u8>>> {
        let answer = self.cmd("recv");
        (answer != "timeout").then(|| frames(&answer))
    }

    /// The next line it prints by itself (an `--echo` peer's `msg ...`), if one comes within
    /// `within`.
    pub fn printed(&mut self, within: Duration) -> Option<String> {
        self.lines.recv_timeout(within).ok()
    }

    fn line(&mut self, within: Duration) -> String {
        match self.lines.recv_timeout(within) {
            Ok(l) => l,
            Err(_) => panic!("the JeroMQ peer said nothing within {within:?}"),
        }
    }
}

impl Drop for Jeromq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn reader(out: ChildStdout) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The frames of one of the peer's `msg HEX HEX ...` lines.
pub fn frames(line: &str) -> Vec<Vec<u8>> {
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("msg"), "a JeroMQ message line: {line}");
    words.map(unhex).collect()
}

fn unhex(word: &str) -> Vec<u8> {
    if word == "-" {
        return Vec::new();
    }
    (0..word.len() / 2)
        .map(|i| u8::from_str_radix(&word[2 * i..2 * i + 2], 16).expect("hex from JeroMQ"))
        .collect()
}
