#!/usr/bin/env python3
"""Streamer soak peers (round 26).
  soak.py push EP N RATE SIZE            PUSH connect, numbered messages (as peer.py's body)
  soak.py pull EP OUTFILE DUR RATE STALL RCVHWM
      PULL connect for DUR s; reads RATE msg/s (0: as fast as they come); reads nothing for the
      first STALL s; appends 'a id' lines to OUTFILE; prints JSON."""
import sys, time, json, zmq
sys.path.insert(0, __import__("os").path.dirname(__file__))
from peer import body, ident
a = sys.argv
if a[1] == "push":
    ep, n, rate, size = a[2], int(a[3]), float(a[4]), int(a[5])
    ctx = zmq.Context(); s = ctx.socket(zmq.PUSH); s.setsockopt(zmq.SNDHWM, 1000); s.setsockopt(zmq.LINGER, 30000)
    s.connect(ep); time.sleep(0.3); t0 = time.monotonic(); worst = 0
    for i in range(n):
        due = t0 + i / rate; now = time.monotonic()
        if due > now: time.sleep(due - now)
        x = time.monotonic(); s.send(body(i, size, "a")); worst = max(worst, time.monotonic() - x)
    s.close(); ctx.term()
    print(json.dumps({"sent": n, "worst_send_ms": round(worst * 1000, 1), "s": round(time.monotonic() - t0, 1)}), flush=True)
else:
    ep, out, dur, rate, stall, hwm = a[2], a[3], float(a[4]), float(a[5]), float(a[6]), int(a[7])
    ctx = zmq.Context(); s = ctx.socket(zmq.PULL); s.setsockopt(zmq.RCVHWM, hwm); s.setsockopt(zmq.LINGER, 0)
    if hwm < 100: s.setsockopt(zmq.RCVBUF, 8192)
    s.connect(ep); t0 = time.monotonic(); n = 0; k = 0
    with open(out, "a") as f:
        while time.monotonic() - t0 < stall: s.getsockopt(zmq.EVENTS); time.sleep(0.05)
        t1 = time.monotonic()
        while time.monotonic() - t0 < dur:
            if not s.poll(50): continue
            m = s.recv_multipart(); t, i = ident(m); f.write("%s %d\n" % (t or "?", i)); n += 1
            if rate > 0:
                due = t1 + n / rate; now = time.monotonic()
                if due > now: time.sleep(due - now)
    s.close(); ctx.term()
    print(json.dumps({"out": out.split("/")[-1], "n": n}), flush=True)
