#!/usr/bin/env python3
"""Attack 3a: a raw producer (PUSH / DEALER for queue) that announces one huge frame and trickles it at
BYTES every PERIOD s (paying the progress pace), beside a normal libzmq producer of small
messages and W normal workers. usage: slowprod.py KIND FE BE --secs S --workers W --hostile N"""
import argparse, json, socket, struct, threading, time, os, sys
import zmq
ap = argparse.ArgumentParser()
ap.add_argument("kind"); ap.add_argument("fe", type=int); ap.add_argument("be", type=int)
ap.add_argument("--secs", type=float, default=20); ap.add_argument("--workers", type=int, default=2)
ap.add_argument("--hostile", type=int, default=1); ap.add_argument("--big", type=int, default=60 << 20)
ap.add_argument("--first", type=int, default=2 << 20, help="bytes sent at once")
ap.add_argument("--trickle", default="20000:4.9")
ap.add_argument("--reconnect", action="store_true", help="a closed hostile connects again at once"); ap.add_argument("--size", type=int, default=1024)
a = ap.parse_args()
queue = a.kind == "queue"; fwd = a.kind == "forwarder"
ctx = zmq.Context(); stop = threading.Event()
got = [0] * a.workers; lat = []
def worker(i):
    s = ctx.socket(zmq.SUB if fwd else (zmq.DEALER if queue else zmq.PULL)); s.setsockopt(zmq.RCVTIMEO, 200); s.setsockopt(zmq.LINGER, 0)
    if fwd: s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect("tcp://127.0.0.1:%d" % a.be)
    while not stop.is_set():
        try: m = s.recv_multipart()
        except zmq.Again: continue
        if m[-2:-1] and m[-2].startswith(b"n"):
            got[i] += 1; lat.append(time.time() - float(m[-2][1:]))
        if queue: s.send_multipart(m[:-1] + [b"ok"])
hstat = {"hostile_sent": 0, "hostile_closed": 0}
def hostile():
    while not stop.is_set():
        hostile_once()
        if not a.reconnect: break
        time.sleep(0.1)
def hostile_once():
    s = socket.socket(); s.connect(("127.0.0.1", a.fe))
    st = b"PUB" if fwd else (b"DEALER" if queue else b"PUSH")
    greeting = b"\xff" + b"\0" * 8 + b"\x7f\x03\x01" + b"NULL".ljust(20, b"\0") + b"\0" * 32
    ready = b"\x05READY\x0bSocket-Type" + struct.pack(">I", len(st)) + st
    s.sendall(greeting + bytes([0x04, len(ready)]) + ready)
    if queue: s.sendall(b"\x01\x00")  # empty delimiter, more
    s.sendall(b"\x02" + struct.pack(">Q", a.big))
    s.sendall(b"h" * a.first); hstat["hostile_sent"] += a.first
    nb, per = a.trickle.split(":"); nb = int(nb); per = float(per)
    try:
        while not stop.is_set():
            time.sleep(per); s.sendall(b"h" * nb); hstat["hostile_sent"] += nb
    except OSError:
        hstat["hostile_closed"] += 1
for i in range(a.workers): threading.Thread(target=worker, args=(i,), daemon=True).start()
time.sleep(0.5)
for _ in range(a.hostile): threading.Thread(target=hostile, daemon=True).start()
time.sleep(0.5)
p = ctx.socket(zmq.PUB if fwd else (zmq.DEALER if queue else zmq.PUSH)); p.setsockopt(zmq.SNDTIMEO, 100); p.setsockopt(zmq.LINGER, 0)
p.connect("tcp://127.0.0.1:%d" % a.fe)
if fwd: time.sleep(1.0)
pay = b"x" * a.size; sent = 0; t0 = time.monotonic(); tl = []; mark = t0
while time.monotonic() - t0 < a.secs:
    try: p.send_multipart(([b""] if queue else []) + [b"n%.6f" % time.time(), pay]); sent += 1
    except zmq.ZMQError: pass
    except zmq.Again: pass
    if queue:
        try:
            while True: p.recv_multipart(zmq.NOBLOCK)
        except zmq.Again: pass
    time.sleep(0.001)
    if time.monotonic() - mark >= 5: mark += 5; tl.append(sum(got))
time.sleep(1); stop.set(); tl.append(sum(got)); lat.sort()
q = lambda f: round(lat[min(len(lat) - 1, int(f * len(lat)))], 3) if lat else None
out = {"sent": sent, "got": got, "cum_per_5s": tl, "p50": q(.5), "p99": q(.99), "max": q(1)}; out.update(hstat)
print(json.dumps(out)); sys.stdout.flush(); os._exit(0)
