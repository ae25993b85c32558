#!/usr/bin/env python3
"""Attack 2: CURVE streamer. A normal CURVE producer of 64 KB messages -> a normal CURVE worker,
beside N libzmq CURVE producers of big messages whose bytes go through a proxy that sends the
first BURST bytes of each connection at once and the rest at RATE B/s, each new connection from
the next loopback source address (127.0.0.2..) if --rotate.
usage: curve.py FE BE SERVERKEY --secs S [--n N] [--big BYTES] [--burst B] [--rate R] [--rotate]"""
import argparse, json, socket, threading, time, os, sys
import zmq
ap = argparse.ArgumentParser()
ap.add_argument("fe", type=int); ap.add_argument("be", type=int); ap.add_argument("key")
ap.add_argument("--secs", type=float, default=30)
ap.add_argument("--n", type=int, default=0)
ap.add_argument("--big", default=str(15 << 20), help="comma list; attacker i uses item i%len")
ap.add_argument("--churn", action="store_true", help="attacker reconnects after each message")
ap.add_argument("--hwm", type=int, default=2)
ap.add_argument("--pace", type=float, default=0, help="producer msgs/s (0: as fast as it goes)")
ap.add_argument("--att-side", default="fe")
ap.add_argument("--single", action="store_true", help="attacker messages are one frame")
ap.add_argument("--churn-wait", type=float, default=1.0)
ap.add_argument("--big-first", action="store_true", help="attacker messages are [body, tag]")
ap.add_argument("--kind", default="streamer", choices=["streamer","queue","forwarder"])
ap.add_argument("--burst", type=int, default=14 << 20)
ap.add_argument("--rate", type=float, default=60000)
ap.add_argument("--rotate", action="store_true")
ap.add_argument("--src", default=None, help="all attacker connections from this source address")
ap.add_argument("--size", type=int, default=65536)
ap.add_argument("--late", type=float, default=0)
ap.add_argument("--fburst", type=float, default=None, help="frame-aware proxy: pass this fraction of each large frame at once, the rest at --frate")
ap.add_argument("--frate", type=str, default="20000", help="B/s for the rest of a large frame (0: never)")
ap.add_argument("--fmin", type=int, default=8192, help="frames at least this long are paced")
ap.add_argument("--fproof", type=int, default=0, help="round 11: the first K frames >= fmin of each connection go whole at once (to become 'proven')")
ap.add_argument("--fgap", type=float, default=0, help="seconds to pause before each large frame's burst")
ap.add_argument("--honest", default=None, help="round 12: BASE,STAGGER: proxy connection k passes large frames whole until BASE+k*STAGGER s after it connects, then paces them")
ap.add_argument("--proofsize", type=int, default=0, help="round 12: each attacker first sends one message of this size, then --big ones")
ap.add_argument("--att-gap", type=float, default=0, help="round 12: attacker sleeps this long between messages")
ap.add_argument("--fdur", default=None, help="round 12: MINSIZE:SECS: large frames of at least MINSIZE bytes get their paced rest over SECS s (rate rest/SECS) instead of --frate")
ap.add_argument("--flow-reconnect", type=float, default=0, help="round 12: the normal producer (streamer/forwarder) closes (linger 5 s) and connects a new socket every this many s")
ap.add_argument("--slow-readers", type=int, default=0, help="round 12: this many CURVE SUB (forwarder, subscribed to 'n') or PULL (streamer) peers on the backend that never read")
ap.add_argument("--null-be", action="store_true", help="round 12: backend-side sockets (workers, slow readers, attackers with --att-side be) use NULL (broker --curve-sides frontend)")
ap.add_argument("--stop-readers", default=None, help="round 13: K,READ,STOP[,SUBTOPIC]: K CURVE SUB (forwarder) / PULL (streamer) on the backend that read all they can for READ s, then stop for STOP s, over and over")
ap.add_argument("--direct-below", type=int, default=0, help="round 13: attackers whose messages are smaller than this connect straight to the broker (no proxy)")
ap.add_argument("--hog-gap", type=float, default=None, help="round 13: att-gap for the direct attackers")
ap.add_argument("--hogs", default=None, help="round 13: N,SIZES(/-sep),GAP: hog.py in its own process, straight to the frontend")
ap.add_argument("--no-flow", action="store_true", help="round 13: attack only (no worker, no producer): sleep --secs + 4 and exit")
ap.add_argument("--att-late", type=float, default=0, help="round 13: attackers (not stop-readers) start this long after the flow")
a = ap.parse_args()
sys.setswitchinterval(0.0005)
slow = []; T0W = time.time()
T0 = time.monotonic()
ctx = zmq.Context()
srv_pub = open(a.key).read().split('public-key = "')[1].split('"')[0].encode()
stats = {"att_conns": 0, "att_closed_by_broker": 0, "att_bytes": 0}
lock = threading.Lock()
stop = threading.Event()
addr_i = [1]

