"""A peer that subscribes to everything and PINGs hard but never reads. Does the node stop (blocked in uart.write)?
Then it leaves; how long until a libzmq SUB gets readings?"""
import sys; from lib import *
port = int(sys.argv[1]); secs = float(sys.argv[2]) if len(sys.argv) > 2 else 25
n = Node(port, "slowreader")
try:
    s = raw(port); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    handshake(s, 0.3); s.sendall(sub(b""))
    ping = cmd(b"\x04PING\x00\x00" + b"c" * 16)
    s.setblocking(False); sent = 0; t0 = time.time(); stuck_at = None; last_sent_t = t0
    while time.time() - t0 < secs:
        try:
            k = s.send(ping * 64); sent += k; last_sent_t = time.time()
        except BlockingIOError:
            if stuck_at is None and time.time() - last_sent_t > 1: stuck_at = time.time() - t0
            time.sleep(0.01)
    print("sent %d bytes of PING in %.0f s; our writes blocked from t=%s s" % (sent, secs, None if stuck_at is None else round(stuck_at, 1)))
    print("node log tail:", n.last())
    s.close()
    t1 = time.time(); first, got = zsub_recovery(port, limit=30)
    print("after the hostile left: libzmq first reading after", first, got[:1])
    print(n.summary())
finally:
    n.stop()
