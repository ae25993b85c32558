# N hostile raw SUBs on TOPIC. mode: deaf (never read) | burst:PERIOD (read all available every PERIOD s
# for up to DRAIN s) | trickle:BPS (read BPS bytes/s)
import sys, time, socket, select, argparse
from zmtp import connect_sub
ap = argparse.ArgumentParser()
ap.add_argument('--port', type=int, default=9971)
ap.add_argument('--n', type=int, default=8)
ap.add_argument('--topic', default='big')
ap.add_argument('--mode', default='deaf')
ap.add_argument('--rcvbuf', type=int, default=4096)
ap.add_argument('--drain', type=float, default=0.15)
ap.add_argument('--secs', type=float, default=30)
ap.add_argument('--reconnect', action='store_true')
a = ap.parse_args()
socks = []
for i in range(a.n):
    try: socks.append(connect_sub(a.port, a.topic.encode(), a.rcvbuf))
    except Exception as e: print('connect fail', i, e, file=sys.stderr)
for s in socks: s.setblocking(False)
print(f'hostile: {len(socks)} connected mode={a.mode}', file=sys.stderr, flush=True)
end = time.time() + a.secs
got = [0]*len(socks); closed = 0
alive = set(range(len(socks)))
def read_some(i, limit):
    global closed
    n = 0
    while n < limit:
        try: c = socks[i].recv(min(1<<20, limit-n))
        except BlockingIOError: break
        except OSError: c = b''
        if not c:
            closed += 1
            if a.reconnect:
                try:
                    socks[i].close(); socks[i] = connect_sub(a.port, a.topic.encode(), a.rcvbuf); socks[i].setblocking(False)
                except Exception: alive.discard(i)
            else: alive.discard(i)
            break
        n += len(c)
    got[i] += n
    return n
if a.mode == 'deaf':
    while time.time() < end:
        # only notice closes (peek 0 bytes would block); check EOF via select readable + MSG_PEEK
        r,_,_ = select.select([socks[i] for i in alive], [], [], 0.5)
        for s in r:
            i = socks.index(s)
            try:
                c = s.recv(1, socket.MSG_PEEK)
                if not c: raise OSError
            except OSError:
                closed += 1
                if a.reconnect:
                    try: socks[i].close(); socks[i] = connect_sub(a.port, a.topic.encode(), a.rcvbuf); socks[i].setblocking(False)
                    except Exception: alive.discard(i)
                else: alive.discard(i)
        time.sleep(0.5)
elif a.mode.startswith('burst:'):
    # socket i drains everything for up to DRAIN s at times i*per/n + k*per (staggered phases)
    per = float(a.mode.split(':')[1]); t00 = time.time(); nxt = [t00 + i*per/len(socks) for i in range(len(socks))]
    while time.time() < end:
        now = time.time()
        for i in list(alive):
            if now >= nxt[i]:
                t0 = time.time(); idle = 0
                while time.time() - t0 < a.drain:
                    if read_some(i, 1<<30) == 0:
                        idle += 1
                        if idle > 5: break
                        time.sleep(0.002)
                    else: idle = 0
                nxt[i] += per
        time.sleep(0.005)
elif a.mode.startswith('trickle:'):
    bps = float(a.mode.split(':')[1]); tick = 0.05
    while time.time() < end:
        for i in list(alive): read_some(i, int(bps*tick))
        time.sleep(tick)
print(f'hostile: alive={len(alive)} closed={closed} bytes_read_total={sum(got)}', file=sys.stderr, flush=True)
