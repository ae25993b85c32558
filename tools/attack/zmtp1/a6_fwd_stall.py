# forwarder: libzmq PUB floods 6s (paced), normal SUB reads, stalled subscriber (1.0 raw or 3.x raw-ish pyzmq) never reads
import zmq, time, sys, socket
from v1lib import *
ctx=zmq.Context()
kind=sys.argv[1]
p=broker('forwarder','tcp://127.0.0.1:9555','tcp://127.0.0.1:9556',f'fwdstall-{kind}', *sys.argv[2:])
good=ctx.socket(zmq.SUB); good.setsockopt(zmq.SUBSCRIBE,b''); good.RCVHWM=0; good.connect('tcp://127.0.0.1:9556')
if kind=='v1':
    st=socket.socket(); st.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); st.connect(('127.0.0.1',9556)); st.sendall(frame(b'STALL'))
elif kind=='zmq':
    st=ctx.socket(zmq.SUB); st.setsockopt(zmq.SUBSCRIBE,b''); st.RCVHWM=1; st.RCVBUF=4096; st.connect('tcp://127.0.0.1:9556')
pub=ctx.socket(zmq.PUB); pub.SNDHWM=0; pub.connect('tcp://127.0.0.1:9555'); time.sleep(0.5)
body=b'p'*16384; sent=0; got=0; t0=time.time()
while time.time()-t0<6:
    for i in range(50): pub.send(sent.to_bytes(4,'big')+body); sent+=1
    while True:
        try: good.recv(zmq.NOBLOCK); got+=1
        except zmq.Again: break
    time.sleep(0.005)
good.RCVTIMEO=1000
while True:
    try: good.recv(); got+=1
    except zmq.Again: break
print(f'stalled={kind}: pub sent {sent} ({sent*16/1024:.0f} MiB), good sub got {got}, zedge rss {rss(p)}')
import subprocess
print(subprocess.run("ss -tn 'sport = :9556' | head -5",shell=True,capture_output=True,text=True).stdout)
st.close() if kind=='v1' else st.close(linger=0)
pub.close(linger=0); good.close(linger=0); time.sleep(0.3); stop(p)
for l in open(f'/tmp/v1a-fwdstall-{kind}.log'):
    if 'accepted' not in l and 'listening' not in l and 'DEBUG' not in l: print(' ',l.rstrip()[:300])
