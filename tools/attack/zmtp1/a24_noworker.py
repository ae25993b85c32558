# streamer with no worker: how much does a producer get to send before backpressure; zedge RSS (1.0 vs 3.x), msg sizes small and 256K
import time, socket, sys
from v1lib import *; from z3lib import *
for SZ in (100, 256*1024):
  for kind in ('v1','z3'):
    p=broker('streamer','tcp://127.0.0.1:9516','tcp://127.0.0.1:9517','noworker','--max-msg-size','1M')
    s=socket.socket(); s.connect(('127.0.0.1',9516)); s.sendall(frame(b'P') if kind=='v1' else greeting()+ready(b'PUSH'))
    one=frame(b'x'*SZ) if kind=='v1' else f3(b'x'*SZ)
    chunk=one*max(1,(256*1024)//len(one))
    s.settimeout(1.0); sent=0; t0=time.time()
    try:
        while time.time()-t0<8 and sent<400e6: s.sendall(chunk); sent+=len(chunk)
    except socket.timeout: pass
    print(f'{kind} size {SZ}: accepted ~{sent/2**20:.1f} MiB before blocking, zedge rss {rss(p)}')
    s.close(); stop(p)
