#!/usr/bin/env python3
"""round 16: subscription floods. subflood.py FE BE KEYFILE SECS N MODE SIZE RATE
N CURVE XSUB peers on BE. MODE churn: each sends SUBSCRIBE then CANCEL of topic 'n<rand>'+SIZE bytes
(RATE pairs/s each, 0: as fast as it goes); MODE grow: each sends distinct SUBSCRIBEs of SIZE bytes
(RATE/s each), never cancelled; MODE flow: SUBSCRIBE/CANCEL of exactly 'n' (the flow's topic).
Never reads what it gets unless READ=1. NULLSUB=1: NULL (broker --curve-sides frontend)."""
import os, sys, threading, time, json, random, zmq
fe, be, key, secs, n, mode, size, rate = sys.argv[1:9]
be, secs, n, size, rate = int(be), float(secs), int(n), int(size), float(rate)
srv = open(key).read().split('public-key = "')[1].split('"')[0].encode()
ctx = zmq.Context(); ctx.MAX_SOCKETS = 8000
end = time.monotonic() + secs
st = {"sent": 0, "errors": 0, "got": 0}
lk = threading.Lock()
def run(j):
    s = ctx.socket(zmq.XSUB); pub, sec = zmq.curve_keypair()
    if not os.environ.get("NULLSUB"): s.curve_publickey = pub; s.curve_secretkey = sec; s.curve_serverkey = srv
    s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.SNDHWM, 1000); s.setsockopt(zmq.SNDTIMEO, 100)
    s.connect("tcp://127.0.0.1:%d" % be); time.sleep(0.5)
    k = 0; sent = 0; got = 0; nxt = time.monotonic()
    pad = b"x" * max(0, size)
    while time.monotonic() < end:
        k += 1
        try:
            if mode == "churn":
                t = b"n%d-%d" % (j, random.randrange(1 << 30)) + pad
                s.send(b"\x01" + t); s.send(b"\x00" + t); sent += 2
            elif mode == "grow":
                s.send(b"\x01" + b"g%d-%d." % (j, k) + pad); sent += 1
            else:
                s.send(b"\x01n"); s.send(b"\x00n"); sent += 2
        except zmq.Again:
            with lk: st["errors"] += 1
        if os.environ.get("READ"):
            while True:
                try: s.recv(zmq.NOBLOCK); got += 1
                except zmq.Again: break
        if rate > 0:
            nxt += 1.0 / rate; d = nxt - time.monotonic()
            if d > 0: time.sleep(d)
    with lk: st["sent"] += sent; st["got"] += got
ts = [threading.Thread(target=run, args=(j,), daemon=True) for j in range(n)]
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps(st))
