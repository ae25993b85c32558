import zmq, time
from v1lib import *
ctx=zmq.Context()
for kind in (zmq.XSUB, zmq.SUB):
    x=ctx.socket(kind); x.bind('tcp://127.0.0.1:9553')
    s=conn(9553); s.sendall(frame(b'PUB1')); time.sleep(0.3)
    if kind==zmq.XSUB: x.send(b'\x01top')
    else: x.setsockopt(zmq.SUBSCRIBE,b'top')
    got,st=recv_some(s,0.6); print(kind, 'libzmq -> 1.0 pub after connect:', got, st); s.close(); x.close(linger=0); time.sleep(0.2)
# libzmq connecting to a raw 1.0 pub server
srv=socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR,1); srv.bind(('127.0.0.1',9554)); srv.listen()
x=ctx.socket(zmq.SUB); x.setsockopt(zmq.SUBSCRIBE,b'top'); x.connect('tcp://127.0.0.1:9554'); c,_=srv.accept(); c.sendall(frame(b'')); got,st=recv_some(c,0.6); print('libzmq SUB connecting -> 1.0 pub server:', got, st)
