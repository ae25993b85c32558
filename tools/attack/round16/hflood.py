#!/usr/bin/env python3
"""round 16: handshake floods. hflood.py PORTS SECS PROCS MODE [SRCS]
MODE hello: raw TCP, CURVE greeting + a HELLO with a random transient key and a random (bad)
signature box, wait for the broker to close (or 1 s), close, again (the broker pays one
X25519 per try). MODE lz: libzmq CURVE DEALER (real key pairs): connect, wait 20 ms, close
(linger 0), again: full handshakes (HELLO/WELCOME/INITIATE/READY) and disconnects.
PROCS processes each loop; source addresses 127.0.0.(2 + k % SRCS) (default 32). Prints totals."""
import os, sys, socket, time, json, random
ports = [int(p) for p in sys.argv[1].split(",")]
secs, procs, mode = float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
nsrc = int(sys.argv[5]) if len(sys.argv) > 5 else 32
key = os.environ.get("KF")
greet = bytearray(64); greet[0] = 0xff; greet[9] = 0x7f; greet[10] = 3; greet[11] = 1
greet[12:17] = b"CURVE"
def hello():
    return bytes([0x04, 200]) + b"\x05HELLO" + b"\x01\x00" + bytes(72) + os.urandom(32) + (1).to_bytes(8, "big") + os.urandom(80)
def child(p, w):
    end = time.monotonic() + secs; n = 0; fail = 0; k = p
    if mode == "lz":
        import zmq
        ctx = zmq.Context(); ctx.MAX_SOCKETS = 8000
        srv = open(key).read().split('public-key = "')[1].split('"')[0].encode()
        socks = []
        while time.monotonic() < end:
            k += procs
            s = ctx.socket(zmq.DEALER); pub, sec = zmq.curve_keypair()
            s.curve_publickey = pub; s.curve_secretkey = sec; s.curve_serverkey = srv; s.setsockopt(zmq.LINGER, 0)
            s.connect("tcp://127.0.0.%d:0;127.0.0.1:%d" % (2 + k % nsrc, ports[k % len(ports)]))
            socks.append(s); n += 1
            if len(socks) >= 8:
                time.sleep(0.02)
                for s in socks: s.close()
                socks = []
        os.write(w, json.dumps({"n": n, "fail": fail}).encode() + b"\n"); os._exit(0)
    while time.monotonic() < end:
        k += procs
        s = socket.socket()
        try:
            s.bind(("127.0.0.%d" % (2 + k % nsrc), 0)); s.settimeout(1)
            s.connect(("127.0.0.1", ports[k % len(ports)]))
            s.sendall(bytes(greet) + hello()); n += 1
            while s.recv(4096): pass
        except OSError: fail += 1
        s.close()
    os.write(w, json.dumps({"n": n, "fail": fail}).encode() + b"\n"); os._exit(0)
r, w = os.pipe()
for p in range(procs):
    if os.fork() == 0: child(p, w)
tot = {"n": 0, "fail": 0}
for p in range(procs): os.wait()
os.close(w)
for line in os.read(r, 1 << 20).decode().splitlines():
    d = json.loads(line); tot["n"] += d["n"]; tot["fail"] += d["fail"]
tot["per_s"] = round(tot["n"] / secs)
print(json.dumps(tot))
