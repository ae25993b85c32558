#!/usr/bin/env python3
"""lat.py pub EP START END RATE SIZE [SNDHWM]: a libzmq PUB; each message carries its send time.
   lat.py sub|cloud EP OUTFILE IDLE MAX: SUB connect / XSUB bind (subscribe all); writes "a id lat_ms".
Message: b'a' + %010d + %017.6f(time) + pad + %010d (peer.py's format, so analyze.py reads ids)."""
import sys, time, json, zmq
def pub(ep, start, end, rate, size, sndhwm=100000):
    ctx = zmq.Context(); s = ctx.socket(zmq.PUB); s.setsockopt(zmq.SNDHWM, sndhwm); s.setsockopt(zmq.LINGER, 10000)
    s.connect(ep); time.sleep(0.5); t0 = time.monotonic(); worst = 0
    for i in range(start, end):
        due = t0 + (i - start) / rate; now = time.monotonic()
        if due > now: time.sleep(due - now)
        ts = b"%017.6f" % time.time()
        b = b"a" + b"%010d" % i + ts + b"x" * max(0, size - 38) + b"%010d" % i
        a = time.monotonic(); s.send(b); worst = max(worst, time.monotonic() - a)
    late = time.monotonic() - t0 - (end - start) / rate
    s.close(); ctx.term()
    print(json.dumps({"sent": end - start, "worst_send_ms": round(worst * 1000, 1), "behind_s": round(late, 2)}), flush=True)
def recv(kind, ep, out, idle, mx):
    ctx = zmq.Context(); s = ctx.socket(zmq.SUB if kind == "sub" else zmq.XSUB); s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVHWM, 0 if kind == "sub" else 1000)
    if kind == "sub": s.setsockopt(zmq.SUBSCRIBE, b""); s.connect(ep)
    else: s.bind(ep); s.send(b"\x01")
    t0 = time.monotonic(); last = None; n = 0
    with open(out, "w") as f:
        while time.monotonic() - t0 < mx:
            if last and time.monotonic() - last > idle: break
            if not s.poll(100): continue
            while True:
                try: m = s.recv(zmq.NOBLOCK)
                except zmq.Again: break
                now = time.time(); last = time.monotonic(); n += 1
                if m[:1] == b"B": f.write("B %d\n" % int(m[1:11])); continue
                lat = (now - float(m[11:28])) * 1000
                f.write("a %d %.1f\n" % (int(m[1:11]), lat))
    print(json.dumps({"n": n}), flush=True)
a = sys.argv
if a[1] == "pub": pub(a[2], int(a[3]), int(a[4]), float(a[5]), int(a[6]), *(int(x) for x in a[7:]))
else: recv(a[1], a[2], a[3], float(a[4]), float(a[5]))
