//! `zedge run --config FILE` as systemd runs it, and a fake systemd to listen to it.
//!
//! [`FakeSystemd`] binds the Unix datagram socket that `$NOTIFY_SOCKET` names (a path, or an
//! abstract `@name`) and hands back each notification with the time it arrived. [`ConfigRun`]
//! writes a config file, starts the real binary on it with extra environment, keeps its stderr
//! (printed if the test fails), and kills it when dropped.

use std::io::Read;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::broker::zedge_bin;

/// A path unique to this process and call, under the temporary directory.
pub fn temp_path(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // A directory of its own: a config file's drop-ins are read from conf.d beside it, and
    // one in the machine's temporary directory would read whatever /tmp/conf.d holds.
    let dir = std::env::temp_dir().join(format!("zedge-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir.join(tag)
}

/// Run `zedge ARGS` to completion (for `check-config`, `--help`...).
pub fn zedge(args: &[&str]) -> Output {
    Command::new(zedge_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", zedge_bin().display()))
}

/// One datagram from the service: its `KEY=value` lines.
#[derive(Clone, Debug)]
pub struct Notice {
    pub at: Instant,
    pub lines: Vec<String>,
}

impl Notice {
    /// The value of `KEY=` in this notice, if it has one.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
    }
}

/// The listening end of `$NOTIFY_SOCKET`.
#[derive(Debug)]
pub struct FakeSystemd {
    sock: UnixDatagram,
    name: String,
    path: Option<PathBuf>,
    /// Every notice received so far, in order.
    pub seen: Vec<Notice>,
}

impl FakeSystemd {
    /// Listen on a socket file.
    pub fn bind() -> FakeSystemd {
        let path = temp_path("notify.sock");
        let _ = std::fs::remove_file(&path);
        let sock =
            UnixDatagram::bind(&path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        FakeSystemd {
            sock,
            name: path.display().to_string(),
            path: Some(path),
            seen: Vec::new(),
        }
    }

    /// Listen on an abstract socket, named `@...` in `$NOTIFY_SOCKET`.
    pub fn bind_abstract() -> FakeSystemd {
        let name = temp_path("notify")
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract name");
        let sock = UnixDatagram::bind_addr(&addr).expect("bind an abstract socket");
        FakeSystemd {
            sock,
            name: format!("@{name}"),
            path: None,
            seen: Vec::new(),
        }
    }

    /// The value for `$NOTIFY_SOCKET`.
    pub fn notify_socket(&self) -> &str {
        &self.name
    }

    /// The next notice, or `None` at `deadline`.
    pub fn recv(&mut self, deadline: Instant) -> Option<Notice> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.sock
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("set read timeout");
        let mut buf = [0u8; 4096];
        let n = self.sock.recv(&mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf[..n]);
        let notice = Notice {
            at: Instant::now(),
            lines: text.lines().map(str::to_owned).collect(),
        };
        self.seen.push(notice.clone());
        Some(notice)
    }

    /// Notices until one has `KEY=` whose value satisfies `want`; panics at `deadline` with
    /// what did arrive.
    pub fn wait_for(
        &mut self,
        key: &str,
        want: impl Fn(&str) -> bool,
        deadline: Instant,
    ) -> Notice {
        loop {
            match self.recv(deadline) {
                Some(n) if n.get(key).is_some_and(&want) => return n,
                Some(_) => {}
                None => panic!(
                    "no matching {key}= notice before the deadline; received: {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// Everything that arrives until `until`.
    pub fn collect(&mut self, until: Instant) -> Vec<Notice> {
        std::iter::from_fn(|| self.recv(until)).collect()
    }
}

impl Drop for FakeSystemd {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `zedge run --config FILE`, running; killed on drop.
#[derive(Debug)]
pub struct ConfigRun {
    child: Child,
    config: PathBuf,
    stderr: Arc<Mutex<Vec<u8>>>,
    reader: Option<thread::JoinHandle<()>>,
}

impl ConfigRun {
    /// Write `config` to a file and run `zedge run --config FILE -v` on it with `env` added.
    pub fn start(config: &str, env: &[(&str, &str)]) -> ConfigRun {
        ConfigRun::start_with_drop_ins(config, &[], env)
    }

    /// [`ConfigRun::start`] with `drop_ins` (file name, text) in the conf.d beside the file.
    pub fn start_with_drop_ins(
        config: &str,
        drop_ins: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> ConfigRun {
        let path = temp_path("zedge.toml");
        std::fs::write(&path, config).expect("write the config file");
        if !drop_ins.is_empty() {
            let dir = path.with_file_name("conf.d");
            std::fs::create_dir_all(&dir).expect("create conf.d");
            for (name, text) in drop_ins {
                std::fs::write(dir.join(name), text).expect("write a drop-in");
            }
        }
        let mut cmd = Command::new(zedge_bin());
        cmd.args(["run", "-v", "--config"])
            .arg(&path)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("JOURNAL_STREAM")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", zedge_bin().display()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let reader = child.stderr.take().map(|mut pipe| {
            let sink = Arc::clone(&stderr);
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut buf) {
                    lock(&sink).extend_from_slice(&buf[..n]);
                }
            })
        });
        ConfigRun {
            child,
            config: path,
            stderr,
            reader,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the broker wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stderr)).into_owned()
    }

    /// The exit status if it has exited (its stderr is then complete).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.try_wait().ok().flatten()?;
        self.join_reader();
        Some(status)
    }

    /// Panics (with the broker's stderr) if it has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            self.join_reader();
            panic!("zedge exited ({status}):\n{}", self.stderr());
        }
    }

    /// Send SIGTERM; the caller then reads notices and calls [`ConfigRun::wait`].
    pub fn sigterm(&mut self) {
        self.signal("TERM");
    }

    /// Send SIGTERM and wait up to 10 s for it to exit 0 (its stderr in the panic if not).
    pub fn stop_clean(&mut self) {
        self.sigterm();
        let status = self.wait(Duration::from_secs(10));
        assert_eq!(status.code(), Some(0), "{}", self.stderr());
    }

    /// Write `config` over the file it runs from, and send SIGHUP to reload it.
    pub fn reload(&mut self, config: &str) {
        std::fs::write(&self.config, config).expect("rewrite the config file");
        self.signal("HUP");
    }

    /// Send `kill -NAME`, the process being alive.
    pub fn signal(&mut self, name: &str) {
        self.assert_running();
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{name} {} failed", self.pid());
    }

    /// Waits until stderr has a line containing `text` (panics with stderr at `deadline`).
    pub fn wait_log(&mut self, text: &str, deadline: Instant) -> String {
        loop {
            let stderr = self.stderr();
            if let Some(line) = stderr.lines().find(|l| l.contains(text)) {
                return line.to_owned();
            }
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "no log line with {text:?} in time:\n{stderr}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The names of the process's threads (`/proc/PID/task/*/comm`).
    pub fn threads(&self) -> Vec<String> {
        let dir = format!("/proc/{}/task", self.pid());
        let tasks = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {dir}: {e}"));
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .map(|c| c.trim().to_owned())
            .collect()
    }

    /// The exit status, waiting up to `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        match crate::wait::exit_within(&mut self.child, timeout) {
            Some(status) => {
                self.join_reader();
                status
            }
            None => panic!("zedge still running after {timeout:?}:\n{}", self.stderr()),
        }
    }

    fn join_reader(&mut self) {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Drop for ConfigRun {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.join_reader();
        if thread::panicking() {
            eprintln!(
                "--- zedge run (pid {}) stderr:\n{}",
                self.child.id(),
                self.stderr()
            );
        }
        let _ = std::fs::remove_file(&self.config);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
