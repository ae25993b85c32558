# hostile 1.0 byte sequences against a streamer, each on its own connection, beside a libzmq flow
import zmq, time, struct, threading
from v1lib import *
ctx=zmq.Context()
p=broker('streamer','tcp://127.0.0.1:9530','tcp://127.0.0.1:9531','hostile','--max-msg-size','64K','--handshake-timeout','2s')
pull=ctx.socket(zmq.PULL); pull.connect('tcp://127.0.0.1:9531'); pull.RCVTIMEO=2000
push=ctx.socket(zmq.PUSH); push.connect('tcp://127.0.0.1:9530'); time.sleep(0.3)
def flow_ok(tag):
    push.send(tag.encode())
    try: m=pull.recv(); return m==tag.encode()
    except zmq.Again: return False
cases={
 'ff_only': b'\xff',
 'ff_8': b'\xff'+b'\x00'*7,
 'ff_9': b'\xff'+b'\x00'*8,
 'id_len0': b'\x00',
 'id_256': b'\xff'+struct.pack('>Q',257)+b'\x00'+b'i'*256,
 'id_255': b'\xff'+struct.pack('>Q',256)+b'\x00'+b'i'*255 + msg([b'after255']),
 'id_huge': b'\xff'+struct.pack('>Q',2**64-1)+b'\x00',
 'id_partial': b'\x10\x00abc',
 'frame_u64max': frame(b'ID')+b'\xff'+struct.pack('>Q',2**64-1)+b'\x00',
 'frame_len0': frame(b'ID')+b'\x00',
 'frame_long0': frame(b'ID')+b'\xff'+b'\x00'*8+b'\x00',
 'frame_long_small': frame(b'ID')+b'\xff'+struct.pack('>Q',4)+b'\x00abc',
 'frame_over': frame(b'ID')+frame(b'z'*(65536+1)),
 'frame_exact': frame(b'ID')+frame(b'e'*65536),
 'frame_cut': frame(b'ID')+b'\xff'+struct.pack('>Q',1000)+b'\x00'+b'c'*10,
 'more_then_eof': frame(b'ID')+frame(b'part1',True),
}
for name,data in cases.items():
    s=conn(9530)
    t0=time.time()
    s.sendall(data)
    got,st=recv_some(s,3.0)
    dt=time.time()-t0
    extra=[]
    try:
        while True: extra.append(pull.recv(zmq.NOBLOCK)[:12])
    except zmq.Again: pass
    print(f'{name:18s} state={st:5s} after {dt:.1f}s got={got[:16]!r} pulled={extra} flow={flow_ok(name)}')
    s.close()
time.sleep(0.3)
print('rss',rss(p))
pull.close(); push.close(); stop(p)
import re
for l in open('/tmp/v1a-hostile.log'):
    if 'accepted' not in l: print(l.rstrip()[:220])
