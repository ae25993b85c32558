import zmq, time
from v1lib import *
ctx=zmq.Context()
# streamer: 1.0 producer -> zedge -> pyzmq PULL ; pyzmq PUSH -> zedge -> 1.0 worker
p=broker('streamer','tcp://127.0.0.1:9520','tcp://127.0.0.1:9521','basic-streamer','--max-msg-size','64K')
pull=ctx.socket(zmq.PULL); pull.connect('tcp://127.0.0.1:9521'); time.sleep(0.3)
s=conn(9520); s.sendall(frame(b'PROD')); print('producer got', recv_some(s,0.4))
s.sendall(msg([b'a',b'b'])+b'\x05\xfe'+b'flag'+msg([b''])+msg([b'x'*300]))
pull.RCVTIMEO=1000
for i in range(4):
    try: m=pull.recv_multipart(); print(' pull got', [x[:10] for x in m], [len(x) for x in m])
    except zmq.Again: print(' pull timeout'); break
pull.close(); time.sleep(0.2)
w=conn(9521); w.sendall(frame(b'WORK')); print('worker got', recv_some(w,0.4))
push=ctx.socket(zmq.PUSH); push.connect('tcp://127.0.0.1:9520'); time.sleep(0.3)
push.send_multipart([b'job1',b'p2']); push.send(b'y'*300)
got,st=recv_some(w,0.8); print(' worker got', parse_v1(got), st)
s.close(); w.close(); push.close(); stop(p)
print(open('/tmp/v1a-basic-streamer.log').read()[-1500:])
