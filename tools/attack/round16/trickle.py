#!/usr/bin/env python3
"""round 16: trickle readers. trickle.py FE BE KEYFILE SECS N CHUNK GAP [PASS] [KIND]
N libzmq CURVE peers on BE (KIND sub: SUB of topic $TOPIC (default 'n'); pull: PULL), each through
its own TCP proxy. The proxy passes everything at full speed for PASS s (default 1.0: the
handshake), then reads from the broker CHUNK bytes every GAP s (SO_RCVBUF 4096 on the proxy's
broker side) and forwards them; upstream (peer -> broker) always at full speed. The peers read
all they get (RCVHWM default). A reader that takes a little every GAP s never stops for a second.
Env SRCS=k: proxy connection j binds 127.0.0.(2 + j % k)."""
import os, sys, threading, time, socket, json, zmq
fe, be, key, secs, n, chunk, gap = sys.argv[1:8]
pas = float(sys.argv[8]) if len(sys.argv) > 8 else 1.0
kind = sys.argv[9] if len(sys.argv) > 9 else "sub"
be, secs, n, chunk, gap = int(be), float(secs), int(n), int(chunk), float(gap)
NSRC = int(os.environ.get("SRCS", "0"))
srv = open(key).read().split('public-key = "')[1].split('"')[0].encode()
ctx = zmq.Context(); ctx.MAX_SOCKETS = 8000
end = time.monotonic() + secs
st = {"peers": n, "down_bytes": 0, "got": 0, "closed_by_broker": 0}
lk = threading.Lock()
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0)); ls.listen(512); LP = ls.getsockname()[1]
idx = [0]
def serve(c):
    with lk: j = idx[0]; idx[0] += 1
    u = socket.socket(); u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    if NSRC: u.bind(("127.0.0.%d" % (2 + j % NSRC), 0))
    u.connect(("127.0.0.1", be)); t0 = time.monotonic()
    def up():
        try:
            while True:
                d = c.recv(65536)
                if not d: break
                u.sendall(d)
        except OSError: pass
    threading.Thread(target=up, daemon=True).start()
    try:
        while True:
            if time.monotonic() - t0 < pas: d = u.recv(65536)
            else:
                time.sleep(gap); d = u.recv(chunk)
            if not d:
                with lk: st["closed_by_broker"] += 1
                break
            with lk: st["down_bytes"] += len(d)
            c.sendall(d)
    except OSError:
        with lk: st["closed_by_broker"] += 1
    c.close(); u.close()
def acceptor():
    while True:
        c, _ = ls.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
threading.Thread(target=acceptor, daemon=True).start()
socks = []
for j in range(n):
    s = ctx.socket(zmq.SUB if kind == "sub" else zmq.PULL); pub, sec = zmq.curve_keypair()
    s.curve_publickey = pub; s.curve_secretkey = sec; s.curve_serverkey = srv
    s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.RECONNECT_IVL, 100000)
    if kind == "sub": s.setsockopt(zmq.SUBSCRIBE, os.environ.get("TOPIC", "n").encode())
    s.connect("tcp://127.0.0.1:%d" % LP); socks.append(s)
poller = zmq.Poller()
for s in socks: poller.register(s, zmq.POLLIN)
while time.monotonic() < end + 2:
    for s, _ in poller.poll(200):
        while True:
            try: s.recv(zmq.NOBLOCK); st["got"] += 1
            except zmq.Again: break
print(json.dumps(st))
