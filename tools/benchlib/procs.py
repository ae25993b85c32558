"""Child processes and /proc: processes read line by line with deadlines and always killed
(by pid) when the bench leaves, CPU and memory of a process from /proc, free and listening
ports, and a broker under test."""

import atexit
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import time

from .common import HOST, LOGS, ZEDGE, ZMQ_PROXY, ZMQRS

CLK = os.sysconf("SC_CLK_TCK")

PROCS = []               # every process we started, killed (by pid) when we leave


def raise_fd_limit(peers):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = peers * 2 + 1024
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return
        except (ValueError, OSError):
            pass
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass


# ---------------------------------------------------------------- /proc

def proc_cpu(pid):
    """utime + stime of a whole process (all threads), seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def threads_cpu(pid):
    """{tid: (name, seconds)} for every thread of a process."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        name = s[s.index("(") + 1:s.rindex(")")]
        fields = s.rsplit(")", 1)[1].split()
        out[tid] = (name, (int(fields[11]) + int(fields[12])) / CLK)
    return out


def machine_busy():
    """Busy CPU seconds of the whole machine so far (all CPUs, from /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / CLK


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def listening(ports):
    """Are all these TCP ports in LISTEN state?"""
    want = {f"{p:04X}" for p in ports}
    seen = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split(None, 4)
                    if parts[3] == "0A":
                        port = parts[1].rsplit(":", 1)[1]
                        if port in want:
                            seen.add(port)
        except OSError:
            pass
    return seen == want


_port = 20000 + (os.getpid() % 500) * 20


def free_port():
    """A port below the ephemeral range, unused right now."""
    global _port
    while True:
        _port += 1
        if _port > 32000:
            _port = 20000
        s = socket.socket()
        try:
            s.bind((HOST, _port))
            return _port
        except OSError:
            continue
        finally:
            s.close()


# ---------------------------------------------------------------- processes

class Proc:
    """A child process whose stdout we read line by line with deadlines."""

    def __init__(self, cmd, name, cpu=None, stdin=False):
        logf = open(os.path.join(LOGS, name + ".log"), "ab")
        logf.write(("\n$ " + " ".join(cmd) + "\n").encode())
        logf.flush()
        pre = None
        if cpu is not None:
            def pre():
                os.sched_setaffinity(0, cpu)
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=logf,
                                  stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  preexec_fn=pre)
        logf.close()
        PROCS.append(self.p)
        self.pid = self.p.pid
        self.buf = b""
        self.cmd = cmd

    def line(self, timeout):
        """The next stdout line, or None at timeout or end of output."""
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace").strip()

    def expect(self, word, timeout):
        """Read lines until one starts with `word`; returns it, or None (timeout, exit, END)."""
        while True:
            line = self.line(timeout)
            if line is None:
                return None
            if line.startswith(word):
                return line
            if line.startswith("END"):   # an early END: stalled or failed
                return line if word == "END" else None

    def send(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def alive(self):
        return self.p.poll() is None

    def kill(self):
        if self.p.poll() is None:
            try:
                os.kill(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.p.wait()
        for f in (self.p.stdout, self.p.stdin):
            if f:
                f.close()
        if self.p in PROCS:
            PROCS.remove(self.p)


@atexit.register
def _cleanup():
    for p in list(PROCS):
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


def kv(line):
    return dict(tok.split("=", 1) for tok in line.split()[1:] if "=" in tok)


# Scrapes a metrics URL every second until killed.
SCRAPER = """
import sys, time, urllib.request
while True:
    try:
        urllib.request.urlopen(sys.argv[1], timeout=5).read()
    except OSError:
        pass
    time.sleep(1)
"""


def ep(port):
    return f"tcp://{HOST}:{port}"


class Broker:
    def __init__(self, name, device, extra=(), cpu=None, env=None):
        self.name, self.device = name, device
        self.fe, self.be = free_port(), free_port()
        fe, be = ep(self.fe), ep(self.be)
        self.watcher = None
        if name == "zedge":
            cmd = [ZEDGE, device, "--frontend", fe, "--backend", be, *extra]
        elif name == "zedge-watched":
            # zedge as an operator runs it: a control endpoint, a capture endpoint (no reader:
            # one would cost a copy of every message) and metrics, scraped every second (what
            # Prometheus does every 15 s at most).
            mport = free_port()
            ctl = f"ipc://{LOGS}/control-{self.fe}.ipc"
            tap = f"ipc://{LOGS}/capture-{self.fe}.ipc"
            cmd = [ZEDGE, device, "--frontend", fe, "--backend", be, "--control", ctl,
                   "--capture", tap, "--metrics", f"{HOST}:{mport}", *extra]
        elif name == "libzmq":
            cmd = [ZMQ_PROXY, device, fe, be]
            if env:
                cmd = ["env", *(f"{k}={v}" for k, v in env.items()), *cmd]
        elif name == "zmqrs":
            cmd = [ZMQRS, device, fe, be]
        else:
            raise ValueError(name)
        t0 = time.monotonic()
        self.proc = Proc(cmd, f"broker-{name}", cpu=cpu)
        self.pid = self.proc.pid
        while not listening([self.fe, self.be]):
            if not self.proc.alive() or time.monotonic() - t0 > 10:
                self.proc.kill()
                raise RuntimeError(f"{name} {device} did not start listening (see {LOGS})")
            time.sleep(0.0005)
        self.start_ms = (time.monotonic() - t0) * 1e3
        if name == "zedge-watched":
            self.watcher = Proc([sys.executable, "-c", SCRAPER, f"http://{HOST}:{mport}/metrics"],
                                "watcher")

    def kill(self):
        if self.watcher:
            self.watcher.kill()
        self.proc.kill()
