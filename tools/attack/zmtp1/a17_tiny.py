# fairness: a raw producer (1.0 or 3.x) floods 1-byte-body frames for 5s; a libzmq producer sends 1 msg/5ms with timestamps; one libzmq worker
import zmq, time, socket, sys, threading, struct
from v1lib import *; from z3lib import *
ctx=zmq.Context()
kind=sys.argv[1]
p=broker('streamer','tcp://127.0.0.1:9501','tcp://127.0.0.1:9502',f'tiny-{kind}')
w=ctx.socket(zmq.PULL); w.connect('tcp://127.0.0.1:9502'); time.sleep(0.3)
good=ctx.socket(zmq.PUSH); good.connect('tcp://127.0.0.1:9501'); time.sleep(0.2)
stop_ev=threading.Event(); cnt=[0]
def flood():
    s=conn(9501); s.sendall(frame(b'F') if kind=='v1' else greeting()+ready(b'PUSH'))
    chunk=(frame(b'x') if kind=='v1' else f3(b'x'))*8192
    s.settimeout(0.5)
    while not stop_ev.is_set():
        try: s.sendall(chunk); cnt[0]+=8192
        except socket.timeout: pass
    s.close()
th=threading.Thread(target=flood); th.start()
lat=[]; flood_recv=0; t0=time.time(); nxt=t0
while time.time()-t0<5:
    if time.time()>=nxt: good.send(b'T'+struct.pack('>d',time.time())); nxt+=0.005
    try:
        while True:
            m=w.recv(zmq.NOBLOCK)
            if m[:1]==b'T': lat.append(time.time()-struct.unpack('>d',m[1:])[0])
            else: flood_recv+=1
    except zmq.Again: time.sleep(0.001)
stop_ev.set(); th.join()
lat.sort()
print(kind, f'flood sent {cnt[0]}, worker got {flood_recv} flood msgs, {len(lat)} timed msgs; latency median {lat[len(lat)//2]*1000:.1f}ms p99 {lat[int(len(lat)*.99)]*1000:.1f}ms max {lat[-1]*1000:.1f}ms')
good.close(linger=0); w.close(linger=0); stop(p)
