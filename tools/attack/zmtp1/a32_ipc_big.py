# a 4MB message to an actively reading raw worker: transport (ipc|tcp) x producer (v1|z3|zmq) x worker (v1|z3)
import zmq, time, socket, os, sys
from v1lib import *; from z3lib import *
ctx=zmq.Context()
tr, pk, wk = sys.argv[1], sys.argv[2], sys.argv[3]
SZ=4<<20
if tr=='ipc':
    for f in ('/tmp/v1a-fe.ipc','/tmp/v1a-be.ipc'):
        try: os.unlink(f)
        except FileNotFoundError: pass
    fe,be='ipc:///tmp/v1a-fe.ipc','ipc:///tmp/v1a-be.ipc'
else: fe,be='tcp://127.0.0.1:9534','tcp://127.0.0.1:9535'
name=f'big-{tr}-{pk}-{wk}'
p=broker('streamer',fe,be,name,'--max-msg-size','16M')
def rconn(ep):
    if ep.startswith('ipc'): s=socket.socket(socket.AF_UNIX); s.connect(ep[6:])
    else: s=socket.socket(); s.connect(('127.0.0.1',int(ep.rsplit(':',1)[1])))
    return s
w=rconn(be); w.sendall(frame(b'W') if wk=='v1' else greeting()+ready(b'PULL')); time.sleep(0.2)
if pk=='zmq':
    pr=ctx.socket(zmq.PUSH); pr.connect(fe); time.sleep(0.2); pr.send_multipart([b'a',b'b']); pr.send(b'X'*SZ)
else:
    pr=rconn(fe)
    import threading
    data=(frame(b'P')+msg([b'a',b'b'])+msg([b'X'*SZ])) if pk=='v1' else (greeting()+ready(b'PUSH')+f3(b'a',True)+f3(b'b')+f3(b'X'*SZ))
    threading.Thread(target=pr.sendall,args=(data,),daemon=True).start()
buf=b''; w.settimeout(2); t0=time.time()
try:
    while time.time()-t0<8:
        d=w.recv(1<<20)
        if not d: break
        buf+=d
        if len(buf)>=SZ+10: break
except socket.timeout: pass
print(f'{name}: worker received {len(buf)} bytes (want > {SZ}) in {time.time()-t0:.1f}s')
w.close(); pr.close() if pk!='zmq' else pr.close(linger=0); stop(p)
for l in open(f'/tmp/v1a-{name}.log'):
    if 'disconnected' in l and 'backend' in l: print(' ',l.rstrip()[:300])
