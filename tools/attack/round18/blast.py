# blast.py HOST PORT SECS: send bulk bytes as fast as possible (saturates the netns uplink, delaying ACKs)
import socket, sys, time
h, p, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection((h, p)); b = b'\0' * 65536; end = time.time() + secs
while time.time() < end: s.sendall(b)
