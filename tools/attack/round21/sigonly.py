"""F2: a peer that sent only its signature (what libzmq/zedge send first) and vanished. The next peer
behaves like libzmq: sends its signature, waits for the node's. Does it ever get one?"""
import sys; from lib import *
port = int(sys.argv[1]) if len(sys.argv) > 1 else 7785
n = Node(port, "sigonly")
try:
    s = raw(port); s.sendall(SIG); time.sleep(0.2); s.close()
    time.sleep(0.1)
    p = raw(port); t = time.time(); p.sendall(SIG)
    d = recv_for(p, 8)
    print("next peer sent its signature; node's answer in 8 s: %d bytes %r" % (len(d), d[:12]), "|", n.last())
    p.sendall(b"\x03"); d = recv_for(p, 3)
    print("after one more byte (its major version): %d bytes %r" % (len(d), d[:12]), "|", n.last())
    p.close()
    print(n.summary())
finally:
    n.stop()