def curve_sock(t, ep, **o):
    s = ctx.socket(t)
    null = a.null_be and (ep.endswith(":%d" % a.be) or (ep.endswith(":%d" % (a.fe + 52)) and a.att_side == "be"))
    if not null:
        pub, sec = (os.environ["FLOWPUB"].encode(), os.environ["FLOWSEC"].encode()) if os.environ.get("FLOWPUB") else zmq.curve_keypair()
        s.curve_publickey = pub; s.curve_secretkey = sec; s.curve_serverkey = srv_pub
    for k, v in o.items(): s.setsockopt(getattr(zmq, k), v)
    s.connect(ep); return s

def proxy(listen_port):
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen_port)); ls.listen(64)
    def serve(c):
        u = socket.socket()
        if a.rotate:
            with lock:
                addr_i[0] = addr_i[0] % 254 + 1
                src = "127.0.0.%d" % (addr_i[0] + 1)
            u.bind((src, 0))
        elif a.src:
            u.bind((a.src, 0))
        try: u.connect(("127.0.0.1", ATT_PORT))
        except OSError: c.close(); return
        with lock: stats["att_conns"] += 1
        def down():
            try:
                while True:
                    d = u.recv(65536)
                    if not d: break
                    c.sendall(d)
            except OSError: pass
            with lock: stats["att_closed_by_broker"] += 1
            try: c.close()
            except OSError: pass
            try: u.close()
            except OSError: pass
        threading.Thread(target=down, daemon=True).start()
        if a.fburst is not None:
            return frame_pace(c, u)
        sent = 0; credit = 0.0; last = time.monotonic()
        try:
            while True:
                if sent < a.burst:
                    d = c.recv(min(65536, a.burst - sent))
                else:
                    time.sleep(0.05)
                    now = time.monotonic(); credit = min(credit + a.rate * (now - last), a.rate * 0.2); last = now
                    if credit < 1: continue
                    d = c.recv(int(credit)); credit -= len(d)
                if not d: break
                u.sendall(d); sent += len(d)
                with lock: stats["att_bytes"] += len(d)
                last = time.monotonic() if sent <= a.burst else last
        except OSError: pass
        try: u.close()
        except OSError: pass
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()

