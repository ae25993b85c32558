# sink.py PORT SECS: accept and discard
import socket, sys, time, threading
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); ls.bind(('0.0.0.0', int(sys.argv[1]))); ls.listen(8)
ls.settimeout(float(sys.argv[2]))
def rd(c):
    while c.recv(1 << 20): pass
try:
    while True:
        c, _ = ls.accept(); threading.Thread(target=rd, args=(c,), daemon=True).start()
except Exception: pass
