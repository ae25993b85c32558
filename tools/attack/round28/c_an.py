#!/usr/bin/env python3
"""c_an.py OUTFILE RANGES: RANGES "a-b,c-d" (inclusive-exclusive) of ids expected once each.
Prints received, unique, dups, lost (with the first runs), unexpected, backwards steps (with where)."""
import sys, json
path, spec = sys.argv[1], sys.argv[2]
exp = set()
for r in spec.split(","):
    if not r: continue
    a, b = (int(x) for x in r.split("-")); exp.update(range(a, b))
got = []
for line in open(path):
    if line.startswith("#"): continue
    t, i = line.split(); i = int(i)
    if t == "B": continue
    got.append(i)
seen = set(); dups = 0; back = []
for k, i in enumerate(got):
    if i in seen: dups += 1
    seen.add(i)
    if k and i < got[k-1]: back.append((got[k-1], i))
missing = sorted(exp - seen); runs = []
for m in missing:
    if runs and runs[-1][1] == m - 1: runs[-1][1] = m
    else: runs.append([m, m])
print(json.dumps({"expected": len(exp), "received": len(got), "unique": len(seen & exp), "dups": dups,
  "lost": len(missing), "lost_runs": runs[:6], "unexpected": len(seen - exp), "backwards": len(back), "back_at": back[:6]}))
