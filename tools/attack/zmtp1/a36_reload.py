# SIGHUP reload: legacy true->false and max_msg_size 64K->1M with 1.0 peers (decided and undecided) and a 3.x peer connected before
import zmq, time, socket, signal, subprocess
from v1lib import *; from z3lib import *
ctx=zmq.Context()
cfg='/tmp/v1a-reload.toml'
def write(legacy, mms):
    open(cfg,'w').write(f'memory_max = "256M"\n[log]\nlevel = "info"\n[[device]]\nname = "s"\nkind = "streamer"\nlegacy = {legacy}\nmax_msg_size = "{mms}"\nfrontend = ["tcp://127.0.0.1:9545"]\nbackend = ["tcp://127.0.0.1:9546"]\n')
write('true','64K')
log=open('/tmp/v1a-reload.log','w'); p=subprocess.Popen([BIN,'run','--config',cfg,'-v'],stdout=log,stderr=subprocess.STDOUT); time.sleep(0.5)
w=ctx.socket(zmq.PULL); w.connect('tcp://127.0.0.1:9546'); w.RCVTIMEO=1500; time.sleep(0.2)
p1=conn(9545); p1.sendall(frame(b'P1')+msg([b'before']))
z=conn(9545); z.sendall(greeting()+ready(b'PUSH')+f3(b'before3'))
u=conn(9545); u.sendall(b'\xff')
time.sleep(0.3); print('before reload worker got', [w.recv(), w.recv()])
write('false','1M'); p.send_signal(signal.SIGHUP); time.sleep(1)
u.sendall(b'\x00'*7+b'\x03\x00U1'+msg([b'from-undecided-after-reload']))
p1.sendall(msg([b'A'*500000])); z.sendall(f3(b'B'*500000))
got=[]
for i in range(3):
    try: m=w.recv(); got.append((m[:24],len(m)))
    except zmq.Again: break
print('after reload worker got', got)
n=conn(9545); n.sendall(frame(b'NEW')+msg([b'new'])); print('new 1.0 peer after reload:', recv_some(n,0.5)[1])
for s in (p1,z,u,n): s.close()
w.close(linger=0); p.send_signal(signal.SIGTERM); p.wait(5)
for l in open('/tmp/v1a-reload.log'):
    if 'accepted' not in l and 'listening' not in l: print(' ',l.rstrip()[:260])
