# 1.0 peers over IPC on both sides of a streamer; large messages too
import zmq, time, socket, os
from v1lib import *
ctx=zmq.Context()
for f in ('/tmp/v1a-fe.ipc','/tmp/v1a-be.ipc'):
    try: os.unlink(f)
    except FileNotFoundError: pass
p=broker('streamer','ipc:///tmp/v1a-fe.ipc','ipc:///tmp/v1a-be.ipc','ipc','--max-msg-size','16M')
def uconn(path):
    s=socket.socket(socket.AF_UNIX); s.connect(path); return s
w=uconn('/tmp/v1a-be.ipc'); w.sendall(frame(b'W'))
pr=uconn('/tmp/v1a-fe.ipc'); pr.sendall(frame(b'P')+msg([b'a',b'b'])+msg([b'X'*(4<<20)])); 
buf=b''; w.settimeout(3); t0=time.time()
try:
    while len(buf)<10+4+2+10+(4<<20) and time.time()-t0<5:
        d=w.recv(1<<20)
        if not d: break
        buf+=d
except socket.timeout: pass
fr,rest=parse_v1(buf[10:]); print('ipc worker got', [(f,len(b)) for f,b in fr], 'rest', len(rest), 'sig', buf[:10])
zw=ctx.socket(zmq.PULL); zw.connect('ipc:///tmp/v1a-be.ipc'); time.sleep(0.2)
w.close(); pr.sendall(msg([b'to-zmq'])); zw.RCVTIMEO=1000; print('zmq worker', zw.recv_multipart())
pr.close(); zw.close(linger=0); stop(p)
for l in open('/tmp/v1a-ipc.log'):
    if 'accepted' not in l and 'listening' not in l and 'DEBUG' not in l: print(' ',l.rstrip()[:300])
