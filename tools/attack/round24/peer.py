#!/usr/bin/env python3
"""Peers for round 22 (spool cursor) attacks. Messages: one frame, TOPIC (1 byte) +
b'%010d' + padding + b'%010d' (so a mixed message shows as odd).
  peer.py pub EP START END RATE SIZE TOPICS [SNDHWM]     PUB connect (forwarder frontend)
  peer.py push EP START END RATE SIZE TOPICS [SNDHWM]    PUSH connect (streamer frontend)
  peer.py recv KIND EP OUTFILE RATE IDLE_S MAX_S [RCVHWM] [SUBS]
      KIND xsub (a forwarder's uplink) or pull (a streamer's worker); binds EP (zedge connects
      with >). RATE msgs/s (0 = as fast as it can; <0 = never reads: a stalled receiver).
      Stops after IDLE_S idle (once one came) or MAX_S.
  peer.py flap KIND EP OUTFILE UP_S DOWN_S TOTAL_S IDLE_S [RATE]
      as recv, but closes and rebinds every UP_S for DOWN_S, until TOTAL_S, then steady
  peer.py sub EP OUTFILE IDLE_S MAX_S SUBS     local SUB connect to the bound backend
OUTFILE: one "T id" per line; analyze.py reads it.
"""
import sys, time, json, zmq, os, signal
def _term(*_): raise SystemExit(0)
signal.signal(signal.SIGTERM, _term)
T0 = time.monotonic()

def ident(m):
    b = m[0]
    if len(m) != 1 or len(b) < 11 or not b[1:11].isdigit():
        return None, -1
    if len(b) >= 21 and b[-10:] != b[1:11]:
        return None, -3
    return chr(b[0]), int(b[1:11])

def body(i, size, topics):
    t = topics[i % len(topics)].encode()
    pad = b"x" * max(0, size - 21)
    return t + b"%010d" % i + pad + (b"%010d" % i if size >= 21 else b"")

def send(kind, ep, start, end, rate, size, topics, sndhwm=100000):
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUB if kind == "pub" else zmq.PUSH)
    s.setsockopt(zmq.SNDHWM, sndhwm); s.setsockopt(zmq.LINGER, 20000)
    s.connect(ep)
    time.sleep(0.5)
    t0 = time.monotonic(); worst = 0.0
    for i in range(start, end):
        if rate > 0:
            due = t0 + (i - start) / rate
            now = time.monotonic()
            if due > now: time.sleep(due - now)
        a = time.monotonic()
        s.send(body(i, size, topics))
        worst = max(worst, time.monotonic() - a)
    sent_at = time.monotonic() - t0
    s.close(); ctx.term()
    print(json.dumps({"sent": end - start, "worst_send_ms": round(worst * 1000, 1),
                      "send_s": round(sent_at, 2), "total_s": round(time.monotonic() - t0, 2)}), flush=True)

def subscribe(s, subs):
    for c in subs:
        s.send(b"\x01" + (b"" if c == "*" else c.encode()))

def recv_loop(s, out, until, idle, got, rate=0):
    poller = zmq.Poller(); poller.register(s, zmq.POLLIN)
    last = None; t0 = time.monotonic(); k = 0
    while True:
        now = time.monotonic()
        if until is not None and now >= until: return "until"
        if idle is not None and last is not None and now - last >= idle: return "idle"
        if rate < 0:
            s.getsockopt(zmq.EVENTS); time.sleep(0.05); continue
        if poller.poll(100):
            while True:
                try: m = s.recv_multipart(zmq.NOBLOCK)
                except zmq.Again: break
                t, i = ident(m); got.append(i)
                out.write("%s %d\n" % (t or "?", i))
                now2 = time.monotonic()
                if last is not None and now2 - last > 0.3:
                    out.write("#gap %.2f s before %d at %.2f\n" % (now2 - last, i, now2 - T0))
                last = now2
                if i < 0: out.write("#odd %d %d bytes %r\n" % (i, sum(len(f) for f in m), m[0][:12]))
                if rate > 0:
                    if k == 0: t0 = time.monotonic()  # the rate counts from the first message
                    k += 1
                    due = t0 + k / rate
                    d = due - time.monotonic()
                    if d > 0: time.sleep(d)
                    if until is not None and time.monotonic() >= until: return "until"

def mksock(ctx, kind, ep, rcvhwm, subs, rate):
    s = ctx.socket(zmq.XSUB if kind == "xsub" else zmq.PULL)
    s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVHWM, rcvhwm)
    if os.environ.get("HB_IVL"): s.setsockopt(zmq.HEARTBEAT_IVL, int(os.environ["HB_IVL"]))
    if rate != 0:
        s.setsockopt(zmq.RCVBUF, 4096)
    s.bind(ep)
    if kind == "xsub": subscribe(s, subs)
    return s

def recv(kind, ep, outfile, rate, idle, max_s, rcvhwm=1000, subs="*"):
    ctx = zmq.Context(); got = []
    with open(outfile, "w") as out:
        s = mksock(ctx, kind, ep, rcvhwm, subs, rate)
        print("bound", flush=True)
        recv_loop(s, out, time.monotonic() + max_s, idle, got, rate)
        s.close()
    ctx.term()
    print(json.dumps({"n": len(got)}), flush=True)

