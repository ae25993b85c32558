# cfwd.py: forwarder, CURVE on the backend (--curve-sides backend), NULL publishers on the frontend.
# bigpub: SIZE bytes on 'big' at RATE/s; ticks 200/s on 'tick'. NSUB libzmq CURVE SUBs of 'big' (full speed),
# one keeper CURVE SUB of 'tick'+'big'. Optional --stall K: K libzmq CURVE SUBs of 'big' whose app never calls recv
# (libzmq reads until RCVHWM messages; --stall-hwm). Reports per-sub got/gaps/disconnects and broker closings.
import zmq, zmq.utils.monitor as zm, sys, time, struct, json, argparse, threading, subprocess, shlex, os, re, collections
ap = argparse.ArgumentParser()
ap.add_argument('--name', required=True); ap.add_argument('--zargs', default='')
ap.add_argument('--size', type=int, default=4 << 20); ap.add_argument('--rate', type=float, default=3)
ap.add_argument('--nsub', type=int, default=3); ap.add_argument('--secs', type=float, default=12)
ap.add_argument('--stall', type=int, default=0); ap.add_argument('--stall-hwm', type=int, default=1)
ap.add_argument('--curve', type=int, default=1); ap.add_argument('--churn', type=float, default=0)
a = ap.parse_args()
Z = os.environ.get('ZEDGE_BIN', '/work/att18-target/release/zedge'); KF = '/tmp/attack18-srv'
SPK = open(KF).read().split('public-key = "')[1].split('"')[0].encode()
lf = open(f'logs/{a.name}.zedge.log', 'w')
co = ['--curve-secret', KF + '_secret', '--curve-sides', 'backend'] if a.curve else []
z = subprocess.Popen([Z, 'forwarder', '--frontend', 'tcp://127.0.0.1:9970', '--backend', 'tcp://127.0.0.1:9971', '-v'] + co + shlex.split(a.zargs), stdout=lf, stderr=lf)
time.sleep(0.5)
c = zmq.Context(io_threads=2); stop = threading.Event()
def mk(topics, hwm=100000):
    s = c.socket(zmq.SUB); s.setsockopt(zmq.RCVHWM, hwm)
    if a.curve:
        pk, sk = zmq.curve_keypair(); s.curve_publickey = pk; s.curve_secretkey = sk; s.curve_serverkey = SPK
    for t in topics: s.setsockopt(zmq.SUBSCRIBE, t)
    mon = s.get_monitor_socket(zmq.EVENT_DISCONNECTED); s.connect('tcp://127.0.0.1:9971'); return s, mon
res = {}
def reader(name, topics):
    s, mon = mk(topics); r = {'big': [], 'tick': [], 'disc': 0, 'maxlat_tick': 0, 'maxlat_big': 0}; res[name] = r
    while not stop.is_set():
        if mon.poll(0):
            e = zm.recv_monitor_message(mon)
            if e['event'] == zmq.EVENT_DISCONNECTED: r['disc'] += 1
        if s.poll(50):
            m = s.recv(); t = 'big' if m.startswith(b'big') else 'tick'; L = len(t)
            seq, ts = struct.unpack('>Qd', m[L:L+16]); r[t].append(seq); k = 'maxlat_' + t; r[k] = max(r[k], time.time() - ts)
    s.close(0); mon.close(0)
ths = [threading.Thread(target=reader, args=('keeper', [b'tick', b'big']))] + [threading.Thread(target=reader, args=(f'sub{i}', [b'big'])) for i in range(a.nsub)]
stalls = [mk([b'big'], a.stall_hwm) for _ in range(a.stall)]
for t in ths: t.start()
def churner():
    global stalls
    while not stop.is_set():
        time.sleep(a.churn)
        old = stalls; stalls = [mk([b'big'], a.stall_hwm) for _ in range(a.stall)]
        for s, m in old: s.close(0); m.close(0)
if a.churn and a.stall: threading.Thread(target=churner, daemon=True).start()
def bigpub():
    p = c.socket(zmq.PUB); p.setsockopt(zmq.SNDHWM, 4); p.connect('tcp://127.0.0.1:9970'); time.sleep(1.0)
    body = b'x' * a.size; t0 = time.time(); i = 0
    while time.time() < t0 + a.secs:
        p.send(b'big' + struct.pack('>Qd', i, time.time()) + body); i += 1
        d = t0 + i / a.rate - time.time()
        if d > 0: time.sleep(d)
    res['bigsent'] = i; time.sleep(1); p.close(0)
bp = threading.Thread(target=bigpub); bp.start()
tp = c.socket(zmq.PUB); tp.setsockopt(zmq.SNDHWM, 100000); tp.connect('tcp://127.0.0.1:9970'); time.sleep(1.0)
n = int(200 * a.secs); t0 = time.time()
for i in range(n):
    d = t0 + i / 200 - time.time()
    if d > 0: time.sleep(d)
    tp.send(b'tick' + struct.pack('>Qd', i, time.time()) + b'p' * 50)
bp.join(); time.sleep(2); stop.set()
for t in ths: t.join()
hwm = [l.strip() for l in open(f'/proc/{z.pid}/status') if l.startswith('VmHWM')]
alive = z.poll() is None; z.terminate(); z.wait(5); lf.close()
txt = open(f'logs/{a.name}.zedge.log').read()
print(f'== {a.name}: {" ".join(sys.argv[1:])} ticks sent {n} bigs sent {res.get("bigsent")}')
for k, r in res.items():
    if not isinstance(r, dict): continue
    b = r['big']; gaps = sum(1 for x, y in zip(b, b[1:]) if y != x + 1)
    miss = sorted(set(range(res.get('bigsent', 0))) - set(b)) if b else []
    print(f'  {k}: miss {miss[:8]} ticks {len(set(r["tick"]))} bigs {len(b)} big_gaps {gaps} disc {r["disc"]} maxlat tick {r["maxlat_tick"]:.3f} big {r["maxlat_big"]:.3f}')
print('  closings:', collections.Counter(re.sub(r'.*closing: ', '', l)[:75] for l in txt.splitlines() if 'closing:' in l).most_common(4))
for l in txt.splitlines():
    if 'dropped' in l and 'while running' in l: print('  ' + l[25:200])
print('  alive', alive, hwm)
c.destroy(linger=0)
