# partial first bytes then FIN: how long until zedge closes its side?
import time, socket
from v1lib import *; from z3lib import *
p=broker('streamer','tcp://127.0.0.1:9514','tcp://127.0.0.1:9515','fin','--handshake-timeout','5s')
cases={'ff':b'\xff','ff+7':b'\xff'+b'\x00'*7,'00':b'\x00','v1 partial id':b'\x05\x00ab','v1 id only':b'\x05\x00abcd','v1 id+partial frame':b'\x05\x00abcd\x09\x00abc',
       '3.x partial greeting':greeting()[:20],'3.x greeting no ready':greeting(), 'http':b'GET / HTTP/1.0\r\n'}
for name,data in cases.items():
    s=conn(9514); s.sendall(data); s.shutdown(socket.SHUT_WR); t0=time.time()
    s.settimeout(7); st='?'
    try:
        while True:
            d=s.recv(4096)
            if not d: st='EOF'; break
    except socket.timeout: st='still open'
    except OSError as e: st=str(e)
    print(f'{name:24s} {st} after {time.time()-t0:.2f}s'); s.close()
stop(p)
