"""PING floods from a peer that does read: does the session survive, are all PONGs answered?"""
import sys; from lib import *
port = int(sys.argv[1]); n = Node(port, "pingflood")
try:
    for count, ctx in ((10, 16), (100, 16), (1000, 0), (300, 16), (50, 200)):
        s = raw(port); handshake(s, 0.3); s.sendall(sub(b"sensor/2"))
        ping = cmd(b"\x04PING\x00\x00" + b"c" * ctx)
        s.sendall(ping * count); d = recv_for(s, 4 + count / 200)
        fr, _ = parse_frames(d)
        pongs = sum(1 for f, b in fr if f & 4 and b[1:5] == b"PONG"); data = sum(1 for f, b in fr if not f & 4)
        print("pings %d ctx %d: pongs %d, readings %d | %s" % (count, ctx, pongs, data, n.last()), flush=True)
        s.close(); time.sleep(0.5)
finally:
    n.stop()
