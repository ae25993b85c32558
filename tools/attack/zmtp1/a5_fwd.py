# forwarder: what a 1.0 publisher receives (subscriptions) from zedge vs libzmq XSUB; 1.0 subscriber gets what
import zmq, time
from v1lib import *
ctx=zmq.Context()
# libzmq XSUB with subscriptions, 1.0 pub connecting
x=ctx.socket(zmq.XSUB); x.bind('tcp://127.0.0.1:9550'); x.send(b'\x01top'); x.send(b'\x01'); x.send(b'\x00top')
s=conn(9550); s.sendall(frame(b'PUB1')); got,st=recv_some(s,0.6); print('libzmq XSUB -> 1.0 pub:', got, st); s.close(); x.close(linger=0)
p=broker('forwarder','tcp://127.0.0.1:9551','tcp://127.0.0.1:9552','fwd')
sub=ctx.socket(zmq.SUB); sub.setsockopt(zmq.SUBSCRIBE,b'top'); sub.setsockopt(zmq.SUBSCRIBE,b''); sub.connect('tcp://127.0.0.1:9552'); time.sleep(0.3)
s=conn(9551); s.sendall(frame(b'PUB1')); got,st=recv_some(s,0.6); print('zedge XSUB -> 1.0 pub:', got, st)
sub.setsockopt(zmq.UNSUBSCRIBE,b'top'); got,st=recv_some(s,0.4); print('  after unsubscribe:', got, st)
# 1.0 publisher sends messages starting with 0x01 / 0x00
s.sendall(msg([b'\x01sub-looking'])+msg([b'\x00unsub-looking'])+msg([b'top',b'2part'])); sub.RCVTIMEO=800
for i in range(3):
    try: print('  sub got', sub.recv_multipart())
    except zmq.Again: print('  sub timeout')
# 1.0 subscriber on backend: what it gets; does it send anything that matters
s2=conn(9552); s2.sendall(frame(b'SUB1')); time.sleep(0.3)
s.sendall(msg([b'hello',b'world'])); got,st=recv_some(s2,0.6); print('1.0 sub got', parse_v1(got[10:]) , st, 'head', got[:10])
got,st=recv_some(s,0.4); print('1.0 pub got after 1.0 sub joined', got, st)
# 1.0 subscriber sends a "subscription"-looking message
s2.sendall(msg([b'\x01zzz'])+msg([b'\x00']))
got,st=recv_some(s,0.4); print('1.0 pub got after 1.0 sub sent \\x01zzz,\\x00:', got, st)
s.sendall(msg([b'after']))
print('  sub got', sub.recv_multipart()); got,st=recv_some(s2,0.5); print('  1.0 sub got', parse_v1(got), st)
s2.close(); time.sleep(0.3); got,st=recv_some(s,0.4); print('1.0 pub got after 1.0 sub left', got, st)
s.close(); sub.close(linger=0); stop(p)
for l in open('/tmp/v1a-fwd.log'):
    if 'accepted' not in l and 'listening' not in l: print(' ',l.rstrip()[:250])
