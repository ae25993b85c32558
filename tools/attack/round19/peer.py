#!/usr/bin/env python3
"""Peers for round 19 spool attacks.
  peer.py push EP START END RATE SIZE [SNDHWM] [FRAMES]   numbered messages b'%010d'+pad
  peer.py cloud EP OUTFILE IDLE_S MAX_S                  PULL bind; stop after IDLE_S without msgs (once one came) or MAX_S
  peer.py flap EP OUTFILE UP_S DOWN_S TOTAL_S IDLE_S     PULL bind for UP_S, close, DOWN_S, again; until TOTAL_S and then steady until IDLE_S idle
  peer.py slow EP OUTFILE RATE MAX_S RCVHWM              PULL bind, read RATE msgs/s (slow worker)
OUTFILE gets one id per line (-1 for a message that is not ours), then analyze.py reads it.
"""
import sys, time, json, zmq, os, signal
# SIGTERM: leave through the with-blocks so that every id received is written out
def _term(*_): raise SystemExit(0)
signal.signal(signal.SIGTERM, _term)

def ident(m):
    b = m[0]
    if len(b) >= 10 and b[:10].isdigit():
        if len(m) > 1:
            # multi-frame: all frames must carry the same id
            for f in m[1:]:
                if f[:10] != b[:10]:
                    return -2
        if len(b) >= 20 and b[-10:] != b[:10]:
            return -3  # head of one message, tail of another
        return int(b[:10])
    return -1

def push(ep, start, end, rate, size, sndhwm=1000, frames=1):
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.SNDHWM, sndhwm); s.setsockopt(zmq.LINGER, 60000)
    if os.environ.get("SNDBUF"): s.setsockopt(zmq.SNDBUF, int(os.environ["SNDBUF"]))
    s.connect(ep)
    t0 = time.monotonic(); worst = 0.0
    pad = b"x" * max(0, size - 20)
    for i in range(start, end):
        if rate > 0:
            due = t0 + (i - start) / rate
            now = time.monotonic()
            if due > now: time.sleep(due - now)
        a = time.monotonic()
        body = b"%010d" % i + pad + (b"%010d" % i if size >= 20 else b"")
        if frames > 1:
            s.send_multipart([body] * frames)
        else:
            s.send(body)
        worst = max(worst, time.monotonic() - a)
    sent_at = time.monotonic() - t0
    s.close(); ctx.term()
    print(json.dumps({"sent": end - start, "worst_send_ms": round(worst * 1000, 1),
                      "send_s": round(sent_at, 2), "total_s": round(time.monotonic() - t0, 2)}), flush=True)

def recv_loop(s, out, until, idle, got):
    poller = zmq.Poller(); poller.register(s, zmq.POLLIN)
    last = None
    while True:
        now = time.monotonic()
        if until is not None and now >= until: return "until"
        if idle is not None and last is not None and now - last >= idle: return "idle"
        if poller.poll(100):
            while True:
                try: m = s.recv_multipart(zmq.NOBLOCK)
                except zmq.Again: break
                i = ident(m); got.append(i); out.write("%d\n" % i)
                last = time.monotonic()
                if i < 0: out.write("#odd %d %d bytes %r\n" % (i, sum(len(f) for f in m), m[0][:10] + b".." + m[-1][-10:]))

def cloud(ep, outfile, idle, max_s, rcvhwm=1000):
    ctx = zmq.Context(); got = []
    with open(outfile, "w") as out:
        s = ctx.socket(zmq.PULL); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVHWM, rcvhwm); s.bind(ep)
        print("bound", flush=True)
        t0 = time.monotonic()
        recv_loop(s, out, t0 + max_s, idle, got)
        s.close()
    ctx.term()
    print(json.dumps({"n": len(got)}), flush=True)

def flap(ep, outfile, up, down, total, idle):
    ctx = zmq.Context(); got = []; flaps = 0
    t0 = time.monotonic()
    with open(outfile, "w") as out:
        while time.monotonic() - t0 < total:
            s = ctx.socket(zmq.PULL); s.setsockopt(zmq.LINGER, 0); s.bind(ep)
            recv_loop(s, out, time.monotonic() + up, None, got)
            s.close(); flaps += 1
            out.write("#flap %d at %d\n" % (flaps, len(got))); out.flush()
            time.sleep(down)
        s = ctx.socket(zmq.PULL); s.setsockopt(zmq.LINGER, 0); s.bind(ep)
        recv_loop(s, out, time.monotonic() + 120, idle, got)
        s.close()
    ctx.term()
    print(json.dumps({"n": len(got), "flaps": flaps}), flush=True)

def slow(ep, outfile, rate, max_s, rcvhwm):
    ctx = zmq.Context(); got = []
    with open(outfile, "w") as out:
        s = ctx.socket(zmq.PULL); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVHWM, rcvhwm)
        s.setsockopt(zmq.RCVBUF, 4096); s.bind(ep)
        t0 = time.monotonic(); k = 0
        while time.monotonic() - t0 < max_s:
            try:
                m = s.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                time.sleep(0.001); continue
            i = ident(m); got.append(i); out.write("%d\n" % i); k += 1
            if i < 0: out.write("#odd %d %d bytes %r\n" % (i, sum(len(f) for f in m), m[0][:10] + b".." + m[-1][-10:]))
            due = t0 + k / rate
            if due > time.monotonic(): time.sleep(due - time.monotonic())
        s.close()
    ctx.term()
    print(json.dumps({"n": len(got)}), flush=True)

if __name__ == "__main__":
    a = sys.argv
    if a[1] == "push": push(a[2], int(a[3]), int(a[4]), float(a[5]), int(a[6]), *(int(x) for x in a[7:]))
    elif a[1] == "cloud": cloud(a[2], a[3], float(a[4]), float(a[5]), *(int(x) for x in a[6:]))
    elif a[1] == "flap": flap(a[2], a[3], float(a[4]), float(a[5]), float(a[6]), float(a[7]))
    elif a[1] == "slow": slow(a[2], a[3], float(a[4]), float(a[5]), int(a[6]))
