# Streamer (or queue-less) scenario: zedge streamer on 9970/9971 (NULL), libzmq PUSH producer RATE msgs/s of SIZE,
# one live libzmq PULL worker (optionally pausing: reads RUN s, sleeps PAUSE s, repeatedly), and N raw hostile
# PULL workers: mode deaf | trickle:BYTES:GAP (recv BYTES every GAP s) ; SO_RCVBUF RCVBUF.
import zmq, sys, time, struct, json, argparse, threading, socket, subprocess, shlex, os, re, collections
from zmtp import greeting, ready, recvn, read_frame
ap = argparse.ArgumentParser()
ap.add_argument('--name', required=True); ap.add_argument('--zargs', default='')
ap.add_argument('--rate', type=float, default=200); ap.add_argument('--size', type=int, default=65536)
ap.add_argument('--secs', type=float, default=12); ap.add_argument('--n', type=int, default=0)
ap.add_argument('--mode', default='deaf'); ap.add_argument('--rcvbuf', type=int, default=4096)
ap.add_argument('--run', type=float, default=0); ap.add_argument('--pause', type=float, default=0)
ap.add_argument('--live-late', type=float, default=0, help='live worker connects this long after the producer starts')
ap.add_argument('--att-early', type=float, default=1.0)
ap.add_argument('--drain', type=float, default=3.0)
a = ap.parse_args()
Z = os.environ.get('ZEDGE_BIN', '/work/att18-target/release/zedge')
os.makedirs('logs', exist_ok=True); lf = open(f'logs/{a.name}.zedge.log', 'w')
z = subprocess.Popen([Z, 'streamer', '--frontend', 'tcp://127.0.0.1:9970', '--backend', 'tcp://127.0.0.1:9971', '-v'] + shlex.split(a.zargs), stdout=lf, stderr=lf)
time.sleep(0.5)
stop = threading.Event(); hst = {'closed': 0, 'bytes': 0}
def hostile():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf); s.connect(('127.0.0.1', 9971))
    s.sendall(greeting()); recvn(s, 64); s.sendall(ready(b'PULL')); read_frame(s)
    if a.mode == 'deaf':
        while not stop.is_set(): time.sleep(0.2)
    else:
        _, b, g = a.mode.split(':'); b = int(b); g = float(g)
        s.settimeout(0.05)
        while not stop.is_set():
            try:
                c = s.recv(b)
                if not c: hst['closed'] += 1; return
                hst['bytes'] += len(c)
            except socket.timeout: pass
            except OSError: hst['closed'] += 1; return
            time.sleep(g)
    s.close()
hs = [threading.Thread(target=hostile, daemon=True) for _ in range(a.n)]
for t in hs: t.start()
time.sleep(a.att_early)
c = zmq.Context(); got = {}; lats = []
def live():
    time.sleep(a.live_late)
    w = c.socket(zmq.PULL); w.connect('tcp://127.0.0.1:9971'); t0 = time.time()
    nxt_pause = t0 + a.run if a.run else None
    while not (stop.is_set() and not w.poll(0)):
        if w.poll(50):
            m = w.recv(); seq, ts = struct.unpack('>Qd', m[:16]); got[seq] = time.time() - ts
        if nxt_pause and time.time() >= nxt_pause:
            time.sleep(a.pause); nxt_pause = time.time() + a.run
    w.close(linger=0)
lt = threading.Thread(target=live); lt.start()
p = c.socket(zmq.PUSH); p.setsockopt(zmq.SNDHWM, 1000000); p.connect('tcp://127.0.0.1:9970'); time.sleep(0.5)
n = int(a.rate * a.secs); t0 = time.time(); body = b'x' * (a.size - 16)
for i in range(n):
    d = t0 + i / a.rate - time.time()
    if d > 0: time.sleep(d)
    p.send(struct.pack('>Qd', i, time.time()) + body)
time.sleep(a.drain); stop.set(); lt.join(10)
L = sorted(got.values()); cum = [sum(1 for q in got if q < k * a.rate * 4) for k in range(1, int(a.secs / 4) + 1)]
alive = z.poll() is None; z.terminate(); z.wait(5); lf.close()
txt = open(f'logs/{a.name}.zedge.log').read()
out = {'sent': n, 'live_got': len(got), 'cum_by_seq_4s': cum, 'p50': round(L[len(L)//2], 3) if L else None, 'p99': round(L[int(len(L)*.99)-1], 3) if L else None, 'max': round(L[-1], 3) if L else None, 'late>1s': sum(1 for x in L if x > 1), 'hostile_bytes': hst['bytes'], 'hostile_closed': hst['closed'], 'zedge_alive': alive}
print(f'== {a.name}: {" ".join(sys.argv[1:])}\n  ' + json.dumps(out))
for l in txt.splitlines():
    if 'messages in' in l or 'dropped' in l or 'panic' in l.lower(): print('  ' + l[25:220])
print('  closings:', collections.Counter(re.sub(r'.*closing: ', '', l)[:70] for l in txt.splitlines() if 'closing:' in l).most_common(3))
c.destroy(linger=0)
