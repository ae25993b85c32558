# forwarder: raw publisher (1.0 or 3.x) never reads, publishes 20 msg/s; libzmq subscribers churn subscriptions (long topics); does the pub get closed / its flow stop?
import zmq, time, socket, sys, threading
from v1lib import *; from z3lib import *
ctx=zmq.Context()
kind=sys.argv[1]
p=broker('forwarder','tcp://127.0.0.1:9507','tcp://127.0.0.1:9508',f'deafpub-{kind}')
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); s.connect(('127.0.0.1',9507))
s.sendall(frame(b'PUB') if kind=='v1' else greeting()+ready(b'PUB'))
watch=ctx.socket(zmq.SUB); watch.setsockopt(zmq.SUBSCRIBE,b'data'); watch.connect('tcp://127.0.0.1:9508'); time.sleep(0.3)
churn=ctx.socket(zmq.XSUB if False else zmq.SUB); churn.connect('tcp://127.0.0.1:9508')
got=0; sent=0; t0=time.time(); k=0; err=None
while time.time()-t0<8:
    for j in range(100):
        t=b'T%06d'%k + b'x'*250; churn.setsockopt(zmq.SUBSCRIBE,t); churn.setsockopt(zmq.UNSUBSCRIBE,t); k+=1
    try: s.send(msg([b'data', b'%d'%sent])); sent+=1
    except OSError as e: err=e; break
    try:
        while True: watch.recv_multipart(zmq.NOBLOCK); got+=1
    except zmq.Again: pass
    time.sleep(0.05)
time.sleep(0.5)
try:
    while True: watch.recv_multipart(zmq.NOBLOCK); got+=1
except zmq.Again: pass
import subprocess
print(kind, f'sub churn {k}x2 ({k*2*258/1e6:.1f} MB of subscriptions); pub sent {sent}, watcher got {got}, err {err}, rss {rss(p)}')
print(subprocess.run("ss -tn 'dport = :9507' | tail -1",shell=True,capture_output=True,text=True).stdout.strip())
s.close(); churn.close(linger=0); watch.close(linger=0); stop(p)
for l in open(f'/tmp/v1a-deafpub-{kind}.log'):
    if 'accepted' not in l and 'listening' not in l and 'DEBUG' not in l: print(' ',l.rstrip()[:300])
