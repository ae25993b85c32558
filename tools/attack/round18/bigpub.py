import zmq, sys, time, struct
port, size, rate, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
topic = (sys.argv[5] if len(sys.argv) > 5 else 'big').encode()
c = zmq.Context(); p = c.socket(zmq.PUB); p.setsockopt(zmq.SNDHWM, 4)
p.connect(f'tcp://127.0.0.1:{port}'); time.sleep(1.0)
body = b'x'*size; seq = 0; t0 = time.time(); end = t0 + secs
while time.time() < end:
    p.send(topic + struct.pack('>Qd', seq, time.time()) + body); seq += 1
    nxt = t0 + seq/rate
    d = nxt - time.time()
    if d > 0: time.sleep(d)
print(f'bigpub: sent {seq} msgs of {size}', file=sys.stderr, flush=True)
time.sleep(0.5)
