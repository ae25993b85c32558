# Victim: libzmq SUB of TOPIC at HOST:PORT reading at full speed (or sleeping PROC s per message).
# Reports messages, seq gaps, disconnects (socket monitor), max latency.
import zmq, zmq.utils.monitor as zm, sys, time, struct, json, argparse, threading
ap = argparse.ArgumentParser()
ap.add_argument('--addr', default='127.0.0.1:9971'); ap.add_argument('--topic', default='big')
ap.add_argument('--secs', type=float, default=16); ap.add_argument('--proc', type=float, default=0)
ap.add_argument('--name', default='victim'); ap.add_argument('--curve', default='')
a = ap.parse_args()
c = zmq.Context(); s = c.socket(zmq.SUB); s.setsockopt(zmq.SUBSCRIBE, a.topic.encode()); s.setsockopt(zmq.RCVHWM, 100000)
mon = s.get_monitor_socket(zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECTED)
s.connect('tcp://' + a.addr)
ev = {'disc': 0, 'conn': 0}; stop = threading.Event(); tdisc = []
def m():
    while not stop.is_set():
        if mon.poll(100):
            e = zm.recv_monitor_message(mon)
            if e['event'] == zmq.EVENT_DISCONNECTED: ev['disc'] += 1; tdisc.append(round(time.time()-t0, 2))
            elif e['event'] == zmq.EVENT_CONNECTED: ev['conn'] += 1
t0 = time.time(); threading.Thread(target=m, daemon=True).start()
seqs = []; maxlat = 0; lats = []
end = t0 + a.secs
while time.time() < end:
    if s.poll(100):
        msg = s.recv(); L = len(a.topic)
        seq, ts = struct.unpack('>Qd', msg[L:L+16]); lat = time.time() - ts
        seqs.append(seq); lats.append(lat); maxlat = max(maxlat, lat)
        if a.proc: time.sleep(a.proc)
stop.set()
gaps = sum(1 for x, y in zip(seqs, seqs[1:]) if y != x + 1)
missing = (seqs[-1] - seqs[0] + 1 - len(set(seqs))) if seqs else None
print(a.name.upper() + ' ' + json.dumps({'got': len(seqs), 'first': seqs[0] if seqs else None, 'last': seqs[-1] if seqs else None, 'gaps': gaps, 'missing': missing, 'maxlat_ms': round(maxlat*1000, 1), 'disconnects': ev['disc'], 'disc_at': tdisc[:8]}), flush=True)
c.destroy(linger=0)
