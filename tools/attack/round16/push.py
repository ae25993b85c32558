#!/usr/bin/env python3
"""round 16: push.py FE KEYFILE SECS SIZE: one CURVE PUSH producer sending SIZE-byte messages as fast as it can."""
import sys, time, json, zmq
fe, key, secs, size = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
srv = open(key).read().split('public-key = "')[1].split('"')[0].encode()
s = zmq.Context().socket(zmq.PUSH); p, q = zmq.curve_keypair()
s.curve_publickey = p; s.curve_secretkey = q; s.curve_serverkey = srv; s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.SNDTIMEO, 100)
s.connect("tcp://127.0.0.2:0;127.0.0.1:%d" % fe); m = b"a" * size; n = 0; end = time.monotonic() + secs
while time.monotonic() < end:
    try: s.send(m); n += 1
    except zmq.Again: pass
print(json.dumps({"pushed": n}))
