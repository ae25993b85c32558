"""Like slowreader2, but the peer reads everything after 5 s: was there an ERROR, and where did the PONGs stop?"""
import sys; from lib import *
port = int(sys.argv[1]); n = Node(port, "slowreader3")
try:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    s.connect(("127.0.0.1", port)); s.sendall(greeting() + ready() + sub(b""))
    N = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    ping = cmd(b"\x04PING\x00\x00" + b"c" * 16); s.settimeout(20)
    t = time.time(); s.sendall(ping * N); print("sent %d pings in %.1f s" % (N, time.time() - t), n.last())
    time.sleep(3); d = recv_for(s, 5)
    fr, rest = parse_frames(d[64:])
    kinds = {}
    for f, b in fr:
        k = b[1:1 + b[0]].decode(errors="replace") if f & 4 else "data"
        kinds[k] = kinds.get(k, 0) + 1
    errs = [b for f, b in fr if f & 4 and b[1:6] == b"ERROR"]
    print("got", len(d), "bytes:", kinds, "errors:", errs[:2], "unparsed tail", len(rest), n.last())
    s.close()
finally:
    n.stop()
