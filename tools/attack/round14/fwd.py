#!/usr/bin/env python3
"""round 14: forwarder readers. fwd.py FE BE KEYFILE SECS PUBS SIZES GAP SUBS [DELAY] [TOPIC]
PUBS CURVE PUB to FE, pub i sends TOPIC+SIZES[i%len] bytes every GAP s (whole);
SUBS CURVE SUB to BE subscribed to TOPIC (default b'x', which the flow's 'n' SUB does not match),
each reading everything, sleeping DELAY s after each message (0: as fast as it can)."""
import sys, threading, time, zmq, json
fe, be, key, secs, np_, sizes, gap, ns = sys.argv[1:9]
delay = float(sys.argv[9]) if len(sys.argv) > 9 else 0.0
topic = (sys.argv[10] if len(sys.argv) > 10 else "x").encode()
fe, be, secs, np_, gap, ns = int(fe), int(be), float(secs), int(np_), float(gap), int(ns)
sizes = [int(x) for x in sizes.split(",")]
ctx = zmq.Context()
srv = open(key).read().split('public-key = "')[1].split('"')[0].encode()
end = time.monotonic() + secs
st = {"pub_sent": 0, "sub_got": 0}
def cs(t, ep):
    s = ctx.socket(t); pub, sec = zmq.curve_keypair()
    s.curve_publickey = pub; s.curve_secretkey = sec; s.curve_serverkey = srv
    s.setsockopt(zmq.LINGER, 0); s.connect(ep); return s
def sub(i):
    s = cs(zmq.SUB, "tcp://127.0.0.1:%d" % be); s.setsockopt(zmq.SUBSCRIBE, topic); s.setsockopt(zmq.RCVTIMEO, 200)
    while time.monotonic() < end + 2:
        try: s.recv(); st["sub_got"] += 1
        except zmq.Again: continue
        if delay: time.sleep(delay)
def pub(i):
    s = cs(zmq.PUB, "tcp://127.0.0.1:%d" % fe); s.setsockopt(zmq.SNDHWM, 4)
    m = topic + b"h" * sizes[i % len(sizes)]
    time.sleep(0.5)
    while time.monotonic() < end:
        s.send(m); st["pub_sent"] += 1
        time.sleep(gap)
ts = [threading.Thread(target=sub, args=(i,), daemon=True) for i in range(ns)]
ts += [threading.Thread(target=pub, args=(i,), daemon=True) for i in range(np_)]
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps(st))
