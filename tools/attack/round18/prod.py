# prod.py PORT SECS SIZE [RATE]: libzmq PUSH, SIZE-byte messages (seq, ts first), as fast as HWM allows (or RATE/s)
import zmq, sys, time, struct
port, secs, size = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]); rate = float(sys.argv[4]) if len(sys.argv) > 4 else 0
c = zmq.Context(); p = c.socket(zmq.PUSH); p.setsockopt(zmq.SNDHWM, 100); p.connect(f'tcp://127.0.0.1:{port}'); time.sleep(0.3)
body = b'x' * (size - 16); t0 = time.time(); i = 0
while time.time() < t0 + secs:
    if rate:
        d = t0 + i / rate - time.time()
        if d > 0: time.sleep(d)
    try: p.send(struct.pack('>Qd', i, time.time()) + body, zmq.NOBLOCK); i += 1
    except zmq.Again: time.sleep(0.001)
print('PROD sent', i, file=sys.stderr); c.destroy(linger=0)
