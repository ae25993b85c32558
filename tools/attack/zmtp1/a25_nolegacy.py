# --no-legacy and CURVE endpoint: a 1.0 peer is refused how fast, what bytes does it get
import time, socket, subprocess
from v1lib import *
subprocess.run([BIN,'keygen','/tmp/v1a-key'],capture_output=True)
for name,extra in (('nolegacy',['--no-legacy']),('curve',['--curve-secret','/tmp/v1a-key_secret'])):
    p=broker('streamer','tcp://127.0.0.1:9518','tcp://127.0.0.1:9519','nl-'+name,'--handshake-timeout','5s',*extra)
    for data in (frame(b'ID')+msg([b'x']), b'\x05\x00ab', b'\xff'+b'\x00'*7+b'\x05\x00', b'\x01\x00'):
        s=conn(9518); s.sendall(data); t0=time.time(); got,st=recv_some(s,6.5)
        print(f'{name}: sent {data[:12]!r}: got {got!r} {st} after {time.time()-t0:.2f}s'); s.close()
    stop(p)
    for l in open(f'/tmp/v1a-nl-{name}.log'):
        if 'refused' in l: print('  ',l.rstrip()[:220])
