#!/usr/bin/env python3
"""round 16: INITIATE metadata at size. meta.py BE KEYFILE SECS N PROPS VALSIZE [CHURN]
N libzmq CURVE SUB peers on BE (subscribed 'zz', never read), each announcing PROPS application
properties X-P<k> of VALSIZE bytes (ZMQ_METADATA: carried in its INITIATE); CHURN s > 0: each closes
and connects a new socket every CHURN s. Prints sockets made."""
import sys, time, json, zmq, threading
be, key, secs, n, props, vs = sys.argv[1:7]; churn = float(sys.argv[7]) if len(sys.argv) > 7 else 0
be, secs, n, props, vs = int(be), float(secs), int(n), int(props), int(vs)
srv = open(key).read().split('public-key = "')[1].split('"')[0].encode()
ctx = zmq.Context(); ctx.MAX_SOCKETS = 8000; made = [0]
def mk(j):
    s = ctx.socket(zmq.SUB); p, q = zmq.curve_keypair()
    s.curve_publickey = p; s.curve_secretkey = q; s.curve_serverkey = srv; s.setsockopt(zmq.LINGER, 0)
    for k in range(props): s.setsockopt(zmq.METADATA, b"X-P%d:" % k + bytes([65 + (j + k) % 26]) * vs)
    s.setsockopt(zmq.SUBSCRIBE, b"zz"); s.connect("tcp://127.0.0.%d:0;127.0.0.1:%d" % (2 + j % 8, be)); made[0] += 1; return s
socks = [mk(j) for j in range(n)]
end = time.monotonic() + secs
while time.monotonic() < end:
    time.sleep(churn if churn > 0 else 0.5)
    if churn > 0:
        for j in range(n): socks[j].close(0); socks[j] = mk(j)
print(json.dumps({"made": made[0]}))
