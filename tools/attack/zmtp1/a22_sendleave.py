# a 1.0 producer sends identity + N messages then FIN at once (one write + shutdown); does everything arrive? vs 3.x raw
import zmq, time, socket, sys
from v1lib import *; from z3lib import *
ctx=zmq.Context()
p=broker('streamer','tcp://127.0.0.1:9512','tcp://127.0.0.1:9513','sendleave')
w=ctx.socket(zmq.PULL); w.connect('tcp://127.0.0.1:9513'); w.RCVTIMEO=800; time.sleep(0.3)
for kind in ('v1','z3'):
  for N in (1,10,1000):
    for mode in ('shut','close','sleepclose'):
        s=socket.socket(); s.connect(('127.0.0.1',9512))
        if kind=='v1': data=frame(b'P')+b''.join(msg([b'%s-%d'%(mode.encode(),i)]) for i in range(N))
        else: data=greeting()+ready(b'PUSH')+b''.join(f3(b'%s-%d'%(mode.encode(),i)) for i in range(N))
        if mode=='sleepclose': s.sendall(data[:1]); time.sleep(0.05); s.sendall(data[1:]); s.close()
        else:
            s.sendall(data)
            if mode=='shut': s.shutdown(socket.SHUT_WR); time.sleep(0.3); s.close()
            else: s.close()
        got=0
        try:
            while True: w.recv(); got+=1
        except zmq.Again: pass
        print(f'{kind} N={N} {mode}: got {got}')
w.close(linger=0); stop(p)
