# max-msg-size 64K is for all frames together: a message of N frames of 40K each, 1.0 vs 3.x raw producer
import zmq, time, socket, sys, threading
from v1lib import *; from z3lib import *
ctx=zmq.Context()
kind=sys.argv[1]; N=int(sys.argv[2])
p=broker('streamer','tcp://127.0.0.1:9538','tcp://127.0.0.1:9539',f'msgsize-{kind}','--max-msg-size','64K')
w=ctx.socket(zmq.PULL); w.RCVHWM=1; w.connect('tcp://127.0.0.1:9539'); w.RCVTIMEO=3000; time.sleep(0.3)
s=conn(9538)
part=b'y'*40000
if kind=='v1': data=frame(b'P')+b''.join(frame(part, i<N-1) for i in range(N))
else: data=greeting()+ready(b'PUSH')+b''.join(f3(part, i<N-1) for i in range(N))
threading.Thread(target=lambda: s.sendall(data), daemon=True).start()
peak=0; t0=time.time()
try:
    m=w.recv_multipart(); print(kind, f'N={N}: worker got a message of {len(m)} parts, {sum(map(len,m))} bytes (limit 65536)')
except zmq.Again: print(kind, f'N={N}: worker got nothing')
print(' rss', rss(p))
s.close(); w.close(linger=0); stop(p)
for l in open(f'/tmp/v1a-msgsize-{kind}.log'):
    if 'disconnected' in l or 'refused' in l: print(' ',l.rstrip()[:300])
