# streamer: a producer (1.0 or 3.x raw) sends a 10MB frame's header + 1MB of body then stalls; a libzmq producer's small msgs to the one libzmq worker
import zmq, time, socket, struct, sys
from v1lib import *; from z3lib import *
ctx=zmq.Context()
kind=sys.argv[1]; extra=sys.argv[2:]
p=broker('streamer','tcp://127.0.0.1:9590','tcp://127.0.0.1:9591',f'cut-{kind}','--max-msg-size','64M',*extra)
w=ctx.socket(zmq.PULL); w.connect('tcp://127.0.0.1:9591'); time.sleep(0.3)
s=conn(9590)
BIG=10<<20
if kind=='v1': s.sendall(frame(b'CUT')+b'\xff'+struct.pack('>Q',BIG+1)+b'\x00')
else: s.sendall(greeting()+ready(b'PUSH')+b'\x02'+struct.pack('>Q',BIG))
s.sendall(b'c'*(1<<20)); time.sleep(0.3)
good=ctx.socket(zmq.PUSH); good.connect('tcp://127.0.0.1:9590'); time.sleep(0.2)
t0=time.time(); 
for i in range(5): good.send(b'small%d'%i)
w.RCVTIMEO=500; got=[]
while time.time()-t0<12 and len([g for g in got if g.startswith(b'small')])<5:
    try:
        m=w.recv(); got.append(m[:8] if len(m)<100 else b'BIG%d'%len(m)); 
        if m.startswith(b'small'): print(' small arrived at %.2fs'%(time.time()-t0))
    except zmq.Again: pass
print(kind, 'worker got', got[:8], 'in %.1fs'%(time.time()-t0))
try: s.settimeout(0.3); print(' cut producer:', s.recv(100)[10:] or 'EOF')
except socket.timeout: print(' cut producer still open')
except OSError as e: print(' cut producer',e)
s.close(); good.close(linger=0); w.close(linger=0); stop(p)
for l in open(f'/tmp/v1a-cut-{kind}.log'):
    if 'accepted' not in l and 'listening' not in l and 'DEBUG' not in l: print(' ',l.rstrip()[:300])
