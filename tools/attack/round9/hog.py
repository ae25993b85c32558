#!/usr/bin/env python3
"""round 13: claim hogs in their own process. hog.py FE KEYFILE KIND N SIZES GAP SECS
N CURVE senders (PUSH/DEALER/PUB by KIND) straight to the broker's frontend, sender i sending
one-frame messages of SIZES[i%len] bytes every GAP s (whole, at once) for SECS s."""
import sys, threading, time, zmq
fe, key, kind, n, sizes, gap, secs = sys.argv[1:8]
fe, n, gap, secs = int(fe), int(n), float(gap), float(secs)
sizes = [int(x) for x in sizes.split(",")]
ctx = zmq.Context()
srv = open(key).read().split('public-key = "')[1].split('"')[0].encode()
T = {"streamer": (zmq.PUSH, b"a"), "queue": (zmq.DEALER, b"nobody"), "forwarder": (zmq.PUB, b"nx")}[kind]
end = time.monotonic() + secs
cnt = [0]
def run(i):
    s = ctx.socket(T[0]); pub, sec = zmq.curve_keypair()
    s.curve_publickey = pub; s.curve_secretkey = sec; s.curve_serverkey = srv
    s.setsockopt(zmq.SNDTIMEO, 200); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.SNDHWM, 2)
    s.connect("tcp://127.0.0.1:%d" % fe)
    m = T[1] + b"h" * sizes[i % len(sizes)]
    while time.monotonic() < end:
        try: s.send(m); cnt[0] += 1
        except zmq.Again: pass
        time.sleep(gap)
ts = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
for t in ts: t.start()
for t in ts: t.join()
print("hog_sent", cnt[0], file=sys.stderr)
