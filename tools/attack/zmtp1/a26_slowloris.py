# streamer: a producer (1.0 or 3.x raw) sends a 10MB frame at ~40KB/s; a libzmq producer's smalls to the one libzmq worker; when do they arrive
import zmq, time, socket, struct, sys, threading
from v1lib import *; from z3lib import *
ctx=zmq.Context()
kind=sys.argv[1]
p=broker('streamer','tcp://127.0.0.1:9520','tcp://127.0.0.1:9521',f'slowloris-{kind}','--max-msg-size','64M')
w=ctx.socket(zmq.PULL); w.connect('tcp://127.0.0.1:9521'); time.sleep(0.3)
s=conn(9520); BIG=10<<20
s.sendall((frame(b'SL')+b'\xff'+struct.pack('>Q',BIG+1)+b'\x00') if kind=='v1' else greeting()+ready(b'PUSH')+b'\x02'+struct.pack('>Q',BIG))
res={}
def trickle():
    t0=time.time(); n=0
    try:
        while n<BIG and time.time()-t0<20: s.sendall(b'c'*4096); n+=4096; time.sleep(0.1)
    except OSError as e: res['err']=(str(e), round(time.time()-t0,1), n)
th=threading.Thread(target=trickle,daemon=True); th.start(); time.sleep(0.5)
good=ctx.socket(zmq.PUSH); good.connect('tcp://127.0.0.1:9520'); time.sleep(0.2)
t0=time.time()
for i in range(5): good.send(b'small%d'%i)
w.RCVTIMEO=500; arrived=[]
while time.time()-t0<20 and len(arrived)<5:
    try:
        m=w.recv()
        if m.startswith(b'small'): arrived.append(round(time.time()-t0,1))
    except zmq.Again: pass
print(kind, 'smalls arrived at', arrived, 'slow producer:', res.get('err','still sending'))
s.close(); good.close(linger=0); w.close(linger=0); stop(p)
for l in open(f'/tmp/v1a-slowloris-{kind}.log'):
    if 'accepted' not in l and 'listening' not in l and 'DEBUG' not in l and 'connected (' not in l: print(' ',l.rstrip()[:300])
