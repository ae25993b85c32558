#!/usr/bin/env python3
"""round 15: forwarder holders. hold.py FE BE KEYFILE SECS PUBS SIZE RATE SUBS PERTOPIC PERIOD [HWM] [RCVBUF] [DRAIN]
PUBS CURVE PUB on FE; pub i sends topic 'h<i % (SUBS//PERTOPIC)>' + SIZE bytes RATE times a second.
SUBS CURVE SUB on BE; sub j subscribes 'h<j // PERTOPIC>' (PERTOPIC subs per topic: a body goes to
PERTOPIC queues as one shared piece). Each sub sleeps PERIOD s, then drains all it has (NOBLOCK),
over and over (PERIOD < 1 s: its broker queue is emptied at least once a second, never 'lags' by
age). RCVHWM HWM (default 1), SO_RCVBUF RCVBUF (default 4096); each drain lasts at least DRAIN s
(arg 13, default 0: until nothing is there). PERIOD 0: read as fast as possible.
PERIOD < 0: never read. Env TOPIC=t: every sub subscribes t instead (TOPIC=n: the flow's topic).
Env SRCS=k: sub j connects from source address 127.0.0.(2 + j % k) (as many hosts).
Env NULLSUB=1: the subs use NULL (broker --curve-sides frontend). CHURN=s (PERIOD < 0 only): each sub
closes (linger 0) and connects a new socket every s seconds, staggered."""
import os, sys, threading, time, zmq, json
fe, be, key, secs, np_, size, rate, ns, pert, period = sys.argv[1:11]
hwm = int(sys.argv[11]) if len(sys.argv) > 11 else 1
rcvbuf = int(sys.argv[12]) if len(sys.argv) > 12 else 4096
drain = float(sys.argv[13]) if len(sys.argv) > 13 else 0.0
fe, be, secs, np_, size, rate, ns, pert, period = int(fe), int(be), float(secs), int(np_), int(size), float(rate), int(ns), int(pert), float(period)
ntop = max(1, ns // max(1, pert))
ctx = zmq.Context(); ctx.MAX_SOCKETS = 8000
srv = open(key).read().split('public-key = "')[1].split('"')[0].encode()
end = time.monotonic() + secs
st = {"pub_sent": 0, "sub_got": 0, "subs": ns, "topics": ntop}
lk = threading.Lock()
def cs(t, ep, **o):
    s = ctx.socket(t); pub, sec = zmq.curve_keypair()
    if not (os.environ.get("NULLSUB") and t == zmq.SUB):
        s.curve_publickey = pub; s.curve_secretkey = sec; s.curve_serverkey = srv
    s.setsockopt(zmq.LINGER, 0)
    for k, v in o.items(): s.setsockopt(getattr(zmq, k), v)
    s.connect(ep); return s
NSRC = int(os.environ.get("SRCS", "0"))
CHURN = float(os.environ.get("CHURN", "0"))
def sub(j):
  def mk():
    s = cs(zmq.SUB, ("tcp://127.0.0.%d:0;127.0.0.1:%d" % (2 + j % NSRC, be)) if NSRC else "tcp://127.0.0.1:%d" % be, RCVHWM=hwm, RCVBUF=rcvbuf); s.setsockopt(zmq.SUBSCRIBE, os.environ["TOPIC"].encode() if os.environ.get("TOPIC") else b"h%d." % (j // pert % ntop))
    return s
  s = mk(); born = time.monotonic() + (j % 10) * CHURN / 10
  if True:
    time.sleep((j % 10) * period / 10 if period > 0 else 0)
    n = 0
    while time.monotonic() < end + 2:
        if period < 0:
            time.sleep(0.2)
            if CHURN and time.monotonic() > born + CHURN:
                s.close(0); s = mk(); born = time.monotonic()
            continue
        if period > 0: time.sleep(period)
        dend = time.monotonic() + drain
        while True:
            try: s.recv(zmq.NOBLOCK); n += 1; continue
            except zmq.Again:
                if period == 0: time.sleep(0.001); break
                if time.monotonic() < dend: time.sleep(0.0005); continue
                break
    with lk: st["sub_got"] += n
def pub(i):
    s = cs(zmq.PUB, "tcp://127.0.0.1:%d" % fe, SNDHWM=4)
    m = b"h%d." % (i % ntop) + b"h" * size
    time.sleep(1.0)
    nxt = time.monotonic()
    while time.monotonic() < end:
        s.send(m); 
        with lk: st["pub_sent"] += 1
        nxt += 1.0 / rate; d = nxt - time.monotonic()
        if d > 0: time.sleep(d)
ts = [threading.Thread(target=sub, args=(j,), daemon=True) for j in range(ns)]
ts += [threading.Thread(target=pub, args=(i,), daemon=True) for i in range(np_)]
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps(st))
