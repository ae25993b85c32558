# pull.py ADDR SECS [CURVE_SERVER_PUBKEY]: libzmq PULL, prints MB/s per second and messages, latency max
import zmq, sys, time, struct, json
addr, secs = sys.argv[1], float(sys.argv[2])
c = zmq.Context(); w = c.socket(zmq.PULL)
if len(sys.argv) > 3:
    pub, sec = zmq.curve_keypair(); w.curve_publickey = pub; w.curve_secretkey = sec; w.curve_serverkey = sys.argv[3].encode()
w.connect('tcp://' + addr); t0 = time.time(); per = []; cur = 0; nxt = t0 + 1; n = 0; mx = 0
while time.time() < t0 + secs:
    if w.poll(50):
        m = w.recv(); cur += len(m); n += 1
        seq, ts = struct.unpack('>Qd', m[:16]); mx = max(mx, time.time() - ts)
    if time.time() >= nxt: per.append(round(cur / 1e6, 2)); cur = 0; nxt += 1
print('PULL ' + json.dumps({'msgs': n, 'MBps_per_s': per, 'maxlat_s': round(mx, 2)}), flush=True)
c.destroy(linger=0)