def flap(kind, ep, outfile, up, down, total, idle, rate=0):
    ctx = zmq.Context(); got = []; flaps = 0
    t0 = time.monotonic()
    with open(outfile, "w") as out:
        while time.monotonic() - t0 < total:
            s = mksock(ctx, kind, ep, 1000, "*", rate)
            recv_loop(s, out, time.monotonic() + up, None, got, rate)
            s.close(); flaps += 1
            out.write("#flap %d at %d\n" % (flaps, len(got))); out.flush()
            time.sleep(down)
        s = mksock(ctx, kind, ep, 1000, "*", 0)
        recv_loop(s, out, time.monotonic() + 120, idle, got)
        s.close()
    ctx.term()
    print(json.dumps({"n": len(got), "flaps": flaps}), flush=True)

def sub(ep, outfile, idle, max_s, subs):
    ctx = zmq.Context(); got = []
    with open(outfile, "w") as out:
        s = ctx.socket(zmq.SUB); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVHWM, 0)
        for c in subs: s.setsockopt(zmq.SUBSCRIBE, b"" if c == "*" else c.encode())
        s.connect(ep)
        recv_loop(s, out, time.monotonic() + max_s, idle, got)
        s.close()
    ctx.term()
    print(json.dumps({"n": len(got)}), flush=True)

def phases(kind, ep, outfile, rcvhwm, spec, idle):
    """spec "RATE:SECS,RATE:SECS,...": read at RATE (0 fast, <0 stalled) for SECS each; the
    last phase ends at SECS or after IDLE_S idle (once one came in it)."""
    ctx = zmq.Context(); got = []
    ph = [(float(a), float(b)) for a, b in (x.split(":") for x in spec.split(","))]
    with open(outfile, "w") as out:
        s = mksock(ctx, kind, ep, rcvhwm, "*", ph[0][0] or 1)
        print("bound", flush=True)
        for k, (rate, secs) in enumerate(ph):
            out.write("#phase %d rate %g at %.2f n %d\n" % (k, rate, time.monotonic() - T0, len(got))); out.flush()
            last = k == len(ph) - 1
            recv_loop(s, out, time.monotonic() + secs, idle if last else None, got, rate)
        s.close()
    ctx.term()
    print(json.dumps({"n": len(got)}), flush=True)

def stalled_many(kind, base_port, count, secs):
    """count PULL sockets bound at 127.0.0.1:base_port.. that never read, for secs."""
    ctx = zmq.Context(); ss = []
    for k in range(count):
        s = ctx.socket(zmq.PULL); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVBUF, 4096)
        s.bind("tcp://127.0.0.1:%d" % (base_port + k)); ss.append(s)
    print("bound", flush=True)
    t = time.monotonic() + secs
    while time.monotonic() < t:
        for s in ss: s.getsockopt(zmq.EVENTS)
        time.sleep(0.05)
    for s in ss: s.close()
    ctx.term()

def drip(port, nbytes, every, secs, outfile, mech_ver=1):
    """A raw TCP 'worker': binds, accepts zedge's connection, handshakes ZMTP 3.x NULL as PULL,
    then reads nbytes every `every` seconds (SO_RCVBUF small) for secs."""
    import socket
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ls.bind(("127.0.0.1", port)); ls.listen(1)
    print("bound", flush=True)
    c, _ = ls.accept()
    greet = b"\xff" + b"\0" * 8 + b"\x7f" + bytes([3, mech_ver]) + b"NULL" + b"\0" * 16 + b"\0" + b"\0" * 31
    c.sendall(greet)
    body = b"\x05READY" + b"\x0bSocket-Type" + (4).to_bytes(4, "big") + b"PULL"
    c.sendall(bytes([0x04, len(body)]) + body)
    c.settimeout(2)
    hs = b""
    while len(hs) < 64 + 2:   # their greeting and the head of their READY
        hs += c.recv(64 + 2 - len(hs))
    rest = hs[65]
    while rest > 0:
        rest -= len(c.recv(rest))
    t0 = time.monotonic(); total = 0
    c.settimeout(None)
    with open(outfile, "w") as out:
        while time.monotonic() - t0 < secs:
            time.sleep(every)
            c.setblocking(False)
            try:
                c.send(b"\x04\x07\x04PING\x00\x00")   # our own PING: we are alive
            except BlockingIOError: pass
            try:
                b = c.recv(nbytes); total += len(b)
            except BlockingIOError: pass
            c.setblocking(True)
            out.write("%.1f %d\n" % (time.monotonic() - t0, total)); out.flush()
    c.close()
    print(json.dumps({"read_bytes": total}), flush=True)

if __name__ == "__main__":
    a = sys.argv
    if a[1] in ("pub", "push"): send(a[1], a[2], int(a[3]), int(a[4]), float(a[5]), int(a[6]), a[7], *(int(x) for x in a[8:]))
    elif a[1] == "recv":
        recv(a[2], a[3], a[4], float(a[5]), float(a[6]), float(a[7]), *(int(x) for x in a[8:9]), *a[9:10])
    elif a[1] == "flap": flap(a[2], a[3], a[4], float(a[5]), float(a[6]), float(a[7]), float(a[8]), *(float(x) for x in a[9:]))
    elif a[1] == "phases": phases(a[2], a[3], a[4], int(a[5]), a[6], float(a[7]))
    elif a[1] == "stalled": stalled_many("pull", int(a[2]), int(a[3]), float(a[4]))
    elif a[1] == "drip": drip(int(a[2]), int(a[3]), float(a[4]), float(a[5]), a[6], *(int(x) for x in a[7:]))
    elif a[1] == "sub": sub(a[2], a[3], float(a[4]), float(a[5]), a[6])
