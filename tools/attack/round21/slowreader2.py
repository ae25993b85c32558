"""A peer that subscribes to everything, PINGs until the node's output backs up (it never reads), with a
small send buffer so little input is left in flight, holds 10 s, leaves. Is the node stalled meanwhile, and does it recover?"""
import sys; from lib import *
port = int(sys.argv[1]); n = Node(port, "slowreader2")
try:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(greeting() + ready() + sub(b""))
    ping = cmd(b"\x04PING\x00\x00" + b"c" * 16)
    s.setblocking(False); sent = 0; t0 = time.time(); last = t0
    while time.time() - last < 3 and time.time() - t0 < 40:
        try: sent += s.send(ping); last = time.time()
        except BlockingIOError: time.sleep(0.005)
    print("PINGs accepted: %d bytes (%d pings) before our writes blocked for 3 s, at t=%.1f" % (sent, sent // len(ping), last - t0))
    l1 = n.text().count("\n"); time.sleep(10); 
    print("held 10 s without reading; node log lines added:", n.text().count("\n") - l1, n.last())
    s.close(); t1 = time.time()
    first, got = zsub_recovery(port, limit=40)
    print("after it left: libzmq first reading after", first, got[:1])
    print(n.summary())
finally:
    n.stop()
