import zmq, time, socket
from v1lib import *; from z3lib import *
ctx=zmq.Context()
p=broker('streamer','tcp://127.0.0.1:9575','tcp://127.0.0.1:9576','junk3')
push=ctx.socket(zmq.PUSH); push.connect('tcp://127.0.0.1:9575'); time.sleep(0.2)
c=conn(9576); c.sendall(greeting()+ready(b'PULL')); time.sleep(0.3); print(recv_some(c,0.3)[1])
c.sendall(f3(b'junk-to-push')*3); push.send(b'm1'); got,st=recv_some(c,0.5); print('3.x worker got', got[-6:], st)
c.close(); push.close(linger=0); time.sleep(0.2); stop(p)
for l in open('/tmp/v1a-junk3.log'):
    if 'connected' in l or 'stopped' in l: print(' ',l.rstrip()[:300])
