#!/usr/bin/env python3
"""latan.py FILE N: ids 0..N-1 expected once; received/unique/dups/lost/backwards, latency p50/p99/max,
and the seconds spent above 1 s of latency."""
import sys, json
g = []; lat = []
for l in open(sys.argv[1]):
    p = l.split()
    if p[0] != "a": continue
    g.append(int(p[1])); lat.append(float(p[2]))
n = int(sys.argv[2]); s = set(g); back = sum(1 for x, y in zip(g, g[1:]) if y < x)
miss = sorted(set(range(n)) - s); runs = []
for m in miss:
    if runs and runs[-1][1] == m - 1: runs[-1][1] = m
    else: runs.append([m, m])
ls = sorted(lat); q = lambda f: round(ls[min(len(ls) - 1, int(f * len(ls)))], 1) if ls else None
print(json.dumps({"received": len(g), "unique": len(s), "dups": len(g) - len(s), "lost": len(miss), "lost_runs": runs[:4],
  "backwards": back, "lat_p50_ms": q(.5), "lat_p99_ms": q(.99), "lat_max_ms": q(1.0), "n_over_1s": sum(1 for x in lat if x > 1000)}))
