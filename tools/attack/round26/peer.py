#!/usr/bin/env python3
"""Peers for round 20-26 (forwarder spool) attacks. Messages: one frame, TOPIC (1 byte) +
b'%010d' + padding + b'%010d' (so a mixed message shows as odd).
  peer.py pub EP START END RATE SIZE TOPICS [SNDHWM]
      PUB connect to the forwarder's frontend; message i gets topic TOPICS[i % len]
  peer.py cloud EP OUTFILE IDLE_S MAX_S SUBS [SUBDELAY_S] [RCVHWM]
      XSUB bind (zedge connects with >); sends SUBSCRIBE for each char of SUBS ('*' = all)
      SUBDELAY_S after bind; stops after IDLE_S idle (once one came) or MAX_S
  peer.py flap EP OUTFILE UP_S DOWN_S TOTAL_S IDLE_S SUBS
      as cloud, but closes and rebinds every UP_S for DOWN_S, until TOTAL_S, then steady
  peer.py sub EP OUTFILE IDLE_S MAX_S SUBS     local SUB connect to the bound backend
  peer.py slowcloud EP OUTFILE RATE MAX_S SUBS  XSUB bind, reads RATE msgs/s, tiny RCVBUF
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

def pub(ep, start, end, rate, size, topics, sndhwm=100000):
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUB)
    s.setsockopt(zmq.SNDHWM, sndhwm); s.setsockopt(zmq.LINGER, 10000)
    s.connect(ep)
    time.sleep(0.5)  # the forwarder's SUBSCRIBE "" (the spool's sink) comes in
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
                t, i = ident(m); got.append(i)
                out.write("%s %d\n" % (t or "?", i))
                now2 = time.monotonic()
                if last is not None and now2 - last > 0.3:
                    out.write("#gap %.2f s before %d at %.2f\n" % (now2 - last, i, now2 - T0))
                last = now2
                if i < 0: out.write("#odd %d %d bytes %r\n" % (i, sum(len(f) for f in m), m[0][:12]))

def cloud(ep, outfile, idle, max_s, subs, subdelay=0.0, rcvhwm=1000):
    ctx = zmq.Context(); got = []; ctx.setsockopt(zmq.LINGER, 0)
    with open(outfile, "w") as out:
        s = ctx.socket(zmq.XSUB); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVHWM, rcvhwm); s.bind(ep)
        t0 = time.monotonic()
        if subdelay > 0:
            # wait for a connection's handshake, then SUBDELAY more, reading meanwhile
            from zmq.utils.monitor import recv_monitor_message
            mon = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
            while not mon.poll(10):
                recv_loop(s, out, time.monotonic() + 0.01, None, got)
            recv_monitor_message(mon)
            s.disable_monitor(); mon.close(0)
            out.write("#handshake at %.2f\n" % (time.monotonic() - T0))
            recv_loop(s, out, time.monotonic() + subdelay, None, got)
            t0 = time.monotonic()
        subscribe(s, subs)
        out.write("#subscribed at %.2f\n" % (time.monotonic() - T0))
        print("subscribed", flush=True)
        recv_loop(s, out, t0 + max_s, idle, got)
        s.close()
    ctx.term()
    print(json.dumps({"n": len(got)}), flush=True)

def flap(ep, outfile, up, down, total, idle, subs):
    ctx = zmq.Context(); got = []; flaps = 0
    t0 = time.monotonic()
    with open(outfile, "w") as out:
        while time.monotonic() - t0 < total:
            s = ctx.socket(zmq.XSUB); s.setsockopt(zmq.LINGER, 0); s.bind(ep); subscribe(s, subs)
            recv_loop(s, out, time.monotonic() + up, None, got)
            s.close(); flaps += 1
            out.write("#flap %d at %d\n" % (flaps, len(got))); out.flush()
            time.sleep(down)
        s = ctx.socket(zmq.XSUB); s.setsockopt(zmq.LINGER, 0); s.bind(ep); subscribe(s, subs)
        recv_loop(s, out, time.monotonic() + 120, idle, got)
        s.close()
    ctx.term()
    print(json.dumps({"n": len(got), "flaps": flaps}), flush=True)

def flapr(ep, outfile, upmin, upmax, downmin, downmax, total, idle, subs, seed=1):
    # as flap, but each up and down period random in [min, max]; logs each flap's times
    import random
    rnd = random.Random(seed)
    ctx = zmq.Context(); got = []; flaps = 0
    t0 = time.monotonic()
    with open(outfile, "w") as out:
        while time.monotonic() - t0 < total:
            s = ctx.socket(zmq.XSUB); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVHWM, 0); s.bind(ep); subscribe(s, subs)
            out.write("#up at %.2f n=%d\n" % (time.monotonic() - T0, len(got)))
            recv_loop(s, out, time.monotonic() + rnd.uniform(upmin, upmax), None, got)
            s.close(); flaps += 1
            out.write("#flap %d at %d\n" % (flaps, len(got))); out.flush()
            time.sleep(rnd.uniform(downmin, downmax))
        s = ctx.socket(zmq.XSUB); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVHWM, 0); s.bind(ep); subscribe(s, subs)
        out.write("#up at %.2f n=%d (steady)\n" % (time.monotonic() - T0, len(got)))
        recv_loop(s, out, time.monotonic() + 120, idle, got)
        s.close()
    ctx.term()
    print(json.dumps({"n": len(got), "flaps": flaps}), flush=True)

def pacecloud(ep, outfile, rate, max_s, idle, subs, rcvhwm=10, rcvbuf=4096):
    # XSUB bind, reads RATE msgs/s (small buffers) until MAX_S, or IDLE s with nothing
    ctx = zmq.Context(); got = []
    with open(outfile, "w") as out:
        s = ctx.socket(zmq.XSUB); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVHWM, rcvhwm)
        s.setsockopt(zmq.RCVBUF, rcvbuf); s.bind(ep); subscribe(s, subs)
        t0 = time.monotonic(); k = 0; last = time.monotonic(); tk = t0
        while time.monotonic() - t0 < max_s:
            try: m = s.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                if k and time.monotonic() - last > idle: break
                time.sleep(0.001); continue
            t, i = ident(m); got.append(i); out.write("%s %d\n" % (t or "?", i)); k += 1
            last = time.monotonic()
            if k == 1: tk = last
            if isinstance(rate, tuple):
                # alternate rates every second
                r = rate[int(last - t0) % 2]
                time.sleep(1.0 / r)
            else:
                due = tk + k / rate
                time.sleep(max(0.0, due - time.monotonic()))
        s.close()
    ctx.term()
    print(json.dumps({"n": len(got)}), flush=True)

def sub(ep, outfile, idle, max_s, subs):
    ctx = zmq.Context(); got = []
    with open(outfile, "w") as out:
        s = ctx.socket(zmq.SUB); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVHWM, 0)
        for c in subs: s.setsockopt(zmq.SUBSCRIBE, b"" if c == "*" else c.encode())
        s.connect(ep)
        t0 = time.monotonic()
        recv_loop(s, out, t0 + max_s, idle, got)
        s.close()
    ctx.term()
    print(json.dumps({"n": len(got)}), flush=True)

def slowcloud(ep, outfile, rate, max_s, subs):
    ctx = zmq.Context(); got = []
    with open(outfile, "w") as out:
        s = ctx.socket(zmq.XSUB); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVHWM, 10)
        s.setsockopt(zmq.RCVBUF, 4096); s.bind(ep); subscribe(s, subs)
        t0 = time.monotonic(); k = 0
        while time.monotonic() - t0 < max_s:
            try: m = s.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                time.sleep(0.001); continue
            t, i = ident(m); got.append(i); out.write("%s %d\n" % (t or "?", i)); k += 1
            due = t0 + k / rate
            time.sleep(max(0.0, due - time.monotonic()))
        s.close()
    ctx.term()
    print(json.dumps({"n": len(got)}), flush=True)

def deaf(ep, max_s, subs):
    # XSUB bind that subscribes and never reads
    ctx = zmq.Context()
    s = ctx.socket(zmq.XSUB); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RCVHWM, 1)
    s.setsockopt(zmq.RCVBUF, 4096); s.bind(ep); subscribe(s, subs)
    t0 = time.monotonic()
    while time.monotonic() - t0 < max_s:
        s.getsockopt(zmq.EVENTS)  # lets libzmq attach pipes and send subscriptions; reads nothing
        time.sleep(0.05)
    s.close(); ctx.term()

if __name__ == "__main__":
    a = sys.argv
    if a[1] == "pub": pub(a[2], int(a[3]), int(a[4]), float(a[5]), int(a[6]), a[7], *(int(x) for x in a[8:]))
    elif a[1] == "cloud": cloud(a[2], a[3], float(a[4]), float(a[5]), a[6], *(float(x) for x in a[7:8]), *(int(x) for x in a[8:]))
    elif a[1] == "flap": flap(a[2], a[3], float(a[4]), float(a[5]), float(a[6]), float(a[7]), a[8])
    elif a[1] == "flapr": flapr(a[2], a[3], *(float(x) for x in a[4:10]), a[10], *(int(x) for x in a[11:]))
    elif a[1] == "pacecloud": pacecloud(a[2], a[3], tuple(float(x) for x in a[4].split("/")) if "/" in a[4] else float(a[4]), float(a[5]), float(a[6]), a[7], *(int(x) for x in a[8:]))
    elif a[1] == "sub": sub(a[2], a[3], float(a[4]), float(a[5]), a[6])
    elif a[1] == "deaf": deaf(a[2], float(a[3]), a[4])
    elif a[1] == "slowcloud": slowcloud(a[2], a[3], float(a[4]), float(a[5]), a[6])
