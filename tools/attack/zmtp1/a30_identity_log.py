# identities with control chars / quotes / non-UTF-8 / NUL: log line and PEERS JSON
import zmq, time, json
from v1lib import *
ctx=zmq.Context()
p=broker('queue','tcp://127.0.0.1:9531','tcp://127.0.0.1:9532','idlog','--control','tcp://127.0.0.1:9533')
ids=[b'evil\n2026-12-02T00:00:00.000Z NOTE  fake line', b'q"uote\\back', b'\xff\xfe\x00bin', b'\x1b[31mred\x1b[0m', b'\x00'*5]
socks=[]
for i in ids: s=conn(9531); s.sendall(frame(i)); socks.append(s)
time.sleep(0.4)
c=ctx.socket(zmq.REQ); c.connect('tcp://127.0.0.1:9533'); c.RCVTIMEO=2000; c.send(b'PEERS')
r=c.recv()
try: j=json.loads(r); print('PEERS JSON ok; identities:', [x.get('identity') for x in (j if isinstance(j,list) else j.get('peers',[]))])
except Exception as e: print('PEERS JSON parse error', e, r[:400])
for s in socks: s.close()
c.close(linger=0); stop(p)
for l in open('/tmp/v1a-idlog.log'):
    if 'connected (' in l: print(repr(l.rstrip()[:200]))
