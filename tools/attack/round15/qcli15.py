#!/usr/bin/env python3
"""round 14: queue clients that get answers. qcli.py FE BE KEYFILE SECS CLIENTS SIZES GAP WORKERS [DELAY]
WORKERS CURVE DEALER echo workers on BE answering every request; CLIENTS CURVE DEALER on FE,
client i sending one frame of SIZES[i%len] bytes every GAP s and reading its replies, sleeping
DELAY s after each (0: reads at once). Round 15: NOREAD=1: the clients never read (RCVHWM 1,
SO_RCVBUF 4096); SRCS=k: client i connects from 127.0.0.(2 + i % k). NULLBE=1: the workers use NULL (broker --curve-sides frontend)."""
import os, sys, threading, time, zmq, json
fe, be, key, secs, nc, sizes, gap, nw = sys.argv[1:9]
delay = float(sys.argv[9]) if len(sys.argv) > 9 else 0.0
fe, be, secs, nc, gap, nw = int(fe), int(be), float(secs), int(nc), float(gap), int(nw)
sizes = [int(x) for x in sizes.split(",")]
ctx = zmq.Context()
srv = open(key).read().split('public-key = "')[1].split('"')[0].encode()
end = time.monotonic() + secs
st = {"req": 0, "rep": 0, "w_got": 0}
import os
NOREAD = bool(os.environ.get("NOREAD")); NSRC = int(os.environ.get("SRCS", "0"))
ctx.MAX_SOCKETS = 8000
def cs(t, ep, src=None):
    s = ctx.socket(t); pub, sec = zmq.curve_keypair()
    if src is not None and (NOREAD or os.environ.get("SLOWRD")): s.setsockopt(zmq.RCVHWM, 1); s.setsockopt(zmq.RCVBUF, 4096)
    if src is not None and NSRC: ep = ep.replace("tcp://", "tcp://127.0.0.%d:0;" % (2 + src % NSRC))
    if not (os.environ.get("NULLBE") and ep.endswith(":%d" % be)):
        s.curve_publickey = pub; s.curve_secretkey = sec; s.curve_serverkey = srv
    s.setsockopt(zmq.LINGER, 0); s.connect(ep); return s
def worker(i):
    s = cs(zmq.DEALER, "tcp://127.0.0.1:%d" % be); s.setsockopt(zmq.RCVTIMEO, 200)
    while time.monotonic() < end + 2:
        try: m = s.recv_multipart()
        except zmq.Again: continue
        st["w_got"] += 1; s.send_multipart(m)
def client(i):
    s = cs(zmq.DEALER, "tcp://127.0.0.1:%d" % fe, i); s.setsockopt(zmq.SNDTIMEO, 200); s.setsockopt(zmq.SNDHWM, 4)
    m = b"q" * sizes[i % len(sizes)]
    nxt = time.monotonic() + 0.5
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= nxt:
            try: s.send(m); st["req"] += 1
            except zmq.Again: pass
            nxt = now + gap
        if NOREAD: time.sleep(0.005); continue
        try:
            s.recv(zmq.NOBLOCK); st["rep"] += 1
            if delay: time.sleep(delay)
        except zmq.Again: time.sleep(0.005)
ts = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(nw)]
ts += [threading.Thread(target=client, args=(i,), daemon=True) for i in range(nc)]
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps(st))
