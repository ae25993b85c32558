#!/usr/bin/env python3
"""rawpub.py PORT SIZE PERIOD_S TOTAL_S [PATTERN]: a raw ZMTP 3 PUB at the forwarder's frontend.
Every PERIOD_S it publishes a SIZE-byte message "B%010d" + pad + "%010d" (ids from 1000000),
following PATTERN (default "ca": c = complete, a = abort: send the header and half the body,
then close with RST and connect again; s = stall half-way for 7 s then complete). Prints JSON."""
import socket, struct, sys, time, json
sys.path.insert(0, __import__("os").path.dirname(__file__))
def greeting(): return b"\xff" + b"\0"*8 + b"\x7f" + b"\x03\x01" + b"NULL".ljust(20, b"\0") + b"\0"*32
def command(name, body):
    b = bytes([len(name)]) + name + body
    return (b"\x04" + bytes([len(b)]) if len(b) < 256 else b"\x06" + struct.pack(">Q", len(b))) + b
def ready(t): return command(b"READY", b"\x0bSocket-Type" + struct.pack(">I", len(t)) + t)
def connect(port):
    s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(greeting() + ready(b"PUB"))
    s.settimeout(3); buf = b""
    while len(buf) < 64 + 2:
        buf += s.recv(4096)
    s.setblocking(False)
    return s
def drain(s):
    try:
        while s.recv(65536): pass
    except (BlockingIOError, OSError): pass
def sendall(s, b):
    s.setblocking(True); s.sendall(b); s.setblocking(False)
port, size, period, total = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
pat = sys.argv[5] if len(sys.argv) > 5 else "ca"
s = connect(port); t0 = time.monotonic(); k = 0; st = {"complete": [], "aborted": [], "stalled": []}
while time.monotonic() - t0 < total:
    i = 1000000 + k; kind = pat[k % len(pat)]; k += 1
    body = b"B%010d" % i + b"p" * (size - 21) + b"%010d" % i
    head = b"\x02" + struct.pack(">Q", len(body))
    drain(s)
    try:
        if kind == "c":
            sendall(s, head + body); st["complete"].append(i)
        elif kind == "s":
            sendall(s, head + body[:size // 2]); time.sleep(7); sendall(s, body[size // 2:]); st["stalled"].append(i)
        else:
            sendall(s, head + body[:size // 2])
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
            st["aborted"].append(i); time.sleep(0.05); s = connect(port)
    except OSError as e:
        st.setdefault("errors", []).append("%d %s" % (i, e))
        try: s.close()
        except OSError: pass
        time.sleep(0.2); s = connect(port)
    time.sleep(period)
time.sleep(1); s.close()
print(json.dumps({k: (v if len(v) < 12 else "%d: %d..%d" % (len(v), v[0], v[-1])) for k, v in st.items()}), flush=True)
json.dump(st, open(sys.argv[0] + ".last.json", "w")) if False else None
