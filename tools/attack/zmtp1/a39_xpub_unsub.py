# libzmq XPUB and zedge forwarder: a 1.0 SUB sends "\x00" (unsubscribe all) — does it still get messages?
import zmq, time
from v1lib import *
ctx=zmq.Context()
x=ctx.socket(zmq.XPUB); x.bind('tcp://127.0.0.1:9553'); x.RCVTIMEO=300
s=conn(9553); s.sendall(frame(b'S')); time.sleep(0.3)
subs=[]
try:
    while True: subs.append(x.recv())
except zmq.Again: pass
x.send(b'one'); g1,_=recv_some(s,0.3)
s.sendall(msg([b'\x00'])); time.sleep(0.2)
try:
    while True: subs.append(x.recv())
except zmq.Again: pass
x.send(b'two'); g2,_=recv_some(s,0.3)
print('libzmq XPUB saw', subs, '| 1.0 sub got before', g1, 'after unsub', g2)