conn_i = [0]
def frame_pace(c, u):
    with lock:
        rates = [float(x) for x in str(a.frate).split(",")]
        frate = rates[conn_i[0] % len(rates)]; kk = conn_i[0]; conn_i[0] += 1
    honest_until = 0
    if a.honest:
        hb, hs = [float(x) for x in a.honest.split(",")]
        honest_until = time.monotonic() + hb + kk * hs
    # ZMTP framing is in the clear under CURVE: 64 B greeting, then frames (flags, length).
    # Each frame of at least --fmin bytes: header + fburst of it at once, the rest at --frate;
    # bytes after a slow part wait behind it (in order).
    import select, collections
    buf = bytearray(); pos = 0; segs = collections.deque()  # [n, slow]
    st = {"greet": 64, "i": 0, "skip": 0, "big": 0}
    def add(n, slow):
        if n <= 0: return
        if segs and segs[-1][1] == slow: segs[-1][0] += n
        else: segs.append([n, slow])
    def parse():
        while True:
            avail = len(buf) - st["i"]
            if st["greet"]:
                k = min(st["greet"], avail)
                if k <= 0: return
                st["greet"] -= k; st["i"] += k; add(k, False); continue
            if st["skip"]:
                k = min(st["skip"], avail)
                if k <= 0: return
                st["skip"] -= k; st["i"] += k; add(k, st["slow"]); continue
            if avail < 2: return
            fl = buf[st["i"]]
            if fl & 2:
                if avail < 9: return
                ln = int.from_bytes(buf[st["i"]+1:st["i"]+9], "big"); hl = 9
            else:
                ln = buf[st["i"]+1]; hl = 2
            st["i"] += hl
            big = ln >= a.fmin
            if big: st["big"] += 1
            if big and st["big"] <= a.fproof: big = False
            if big and time.monotonic() < honest_until: big = False
            if big:
                now = int(ln * a.fburst)
                segs.append([0, "gap"]) if a.fgap else None
                add(hl, False); add(now, False); st["skip"] = 0
                # the frame's bytes: first `now` at once (already counted above as now), rest slow
                st["pend_now"] = now; st["pend_slow"] = ln - now
                # mark: consume body bytes as they arrive: first `now` were pre-added, so only
                # add slow ones; emulate via skip of now (already scheduled) then slow
                st["skip_now"] = now
                st["skip"] = ln - now; st["slow"] = True
                if a.fdur:
                    ms, sc = a.fdur.split(":")
                    if ln >= int(ms): st["slow"] = "d%d" % int((ln - now) / float(sc))
                # body bytes for the at-once part are accounted when they arrive:
                k = min(now, len(buf) - st["i"])
                st["i"] += now  # may run past buf; handled by wait below
            else:
                add(hl, False); st["skip"] = ln; st["slow"] = False
    credit = 0.0; last = time.monotonic(); gap_until = 0
    pl = select.poll(); pl.register(c, select.POLLIN)
    try:
        while True:
            r = pl.poll(20)
            if r:
                d = c.recv(262144)
                if not d: break
                buf += d
            if st["i"] <= len(buf): parse()
            now = time.monotonic()
            fr = frate
            if segs and isinstance(segs[0][1], str) and segs[0][1].startswith("d"): fr = float(segs[0][1][1:])
            credit = min(credit + fr * (now - last), max(fr * 0.2, 1)); last = now
            while segs:
                n, slow = segs[0]
                if slow == "gap":
                    if not gap_until: gap_until = now + a.fgap
                    if now < gap_until: break
                    gap_until = 0; segs.popleft(); continue
                k = min(n, len(buf) - pos)
                if slow: k = min(k, int(credit))
                if k <= 0: break
                u.sendall(bytes(buf[pos:pos+k])); pos += k
                if slow: credit -= k
                with lock: stats["att_bytes"] += k
                segs[0][0] -= k
                if segs[0][0] == 0: segs.popleft()
                else: break
            if pos > 1 << 20 and pos <= st["i"]:
                del buf[:pos]; st["i"] -= pos; pos = 0
    except OSError: pass
    try: u.close()
    except OSError: pass

got = [0]; lat = []; gap = [0.0, None]
def echo_worker():
    s = curve_sock(zmq.DEALER, "tcp://127.0.0.1:%d" % a.be, RCVTIMEO=200, LINGER=0)
    while not stop.is_set():
        try: m = s.recv_multipart()
        except zmq.Again: continue
        stats["w_got"] = stats.get("w_got", 0) + 1; stats["w_last"] = round(time.monotonic() - T0, 2)
        if m[1] == b"n":
            stats["w_n"] = stats.get("w_n", 0) + 1
            while True:
                try: s.send_multipart(m); break
                except zmq.Again:
                    if stop.is_set(): return
