# exact bytes for bodies of 0,253,254,255 and 2 parts, libzmq PUSH vs zedge streamer PUSH side, to a raw 1.0 worker
import zmq, time
from v1lib import *
ctx=zmq.Context()
msgs=[[b''],[b'a'*253],[b'b'*254],[b'c'*255],[b'd',b'e'*300]]
z=ctx.socket(zmq.PUSH); z.bind('tcp://127.0.0.1:9509'); s=conn(9509); s.sendall(frame(b'W')); time.sleep(0.3)
for m in msgs: z.send_multipart(m)
lz,_=recv_some(s,0.6); s.close(); z.close(linger=0)
p=broker('streamer','tcp://127.0.0.1:9510','tcp://127.0.0.1:9511','boundary')
s=conn(9511); s.sendall(frame(b'W')); time.sleep(0.3)
pr=ctx.socket(zmq.PUSH); pr.connect('tcp://127.0.0.1:9510'); time.sleep(0.2)
for m in msgs: pr.send_multipart(m)
zd,_=recv_some(s,0.6); s.close(); pr.close(linger=0); stop(p)
print('identical' if lz==zd else 'DIFFER', len(lz), len(zd))
if lz!=zd:
    i=next(i for i in range(min(len(lz),len(zd))) if lz[i]!=zd[i]); print(i, lz[i-5:i+12], zd[i-5:i+12])
