#!/usr/bin/env python3
"""hostile.py PORT SIZE TOTAL_S PATTERN [HALF_WAIT TRICKLE_S SRCROT]: a raw ZMTP 3 PUB at the
forwarder's frontend that holds the sink with large messages (ids from 2000000, as rawpub.py).
PATTERN, repeated until TOTAL_S:
  t: header + half the body at once, HALF_WAIT s (1), then the rest in 100 ms chunks over
     TRICKLE_S s (18): the pace owed to whoever waits (4 progress timeouts), completed.
  s: header + half, then nothing; when zedge closes it, reconnect at once and start another.
  c: complete at once.
SRCROT=1: each connection from another 127.0.0.N (N 2..250), so no address strike applies.
Prints JSON: completed, cut (zedge closed it mid-message), per-message seconds."""
import socket, struct, sys, time, json
def greeting(): return b"\xff" + b"\0"*8 + b"\x7f" + b"\x03\x01" + b"NULL".ljust(20, b"\0") + b"\0"*32
def command(name, body):
    b = bytes([len(name)]) + name + body
    return (b"\x04" + bytes([len(b)]) if len(b) < 256 else b"\x06" + struct.pack(">Q", len(b))) + b
def ready(t): return command(b"READY", b"\x0bSocket-Type" + struct.pack(">I", len(t)) + t)
port, size, total, pat = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
hw = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
tr = float(sys.argv[6]) if len(sys.argv) > 6 else 18.0
rot = len(sys.argv) > 7 and sys.argv[7] == "1"
src = [2]
def connect():
    s = socket.socket(); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if rot:
        s.bind(("127.0.0.%d" % src[0], 0)); src[0] = 2 + (src[0] - 1) % 248
    s.settimeout(3); s.connect(("127.0.0.1", port))
    s.sendall(greeting() + ready(b"PUB")); buf = b""
    while len(buf) < 64 + 2:
        b = s.recv(4096)
        if not b: raise OSError("closed in handshake")
        buf += b
    return s
def alive(s):
    s.setblocking(False)
    try:
        while True:
            b = s.recv(65536)
            if not b: return False
    except BlockingIOError: return True
    except OSError: return False
    finally: s.setblocking(True)
st = {"completed": 0, "cut": 0, "times": [], "errors": 0}
t0 = time.monotonic(); k = 0; s = None
while time.monotonic() - t0 < total:
    try:
        if s is None: s = connect()
        i = 2000000 + k; kind = pat[k % len(pat)]; k += 1
        body = b"B%010d" % i + b"p" * (size - 21) + b"%010d" % i
        head = b"\x02" + struct.pack(">Q", len(body)); a = time.monotonic()
        if kind == "c":
            s.sendall(head + body); st["completed"] += 1; time.sleep(0.2); continue
        s.sendall(head + body[:size // 2])
        if kind == "s":
            while alive(s) and time.monotonic() - t0 < total: time.sleep(0.05)
            st["cut"] += 1; st["times"].append(round(time.monotonic() - a, 2)); s.close(); s = None; continue
        time.sleep(hw); rest = body[size // 2:]; n = max(1, int(tr / 0.1)); ch = -(-len(rest) // n); ok = True
        for j in range(0, len(rest), ch):
            if not alive(s): ok = False; break
            s.sendall(rest[j:j + ch]); time.sleep(0.1)
        if ok: st["completed"] += 1
        else: st["cut"] += 1; s.close(); s = None
        st["times"].append(round(time.monotonic() - a, 2))
    except OSError:
        st["errors"] += 1
        try: s.close()
        except Exception: pass
        s = None; time.sleep(0.1)
print(json.dumps(st), flush=True)
