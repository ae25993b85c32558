# --max-handshaking 8: 12 trickling 1.0 peers (long-form identity, 1 byte / 0.4s) then libzmq PUSH; time to deliver
import zmq, time, socket, struct, threading, sys
from v1lib import *
ctx=zmq.Context()
p=broker('streamer','tcp://127.0.0.1:9580','tcp://127.0.0.1:9581','hs','--max-handshaking','8','--handshake-timeout','6s')
pull=ctx.socket(zmq.PULL); pull.connect('tcp://127.0.0.1:9581'); time.sleep(0.3)
mode=sys.argv[1] if len(sys.argv)>1 else 'v1'
data = (b'\xff'+struct.pack('>Q',200)+b'\x00'+b'i'*199) if mode=='v1' else (b'\xff'+b'\x00'*8+b'\x7f'+b'\x03\x00NULL'+b'\x00'*60)
socks=[]
for i in range(12):
    try: s=conn(9580); socks.append(s)
    except Exception as e: print('conn fail',e)
stop_ev=threading.Event()
def trickle():
    for k in range(len(data)):
        if stop_ev.is_set(): return
        for s in socks:
            try: s.send(data[k:k+1])
            except OSError: pass
        time.sleep(0.4)
th=threading.Thread(target=trickle,daemon=True); th.start()
time.sleep(1.5)
push=ctx.socket(zmq.PUSH); push.connect('tcp://127.0.0.1:9580'); t0=time.time(); push.send(b'hello'); pull.RCVTIMEO=15000
try: pull.recv(); print(mode,'libzmq message delivered after %.2fs'%(time.time()-t0))
except zmq.Again: print(mode,'NOT delivered in 15s')
stop_ev.set(); 
alive=0
for s in socks:
    s.settimeout(0.01)
    try:
        d=s.recv(100)
        if d: alive+=1
    except socket.timeout: alive+=1
    except OSError: pass
print('trickler connections not closed:', alive)
for s in socks: s.close()
push.close(linger=0); pull.close(linger=0); stop(p)
import collections; c=collections.Counter()
for l in open('/tmp/v1a-hs.log'):
    for k in ('refused','connected (','handshake timeout','closed'):
        if k in l: c[k]+=1
print(c)
for l in open('/tmp/v1a-hs.log'):
    if 'WARN' in l or 'PUSH connected' in l: print(' ', l.rstrip()[:250])
