# streamer: stuck worker (1.0 or 3.x raw) reads part of a 10MB message then stops; libzmq worker 2; libzmq producer then sends smalls
import zmq, time, socket, struct, sys
from v1lib import *; from z3lib import *
ctx=zmq.Context()
kind=sys.argv[1]; extra=sys.argv[2:]
p=broker('streamer','tcp://127.0.0.1:9592','tcp://127.0.0.1:9593',f'slowdest-{kind}','--max-msg-size','64M',*extra)
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536); s.connect(('127.0.0.1',9593))
s.sendall(frame(b'STK') if kind=='v1' else greeting()+ready(b'PULL')); time.sleep(0.3)
prod=ctx.socket(zmq.PUSH); prod.connect('tcp://127.0.0.1:9592'); time.sleep(0.2)
prod.send(b'B'*(10<<20)); 
n=0; s.settimeout(1)
while n<(1<<20):
    n+=len(s.recv(65536))
print('stuck worker read', n)
w2=ctx.socket(zmq.PULL); w2.connect('tcp://127.0.0.1:9593'); time.sleep(0.3)
t0=time.time()
for i in range(10): prod.send(b'small%d'%i)
w2.RCVTIMEO=500; got=0
while time.time()-t0<15 and got<10:
    try: w2.recv(); got+=1
    except zmq.Again: pass
print(kind, f'w2 got {got}/10 smalls in {time.time()-t0:.1f}s, rss {rss(p)}')
try: s.settimeout(0.3); d=s.recv(100); print(' stuck worker: data' if d else ' stuck worker EOF')
except socket.timeout: print(' stuck worker still open, nothing')
except OSError as e: print(' stuck',e)
s.close(); prod.close(linger=0); w2.close(linger=0); stop(p)
for l in open(f'/tmp/v1a-slowdest-{kind}.log'):
    if 'accepted' not in l and 'listening' not in l and 'DEBUG' not in l: print(' ',l.rstrip()[:300])
