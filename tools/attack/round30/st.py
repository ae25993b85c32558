#!/usr/bin/env python3
"""Round 30 peers for a streamer with a spool (bodies as round 25's peer.py, so round 27's c_an.py reads them).
  st.py push EP START END RATE SIZE [SNDHWM]        PUSH connect to the frontend
  st.py pull EP OUT RATE UP DOWN FLAPS IDLE [RCVHWM RCVBUF]
      PULL bind (the streamer's backend connects with >); reads RATE/s (0 = as fast as it can);
      up UP s, closed DOWN s, FLAPS times, then steady until IDLE s with nothing. '#conn N' marks each bind.
  st.py hpull EP OUT RATE UPS DOWNS ... : as pull, but up/down lists 'a,b,c' (per flap)
"""
import os, sys, time, json, zmq, signal
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "round25"))
from peer import body, ident
def _term(*_): raise SystemExit(0)
signal.signal(signal.SIGTERM, _term)

def push(ep, start, end, rate, size, sndhwm=100000):
    ctx = zmq.Context(); s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.SNDHWM, sndhwm); s.setsockopt(zmq.LINGER, 10000); s.connect(ep)
    time.sleep(0.3); t0 = time.monotonic(); worst = 0
    for i in range(start, end):
        if rate > 0:
            due = t0 + (i - start) / rate; now = time.monotonic()
            if due > now: time.sleep(due - now)
        a = time.monotonic(); s.send(body(i, size, "a")); worst = max(worst, time.monotonic() - a)
    s.close(); ctx.term()
    print(json.dumps({"sent": end - start, "worst_send_ms": round(worst * 1000, 1), "s": round(time.monotonic() - t0, 2)}), flush=True)

def pull(ep, out, rate, ups, downs, idle, rcvhwm=1000, rcvbuf=-1):
    ctx = zmq.Context(); got = 0
    with open(out, "w") as f:
        for k in range(len(ups) + 1):
            s = ctx.socket(zmq.PULL); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVHWM, rcvhwm)
            if rcvbuf > 0: s.setsockopt(zmq.RCVBUF, rcvbuf)
            s.bind(ep); f.write("#conn %d at n=%d\n" % (k, got)); f.flush()
            t0 = time.monotonic(); last = time.monotonic(); n = 0
            until = t0 + ups[k] if k < len(ups) else None
            while True:
                now = time.monotonic()
                if until is not None and now >= until: break
                if until is None and got and now - last > idle: break
                if until is None and now - t0 > 300: break
                try: m = s.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    time.sleep(0.001); continue
                t, i = ident(m); f.write("%s %d\n" % (t or "?", i)); got += 1; n += 1; last = time.monotonic()
                if rate > 0:
                    due = t0 + n / rate; d = due - time.monotonic()
                    if d > 0: time.sleep(d)
            s.close()
            if k < len(ups): time.sleep(downs[k] if k < len(downs) else 1e9)
    ctx.term(); print(json.dumps({"n": got}), flush=True)

if __name__ == "__main__":
    a = sys.argv
    if a[1] == "push": push(a[2], int(a[3]), int(a[4]), float(a[5]), int(a[6]), *(int(x) for x in a[7:]))
    elif a[1] == "pull":
        flaps = int(a[7]); pull(a[2], a[3], float(a[4]), [float(a[5])] * flaps, [float(a[6])] * flaps, float(a[8]), *(int(x) for x in a[9:]))
    elif a[1] == "hpull":
        ups = [float(x) for x in a[5].split(",") if x]; downs = [float(x) for x in a[6].split(",") if x]
        pull(a[2], a[3], float(a[4]), ups, downs, float(a[7]), *(int(x) for x in a[8:]))

def pflap(ep, out, rate, ups, downs, idle, rcvhwm=10, rcvbuf=4096):
    """XSUB bind (a forwarder's > uplink), subscribe all, read RATE/s (0: flat out) with least buffers;
    up/down per the lists, then steady until IDLE s with nothing. '#conn N' marks each bind."""
    ctx = zmq.Context(); got = 0
    with open(out, "w") as f:
        for k in range(len(ups) + 1):
            s = ctx.socket(zmq.XSUB); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVHWM, rcvhwm)
            s.setsockopt(zmq.RCVBUF, rcvbuf); s.bind(ep); s.send(b"\x01")
            f.write("#conn %d at n=%d t=%.2f\n" % (k, got, time.monotonic())); f.flush()
            t0 = time.monotonic(); last = t0; n = 0
            until = t0 + ups[k] if k < len(ups) else None
            while True:
                now = time.monotonic()
                if until is not None and now >= until: break
                if until is None and now - last > idle and n: break
                if until is None and now - t0 > 300: break
                try: m = s.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    time.sleep(0.001); continue
                t, i = ident(m); f.write("%s %d\n" % (t or "?", i)); got += 1; n += 1; last = time.monotonic()
                if rate > 0:
                    d = t0 + n / rate - time.monotonic()
                    if d > 0: time.sleep(d)
            s.close()
            f.write("#left t=%.2f\n" % time.monotonic()); f.flush()
            if k < len(ups): time.sleep(downs[k] if k < len(downs) else 1e9)
    ctx.term(); print(json.dumps({"n": got}), flush=True)

if __name__ == "__main__" and sys.argv[1] == "pflap":
    a = sys.argv
    ups = [float(x) for x in a[5].split(",") if x]; downs = [float(x) for x in a[6].split(",") if x]
    pflap(a[2], a[3], float(a[4]), ups, downs, float(a[7]), *(int(x) for x in a[8:]))
