#!/usr/bin/env python3
"""Attack 1: hostile workers beside a normal libzmq worker of a streamer (or queue).
usage: workers.py KIND FE_PORT BE_PORT --size BYTES --secs S [--deaf N] [--trickle BYTES:PERIOD]
   [--slow-rate BPS] [--job SECS] [--src-rotate]
Prints JSON: messages the producer sent, the normal worker got, per hostile stats."""
import argparse, json, select, socket, struct, sys, threading, time
import zmq

ap = argparse.ArgumentParser()
ap.add_argument("kind"); ap.add_argument("fe"); ap.add_argument("be")
ap.add_argument("--size", type=int, default=4 << 20)
ap.add_argument("--secs", type=float, default=30)
ap.add_argument("--deaf", type=int, default=0, help="raw workers that never read, reconnect on close")
ap.add_argument("--no-reconnect", action="store_true")
ap.add_argument("--trickle", default=None, help="BYTES:PERIOD raw workers reading BYTES every PERIOD s")
ap.add_argument("--trickles", type=int, default=1)
ap.add_argument("--ping", action="store_true", help="trickle workers send a ZMTP PING each period (so they are heard)")
ap.add_argument("--rcvbuf", type=int, default=4096)
ap.add_argument("--slow-rate", type=float, default=0, help="a libzmq worker with RCVHWM=1 reading at this B/s (emulated)")
ap.add_argument("--job", type=float, default=0, help="a libzmq worker doing a JOB-second job per message")
ap.add_argument("--normal", type=int, default=1)
ap.add_argument("--link-rate", type=float, default=0, help="a libzmq worker behind a proxy passing broker->worker bytes at this B/s")
ap.add_argument("--link-buf", type=int, default=16384)
a = ap.parse_args()
ctx = zmq.Context()
queue = a.kind == "queue"
FE = "tcp://127.0.0.1:%s" % a.fe
BE_HOST, BE_PORT = "127.0.0.1", int(a.be)
stop = threading.Event()
stats = {"deaf_conns": 0, "deaf_closed": 0, "trickle_read": 0, "trickle_conns": 0,
         "slow_got": 0, "slow_reconnects": 0, "job_got": 0}
lock = threading.Lock()

def raw_worker(rcvbuf):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((BE_HOST, BE_PORT))
    st = b"DEALER" if queue else b"PULL"
    greeting = b"\xff" + b"\0" * 8 + b"\x7f\x03\x01" + b"NULL".ljust(20, b"\0") + b"\0" * 32
    ready = b"\x05READY\x0bSocket-Type" + struct.pack(">I", len(st)) + st
    s.sendall(greeting + bytes([0x04, len(ready)]) + ready)
    return s

def deaf_loop():
    while not stop.is_set():
        try:
            s = raw_worker(a.rcvbuf)
        except OSError:
            time.sleep(0.05); continue
        with lock: stats["deaf_conns"] += 1
        p = select.poll(); p.register(s, select.POLLRDHUP | select.POLLERR | select.POLLHUP)
        closed = False
        while not stop.is_set():
            if p.poll(100):
                closed = True; break
        s.close()
        if closed:
            with lock: stats["deaf_closed"] += 1
        if a.no_reconnect:
            return

def trickle_loop(nbytes, period):
    while not stop.is_set():
        try:
            s = raw_worker(a.rcvbuf)
        except OSError:
            time.sleep(0.05); continue
        with lock: stats["trickle_conns"] += 1
        s.settimeout(0.2)
        ok = True
        while ok and not stop.is_set():
            t0 = time.monotonic(); got = 0
            while got < nbytes and not stop.is_set():
                try:
                    d = s.recv(nbytes - got)
                except socket.timeout:
                    continue
                except OSError:
                    ok = False; break
                if not d:
                    ok = False; break
                got += len(d)
            with lock: stats["trickle_read"] += got
            if a.ping:
                try: s.sendall(b"\x04\x07\x04PING\x00\x00")
                except OSError: ok = False
            while not stop.is_set() and time.monotonic() - t0 < period:
                time.sleep(0.05)
        s.close()

def zsock(t, ep, **opts):
    s = ctx.socket(t)
    for k, v in opts.items(): s.setsockopt(getattr(zmq, k), v)
    s.connect(ep); return s

got_normal = [0] * a.normal
first_after = [None]
def normal_loop(i):
    s = zsock(zmq.DEALER if queue else zmq.PULL, "tcp://%s:%d" % (BE_HOST, BE_PORT), RCVTIMEO=200, LINGER=0)
    while not stop.is_set():
        try: m = s.recv_multipart()
        except zmq.Again: continue
        got_normal[i] += 1
        if queue: s.send_multipart(m[:-1] + [b"ok"])

