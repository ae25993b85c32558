#!/usr/bin/env python3
"""A hostile uplink for round 26: binds PORT (zedge connects with >), takes each connection
zedge makes in turn, for MAX_S seconds, and misbehaves by MODE:
  garbage   handshake as XSUB, subscribe to all, then random bytes
  badframe  handshake as XSUB, subscribe to all, then a frame with reserved flag bits, a
            frame longer than max_msg_size, a command frame with a bogus name
  subflood  handshake as XSUB, then SUBSCRIBE to many long topics and churn (subscribe, cancel)
  subs1k    handshake as XSUB, subscribe to 20000 distinct 200-byte topics, then read normally
  type:T    handshake as socket type T (PUB, PULL, ROUTER, DEALER, SUB, PAIR, XPUB, REP),
            subscribe to all (as an XSUB would), and for PUB also send messages
  upstream  handshake as XSUB, subscribe to all, send data messages toward the forwarder
            (first byte not 0/1), read what comes
  slowhs    send the greeting a byte a second
  stallhs   send half the greeting, then nothing
  reset     accept and close at once with RST (SO_LINGER 0)
  zmtp2     a ZMTP 2.0 (revision 1) greeting as SUB, then a subscription, then read
  zmtp1     a ZMTP 1.0 greeting (length-prefixed identity), then read
Writes 'T id' lines for messages it reads (as peer.py) and prints a JSON summary."""
import socket, struct, sys, time, os, json, random

def greeting(mech=b"NULL", minor=1):
    return b"\xff" + b"\0" * 8 + b"\x7f" + bytes([3, minor]) + mech.ljust(20, b"\0") + b"\0" + b"\0" * 31

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

def handshake(c, r, stype, end):
    c.sendall(greeting())
    if not r.need(64, end): return False
    r.take(64)
    c.sendall(ready(stype))
    if not r.need(2, end): return False
    h = r.take(2)
    if h[0] & 4 == 0: return False
    ln = h[1] if h[0] == 4 else None
    if ln is None: r.need(7, end); ln = struct.unpack(">Q", bytes([h[1]]) + r.take(7))[0]
    r.need(ln, end); r.take(ln)
    return True

def read_msgs(c, r, out, end, stats, idle=5.0):
    last = time.monotonic()
    while True:
        now = time.monotonic()
        if now > end or now - last > idle: return
        if not r.need(2, min(end, now + 0.2)): continue
        flags = r.buf[0]
        if flags & 2:
            if not r.need(9, end): return
            ln = struct.unpack(">Q", bytes(r.buf[1:9]))[0]; hl = 9
        else:
            ln = r.buf[1]; hl = 2
        if not r.need(hl + ln, end): return
        f = r.take(hl + ln)[hl:]
        if flags & 4:
            if f[:5] == b"\x04PING":
                c.sendall(command(b"PONG", f[7:]))
            continue
        b = f
        if len(b) >= 11 and b[1:11].isdigit() and (len(b) < 21 or b[-10:] == b[1:11]):
            out.write("%s %d\n" % (chr(b[0]), int(b[1:11])))
        else:
            out.write("? -1\n"); stats["odd"] += 1
        stats["n"] += 1; last = time.monotonic()

def one(c, mode, out, end, stats):
    r = Reader(c)
    if mode == "reset":
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); return
    if mode == "slowhs":
        for b in greeting():
            if time.monotonic() > end: return
            c.sendall(bytes([b])); time.sleep(1.0)
        return
    if mode == "stallhs":
        c.sendall(greeting()[:30]); time.sleep(max(0, min(end - time.monotonic(), 30))); return
    if mode == "zmtp2":
        # ZMTP 2.0: signature, revision 1, socket type SUB (2), identity
        c.sendall(b"\xff" + b"\0" * 8 + b"\x7f" + b"\x01" + b"\x02" + b"\x00\x00")
        r.need(12, end); r.take(12)
        c.sendall(b"\x00\x01\x01")  # a subscription to all, as a message frame (flags 0, len 1, 0x01)
        read_msgs(c, r, out, end, stats); return
    if mode == "zmtp1":
        c.sendall(b"\x01\x00")  # identity frame of length 1 (empty)
        c.sendall(b"\x02\x00\x01")  # a message: length 2, flags 0, body 0x01 (subscribe all)
        read_msgs(c, r, out, end, stats); return
    stype = mode.split(":")[1].encode() if mode.startswith("type:") else b"XSUB"
    if not handshake(c, r, stype, end): stats["hsfail"] += 1; return
    stats["handshakes"] += 1
    if mode == "subflood":
        k = 0
        while time.monotonic() < end:
            topic = b"t" + b"%08d" % (k % 50000) + b"x" * 500
            c.sendall(msgframe(b"\x01" + topic) + msgframe(b"\x00" + topic)); k += 1
            if k % 3 == 0: c.sendall(msgframe(b"\x01" + topic))
        stats["subs"] = stats.get("subs", 0) + k; return
    if mode == "subs20k":
        buf = b"".join(msgframe(b"\x01" + b"T%06d" % k + b"y" * 200) for k in range(20000))
        c.sendall(buf); c.sendall(msgframe(b"\x01"))
        read_msgs(c, r, out, end, stats); return
    c.sendall(msgframe(b"\x01"))
    if mode == "garbage":
        while time.monotonic() < end:
            c.sendall(os.urandom(1 << 14)); time.sleep(0.01)
        return
    if mode == "badframe":
        c.sendall(bytes([0x40, 3]) + b"abc"); time.sleep(0.5)
        return
    if mode == "bigframe":
        c.sendall(b"\x02" + struct.pack(">Q", 1 << 40)); time.sleep(2)
        return
    if mode == "upstream" or mode == "type:PUB":
        k = 0
        import threading
        def pump():
            nonlocal k
            try:
                while time.monotonic() < end:
                    c.sendall(msgframe(b"z" + b"u" * 200) * 50); k += 50; time.sleep(0.001)
            except OSError: pass
        th = threading.Thread(target=pump, daemon=True); th.start()
        try: read_msgs(c, r, out, end, stats, idle=30)
        finally: stats["sent_up"] = stats.get("sent_up", 0) + k
        return
    read_msgs(c, r, out, end, stats, idle=30)

def main():
    port, outfile, max_s, mode = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port)); ls.listen(16)
    end = time.monotonic() + max_s
    stats = {"mode": mode, "conns": 0, "handshakes": 0, "hsfail": 0, "n": 0, "odd": 0, "errors": 0}
    out = open(outfile, "w")
    while time.monotonic() < end:
        ls.settimeout(max(0.05, end - time.monotonic()))
        try: c, _ = ls.accept()
        except socket.timeout: break
        stats["conns"] += 1
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try: one(c, mode, out, end, stats)
        except (EOFError, OSError) as e: stats["errors"] += 1
        try: c.close()
        except OSError: pass
    out.close()
    print(json.dumps(stats), flush=True)

main()
