# queue: a deaf client (1.0 raw or 3.x raw) sends 3000 requests, never reads; libzmq echo worker (16K replies); normal libzmq client latency
import zmq, time, socket, threading, sys
from v1lib import *; from z3lib import *
ctx=zmq.Context()
kind=sys.argv[1]
p=broker('queue','tcp://127.0.0.1:9585','tcp://127.0.0.1:9586',f'qstall-{kind}')
stop_ev=threading.Event()
def worker():
    w=ctx.socket(zmq.DEALER); w.connect('tcp://127.0.0.1:9586'); w.RCVTIMEO=200
    while not stop_ev.is_set():
        try: m=w.recv_multipart()
        except zmq.Again: continue
        w.send_multipart(m[:-1]+[b'R'*16384])
    w.close(linger=0)
threading.Thread(target=worker,daemon=True).start(); time.sleep(0.3)
d=socket.socket(); d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); d.connect(('127.0.0.1',9585))
if kind=='v1': d.sendall(frame(b'DEAF')); req=msg([b'',b'q'])
else: d.sendall(greeting()+ready(b'DEALER')); req=f3(b'',True)+f3(b'q')
d.settimeout(2)
sent=0
try:
    for i in range(3000): d.sendall(req); sent+=1
except (socket.timeout, OSError) as e: print('deaf send stopped', e)
good=ctx.socket(zmq.REQ); good.connect('tcp://127.0.0.1:9585'); good.RCVTIMEO=3000; time.sleep(0.2)
lat=[]
for i in range(50):
    t0=time.time(); good.send(b'x')
    try: good.recv(); lat.append(time.time()-t0)
    except zmq.Again: print('good client timeout at', i); break
    time.sleep(0.05)
lat.sort()
print(f'{kind}: deaf sent {sent}; good client {len(lat)}/50 replies; median {lat[len(lat)//2]*1000 if lat else -1:.1f}ms max {lat[-1]*1000 if lat else -1:.1f}ms; rss {rss(p)}')
time.sleep(1)
try: d.settimeout(0.2); x=d.recv(10); print(' deaf conn still open' if x else ' deaf conn closed')
except socket.timeout: print(' deaf conn still open (nothing)')
except OSError as e: print(' deaf conn', e)
stop_ev.set(); d.close(); good.close(linger=0); time.sleep(0.3); stop(p)
for l in open(f'/tmp/v1a-qstall-{kind}.log'):
    if 'accepted' not in l and 'listening' not in l and 'DEBUG' not in l: print(' ',l.rstrip()[:300])
