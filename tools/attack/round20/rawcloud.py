#!/usr/bin/env python3
"""A raw ZMTP 3.0 XSUB 'cloud' that checks every frame zedge sends it.
  rawcloud.py PORT OUTFILE IDLE_S MAX_S [MODE]
MODE: normal (default) | garbage (after the handshake, send garbage) | subflood (subscribe and
cancel at full speed, never read) | deaf (handshake, subscribe, never read)
Writes 'T id' lines as peer.py does, and '#bad ...' for a frame that is not a message of ours."""
import socket, struct, sys, time, os, json, random

def greeting(mech=b"NULL"):
    return b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" + mech.ljust(20, b"\0") + b"\0" + b"\0" * 31

def command(name, body):
    b = bytes([len(name)]) + name + body
    return (b"\x04" + bytes([len(b)]) if len(b) < 256 else b"\x06" + struct.pack(">Q", len(b))) + b

def ready(stype):
    prop = b"\x0bSocket-Type" + struct.pack(">I", len(stype)) + stype
    return command(b"READY", prop)

def msgframe(body, more=False):
    f = 0x01 if more else 0
    if len(body) < 256: return bytes([f, len(body)]) + body
    return bytes([f | 2]) + struct.pack(">Q", len(body)) + body

class Reader:
    def __init__(self, s): self.s = s; self.buf = bytearray()
    def need(self, n, deadline):
        while len(self.buf) < n:
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            try: d = self.s.recv(1 << 20)
            except socket.timeout: return False
            if not d: raise EOFError
            self.buf += d
        return True
    def take(self, n):
        b = bytes(self.buf[:n]); del self.buf[:n]; return b

def main():
    port, outfile, idle, max_s = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    mode = sys.argv[5] if len(sys.argv) > 5 else "normal"
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port)); ls.listen(4)
    t0 = time.monotonic(); n = 0; bad = 0; big = 0
    out = open(outfile, "w")
    ls.settimeout(max_s)
    c, _ = ls.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sendall(greeting())
    r = Reader(c)
    end = t0 + max_s
    r.need(64, end); g = r.take(64)
    c.sendall(ready(b"XSUB"))
    # their READY
    r.need(2, end); h = r.take(2)
    ln = h[1] if h[0] == 4 else None
    if ln is None: r.need(7, end); ln = struct.unpack(">Q", bytes([h[1]]) + r.take(7))[0]
    r.need(ln, end); r.take(ln)
    out.write("#handshake at %.2f\n" % (time.monotonic() - t0))
    if mode == "garbage":
        c.sendall(msgframe(b"\x01"))
        c.sendall(os.urandom(1 << 16))
    elif mode == "subflood":
        k = 0
        while time.monotonic() < end:
            topic = b"t%d" % (k % 5000)
            c.sendall(msgframe(b"\x01" + topic) + msgframe(b"\x00" + topic)); k += 1
        print(json.dumps({"subflood": k})); return
    else:
        c.sendall(msgframe(b"\x01"))
    if mode == "deaf":
        time.sleep(max_s); return
    last = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            if now > end or now - last > idle: break
            if not r.need(2, min(end, now + 0.2)): continue
            flags = r.buf[0]
            if flags & 0xf8:
                out.write("#bad flags 0x%02x at msg %d\n" % (flags, n)); bad += 1; break
            if flags & 2:
                if not r.need(9, end): break
                ln = struct.unpack(">Q", bytes(r.buf[1:9])); ln = ln[0]; hl = 9
            else:
                ln = r.buf[1]; hl = 2
            if ln > 100 << 20:
                out.write("#bad length %d at msg %d\n" % (ln, n)); bad += 1; break
            if not r.need(hl + ln, end): break
            f = r.take(hl + ln)[hl:]
            if flags & 4:
                continue  # a command (PING...): answer PINGs
            if flags & 1:
                out.write("#bad more-flag at msg %d\n" % n); bad += 1
            b = f
            if len(b) >= 11 and b[1:11].isdigit() and (len(b) < 21 or b[-10:] == b[1:11]):
                out.write("%s %d\n" % (chr(b[0]), int(b[1:11])))
            else:
                out.write("? -1\n#odd %r\n" % b[:16]); bad += 1
            n += 1; last = time.monotonic()
    except EOFError:
        out.write("#eof\n")
    out.close()
    print(json.dumps({"n": n, "bad": bad}), flush=True)

main()
