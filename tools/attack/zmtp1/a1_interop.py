# compare bytes a raw 1.0 peer gets from zedge vs libzmq 4.3 for each socket type
import zmq, sys, time
from v1lib import *
ctx=zmq.Context()
def probe_libzmq(stype, port, send=None, peer_sends=b''):
    z=ctx.socket(stype); z.setsockopt(zmq.LINGER,0); z.bind(f'tcp://127.0.0.1:{port}')
    s=conn(port); s.sendall(frame(b'ID1')+peer_sends)
    time.sleep(0.3)
    if send:
        for m in send: z.send_multipart(m)
    got,st=recv_some(s,0.7)
    r=None
    try: r=z.recv_multipart(zmq.NOBLOCK)
    except zmq.ZMQError as e: r=str(e)
    s.close(); z.close(); return got,st,r
print('libzmq PUSH ->1.0:', probe_libzmq(zmq.PUSH,9510,[[b'hello',b'w']]))
print('libzmq PUB ->1.0:', probe_libzmq(zmq.PUB,9511,[[b'topic',b'x']]))
print('libzmq XSUB <-1.0 pub:', probe_libzmq(zmq.XSUB,9512,None, msg([b'\x01abc']) ))
print('libzmq SUB(subscribed) <-1.0 pub:', end=' ')
z=ctx.socket(zmq.SUB); z.setsockopt(zmq.SUBSCRIBE,b'a'); z.bind('tcp://127.0.0.1:9513'); s=conn(9513); s.sendall(frame(b'')); time.sleep(0.3); print(recv_some(s,0.5)); s.sendall(msg([b'abc'])); time.sleep(0.2)
try: print(' sub got', z.recv_multipart(zmq.NOBLOCK))
except zmq.Again: print(' sub got nothing')
s.close(); z.close()
print('libzmq ROUTER <-1.0 dealer:', probe_libzmq(zmq.ROUTER,9514,None,msg([b'',b'req'])))
print('libzmq DEALER <->1.0:', probe_libzmq(zmq.DEALER,9515,[[b'',b'job']],msg([b'',b'rep'])))
print('libzmq PULL <-1.0 with flags 0xfe:', probe_libzmq(zmq.PULL,9516,None,b'\x04\xfeabc'))
print('libzmq PULL <-1.0 identity MORE:', end=' ')
z=ctx.socket(zmq.PULL); z.bind('tcp://127.0.0.1:9517'); s=conn(9517); s.sendall(b'\x03\x01id'+msg([b'x'])); time.sleep(0.3)
try: print(z.recv_multipart(zmq.NOBLOCK), recv_some(s,0.3))
except zmq.Again: print('nothing', recv_some(s,0.3))
s.close(); z.close()
