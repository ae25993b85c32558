# queue: 1.0 clients with duplicate identities / empty identity; worker sees envelopes; replies routed to whom
import zmq, time
from v1lib import *
ctx=zmq.Context()
p=broker('queue','tcp://127.0.0.1:9560','tcp://127.0.0.1:9561','queue')
w=ctx.socket(zmq.DEALER); w.connect('tcp://127.0.0.1:9561'); w.RCVTIMEO=1000; time.sleep(0.3)
a=conn(9560); a.sendall(frame(b'dup')); 
b=conn(9560); b.sendall(frame(b'dup')); time.sleep(0.3)
c=conn(9560); c.sendall(frame(b'')); time.sleep(0.2)
z=ctx.socket(zmq.DEALER); z.setsockopt(zmq.ROUTING_ID,b'dup'); z.connect('tcp://127.0.0.1:9560'); time.sleep(0.3)
print('a', recv_some(a,0.3)); print('b', recv_some(b,0.3)); print('c', recv_some(c,0.3))
a.sendall(msg([b'',b'from-a'])); b.sendall(msg([b'',b'from-b'])); c.sendall(msg([b'',b'from-c'])); z.send_multipart([b'',b'from-z'])
envs=[]
for i in range(4):
    try: m=w.recv_multipart(); envs.append(m); print(' worker got', m)
    except zmq.Again: print(' worker timeout')
for m in envs: w.send_multipart(m[:-1]+[b'reply-to-'+m[-1]])
time.sleep(0.4)
for n,s in (('a',a),('b',b),('c',c)): print(n,'got', parse_v1(recv_some(s,0.3)[0][10 if n!='x' else 0:]) )
z.RCVTIMEO=300
try: print('z got', z.recv_multipart())
except zmq.Again: print('z got nothing')
a.close(); b.close(); c.close(); z.close(linger=0); w.close(linger=0); stop(p)
for l in open('/tmp/v1a-queue.log'):
    if 'accepted' not in l and 'listening' not in l and 'DEBUG' not in l: print(' ',l.rstrip()[:300])