def worker():
    if a.kind == "streamer":
        s = curve_sock(zmq.PULL, "tcp://127.0.0.1:%d" % a.be, RCVTIMEO=200, LINGER=0)
    elif a.kind == "forwarder":
        s = curve_sock(zmq.SUB, "tcp://127.0.0.1:%d" % a.be, RCVTIMEO=200, LINGER=0, RCVHWM=0)
        s.setsockopt(zmq.SUBSCRIBE, b"n")
    else:
        s = client_sock
    while not stop.is_set():
        try: m = s.recv_multipart()
        except zmq.Again: continue
        record(m)
def record(m):
        if m[0] == b"n":
            got[0] += 1; now = time.time(); lat.append(now - float(m[1])); slow.append((round(now - T0W, 2), round(now - float(m[1]), 3))) if now - float(m[1]) > 0.2 else None
            if gap[1] is not None: gap[0] = max(gap[0], now - gap[1])
            gap[1] = now

ATT = {"streamer": zmq.PUSH, "queue": zmq.DEALER, "forwarder": zmq.PUB}[a.kind]
TAG = {"streamer": b"a", "queue": b"nobody", "forwarder": b"nx"}[a.kind]
def attacker(i):
    sizes = [int(x) for x in a.big.split(",")]
    big = b"a" * sizes[i % len(sizes)]
    direct = len(big) < a.direct_below
    port = (ATT_PORT if direct else a.fe + 52)
    gapx = a.hog_gap if (direct and a.hog_gap is not None) else a.att_gap
    s = curve_sock(ATT, "tcp://127.0.0.1:%d" % port, SNDTIMEO=200, LINGER=0 if not a.churn else 3000, SNDHWM=a.hwm)
    if a.proofsize:
        try: s.send_multipart([TAG + b"p" * a.proofsize] if a.single else [TAG, b"p" * a.proofsize])
        except zmq.Again: pass
    while not stop.is_set():
        if gapx: time.sleep(gapx)
        try:
            s.send_multipart([TAG + big] if a.single else ([big, TAG] if a.big_first else [TAG, big]))
            if a.churn:
                time.sleep(a.churn_wait); s.close(linger=0)
                s = curve_sock(ATT, "tcp://127.0.0.1:%d" % (a.fe + 52), SNDTIMEO=200, LINGER=0, SNDHWM=a.hwm)
        except zmq.Again: pass

client_sock = None
if a.kind == "queue":
    client_sock = curve_sock(zmq.DEALER, "tcp://127.0.0.1:%d" % a.fe, SNDTIMEO=100, RCVTIMEO=200, LINGER=0)
    threading.Thread(target=echo_worker, daemon=True).start()
    ATT_PORT = a.be if a.att_side == "be" else a.fe
else:
    ATT_PORT = a.fe
if a.kind != "queue" and not a.no_flow: threading.Thread(target=worker, daemon=True).start()
slow_socks = []
for _ in range(a.slow_readers):
    if a.kind == "forwarder":
        ss = curve_sock(zmq.SUB, "tcp://127.0.0.1:%d" % a.be, LINGER=0, RCVHWM=1, RCVBUF=4096); ss.setsockopt(zmq.SUBSCRIBE, b"n")
    elif a.kind == "streamer":
        ss = curve_sock(zmq.PULL, "tcp://127.0.0.1:%d" % a.be, LINGER=0, RCVHWM=1, RCVBUF=4096)
    slow_socks.append(ss)
def stop_reader(k, rd, st, topic):
    if a.kind == "forwarder":
        ss = curve_sock(zmq.SUB, "tcp://127.0.0.1:%d" % a.be, LINGER=0, RCVHWM=2, RCVBUF=8192); ss.setsockopt(zmq.SUBSCRIBE, topic)
    else:
        ss = curve_sock(zmq.PULL, "tcp://127.0.0.1:%d" % a.be, LINGER=0, RCVHWM=2, RCVBUF=8192)
    time.sleep(k * (rd + st) / max(1, int(a.stop_readers.split(",")[0])))
    while not stop.is_set():
        te = time.monotonic() + rd
        while time.monotonic() < te:
            try: ss.recv_multipart(zmq.NOBLOCK); stats["sr_got"] = stats.get("sr_got", 0) + 1
            except zmq.Again: time.sleep(0.0005)
        time.sleep(st)
