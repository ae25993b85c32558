# streamer: stalled worker (1.0 raw or 3.x pyzmq), normal pyzmq worker, producer (1.0 raw or pyzmq) pushing 64K msgs for ~6s
import zmq, time, sys, socket
from v1lib import *
ctx=zmq.Context()
prod_kind, stall_kind = sys.argv[1], sys.argv[2]
N=600; SZ=65536
p=broker('streamer','tcp://127.0.0.1:9540','tcp://127.0.0.1:9541',f'stalled-{prod_kind}-{stall_kind}','--max-msg-size','1M', *sys.argv[3:])
if stall_kind=='v1':
    st=socket.socket(); st.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); st.connect(('127.0.0.1',9541)); st.sendall(frame(b'STALL'))
else:
    st=ctx.socket(zmq.PULL); st.RCVHWM=1; st.RCVBUF=4096; st.connect('tcp://127.0.0.1:9541')
time.sleep(0.3)
good=ctx.socket(zmq.PULL); good.connect('tcp://127.0.0.1:9541'); time.sleep(0.3)
body=b'm'*SZ
sent=0; t0=time.time()
if prod_kind=='v1':
    pr=socket.socket(); pr.connect(('127.0.0.1',9540)); pr.sendall(frame(b'PROD')); pr.settimeout(0.5)
    for i in range(N):
        try: pr.sendall(msg([i.to_bytes(4,'big')+body[4:]])); sent+=1
        except socket.timeout: break
        if time.time()-t0>8: break
else:
    pr=ctx.socket(zmq.PUSH); pr.SNDTIMEO=500; pr.connect('tcp://127.0.0.1:9540'); time.sleep(0.2)
    for i in range(N):
        try: pr.send(i.to_bytes(4,'big')+body[4:]); sent+=1
        except zmq.Again: break
        if time.time()-t0>8: break
got=set(); good.RCVTIMEO=1500
while True:
    try: got.add(int.from_bytes(good.recv()[:4],'big'))
    except zmq.Again: break
print(f'prod={prod_kind} stalled={stall_kind}: sent {sent} in {time.time()-t0:.1f}s, good worker got {len(got)}, rss {rss(p)}')
missing=sorted(set(range(sent))-got); print(' missing', len(missing), missing[:5], missing[-3:])
# close stalled one, see if missing messages come
if stall_kind=='v1': st.close()
else: st.close(linger=0)
time.sleep(1.5)
while True:
    try: got.add(int.from_bytes(good.recv()[:4],'big'))
    except zmq.Again: break
print(' after stalled left: good got', len(got), 'rss', rss(p))
pr.close(linger=0) if prod_kind!='v1' else pr.close(); good.close(linger=0); stop(p)
for l in open(f'/tmp/v1a-stalled-{prod_kind}-{stall_kind}.log'):
    if 'accepted' not in l and 'DEBUG' not in l: print(' ',l.rstrip()[:250])
