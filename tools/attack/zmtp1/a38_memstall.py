# --memory-max small: N raw producers (1.0 or 3.x) each send header + 300K of a 4MB frame and stall; then a libzmq producer->worker flow
import zmq, time, socket, sys, struct, resource
from v1lib import *; from z3lib import *
kind=sys.argv[1]; N=int(sys.argv[2]); mm=sys.argv[3]
resource.setrlimit(resource.RLIMIT_NOFILE,(4096,4096))
ctx=zmq.Context()
p=broker('streamer','tcp://127.0.0.1:9551','tcp://127.0.0.1:9552',f'memstall-{kind}','--memory-max',mm,'--max-msg-size','8M','--max-peers-per-address','1000','--max-handshaking','1000')
time.sleep(0.3)
if p.poll() is not None: print(open(f'/tmp/v1a-memstall-{kind}.log').read()); raise SystemExit
w=ctx.socket(zmq.PULL); w.connect('tcp://127.0.0.1:9552'); w.RCVTIMEO=45000; time.sleep(0.2)
socks=[]
for i in range(N):
    s=socket.socket(); s.connect(('127.0.0.1',9551)); s.setblocking(False)
    hdr=(frame(b'S%d'%i)+b'\xff'+struct.pack('>Q',(4<<20)+1)+b'\x00') if kind=='v1' else greeting()+ready(b'PUSH')+b'\x02'+struct.pack('>Q',4<<20)
    data=hdr+b's'*300000; sent=0
    t0=time.time()
    while sent<len(data) and time.time()-t0<0.05:
        try: sent+=s.send(data[sent:])
        except BlockingIOError: time.sleep(0.002)
    socks.append(s)
time.sleep(1)
r=rss(p)
pr=ctx.socket(zmq.PUSH); pr.connect('tcp://127.0.0.1:9551'); time.sleep(0.3)
t0=time.time(); ok=0
for i in range(20):
    pr.send(b'small%d'%i)
first=None
for i in range(60):
    try:
        m=w.recv()
        if m.startswith(b'small'):
            ok+=1; first=first or round(time.time()-t0,1)
            if ok==20: break
    except zmq.Again: break
print(' first small after', first)
print(f'{kind} N={N} mm={mm}: rss with stalled {r}; libzmq flow {ok}/20 in {time.time()-t0:.1f}s')
for s in socks: s.close()
pr.close(linger=0); w.close(linger=0); stop(p)
import collections; c=collections.Counter()
for l in open(f'/tmp/v1a-memstall-{kind}.log'):
    if 'WARN' in l or 'disconnected' in l: c[l[25:].split(':')[0][:60]+' | '+l.split(': ',2)[-1][:110]]+=1
for k,v in c.most_common(6): print(' ',v,k)