if a.stop_readers:
    _p = a.stop_readers.split(",")
    for k in range(int(_p[0])): threading.Thread(target=stop_reader, args=(k, float(_p[1]), float(_p[2]), (_p[3] if len(_p) > 3 else "n").encode()), daemon=True).start()
def start_attack():
    time.sleep(a.late)
    threading.Thread(target=proxy, args=(a.fe + 52,), daemon=True).start()
    time.sleep(0.2)
    for i in range(a.n): threading.Thread(target=attacker, args=(i,), daemon=True).start()
if a.n and a.late:
    threading.Thread(target=start_attack, daemon=True).start()
elif a.n:
    threading.Thread(target=proxy, args=(a.fe + 52,), daemon=True).start()
    time.sleep(0.2)
    for i in range(a.n): threading.Thread(target=attacker, args=(i,), daemon=True).start()
    time.sleep(3)
hogp = None
if a.hogs:
    import subprocess
    hn, hs, hg = a.hogs.split(",")
    hogp = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "hog.py"), str(a.fe), a.key, a.kind, hn, hs.replace("/", ","), hg, str(a.secs + 5)])
    time.sleep(1.5)
if a.no_flow:
    time.sleep(a.secs + 4)
    if hogp: hogp.kill()
    print(json.dumps(stats)); sys.stdout.flush(); os._exit(0)
if a.kind == "queue": prod = client_sock
else: prod = curve_sock(zmq.PUSH if a.kind == "streamer" else zmq.PUB, "tcp://127.0.0.1:%d" % a.fe, SNDTIMEO=100, LINGER=0, SNDHWM=1000)
if a.kind == "forwarder": time.sleep(1)
payload = b"z" * a.size
sent = 0; t0 = time.monotonic(); tl = []; mark = t0; rc_at = [t0]
def drain():
    while True:
        try: record(client_sock.recv_multipart(zmq.NOBLOCK))
        except zmq.Again: return
while time.monotonic() - t0 < a.secs:
    if a.pace and sent >= a.pace * (time.monotonic() - t0):
        time.sleep(0.0005)
        if a.kind == "queue": drain()
        continue
    if a.flow_reconnect and a.kind != "queue" and time.monotonic() - rc_at[0] >= a.flow_reconnect:
        rc_at[0] = time.monotonic(); prod.setsockopt(zmq.LINGER, 5000); prod.close()
        prod = curve_sock(zmq.PUSH if a.kind == "streamer" else zmq.PUB, "tcp://127.0.0.1:%d" % a.fe, SNDTIMEO=100, LINGER=0, SNDHWM=1000)
        stats["flow_conns"] = stats.get("flow_conns", 1) + 1
    try:
        prod.send_multipart([b"n", b"%.6f" % time.time(), payload]); sent += 1
    except zmq.Again: pass
    if a.kind == "queue": drain()
    if time.monotonic() - mark >= 5: mark += 5; tl.append(got[0])
te = time.monotonic() + 1
while time.monotonic() < te:
    if a.kind == "queue": drain()
    time.sleep(0.001)
stop.set(); tl.append(got[0])
if gap[1] is not None: gap[0] = max(gap[0], time.time() - gap[1])
lat.sort()
stats["slow_n"] = len(slow); stats["slow_first_last"] = [slow[:3], slow[-3:]] if slow else []
q = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 3) if lat else None
out = {"sent": sent, "normal_got": got[0], "cum_per_5s": tl, "lat_p50": q(0.5), "lat_p99": q(0.99), "lat_max": q(1.0), "max_gap_s": round(gap[0], 2)}
if hogp: hogp.kill()
out.update(stats); print(json.dumps(out)); sys.stdout.flush(); os._exit(0)