def slow_loop(rate):
    # a libzmq worker on a "slow link": RCVHWM=1, small RCVBUF, takes a message and then
    # waits size/rate before the next recv (as if the message took that long to come).
    s = zsock(zmq.DEALER if queue else zmq.PULL, "tcp://%s:%d" % (BE_HOST, BE_PORT),
              RCVHWM=1, RCVBUF=4096, RCVTIMEO=200, LINGER=0)
    while not stop.is_set():
        try: m = s.recv_multipart()
        except zmq.Again: continue
        with lock: stats["slow_got"] += 1
        if queue: s.send_multipart(m[:-1] + [b"ok"])
        t0 = time.monotonic()
        while not stop.is_set() and time.monotonic() - t0 < a.size / rate:
            time.sleep(0.05)

def job_loop(job):
    s = zsock(zmq.DEALER if queue else zmq.PULL, "tcp://%s:%d" % (BE_HOST, BE_PORT),
              RCVHWM=1, RCVTIMEO=200, LINGER=0)
    while not stop.is_set():
        try: m = s.recv_multipart()
        except zmq.Again: continue
        with lock: stats["job_got"] += 1
        t0 = time.monotonic()
        while not stop.is_set() and time.monotonic() - t0 < job:
            time.sleep(0.05)
        if queue: s.send_multipart(m[:-1] + [b"ok"])

def link_proxy(rate):
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", BE_PORT + 50)); ls.listen(8)
    def serve(c):
        u = socket.socket(); u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.link_buf)
        u.connect((BE_HOST, BE_PORT))
        def up():
            try:
                while True:
                    d = c.recv(65536)
                    if not d: break
                    u.sendall(d)
            except OSError: pass
            try: u.shutdown(socket.SHUT_WR)
            except OSError: pass
        threading.Thread(target=up, daemon=True).start()
        tick = 0.05; credit = 0.0; last = time.monotonic()
        try:
            while True:
                time.sleep(tick)
                now = time.monotonic(); credit += rate * (now - last); last = now
                credit = min(credit, rate * 0.2)
                n = int(credit)
                if n <= 0: continue
                u.setblocking(False)
                try: d = u.recv(n)
                except BlockingIOError: continue
                finally: u.setblocking(True)
                if not d: break
                credit -= len(d)
                with lock: stats["link_bytes"] = stats.get("link_bytes", 0) + len(d)
                c.sendall(d)
        except OSError: pass
        with lock: stats["link_closed"] = stats.get("link_closed", 0) + 1
        try: c.close()
        except OSError: pass
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()

def link_worker():
    s = zsock(zmq.DEALER if queue else zmq.PULL, "tcp://127.0.0.1:%d" % (BE_PORT + 50), RCVTIMEO=200, LINGER=0)
    while not stop.is_set():
        try: m = s.recv_multipart()
        except zmq.Again: continue
        with lock: stats["link_got"] = stats.get("link_got", 0) + 1
        if queue: s.send_multipart(m[:-1] + [b"ok"])

threads = [threading.Thread(target=normal_loop, args=(i,), daemon=True) for i in range(a.normal)]
threads += [threading.Thread(target=deaf_loop, daemon=True) for _ in range(a.deaf)]
if a.trickle:
    nb, per = a.trickle.split(":")
    threads += [threading.Thread(target=trickle_loop, args=(int(nb), float(per)), daemon=True) for _ in range(a.trickles)]
if a.slow_rate:
    threads.append(threading.Thread(target=slow_loop, args=(a.slow_rate,), daemon=True))
if a.job:
    threads.append(threading.Thread(target=job_loop, args=(a.job,), daemon=True))
if a.link_rate:
    threading.Thread(target=link_proxy, args=(a.link_rate,), daemon=True).start()
    time.sleep(0.2)
    threads.append(threading.Thread(target=link_worker, daemon=True))
for t in threads: t.start()
time.sleep(1.0)
prod = zsock(zmq.DEALER if queue else zmq.PUSH, FE, SNDTIMEO=100, LINGER=0)
payload = b"z" * a.size
sent = 0; t0 = time.monotonic(); timeline = []
last_mark = t0
while time.monotonic() - t0 < a.secs:
    try:
        prod.send_multipart(([b""] if queue else []) + [b"%d" % sent, payload]); sent += 1
    except zmq.Again:
        pass
    if queue:
        try:
            while True: prod.recv_multipart(zmq.NOBLOCK)
        except zmq.Again: pass
    if time.monotonic() - last_mark >= 5:
        last_mark += 5; timeline.append(sum(got_normal))
time.sleep(1.0)
stop.set()
timeline.append(sum(got_normal))
out = {"secs": a.secs, "size": a.size, "sent": sent, "normal_got": got_normal, "normal_per_5s_cum": timeline}
out.update(stats)
print(json.dumps(out))
sys.stdout.flush()
import os; os._exit(0)
