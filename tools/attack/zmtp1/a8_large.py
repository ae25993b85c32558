# streamer --memory-max 40M --max-msg-size 64M: 1.0 producer sends big frames; workers: sys.argv[1] = v1|zmq (slow reader 2MB/s); a small libzmq flow beside
import zmq, time, sys, socket, threading
from v1lib import *
ctx=zmq.Context()
wk, pk = sys.argv[1], sys.argv[2]
p=broker('streamer','tcp://127.0.0.1:9565','tcp://127.0.0.1:9566',f'large-{pk}-{wk}','--memory-max','40M','--max-msg-size','64M')
BIG=30<<20
res={}
def slow_v1_worker():
    s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536); s.connect(('127.0.0.1',9566)); s.sendall(frame(b'W1'))
    n=0; t0=time.time(); s.settimeout(3)
    try:
        while n<10+3*(BIG+10)+200 and time.time()-t0<25:
            d=s.recv(65536)
            if not d: break
            n+=len(d); time.sleep(0.02)  # ~3 MB/s
    except socket.timeout: pass
    res['w']=(n, time.time()-t0); s.close()
def slow_zmq_worker():
    s=ctx.socket(zmq.PULL); s.RCVHWM=1; s.connect('tcp://127.0.0.1:9566'); s.RCVTIMEO=3000; n=0; t0=time.time()
    try:
        while time.time()-t0<25:
            m=s.recv(); n+=len(m); time.sleep(len(m)/3e6)
    except zmq.Again: pass
    res['w']=(n,time.time()-t0); s.close(linger=0)
t=threading.Thread(target=slow_v1_worker if wk=='v1' else slow_zmq_worker); t.start(); time.sleep(0.3)
small_pull=None
def sender():
    t0=time.time()
    if pk=='v1':
        s=socket.socket(); s.connect(('127.0.0.1',9565)); s.sendall(frame(b'P1'))
        for i in range(3): s.sendall(frame(b'B'*BIG))
    else:
        s=ctx.socket(zmq.PUSH); s.connect('tcp://127.0.0.1:9565')
        for i in range(3): s.send(b'B'*BIG)
    res['p']=time.time()-t0
    time.sleep(20); s.close()
ts=threading.Thread(target=sender,daemon=True); ts.start()
# small flow: separate producer; small msgs go to the same worker pool => measure latency of rss and zedge
peak=0
for i in range(40):
    time.sleep(0.5); r=int(rss(p)[:-2]); peak=max(peak,r)
    if 'w' in res: break
t.join()
print(f'prod={pk} worker={wk}: worker read {res["w"][0]/2**20:.1f} MiB in {res["w"][1]:.1f}s; sender done in {res.get("p")}; peak rss {peak/1024:.1f} MiB')
stop(p)
for l in open(f'/tmp/v1a-large-{pk}-{wk}.log'):
    if 'accepted' not in l and 'listening' not in l and 'DEBUG' not in l: print(' ',l.rstrip()[:300])
