# a 1.0 producer's whole stream sent one byte at a time (TCP_NODELAY, 2ms apart), several identity forms; all messages arrive intact?
import zmq, time, socket, struct
from v1lib import *
ctx=zmq.Context()
p=broker('streamer','tcp://127.0.0.1:9522','tcp://127.0.0.1:9523','bytewise')
w=ctx.socket(zmq.PULL); w.connect('tcp://127.0.0.1:9523'); w.RCVTIMEO=1000; time.sleep(0.3)
ids={'short':frame(b'abc'),'empty':frame(b''),'long-empty':b'\xff'+struct.pack('>Q',1)+b'\x00','long-255':b'\xff'+struct.pack('>Q',256)+b'\x00'+b'L'*255,'more-flag':b'\x03\x01ab'}
body=msg([b'p1',b'q'*300])+b'\xff'+struct.pack('>Q',4)+b'\x00xyz'+msg([b''])+msg([b'z'*254])
want=[[b'p1',b'q'*300],[b'xyz'],[b''],[b'z'*254]]
for name,idf in ids.items():
    s=socket.socket(); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY,1); s.connect(('127.0.0.1',9522))
    data=idf+body
    for i in range(len(data)): s.send(data[i:i+1]); time.sleep(0.002)
    got=[]
    for k in range(4):
        try: got.append(w.recv_multipart())
        except zmq.Again: break
    print(f'{name:10s}', 'OK' if got==want else f'MISMATCH {[(len(m),[len(x) for x in m]) for m in got]}')
    s.close()
w.close(linger=0); stop(p)
for l in open('/tmp/v1a-bytewise.log'):
    if 'WARN' in l or 'refused' in l or 'failed' in l: print(' ',l.rstrip()[:250])
