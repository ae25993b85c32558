# qdeaf.py: zedge queue (NULL) on 9970/9971; a libzmq DEALER client sends RATE requests/s of SIZE for SECS; one libzmq
# echo worker (ROUTER-less: DEALER echo) pausing PAUSE s every RUN s (0: never); N raw DEALER workers (deaf or trickle),
# optionally reconnected every CHURN s. Reports replies, latency, requests never answered.
import zmq, sys, time, struct, json, argparse, threading, socket, subprocess, shlex, os, re, collections
from zmtp import greeting, ready, recvn, read_frame
ap = argparse.ArgumentParser()
ap.add_argument('--name', required=True); ap.add_argument('--zargs', default='')
ap.add_argument('--rate', type=float, default=200); ap.add_argument('--size', type=int, default=65536)
ap.add_argument('--secs', type=float, default=12); ap.add_argument('--n', type=int, default=0)
ap.add_argument('--churn', type=float, default=0); ap.add_argument('--read', action='store_true'); ap.add_argument('--run', type=float, default=0); ap.add_argument('--pause', type=float, default=0)
a = ap.parse_args()
Z = os.environ.get('ZEDGE_BIN', '/work/att18-target/release/zedge')
lf = open(f'logs/{a.name}.zedge.log', 'w')
z = subprocess.Popen([Z, 'queue', '--frontend', 'tcp://127.0.0.1:9970', '--backend', 'tcp://127.0.0.1:9971', '-v'] + shlex.split(a.zargs), stdout=lf, stderr=lf)
time.sleep(0.5); stop = threading.Event(); hst = {'conns': 0}
def deaf():
    while not stop.is_set():
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); s.connect(('127.0.0.1', 9971))
        s.sendall(greeting()); recvn(s, 64); s.sendall(ready(b'DEALER')); read_frame(s); hst['conns'] += 1
        t0 = time.time()
        s.settimeout(0.05)
        while not stop.is_set() and (not a.churn or time.time() - t0 < a.churn):
            if a.read:
                try: s.recv(1 << 20)
                except socket.timeout: pass
            else: time.sleep(0.05)
        s.close()
for _ in range(a.n): threading.Thread(target=deaf, daemon=True).start()
c = zmq.Context()
def worker():
    w = c.socket(zmq.DEALER); w.connect('tcp://127.0.0.1:9971'); t0 = time.time(); nxt = t0 + a.run if a.run else None
    while not stop.is_set():
        if w.poll(50): w.send_multipart(w.recv_multipart())
        if nxt and time.time() >= nxt: time.sleep(a.pause); nxt = time.time() + a.run
    w.close(0)
threading.Thread(target=worker, daemon=True).start(); time.sleep(1.0)
cl = c.socket(zmq.DEALER); cl.setsockopt(zmq.SNDHWM, 100000); cl.setsockopt(zmq.RCVHWM, 100000); cl.connect('tcp://127.0.0.1:9970'); time.sleep(0.3)
got = {}
def rd():
    while not stop.is_set():
        if cl.poll(50):
            m = cl.recv_multipart()[-1]; seq, ts = struct.unpack('>Qd', m[:16]); got[seq] = time.time() - ts
threading.Thread(target=rd, daemon=True).start()
n = int(a.rate * a.secs); t0 = time.time(); body = b'x' * (a.size - 16)
for i in range(n):
    d = t0 + i / a.rate - time.time()
    if d > 0: time.sleep(d)
    cl.send_multipart([b'', struct.pack('>Qd', i, time.time()) + body])
time.sleep(3); stop.set(); time.sleep(0.3)
L = sorted(got.values()); alive = z.poll() is None; z.terminate(); z.wait(5); lf.close()
print(f'== {a.name}: ' + json.dumps({'sent': n, 'replies': len(got), 'p50': round(L[len(L)//2], 3) if L else None, 'p99': round(L[int(len(L)*.99)-1], 3) if L else None, 'max': round(L[-1], 3) if L else None, 'late>1s': sum(1 for x in L if x > 1), 'deaf_conns': hst['conns'], 'alive': alive}))
c.destroy(linger=0)
