# Normal flow: PUB 200 ticks/s on 'tick', SUB reads; optional big SUB (libzmq) on 'big'.
import zmq, sys, time, struct, threading, argparse, json
ap = argparse.ArgumentParser()
ap.add_argument('--fe', type=int, default=9970); ap.add_argument('--be', type=int, default=9971)
ap.add_argument('--rate', type=float, default=200); ap.add_argument('--secs', type=float, default=15)
ap.add_argument('--bigsub', action='store_true'); ap.add_argument('--tickall', action='store_true')
a = ap.parse_args()
c = zmq.Context()
sub = c.socket(zmq.SUB); sub.setsockopt(zmq.RCVHWM, 100000); sub.setsockopt(zmq.SUBSCRIBE, b'tick')
if a.tickall: sub.setsockopt(zmq.SUBSCRIBE, b'big')
sub.connect(f'tcp://127.0.0.1:{a.be}')
res = {'got':0, 'maxlat':0.0, 'seen':set(), 'late200':0, 'lats':[]}
big = {'got':0, 'maxlat':0.0, 'seqs':[]}
stop = threading.Event()
def rd():
    while not stop.is_set():
        if sub.poll(100):
            m = sub.recv()
            if m.startswith(b'big'): res['bigs'] = res.get('bigs',0)+1; continue
            seq, ts = struct.unpack('>Qd', m[4:20]); lat = time.time()-ts
            res['got'] += 1; res['seen'].add(seq); res['lats'].append((seq,lat)); res['maxlat'] = max(res['maxlat'], lat)
            if lat > 0.2: res['late200'] += 1
def rdbig():
    bs = c.socket(zmq.SUB); bs.setsockopt(zmq.SUBSCRIBE, b'big'); bs.connect(f'tcp://127.0.0.1:{a.be}')
    while not stop.is_set():
        if bs.poll(100):
            m = bs.recv(); seq, ts = struct.unpack('>Qd', m[3:19]); lat = time.time()-ts
            big['got'] += 1; big['seqs'].append(seq); big['maxlat'] = max(big['maxlat'], lat)
ths = [threading.Thread(target=rd)]
if a.bigsub: ths.append(threading.Thread(target=rdbig))
for t in ths: t.start()
pub = c.socket(zmq.PUB); pub.setsockopt(zmq.SNDHWM, 100000); pub.connect(f'tcp://127.0.0.1:{a.fe}')
time.sleep(1.5)
n = int(a.rate*a.secs); t0 = time.time()
for i in range(n):
    d = t0 + i/a.rate - time.time()
    if d > 0: time.sleep(d)
    pub.send(b'tick' + struct.pack('>Qd', i, time.time()) + b'p'*50)
time.sleep(1.5); stop.set()
for t in ths: t.join()
L=sorted(l for _,l in res['lats']); ws=[(l,q) for q,l in res['lats'] if l>0.2][:5]
out = {'sent': n, 'got': res['got'], 'lost': n-len(res['seen']), 'maxlat_ms': round(res['maxlat']*1000,1), 'late>200ms': res['late200'], 'p99_ms': round(L[int(len(L)*0.99)-1]*1000,1) if L else None, 'max_after50_ms': round(max([l for q,l in res['lats'] if q>=50] or [0])*1000,1), 'worst_seqs': [q for l,q in sorted(ws)[-5:]], 'bigs_in_ticksub': res.get('bigs',0)}
if a.bigsub:
    s = big['seqs']; gaps = sum(1 for x,y in zip(s,s[1:]) if y != x+1)
    out['big'] = {'got': big['got'], 'first': s[0] if s else None, 'last': s[-1] if s else None, 'gaps': gaps, 'maxlat_ms': round(big['maxlat']*1000,1)}
print('NORMAL ' + json.dumps(out), flush=True)
c.destroy(linger=0)
