# zedge connects out to raw 1.0 servers; plus a 1.0 worker that sends data to zedge's PUSH side
import zmq, time, socket
from v1lib import *
ctx=zmq.Context()
srv=socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR,1); srv.bind(('127.0.0.1',9572)); srv.listen(8)
p=broker('streamer','tcp://127.0.0.1:9570','>tcp://127.0.0.1:9572','connout') 
push=ctx.socket(zmq.PUSH); push.connect('tcp://127.0.0.1:9570'); time.sleep(0.2)
srv.settimeout(3)
# 1: server waits for zedge bytes first, then sends identity
c,_=srv.accept(); first,st=recv_some(c,0.5); print('zedge sent first:', first, st)
c.sendall(frame(b'SRV'))
push.send(b'm1'); got,st=recv_some(c,0.6); print('server got', got, st)
# 2: worker sends data (unexpected, to a PUSH) then check flow
c.sendall(msg([b'junk-to-push'])*3); push.send(b'm2'); got,st=recv_some(c,0.6); print('after junk, server got', got, st)
c.close()
# 3: reconnect: server sends identity immediately, byte by byte
c,_=srv.accept(); 
for b in frame(b'SRV2'): c.send(bytes([b])); time.sleep(0.05)
first,st=recv_some(c,0.5); print('reconnect: zedge sent', first, st)
push.send(b'm3'); got,st=recv_some(c,0.6); print('server got', got, st)
# 4: server sends 0xff then 8 zero bytes then silence (undecided as connecter)
c.close(); c,_=srv.accept(); c.sendall(b'\xff'+b'\x00'*8); got,st=recv_some(c,12); print('undecided outbound: got', got, st)
c.close(); push.close(linger=0); stop(p); srv.close()
for l in open('/tmp/v1a-connout.log'):
    if 'accepted' not in l and 'listening' not in l : print(' ',l.rstrip()[:300])
