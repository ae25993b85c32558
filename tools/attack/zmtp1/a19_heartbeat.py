# --heartbeat-ivl 300ms: idle 1.0 peers on both sides; are they dropped? what bytes do they get?
import zmq, time
from v1lib import *
ctx=zmq.Context()
p=broker('queue','tcp://127.0.0.1:9505','tcp://127.0.0.1:9506','hb','--heartbeat-ivl','300ms')
a=conn(9505); a.sendall(frame(b'C')); b=conn(9506); b.sendall(frame(b'W'))
ga,sa=recv_some(a,3); gb,sb=recv_some(b,0.1)
print('client got', ga, sa, '| worker got', gb, sb)
b.sendall(b''); a.sendall(msg([b'',b'req'])); gb,sb=recv_some(b,0.5); print('worker got', parse_v1(gb), sb)
fr,_=parse_v1(gb); b.sendall(msg([x for _,x in fr][:-1]+[b'rep'])); ga,sa=recv_some(a,0.5); print('client got', parse_v1(ga), sa)
a.close(); b.close(); stop(p)
for l in open('/tmp/v1a-hb.log'):
    if 'accepted' not in l and 'listening' not in l and 'DEBUG' not in l: print(' ',l.rstrip()[:300])
