# 1.0 peers on the capture tap and the control endpoint
import zmq, time
from v1lib import *
ctx=zmq.Context()
p=broker('streamer','tcp://127.0.0.1:9527','tcp://127.0.0.1:9528','capture','--capture','tcp://127.0.0.1:9529','--control','tcp://127.0.0.1:9530')
w=ctx.socket(zmq.PULL); w.connect('tcp://127.0.0.1:9528'); w.RCVTIMEO=800
cap=conn(9529); cap.sendall(frame(b'CAP')); print('cap got', recv_some(cap,0.3))
time.sleep(0.3)
pr=ctx.socket(zmq.PUSH); pr.connect('tcp://127.0.0.1:9527'); time.sleep(0.2)
pr.send_multipart([b'hello',b'two'])
print('worker', w.recv_multipart()); got,st=recv_some(cap,0.6); print('1.0 capture reader got', parse_v1(got), st)
# 1.0 reader sends junk/sub messages to capture
cap.sendall(msg([b'\x00'])+msg([b'junk'])); time.sleep(0.2); pr.send(b'after'); print('worker', w.recv_multipart()); got,st=recv_some(cap,0.5); print('1.0 capture got after \\x00', parse_v1(got), st)
c=conn(9530); c.sendall(frame(b'CTL')); print('control got', recv_some(c,0.3))
c.sendall(msg([b'',b'STATISTICS'])); got,st=recv_some(c,0.8); print('control reply', parse_v1(got)[0][:3], st)
c.sendall(msg([b'',b'PEERS'])); got,st=recv_some(c,0.8); print('control PEERS', got[:300], st)
cap.close(); c.close(); pr.close(linger=0); w.close(linger=0); stop(p)
for l in open('/tmp/v1a-capture.log'):
    if 'accepted' not in l and 'listening' not in l and 'DEBUG' not in l: print(' ',l.rstrip()[:300])
