//! Python peers: the interpreter with pyzmq (libzmq) the tests talk to, a peer script run with
//! a deadline, and the prelude the scripts share.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The start of a Python peer script: `sys`, `time`, `json`, `struct`, `threading` and pyzmq
/// imported, a context `ctx`, and `sock(type, endpoint, **options)`, which connects a socket
/// with the script's `LINGER` and, for receives and sends, `T` (ms; 1000 and 5000 unless the
/// script sets them after this) and any other option by name. Use:
/// `concat!(zmq_prelude!(), r#"..."#)`.
#[macro_export]
macro_rules! zmq_prelude {
    () => {
        r#"
import sys, time, json, struct, threading, zmq
ctx = zmq.Context()
T = 5000
LINGER = 1000

def sock(t, ep, **opts):
    s = ctx.socket(t)
    s.setsockopt(zmq.LINGER, LINGER)
    s.setsockopt(zmq.RCVTIMEO, T)
    s.setsockopt(zmq.SNDTIMEO, T)
    for k, v in opts.items():
        s.setsockopt(getattr(zmq, k), v)
    s.connect(ep)
    return s

def raw_null(ep, socket_type, src=None, rcvbuf=None):
    """A raw TCP peer to `ep` that sends a ZMTP 3.1 NULL greeting and a READY naming
    `socket_type` (bytes), from the address `src` if given, with a receive buffer of `rcvbuf`
    bytes if given; it reads nothing."""
    import socket
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if src:
        s.bind((src, 0))
    host, port = ep[len("tcp://"):].rsplit(":", 1)
    s.connect((host, int(port)))
    greeting = b"\xff" + b"\0" * 8 + b"\x7f\x03\x01" + b"NULL".ljust(20, b"\0") + b"\0" * 32
    ready = b"\x05READY\x0bSocket-Type" + struct.pack(">I", len(socket_type)) + socket_type
    s.sendall(greeting + bytes([0x04, len(ready)]) + ready)
    return s
"#
    };
}

/// Environment variable naming the Python interpreter; `python3` if unset.
pub const PYTHON_ENV: &str = "ZEDGE_PYTHON";

/// The Python interpreter to run libzmq peers with, checked once per test binary.
///
/// Panics (failing the test) if it cannot `import zmq`: a missing reference peer must show up
/// as a failure, not as a green run that tested nothing.
pub fn python() -> &'static str {
    static PYTHON: OnceLock<Result<String, String>> = OnceLock::new();
    let checked = PYTHON.get_or_init(|| {
        let python = std::env::var(PYTHON_ENV).unwrap_or_else(|_| "python3".to_owned());
        let probe = Command::new(&python)
            .args(["-c", "import zmq; print(zmq.zmq_version())"])
            .stdin(Stdio::null())
            .output();
        match probe {
            Ok(out) if out.status.success() => Ok(python),
            Ok(out) => Err(format!(
                "`{python} -c 'import zmq'` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Err(format!("cannot run `{python}`: {e}")),
        }
    });
    match checked {
        Ok(python) => python,
        Err(why) => panic!(
            "the libzmq interop tests need Python with pyzmq:\n{why}\n\
             Run the tests with the test command from README.md (it installs pyzmq first), \
             or set {PYTHON_ENV} to an interpreter that has pyzmq."
        ),
    }
}

/// A Python peer script running in a child process.
#[derive(Debug)]
pub struct PyPeer {
    name: String,
    child: Child,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    /// Its standard output as it comes.
    seen: Arc<Mutex<Vec<u8>>>,
    deadline: Instant,
}

impl PyPeer {
    /// Run `script` (Python source) with `args` as `sys.argv[1:]`; it must exit within `timeout`.
    pub fn spawn(name: &str, script: &str, args: &[String], timeout: Duration) -> PyPeer {
        let mut child = Command::new(python())
            .arg("-u")
            .arg("-c")
            .arg(script)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start Python peer {name}: {e}"));
        // Drained on threads so a chatty peer never blocks on a full pipe.
        let seen = Arc::<Mutex<Vec<u8>>>::default();
        let stdout = child.stdout.take().map(|p| drain_into(p, seen.clone()));
        let stderr = child.stderr.take().map(drain);
        PyPeer {
            name: name.to_owned(),
            child,
            stdout,
            stderr,
            seen,
            deadline: Instant::now() + timeout,
        }
    }

    /// What it has printed so far.
    pub fn stdout_so_far(&self) -> String {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&seen).into_owned()
    }

    /// Wait for the peer to exit; panics if it overruns its deadline or exits non-zero.
    /// Returns its standard output.
    pub fn finish(mut self) -> String {
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < self.deadline => {
                    thread::sleep(Duration::from_millis(10));
                }
                Ok(None) => {
                    self.kill();
                    break None;
                }
                Err(e) => panic!("cannot wait for Python peer {}: {e}", self.name),
            }
        };
        let stdout = join(self.stdout.take());
        let stderr = join(self.stderr.take());
        let name = &self.name;
        match status {
            Some(s) if s.success() => stdout,
            Some(s) => panic!(
                "Python peer {name} failed ({s})\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
            ),
            None => panic!(
                "Python peer {name} overran its deadline and was killed\n\
                 --- stdout\n{stdout}\n--- stderr\n{stderr}"
            ),
        }
    }

    fn kill(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for PyPeer {
    fn drop(&mut self) {
        self.kill();
        // The test failed on our side first; the peer's view is often the explanation.
        if thread::panicking() && self.stderr.is_some() {
            let stdout = join(self.stdout.take());
            let stderr = join(self.stderr.take());
            eprintln!(
                "Python peer {}:\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                self.name
            );
        }
    }
}

fn drain(pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    drain_into(pipe, Arc::default())
}

/// [`drain`], each piece also added to `seen` as it comes.
fn drain_into(
    mut pipe: impl Read + Send + 'static,
    seen: Arc<Mutex<Vec<u8>>>,
) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let mut piece = [0u8; 4096];
        loop {
            match pipe.read(&mut piece) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&piece[..n]);
                    seen.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(&piece[..n]);
                }
            }
        }
        buf
    })
}

fn join(handle: Option<JoinHandle<Vec<u8>>>) -> String {
    let bytes = handle.and_then(|h| h.join().ok()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}
