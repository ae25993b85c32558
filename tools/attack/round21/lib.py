import os, socket, subprocess, time, struct, sys, re
import zmq
ELF = "/work/att21/zedge-node"
ZEDGE = "/work/att21/zedge"
HERE = os.path.dirname(os.path.abspath(__file__))

class Node:
    def __init__(self, port, name):
        self.port = port
        self.log = os.path.join(HERE, "logs", name + ".node.log")
        f = open(self.log, "w")
        self.p = subprocess.Popen(["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none",
            "-semihosting-config", "enable=on,target=native", "-serial", f"tcp:127.0.0.1:{port},server,nowait",
            "-kernel", ELF], stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        t = time.time()
        while "node: up" not in self.text():
            assert time.time() - t < 20, "no boot"
            time.sleep(0.05)
    def text(self):
        try: return open(self.log).read()
        except Exception: return ""
    def last(self):
        l = [x for x in self.text().splitlines() if x.startswith("node:")]
        return l[-1] if l else ""
    def alive(self):
        return self.p.poll() is None
    def stop(self):
        if self.p.poll() is None:
            self.p.kill(); self.p.wait()
    def summary(self):
        t = self.text()
        return dict(alive=self.alive(), rc=self.p.poll(), ups=t.count("node: up"), panic="panic" in t, last=self.last())

def raw(port, timeout=2):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def recv_for(s, secs):
    s.settimeout(0.05); out = b""; end = time.time() + secs
    while time.time() < end:
        try:
            d = s.recv(65536)
            if not d: break
            out += d
        except socket.timeout: pass
    return out

SIG = b"\xff" + b"\0"*7 + b"\x01\x7f"
def greeting(major=3, minor=1, mech=b"NULL", as_server=0):
    return SIG + bytes([major, minor]) + mech.ljust(20, b"\0") + bytes([as_server]) + b"\0"*31

def cmd(body):
    if len(body) > 255:
        return b"\x06" + struct.pack(">Q", len(body)) + body
    return b"\x04" + bytes([len(body)]) + body

def prop(name, val):
    return bytes([len(name)]) + name + struct.pack(">I", len(val)) + val

def ready(stype=b"SUB", extra=b""):
    return cmd(b"\x05READY" + prop(b"Socket-Type", stype) + extra)

def frame(body, more=False):
    f = 1 if more else 0
    if len(body) > 255:
        return bytes([f | 2]) + struct.pack(">Q", len(body)) + body
    return bytes([f]) + bytes([len(body)]) + body

def sub(topic):   # ZMTP 3.1 SUBSCRIBE command
    return cmd(b"\x09SUBSCRIBE" + topic)

def cancel(topic):
    return cmd(b"\x06CANCEL" + topic)

def handshake(s, wait=0.3):
    s.sendall(greeting()); s.sendall(ready())
    return recv_for(s, wait)

def parse_frames(b):
    """parse data frames/commands after greeting(64)+READY; returns list of (flags, body)"""
    out = []; i = 0
    while i < len(b):
        fl = b[i]
        if fl & 2:
            if i + 9 > len(b): break
            n = struct.unpack(">Q", b[i+1:i+9])[0]; h = 9
        else:
            if i + 2 > len(b): break
            n = b[i+1]; h = 2
        if i + h + n > len(b): break
        out.append((fl, b[i+h:i+h+n])); i += h + n
    return out, b[i:]

def zsub_recovery(port, topic=b"sensor/2", limit=30, want=5):
    """libzmq SUB straight on the serial port: seconds until the first reading, readings got"""
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.SUB); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.SUBSCRIBE, topic)
    t0 = time.time(); s.connect(f"tcp://127.0.0.1:{port}")
    got = []; first = None
    end = t0 + limit
    while time.time() < end and len(got) < want:
        if s.poll(100):
            m = s.recv()
            if first is None: first = time.time() - t0
            got.append(m)
    s.close()
    return first, got

def forwarder(port, bport, name):
    log = open(os.path.join(HERE, "logs", name + ".fwd.log"), "w")
    return subprocess.Popen([ZEDGE, "forwarder", "--frontend", f">tcp://127.0.0.1:{port}", "--backend", f"tcp://127.0.0.1:{bport}",
        "--heartbeat-ivl", "1s", "--handshake-timeout", "3s", "-v"], stdout=log, stderr=subprocess.STDOUT)

def fwd_recovery(port, bport, name, topic=b"sensor/2", limit=40, want=5):
    fw = forwarder(port, bport, name)
    try:
        ctx = zmq.Context.instance()
        s = ctx.socket(zmq.SUB); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.SUBSCRIBE, topic)
        t0 = time.time(); s.connect(f"tcp://127.0.0.1:{bport}")
        got = []; first = None
        while time.time() < t0 + limit and len(got) < want:
            if s.poll(100):
                m = s.recv()
                if first is None: first = time.time() - t0
                got.append(m)
        s.close()
        return first, got
    finally:
        fw.terminate()
        try: fw.wait(3)
        except Exception: fw.kill(); fw.wait()
