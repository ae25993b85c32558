#!/usr/bin/env python3
"""Raw ZMTP 3.0 PUSH peers that misbehave.
  hostile.py stall EP K BIG BODY GAP [TRICKLE]
     K connections, started GAP s apart, each sends the head of a BIG-byte message and BODY bytes
     of it, then stalls (TRICKLE>0: one byte every TRICKLE s). Prints when each was closed by zedge.
"""
import socket, struct, sys, time, threading, json

def handshake(host, port):
    s = socket.create_connection((host, port))
    greeting = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL" + b"\x00" * 16 + b"\x00" + b"\x00" * 31
    s.sendall(greeting)
    got = b""
    while len(got) < 64:
        c = s.recv(64 - len(got))
        if not c: raise RuntimeError("closed in greeting")
        got += c
    # READY command with Socket-Type PUSH
    body = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", 4) + b"PUSH"
    s.sendall(b"\x04" + bytes([len(body)]) + body)
    # their READY
    s.settimeout(5)
    h = s.recv(2)
    if h[0] & 0x02:
        ln = struct.unpack(">Q", h[1:2] + s.recv(7))[0]
    else:
        ln = h[1]
    left = ln
    while left > 0:
        left -= len(s.recv(left))
    s.settimeout(None)
    return s

def staller(ep, k, big, body, trickle, out):
    host, port = ep.replace("tcp://", "").split(":")
    t0 = time.monotonic()
    s = handshake(host, int(port))
    head = b"\x02" + struct.pack(">Q", big)
    try:
        s.sendall(head + b"s" * body)
        s.settimeout(trickle if trickle > 0 else 600)
        while True:
            try:
                if not s.recv(1):
                    break
            except socket.timeout:
                s.sendall(b"s")
            except OSError:
                break
    except OSError:
        pass
    out[k] = round(time.monotonic() - t0, 1)

if __name__ == "__main__":
    a = sys.argv
    if a[1] == "stall":
        ep, K, big, body, gap = a[2], int(a[3]), int(a[4]), int(a[5]), float(a[6])
        trickle = float(a[7]) if len(a) > 7 else 0
        out = {}; ts = []
        for k in range(K):
            t = threading.Thread(target=staller, args=(ep, k, big, body, trickle, out), daemon=True)
            t.start(); ts.append(t); time.sleep(gap)
        for t in ts: t.join(timeout=float(a[8]) if len(a) > 8 else 120)
        print(json.dumps({"closed_after_s": out}), flush=True)
