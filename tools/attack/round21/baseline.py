import sys; from lib import *
port = 7700
n = Node(port, "baseline")
try:
    s = raw(port); r = handshake(s, 0.2)
    print("greeting back:", r[:64].hex()[:40], "len", len(r))
    s.sendall(sub(b"sensor/2")); d = recv_for(s, 1.0)
    fr, rest = parse_frames(r[64:] + d)
    print(fr[:4], len(fr))
    s.close(); time.sleep(0.3)
    print("direct libzmq:", zsub_recovery(port))
    print("forwarder:", fwd_recovery(port, 7701, "baseline"))
    print(n.summary())
finally:
    n.stop()
