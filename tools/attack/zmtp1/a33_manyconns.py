# N raw producers (1.0 or 3.x) each send a 60KB message then idle; then they each get a worker-less wait. zedge RSS per connection
import time, socket, sys, resource
from v1lib import *; from z3lib import *
kind=sys.argv[1]; N=int(sys.argv[2]); extra=sys.argv[3:]
resource.setrlimit(resource.RLIMIT_NOFILE,(4096,4096))
p=broker('streamer','tcp://127.0.0.1:9536','tcp://127.0.0.1:9537',f'many-{kind}','--max-peers-per-address','2000','--max-peers','2000','--max-handshaking','2000',*extra)
base=int(rss(p)[:-2])
socks=[]
for i in range(N):
    s=socket.socket(); s.connect(('127.0.0.1',9536))
    s.sendall((frame(b'P%d'%i)+msg([b'x'*60000])) if kind=='v1' else greeting()+ready(b'PUSH')+f3(b'x'*60000))
    socks.append(s)
time.sleep(1.5)
r1=int(rss(p)[:-2])
# worker drains everything
import zmq; ctx=zmq.Context(); w=ctx.socket(zmq.PULL); w.connect('tcp://127.0.0.1:9537'); w.RCVTIMEO=1500; n=0
try:
    while True: w.recv(); n+=1
except zmq.Again: pass
time.sleep(1); r2=int(rss(p)[:-2])
print(f'{kind} N={N} {extra}: rss base {base/1024:.1f} MiB, with pending {r1/1024:.1f} MiB, after drain ({n} msgs) idle {r2/1024:.1f} MiB -> {(r2-base)/N:.1f} KiB/conn idle')
for s in socks: s.close()
w.close(linger=0); stop(p)
