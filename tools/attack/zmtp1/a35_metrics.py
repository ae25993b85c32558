# after many kinds of 1.0 connections come and go, do peer/handshake gauges return to 0? PEERS empty?
import zmq, time, socket, struct, urllib.request
from v1lib import *
ctx=zmq.Context()
p=broker('queue','tcp://127.0.0.1:9541','tcp://127.0.0.1:9542','metrics','--metrics','127.0.0.1:9543','--control','tcp://127.0.0.1:9544','--handshake-timeout','1s')
def metrics():
    t=urllib.request.urlopen('http://127.0.0.1:9543/metrics',timeout=2).read().decode()
    return [l for l in t.splitlines() if not l.startswith('#') and ('peer' in l or 'handshak' in l or 'queued' in l) and not l.endswith(' 0')]
cases=[frame(b'ok')+msg([b'',b'req']), b'\x03\x02id', b'\xff', b'\x00', b'\xff'+struct.pack('>Q',300)+b'\x00', frame(b'x')+b'\x00', frame(b'y')+b'\xff'+struct.pack('>Q',1<<40)+b'\x00', frame(b'z')+msg([b'',b'q'])]
for rep in range(3):
    for c in cases:
        s=socket.socket(); s.connect(('127.0.0.1',9541)); s.sendall(c)
        if c.startswith(frame(b'z')): s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii',1,0))
        time.sleep(0.02); s.close()
# requests left from 'ok' / 'z' clients: worker comes and replies to gone clients
w=ctx.socket(zmq.DEALER); w.connect('tcp://127.0.0.1:9542'); w.RCVTIMEO=500; n=0
try:
    while True: m=w.recv_multipart(); w.send_multipart(m[:-1]+[b'rep']); n+=1
except zmq.Again: pass
w.close(linger=0); time.sleep(2)
print('worker handled', n); print('\n'.join(metrics()))
c=ctx.socket(zmq.REQ); c.connect('tcp://127.0.0.1:9544'); c.RCVTIMEO=1000; c.send(b'PEERS'); print('PEERS', c.recv()[:300]); c.close(linger=0)
stop(p)
