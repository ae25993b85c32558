"""After a hostile peer left mid-command: what a new peer sees, and how long recovery takes for libzmq."""
import sys; from lib import *; from scen import S
name = sys.argv[1]; port = int(sys.argv[2]) if len(sys.argv) > 2 else 7720
n = Node(port, "probe." + name)
try:
    S[name](port)
    s = raw(port); d = recv_for(s, 1.0)
    print("new raw peer, sent nothing, got %d bytes in 1 s: %r" % (len(d), d[:80]))
    s.sendall(greeting()); s.sendall(ready(b"SUB")); d = recv_for(s, 3.0)
    print("after a full greeting+READY (no SUBSCRIBE) got %d bytes: %r" % (len(d), d[:120]))
    print("node:", n.last())
    s.close()
    for i in range(4):
        first, got = zsub_recovery(port, limit=15, want=3)
        print("libzmq try", i, first, got[:1], n.last())
        if first is not None: break
    print(n.summary())
finally:
    n.stop()
