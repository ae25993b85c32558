"""How fast the node takes input: N bytes of non-greeting garbage, then a greeting; time to the node's answer."""
import sys; from lib import *
port = int(sys.argv[1]); n = Node(port, "rxrate")
try:
    for N in (1000, 10000, 50000, 200000):
        s = raw(port, timeout=60); t = time.time()
        s.sendall(b"\x11" * N + greeting())
        s.settimeout(60); d = b""
        while len(d) < 10:
            x = s.recv(100)
            if not x: break
            d += x
        dt = time.time() - t
        print(N, "bytes then greeting: answered after %.2f s (%.0f B/s)" % (dt, N / dt), d[:10].hex(), n.last(), flush=True)
        s.close(); time.sleep(2.5)
    print(n.summary())
finally:
    n.stop()
