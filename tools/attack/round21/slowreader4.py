"""A peer sends N PINGs from one thread and starts reading only after DELAY s from another: ERRORs? failed sessions?"""
import sys, threading; from lib import *
port = int(sys.argv[1]); N = int(sys.argv[2]); DELAY = float(sys.argv[3]); n = Node(port, "slowreader4")
try:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    s.connect(("127.0.0.1", port)); s.sendall(greeting() + ready() + sub(b""))
    ping = cmd(b"\x04PING\x00\x00" + b"c" * 16)
    done = []
    def w():
        t = time.time(); s.sendall(ping * N); done.append(time.time() - t)
    th = threading.Thread(target=w, daemon=True); th.start()
    time.sleep(DELAY); print("at %.0f s: writer done? %s" % (DELAY, done), n.last())
    d = b""; s.settimeout(0.5); end = time.time() + 25
    while time.time() < end:
        try:
            x = s.recv(65536)
            if not x: break
            d += x
        except socket.timeout:
            if done: break
    fr, rest = parse_frames(d[64:])
    kinds = {}
    for f, b in fr:
        k = b[1:1 + b[0]].decode(errors="replace") if f & 4 else "data"
        kinds[k] = kinds.get(k, 0) + 1
    print("writer", done, "got", len(d), "bytes:", kinds, "unparsed tail", len(rest), rest[:40], n.last())
    s.close()
finally:
    n.stop()
