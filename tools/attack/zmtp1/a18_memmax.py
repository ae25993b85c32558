# --memory-max 40M: 10 raw producers (1.0 or 3.x) each send a 16MB message; one libzmq worker reading at ~20MB/s; libzmq small flow; peak RSS
import zmq, time, socket, sys, threading, struct
from v1lib import *; from z3lib import *
ctx=zmq.Context()
kind=sys.argv[1]
p=broker('streamer','tcp://127.0.0.1:9503','tcp://127.0.0.1:9504',f'memmax-{kind}','--memory-max','40M','--max-msg-size','32M')
res={'big':0,'small':0}; stop_ev=threading.Event()
def worker():
    w=ctx.socket(zmq.PULL); w.RCVHWM=1; w.connect('tcp://127.0.0.1:9504'); w.RCVTIMEO=200
    while not stop_ev.is_set():
        try: m=w.recv()
        except zmq.Again: continue
        if len(m)>1000: res['big']+=1; time.sleep(len(m)/20e6)
        else: res['small']+=1
    w.close(linger=0)
threading.Thread(target=worker,daemon=True).start(); time.sleep(0.3)
BIG=16<<20
def prod(i):
    try:
        s=conn(9503,timeout=20); s.sendall(frame(b'P%d'%i) if kind=='v1' else greeting()+ready(b'PUSH'))
        s.sendall(frame(b'B'*BIG) if kind=='v1' else f3(b'B'*BIG))
        time.sleep(15); s.close()
    except Exception as e: res.setdefault('err',[]).append(str(e))
ths=[threading.Thread(target=prod,args=(i,),daemon=True) for i in range(10)]
for t in ths: t.start()
good=ctx.socket(zmq.PUSH); good.connect('tcp://127.0.0.1:9503')
peak=0; t0=time.time()
while time.time()-t0<12:
    good.send(b'small'); time.sleep(0.1)
    peak=max(peak,int(rss(p)[:-2]))
stop_ev.set(); time.sleep(0.3)
print(kind, f'big delivered {res["big"]}/10, small {res["small"]}/~120, peak rss {peak/1024:.1f} MiB, errs {res.get("err")}')
good.close(linger=0); stop(p)
for l in open(f'/tmp/v1a-memmax-{kind}.log'):
    if 'accepted' not in l and 'listening' not in l and 'DEBUG' not in l and 'connected (' not in l: print(' ',l.rstrip()[:300])
