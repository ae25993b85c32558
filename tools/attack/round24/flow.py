#!/usr/bin/env python3
"""Task 1: a normal flow beside stalled and slow workers, no spool.
  flow.py queue FE BE SECS RATE NCLIENTS NSTALLED NSLOW [STALL_HWM] [SIZE]
     NCLIENTS DEALER clients (connect FE) each send RATE req/s for SECS, each [b'', id|t];
     1 fast REP worker + NSLOW REP workers (0.5 s a request) + NSTALLED REP workers that
     connect and never read (RCVHWM STALL_HWM) connect BE. Stalled workers connect first.
  flow.py streamer FE BE SECS RATE NSTALLED NSLOW [STALL_HWM] [SIZE]
     1 PUSH producer; 1 fast PULL + NSLOW PULL (2/s) + NSTALLED never-reading PULL connect BE.
Prints JSON: sent, replies/received per worker kind, missing, dup, latency p50/p99/max of
the fast path, and latency of everything answered."""
import sys, time, json, threading, zmq, struct
ctx = zmq.Context()
stop = threading.Event()
def pct(a, p):
    if not a: return None
    a = sorted(a); return round(a[min(len(a)-1, int(p*len(a)))]*1000, 1)

def stalled_worker(kind, ep, hwm, n):
    ss = []
    for _ in range(n):
        s = ctx.socket(kind); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVHWM, hwm)
        s.setsockopt(zmq.RCVBUF, 4096); s.connect(ep); ss.append(s)
    while not stop.is_set():
        for s in ss: s.getsockopt(zmq.EVENTS)   # keep libzmq's heartbeat answers going
        time.sleep(0.05)
    for s in ss: s.close()

def rep_worker(ep, name, delay, counts):
    s = ctx.socket(zmq.REP); s.setsockopt(zmq.LINGER, 0); s.connect(ep)
    p = zmq.Poller(); p.register(s, zmq.POLLIN)
    while not stop.is_set():
        if p.poll(100):
            m = s.recv()
            counts[name] = counts.get(name, 0) + 1
            if delay: time.sleep(delay)
            s.send(m + b"|" + name.encode())
    s.close()

def pull_worker(ep, name, delay, got):
    s = ctx.socket(zmq.PULL); s.setsockopt(zmq.LINGER, 0); s.connect(ep)
    if delay: s.setsockopt(zmq.RCVHWM, 10); s.setsockopt(zmq.RCVBUF, 4096)
    p = zmq.Poller(); p.register(s, zmq.POLLIN)
    while not stop.is_set():
        if p.poll(100):
            m = s.recv(); now = time.monotonic()
            i, t = struct.unpack("!qd", m[:16])
            got.append((name, i, now - t))
            if delay: time.sleep(delay)
    s.close()

def client(ep, cid, secs, rate, size, res):
    s = ctx.socket(zmq.DEALER); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.SNDHWM, 0); s.connect(ep)
    time.sleep(0.3)
    p = zmq.Poller(); p.register(s, zmq.POLLIN)
    t0 = time.monotonic(); k = 0; sent = {}; lat = {}; dup = 0; who = {}
    pad = b"x" * max(0, size - 16)
    end = t0 + secs
    while True:
        now = time.monotonic()
        if now < end and t0 + k / rate <= now:
            s.send_multipart([b"", struct.pack("!qd", k, now) + pad]); sent[k] = now; k += 1
        if now > end + 12: break
        if p.poll(1):
            while True:
                try: m = s.recv_multipart(zmq.NOBLOCK)
                except zmq.Again: break
                body = m[-1]; i, t = struct.unpack("!qd", body[:16])
                name = body.rsplit(b"|", 1)[1].decode()
                if i in lat: dup += 1
                else: lat[i] = time.monotonic() - t; who[name] = who.get(name, 0) + 1
        if now > end and len(lat) == k: break
    s.close()
    res[cid] = dict(sent=k, answered=len(lat), dup=dup, who=who,
                    missing=sorted(set(range(k)) - set(lat))[:5], nmissing=k - len(lat),
                    lat=lat, worst_at=max(lat, key=lat.get) if lat else None)

def main():
    a = sys.argv; mode = a[1]; fe, be = a[2], a[3]; secs = float(a[4]); rate = float(a[5])
    out = {}
    if mode == "queue":
        nc, nst, nsl = int(a[6]), int(a[7]), int(a[8])
        hwm = int(a[9]) if len(a) > 9 else 1000; size = int(a[10]) if len(a) > 10 else 100
        ths = [threading.Thread(target=stalled_worker, args=(zmq.REP, be, hwm, nst))]
        ths[0].start(); time.sleep(0.5)
        counts = {}
        for name, d in [("fast", 0)] + [("slow%d" % i, 0.5) for i in range(nsl)]:
            t = threading.Thread(target=rep_worker, args=(be, name, d, counts)); t.start(); ths.append(t)
        time.sleep(0.5)
        res = {}
        cs = [threading.Thread(target=client, args=(fe, c, secs, rate, size, res)) for c in range(nc)]
        for c in cs: c.start()
        for c in cs: c.join()
        stop.set()
        for t in ths: t.join()
        alllat = [v for r in res.values() for v in r["lat"].values()]
        out = dict(sent=sum(r["sent"] for r in res.values()), answered=len(alllat),
                   missing=sum(r["nmissing"] for r in res.values()), dup=sum(r["dup"] for r in res.values()),
                   served=counts, p50=pct(alllat, .5), p99=pct(alllat, .99), max=pct(alllat, 1.0),
                   over1s=sum(1 for x in alllat if x > 1), over5s=sum(1 for x in alllat if x > 5),
                   per_client=[dict(sent=r["sent"], answered=r["answered"], first_missing=r["missing"], who=r["who"]) for r in res.values()])
    else:
        nst, nsl = int(a[6]), int(a[7])
        hwm = int(a[8]) if len(a) > 8 else 1000; size = int(a[9]) if len(a) > 9 else 100
        ths = [threading.Thread(target=stalled_worker, args=(zmq.PULL, be, hwm, nst))]
        ths[0].start(); time.sleep(0.5)
        got = []
        for name, d in [("fast", 0)] + [("slow%d" % i, 0.5) for i in range(nsl)]:
            t = threading.Thread(target=pull_worker, args=(be, name, d, got)); t.start(); ths.append(t)
        time.sleep(0.5)
        s = ctx.socket(zmq.PUSH); s.setsockopt(zmq.LINGER, 5000); s.setsockopt(zmq.SNDHWM, 0); s.connect(fe)
        time.sleep(0.3); pad = b"x" * max(0, size - 16)
        t0 = time.monotonic(); k = 0
        while time.monotonic() < t0 + secs:
            due = t0 + k / rate; d = due - time.monotonic()
            if d > 0: time.sleep(d)
            s.send(struct.pack("!qd", k, time.monotonic()) + pad); k += 1
        time.sleep(8); stop.set()
        for t in ths: t.join()
        s.close()
        ids = [i for _, i, _ in got]; per = {}
        for n, _, _ in got: per[n] = per.get(n, 0) + 1
        lat = [l for _, _, l in got]; flat = [l for n, _, l in got if n == "fast"]
        out = dict(sent=k, received=len(got), unique=len(set(ids)), dup=len(ids) - len(set(ids)),
                   missing=k - len(set(ids)), per_worker=per,
                   fast_p50=pct(flat, .5), fast_p99=pct(flat, .99), fast_max=pct(flat, 1.0),
                   all_max=pct(lat, 1.0), fast_over1s=sum(1 for x in flat if x > 1))
    print(json.dumps(out), flush=True)
    ctx.term()
main()
