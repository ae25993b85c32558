# a producer (1.0 or 3.x raw) sends one message with N empty parts (MORE on all but never a last one), then the same with a last; max-msg-size 64K
import zmq, time, socket, sys
from v1lib import *; from z3lib import *
ctx=zmq.Context()
kind=sys.argv[1]; N=int(sys.argv[2])
p=broker('streamer','tcp://127.0.0.1:9598','tcp://127.0.0.1:9599',f'parts-{kind}','--max-msg-size','64K')
w=ctx.socket(zmq.PULL); w.connect('tcp://127.0.0.1:9599'); w.RCVTIMEO=3000; time.sleep(0.3)
s=conn(9598); s.sendall(frame(b'MP') if kind=='v1' else greeting()+ready(b'PUSH'))
part = frame(b'', True) if kind=='v1' else f3(b'', True)
last = frame(b'end') if kind=='v1' else f3(b'end')
s.settimeout(3); t0=time.time(); sent=0
try:
    for i in range(N//1000): s.sendall(part*1000); sent+=1000
    s.sendall(last)
except (socket.timeout,OSError) as e: print(' send stopped', e, 'after', sent)
print(kind, f'sent {sent} parts in {time.time()-t0:.1f}s; rss {rss(p)}')
try: m=w.recv_multipart(); print(' worker got', len(m), 'parts')
except zmq.Again: print(' worker got nothing')
good=ctx.socket(zmq.PUSH); good.connect('tcp://127.0.0.1:9598'); good.send(b'ok'); 
try: print(' normal flow:', w.recv_multipart()[:1])
except zmq.Again: print(' normal flow: nothing')
s.close(); good.close(linger=0); w.close(linger=0); stop(p)
for l in open(f'/tmp/v1a-parts-{kind}.log'):
    if 'accepted' not in l and 'listening' not in l and 'DEBUG' not in l and 'connected (' not in l: print(' ',l.rstrip()[:300])
