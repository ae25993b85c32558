import sys; from lib import *; from scen import S
port = 7722
n = Node(port, "probe2")
try:
    S["left_midcommand"](port)
    s = raw(port); d = recv_for(s, 0.5); print("sent nothing:", len(d))
    for k in range(30):
        s.sendall(b"\0"*8); d = recv_for(s, 0.3)
        print(k, "sent 8 zero bytes; got", len(d), d[-40:], n.last())
    s.close()
finally:
    n.stop()
