# Orchestrate one scenario: zedge + optional hostiles + optional big publishers + normal flow.
import subprocess, sys, time, argparse, shlex, threading, re, collections, os
ap = argparse.ArgumentParser()
ap.add_argument('--name', required=True)
ap.add_argument('--zargs', default='')
ap.add_argument('--hostile', action='append', default=[])   # args for hostile.py
ap.add_argument('--bigpub', action='append', default=[])    # "size rate [topic]"
ap.add_argument('--bigsub', action='store_true'); ap.add_argument('--tickall', action='store_true')
ap.add_argument('--secs', type=float, default=15)
ap.add_argument('--victim', action='append', default=[])
a = ap.parse_args()
# ZEDGE_BIN: the zedge to attack (round 17 used a release build of 9cc2be8).
Z = os.environ.get('ZEDGE_BIN', '../../../target/release/zedge')
os.makedirs('logs', exist_ok=True)
zcmd = [Z, 'forwarder', '--frontend', 'tcp://127.0.0.1:9970', '--backend', 'tcp://0.0.0.0:9971', '-v', '--metrics', '127.0.0.1:9978'] + shlex.split(a.zargs)
log = open(f'logs/{a.name}.zedge.log', 'w')
z = subprocess.Popen(zcmd, stderr=log, stdout=log)
time.sleep(0.5)
import urllib.request
qb = []; last = ['']
rss = []; stop = threading.Event()
def samp():
    while not stop.is_set():
        try:
            for l in open(f'/proc/{z.pid}/status'):
                if l.startswith('VmRSS'): rss.append(int(l.split()[1]))
        except Exception: pass
        try:
            m = urllib.request.urlopen('http://127.0.0.1:9978/metrics', timeout=0.5).read().decode()
            for l in m.splitlines():
                if l.startswith('zedge_queued_bytes{device="forwarder",side="backend"}'): qb.append(int(l.split()[-1]))
            last[0] = m
        except Exception: pass
        time.sleep(0.1)
threading.Thread(target=samp, daemon=True).start()
procs = []
total = a.secs + 4
for h in a.hostile:
    procs.append(subprocess.Popen(['python3', 'hostile.py', '--secs', str(total)] + shlex.split(h), stderr=subprocess.PIPE, text=True))
time.sleep(0.5)
for b in a.bigpub:
    parts = b.split()
    procs.append(subprocess.Popen(['python3', 'bigpub.py', '9970', parts[0], parts[1], str(total)] + parts[2:], stderr=subprocess.PIPE, text=True))
vps = [subprocess.Popen(v, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for v in a.victim]
nargs = ['python3', 'normal.py', '--secs', str(a.secs)] + (['--bigsub'] if a.bigsub else []) + (['--tickall'] if a.tickall else [])
n = subprocess.run(nargs, capture_output=True, text=True)
for p in procs:
    try: _, err = p.communicate(timeout=15)
    except subprocess.TimeoutExpired: p.kill(); _, err = p.communicate()
    print('  ' + err.strip().replace('\n', '\n  '))
for v in vps:
    try: o,_ = v.communicate(timeout=30)
    except subprocess.TimeoutExpired: v.kill(); o,_ = v.communicate()
    print('  ' + ' '.join(l for l in o.splitlines() if '{' in l))
stop.set()
alive = z.poll() is None
z.terminate()
try: z.wait(5)
except subprocess.TimeoutExpired: z.kill(); print('  zedge did not stop on SIGTERM')
log.close()
txt = open(f'logs/{a.name}.zedge.log').read()
warns = [l for l in txt.splitlines() if 'WARN' in l or 'ERROR' in l]
kinds = collections.Counter(re.sub(r'\d+', 'N', re.sub(r'^\S+\s+', '', l))[:110] for l in warns)
print(f'== {a.name}: zedge {" ".join(zcmd[2:])}')
print(f'  hostile={a.hostile} bigpub={a.bigpub}')
print('  ' + (n.stdout.strip() or n.stderr[-500:]))
print(f'  zedge alive at end={alive} exit={z.returncode} RSS max={max(rss) if rss else None} kB last={rss[-1] if rss else None} kB')
print(f'  backend queued bytes max={max(qb) if qb else None}')
for l in last[0].splitlines():
    if ('dropped_total' in l or 'peers_closed_total' in l) and not l.endswith(' 0') and not l.startswith('#'): print('    ' + l)
print(f'  WARN/ERROR lines={len(warns)}')
for k, v in kinds.most_common(6): print(f'    {v}x {k}')
tail = [l for l in txt.splitlines() if 'could not deliver' in l or 'undeliver' in l.lower() or 'dropped' in l]
for l in tail[-3:]: print('    ' + l[:200])
