//! The `zedge` binary under test: built once per test process, run as a child on free ports.
//!
//! [`zedge_bin`] builds the `zedge` binary with the cargo that runs the tests (`$CARGO`) and
//! finds it from cargo's JSON messages; `ZEDGE_BIN` overrides it. [`Broker`] starts one device,
//! waits until every endpoint it binds accepts connections, keeps its stderr (printed when a
//! test fails), reads its RSS, and kills it when dropped.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Environment variable naming a prebuilt `zedge` binary to test instead of building one.
pub const ZEDGE_BIN_ENV: &str = "ZEDGE_BIN";

/// How long a broker may take to start listening.
pub const START_DEADLINE: Duration = Duration::from_secs(5);

/// The `zedge` binary, built once per test process with the `checked` profile (optimized,
/// with debug assertions and overflow checks; see the workspace's Cargo.toml).
pub fn zedge_bin() -> &'static Path {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os(ZEDGE_BIN_ENV) {
            return Ok(PathBuf::from(bin));
        }
        build_zedge()
    });
    match found {
        Ok(path) => path,
        Err(why) => panic!("cannot build the zedge binary: {why}"),
    }
}

fn build_zedge() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("tests/ has no parent directory")?;
    let out = Command::new(&cargo)
        .args([
            "build",
            "-p",
            "zedge",
            "--bin",
            "zedge",
            "--profile",
            "checked",
            "--message-format=json",
        ])
        .current_dir(workspace)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{cargo}`: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "`{cargo} build -p zedge` failed ({}):\n{}\n{}",
            out.status,
            compiler_messages(&stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    stdout
        .lines()
        .filter(|l| l.contains("\"reason\":\"compiler-artifact\""))
        .filter_map(|l| json_string(l, "executable"))
        .find(|exe| Path::new(exe).file_name().is_some_and(|n| n == "zedge"))
        .map(PathBuf::from)
        .ok_or_else(|| "cargo reported no `zedge` executable".to_owned())
}

/// The `"rendered"` diagnostics in cargo's JSON output, for a failed build.
fn compiler_messages(json: &str) -> String {
    json.lines()
        .filter_map(|l| json_string(l, "rendered"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The string value of `"key":"..."` in one line of JSON (first occurrence), unescaped.
fn json_string(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// One endpoint to give a device.
#[derive(Clone, Debug)]
pub enum Ep {
    /// Bind a free loopback TCP port.
    Tcp,
    /// Bind a fresh IPC path under /tmp.
    Ipc,
    /// Bind exactly this endpoint (to start a broker again where an earlier one was).
    Bind(String),
    /// Connect to this endpoint (written without the `>`).
    Connect(String),
}

/// A running `zedge` device; killed on drop.
#[derive(Debug)]
pub struct Broker {
    child: Child,
    /// Endpoints peers connect to, in the order given (a connecting endpoint keeps its `>`).
    pub frontends: Vec<String>,
    pub backends: Vec<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
    reader: Option<thread::JoinHandle<()>>,
    ipc_paths: Vec<PathBuf>,
    label: String,
}

/// A device under a small memory budget, as the budget's attack tests run it: `memory_max`,
/// 32 peers a side, a 64M high-water mark (so the budget binds first), heartbeats off, then
/// `extra`.
pub fn under_budget(kind: &str, memory_max: &str, extra: &[&str]) -> Broker {
    let mut args = vec![
        "--memory-max",
        memory_max,
        "--max-peers",
        "32",
        "--queue-hwm",
        "64M",
        "--heartbeat-ivl",
        "0",
    ];
    args.extend_from_slice(extra);
    Broker::start(kind, &args)
}

impl Broker {
    /// `zedge <device>` with one loopback TCP endpoint bound on each side, `-v`, and `args`.
    pub fn start(device: &str, args: &[&str]) -> Broker {
        Broker::start_with(device, &[Ep::Tcp], &[Ep::Tcp], args)
    }

    /// `zedge <device>` with these endpoints, `-v`, and `args`. Free ports are picked by
    /// binding port 0 and releasing it; if another process takes one first and the broker
    /// cannot bind, it is started again on other ports.
    pub fn start_with(device: &str, frontends: &[Ep], backends: &[Ep], args: &[&str]) -> Broker {
        let mut last_failure = String::new();
        for _attempt in 0..5 {
            match Broker::try_start(device, frontends, backends, args) {
                Ok(broker) => return broker,
                Err(Failure::BindRace(stderr)) => {
                    last_failure = stderr;
                    thread::sleep(Duration::from_millis(100));
                }
                Err(Failure::Fatal(why)) => panic!("zedge {device} did not start: {why}"),
            }
        }
        panic!("zedge {device} could not bind free ports in 5 tries:\n{last_failure}");
    }

    fn try_start(
        device: &str,
        frontends: &[Ep],
        backends: &[Ep],
        args: &[&str],
    ) -> Result<Broker, Failure> {
        let mut ipc_paths = Vec::new();
        let mut argv: Vec<String> = vec![device.to_owned(), "-v".to_owned()];
        let mut peer_eps = [Vec::new(), Vec::new()];
        for (i, (flag, eps)) in [("--frontend", frontends), ("--backend", backends)]
            .into_iter()
            .enumerate()
        {
            for ep in eps {
                let (arg, peer) = match ep {
                    Ep::Tcp => {
                        let ep = format!("tcp://127.0.0.1:{}", free_port());
                        (ep.clone(), ep)
                    }
                    Ep::Ipc => {
                        let path = ipc_path(flag.trim_start_matches("--"));
                        ipc_paths.push(path.clone());
                        let ep = format!("ipc://{}", path.display());
                        (ep.clone(), ep)
                    }
                    Ep::Bind(ep) => (ep.clone(), ep.clone()),
                    Ep::Connect(to) => (format!(">{to}"), format!(">{to}")),
                };
                argv.push(flag.to_owned());
                argv.push(arg);
                peer_eps[i].push(peer);
            }
        }
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        // Options for every broker of a run, given after the test's own (so they win): to run
        // a test file at another setting, e.g. ZEDGE_TEST_ARGS="--kernel-send-max 256K".
        if let Ok(more) = std::env::var("ZEDGE_TEST_ARGS") {
            argv.extend(more.split_whitespace().map(str::to_owned));
        }
        let label = format!("zedge {}", argv.join(" "));
        let mut child = Command::new(zedge_bin())
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Failure::Fatal(format!("cannot run {}: {e}", zedge_bin().display())))?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let reader = child.stderr.take().map(|mut pipe| {
            let sink = Arc::clone(&stderr);
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match pipe.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => lock(&sink).extend_from_slice(&buf[..n]),
                    }
                }
            })
        });
        let [frontends, backends] = peer_eps;
        let mut broker = Broker {
            child,
            frontends,
            backends,
            stderr,
            reader,
            ipc_paths,
            label,
        };
        broker.wait_listening()?;
        Ok(broker)
    }

    fn wait_listening(&mut self) -> Result<(), Failure> {
        let deadline = Instant::now() + START_DEADLINE;
        let bound: Vec<String> = self
            .frontends
            .iter()
            .chain(&self.backends)
            .filter(|ep| !ep.starts_with('>'))
            .cloned()
            .collect();
        let mut waiting = bound;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.join_reader();
                let stderr = self.stderr();
                let in_use = stderr.contains("in use") || stderr.contains("AddrInUse");
                self.disarm();
                return Err(if in_use {
                    Failure::BindRace(stderr)
                } else {
                    Failure::Fatal(format!("{} exited ({status}):\n{stderr}", self.label))
                });
            }
            waiting.retain(|ep| !accepts(ep));
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let why = format!(
                    "{} not accepting on {waiting:?} after {START_DEADLINE:?}:\n{}",
                    self.label,
                    self.stderr()
                );
                return Err(Failure::Fatal(why));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The first frontend endpoint, for peers.
    pub fn frontend(&self) -> &str {
        &self.frontends[0]
    }

    /// The first backend endpoint, for peers.
    pub fn backend(&self) -> &str {
        &self.backends[0]
    }

    /// The socket address of the first frontend (a bound TCP endpoint), for raw peers.
    pub fn frontend_addr(&self) -> SocketAddr {
        tcp_addr(self.frontend())
    }

    /// The socket address of the first backend (a bound TCP endpoint), for raw peers.
    pub fn backend_addr(&self) -> SocketAddr {
        tcp_addr(self.backend())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size now, in KiB (`VmRSS` in /proc/PID/status).
    pub fn rss_kib(&self) -> u64 {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {path}: {e}\n{}", self.stderr()));
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS in {path}"))
    }

    /// Everything the broker wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stderr)).into_owned()
    }

    /// Panics (with the broker's stderr) if it has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            self.join_reader();
            panic!(
                "{} exited ({status}) while it should be running:\n{}",
                self.label,
                self.stderr()
            );
        }
    }

    /// Send SIGTERM and wait (up to 10 s) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        self.assert_running();
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
        match crate::wait::exit_within(&mut self.child, Duration::from_secs(10)) {
            Some(status) => {
                self.join_reader();
                status
            }
            None => panic!(
                "{} still running 10 s after SIGTERM:\n{}",
                self.label,
                self.stderr()
            ),
        }
    }

    /// SIGKILL (a crash, or the OOM killer), and wait for it to be gone.
    pub fn kill(&mut self) {
        self.assert_running();
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.join_reader();
    }

    /// SIGTERM, and the broker must exit with status 0.
    pub fn stop(mut self) {
        let status = self.terminate();
        assert_eq!(
            status.code(),
            Some(0),
            "{} exited {status} after SIGTERM:\n{}",
            self.label,
            self.stderr()
        );
    }

    fn join_reader(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }

    /// Forget the IPC paths (for a broker that failed to start and is retried).
    fn disarm(&mut self) {
        for path in self.ipc_paths.drain(..) {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let running = matches!(self.child.try_wait(), Ok(None));
        if running {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.join_reader();
        if thread::panicking() {
            eprintln!(
                "--- {} (pid {}) stderr:\n{}",
                self.label,
                self.child.id(),
                self.stderr()
            );
        }
        self.disarm();
    }
}

enum Failure {
    /// The broker could not bind a port picked for it: someone else took it meanwhile.
    BindRace(String),
    Fatal(String),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A loopback port that was free a moment ago.
///
/// Never the same port twice in one test process: the kernel may hand a port it just gave
/// back out again, and a test that takes several (a config with several devices) would then
/// bind one address twice.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("bind 127.0.0.1:0");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A fresh IPC socket path, unique in this process and across processes.
pub fn ipc_path(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = PathBuf::from(format!(
        "/tmp/zedge-test-{}-{n}-{tag}.ipc",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

/// The address of a `tcp://HOST:PORT` endpoint.
pub fn tcp_addr(ep: &str) -> SocketAddr {
    ep.strip_prefix("tcp://")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("{ep} is not a tcp://IP:PORT endpoint"))
}

/// Whether a bound endpoint takes a connection now (the probe connection is closed at once).
fn accepts(ep: &str) -> bool {
    if let Some(path) = ep.strip_prefix("ipc://") {
        UnixStream::connect(path).is_ok()
    } else {
        TcpStream::connect_timeout(&tcp_addr(ep), Duration::from_millis(200)).is_ok()
    }
}

/// CPU seconds (user and system) process `pid` has used so far.
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("stat has a command") + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0);
    ticks / 100.0
}
