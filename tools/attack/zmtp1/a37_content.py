# content integrity: random bodies of awkward sizes, libzmq producer -> 1.0 worker and 1.0 producer -> libzmq worker, queue round trip with 1.0 worker
import zmq, time, socket, os, threading, hashlib
from v1lib import *
ctx=zmq.Context()
sizes=[0,1,253,254,255,65535,65536,65537,262143,262144,1<<20,(1<<20)+1,3_000_001]
bodies=[os.urandom(n) for n in sizes]
p=broker('streamer','tcp://127.0.0.1:9547','tcp://127.0.0.1:9548','content','--max-msg-size','8M')
w=socket.socket(); w.connect(('127.0.0.1',9548)); w.sendall(frame(b'W')); time.sleep(0.2)
pr=ctx.socket(zmq.PUSH); pr.connect('tcp://127.0.0.1:9547'); time.sleep(0.2)
for b in bodies: pr.send_multipart([b'h',b])
want=sum(10+len(b)+5+ (2 if len(b)+1<255 else 10) for b in bodies)+10
buf=b''; w.settimeout(2)
try:
    while len(buf)<want:
        d=w.recv(1<<20)
        if not d: break
        buf+=d
except socket.timeout: pass
fr,rest=parse_v1(buf[10:])
got=[b for f,b in fr][1::2]
print('zmq->1.0 worker:', 'OK' if got==bodies else f'MISMATCH got {len(got)} {[len(g) for g in got]} rest {len(rest)}')
w.close(); pr.close(linger=0); time.sleep(0.2)
wz=ctx.socket(zmq.PULL); wz.connect('tcp://127.0.0.1:9548'); wz.RCVTIMEO=2000; time.sleep(0.2)
s=conn(9547); s.sendall(frame(b'P'))
threading.Thread(target=lambda: s.sendall(b''.join(msg([b'h',b]) for b in bodies)),daemon=True).start()
got=[]
try:
    for b in bodies: got.append(wz.recv_multipart()[1])
except zmq.Again: pass
print('1.0 producer->zmq worker:', 'OK' if got==bodies else f'MISMATCH {[len(g) for g in got]}')
s.close(); wz.close(linger=0); stop(p)
# queue: libzmq REQ client <-> 1.0 worker echo
p=broker('queue','tcp://127.0.0.1:9549','tcp://127.0.0.1:9550','content-q','--max-msg-size','8M')
ws=conn(9550); ws.sendall(frame(b'W'))
def echo():
    buf=b''; ws.settimeout(0.2); last=time.time()
    while time.time()-last<3:
        try: d=ws.recv(1<<20)
        except socket.timeout: continue
        if not d: return
        buf+=d; last=time.time()
        if buf.startswith(b'\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f'): buf=buf[10:]
        fr,rest=parse_v1(buf)
        # consume whole messages
        msgs=[]; cur=[]; used=0; i=0
        for f,b in fr:
            cur.append(b)
            if not f&1: msgs.append(cur); cur=[]
        if msgs:
            # recompute bytes consumed by complete messages
            n=sum(len(msg(m)) for m in msgs); buf=buf[n:]
            for m in msgs: ws.sendall(msg(m))
threading.Thread(target=echo,daemon=True).start()
c=ctx.socket(zmq.REQ); c.connect('tcp://127.0.0.1:9549'); c.RCVTIMEO=3000; time.sleep(0.2); ok=0
for b in bodies:
    c.send(b)
    try: r=c.recv(); ok+= (r==b)
    except zmq.Again: print(' timeout at', len(b)); break
print('queue REQ <-> 1.0 echo worker:', ok, '/', len(bodies))
c.close(linger=0); ws.close(); stop(p)
