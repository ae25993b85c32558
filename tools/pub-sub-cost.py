#!/usr/bin/env python3
"""What a libzmq PUB's own thread pays for the subscriptions it is sent.

libzmq's PUB (an XPUB underneath) takes in the subscriptions and cancellations its peers send
inside send(), on the application's thread, each at a cost of about its topic's length in its
trie. This binds a pyzmq PUB that publishes 1 KB messages at 50/s on its main thread, while a
raw ZMTP 3.0 NULL subscriber (another process) sends it SUBSCRIBE and CANCEL of NT topics of
TOPIC_LEN bytes, alternating, paced at RATE bytes a second (0: no flood; 'max': as fast as the
PUB takes them, and then its send() never returns, nor does this). It prints the rate the subscriber achieved, the share of its thread the PUB
spent in send() (thread CPU time over wall time) and how long its send() calls took.

usage: pub-sub-cost.py TOPIC_LEN NT SECS RATE [RATE ...]
e.g.   pub-sub-cost.py 16000 2 5 0 128000 256000 512000 1000000 2000000
"""
import multiprocessing as mp
import os
import socket
import struct
import sys
import time

import zmq


def frame(body, command=False, more=False):
    flags = (0x04 if command else 0) | (0x01 if more else 0)
    if len(body) > 255:
        return bytes([flags | 0x02]) + struct.pack(">Q", len(body)) + body
    return bytes([flags, len(body)]) + body


def greeting():
    # ZMTP 3.0, NULL, as client.
    return b"\xff" + b"\x00" * 8 + b"\x7f" + bytes([3, 0]) + b"NULL".ljust(20, b"\x00") + b"\x00" * 32


def read_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def flooder(port, tl, nt, rate, stop, sent):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(greeting())
    read_exact(s, 64)
    meta = b"\x0bSocket-Type" + struct.pack(">I", 3) + b"SUB"
    s.sendall(frame(b"\x05READY" + meta, command=True))
    # Their READY: a command frame.
    flags = read_exact(s, 1)[0]
    n = struct.unpack(">Q", read_exact(s, 8))[0] if flags & 0x02 else read_exact(s, 1)[0]
    read_exact(s, n)
    topics = [os.urandom(8) + b"z" * (tl - 8) for _ in range(nt)]
    msgs = []
    for subscribe in (True, False):
        msgs.extend(frame(bytes([int(subscribe)]) + t) for t in topics)
    # Subscribe every topic, then cancel every one, and again.
    i = 0
    start = time.monotonic()
    total = 0
    while not stop.value:
        if rate != "max":
            due = start + total / rate
            now = time.monotonic()
            if due > now:
                time.sleep(min(due - now, 0.01))
                continue
        m = msgs[i % len(msgs)]
        i += 1
        s.sendall(m)
        total += len(m)
        sent.value = total


def run(tl, nt, secs, rate):
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    stop, sent = mp.Value("b", 0), mp.Value("q", 0)
    fl = None
    if rate != 0:
        fl = mp.Process(target=flooder, args=(port, tl, nt, rate, stop, sent), daemon=True)
        fl.start()
    time.sleep(0.5)
    body = b"x" * 1000
    took = []
    cpu0, t0 = time.thread_time(), time.monotonic()
    sent0 = sent.value
    n = 0
    while time.monotonic() - t0 < secs:
        a = time.monotonic()
        pub.send(body)
        took.append(time.monotonic() - a)
        n += 1
        nxt = t0 + n / 50
        d = nxt - time.monotonic()
        if d > 0:
            time.sleep(d)
    wall = time.monotonic() - t0
    cpu = time.thread_time() - cpu0
    got = (sent.value - sent0) / wall
    stop.value = 1
    if fl:
        fl.join(2)
        if fl.is_alive():
            fl.kill()
    pub.close()
    ctx.term()
    took.sort()
    q = lambda f: took[min(len(took) - 1, int(f * len(took)))] * 1000
    print(
        f"topic {tl} B x{nt}  rate {str(rate):>8}  achieved {got / 1e6:7.3f} MB/s  "
        f"PUB thread {100 * cpu / wall:5.1f}%  sends {n:4} (wanted {int(50 * secs)})  "
        f"send() p50 {q(.5):.2f} p99 {q(.99):.2f} max {q(1):.2f} ms",
        flush=True,
    )


def main():
    tl, nt, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    for r in sys.argv[4:]:
        run(tl, nt, secs, r if r == "max" else float(r))


if __name__ == "__main__":
    main()
