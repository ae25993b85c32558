#!/usr/bin/env python3
"""flapan.py OUTFILE N [TOPICS]: for a flapr cloud's file, per connected period: ids got, and
the ids lost between periods (in flight at a close) vs lost inside a period; dups, backwards."""
import sys, json
path, n = sys.argv[1], int(sys.argv[2]); topics = sys.argv[3] if len(sys.argv) > 3 else "a"
periods = [[]]; dups = 0; seen = set(); back = 0; prev = -1; back_at = []
for line in open(path):
    if line.startswith("#flap"): periods.append([]); continue
    if line.startswith("#"): continue
    t, i = line.split(); i = int(i)
    if i in seen: dups += 1
    if i < prev: back += 1; back_at.append((prev, i))
    prev = i; seen.add(i); periods[-1].append(i)
missing = sorted(set(range(n)) - seen)
# a lost id "at a close" lies after the last id of period k and before the first of k+1
bounds = []
for k in range(len(periods) - 1):
    if periods[k] and any(periods[k+1:]):
        nxt = next(p for p in periods[k+1:] if p)
        bounds.append((max(periods[k]), min(nxt)))
at_close = [m for m in missing if any(a < m < b for a, b in bounds)]
other = [m for m in missing if m not in set(at_close)]
runs = []
for m in other:
    if runs and runs[-1][1] >= m - len(topics): runs[-1][1] = m
    else: runs.append([m, m])
per_close = []
for a, b in bounds:
    c = sum(1 for m in missing if a < m < b)
    per_close.append(c)
print(json.dumps({"received": sum(len(p) for p in periods), "unique": len(seen), "dups": dups,
  "backwards": back, "back_at": back_at[:5], "lost": len(missing), "lost_at_close": len(at_close),
  "lost_at_close_per_flap": per_close, "lost_inside": len(other), "inside_runs": runs[:8],
  "periods": len(periods)}))
