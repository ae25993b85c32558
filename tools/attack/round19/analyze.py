#!/usr/bin/env python3
"""analyze.py OUTFILE N [FIRST]: ids 0..N-1 expected (FIRST..N-1); prints lost, duplicated, out of order, odd."""
import sys, json
def analyze(path, n, first=0):
    got = []; odd = 0; flaps = []
    for line in open(path):
        if line.startswith("#flap"): flaps.append(int(line.split()[-1])); continue
        if line.startswith("#"): continue
        i = int(line)
        if i < 0: odd += 1; continue
        got.append(i)
    seen = set(); dups = 0
    for i in got:
        if i in seen: dups += 1
        seen.add(i)
    exp = set(range(first, n))
    missing = sorted(exp - seen)
    extra = sorted(seen - exp)
    back = sum(1 for a, b in zip(got, got[1:]) if b < a)
    # runs of missing ids
    runs = []
    for m in missing:
        if runs and runs[-1][1] == m - 1: runs[-1][1] = m
        else: runs.append([m, m])
    return {"received": len(got), "unique": len(seen), "duplicates": dups, "lost": len(missing),
            "lost_runs": len(runs), "lost_run_sizes": [b - a + 1 for a, b in runs][:20],
            "first_lost": runs[:5], "unexpected": len(extra), "backwards_steps": back, "odd": odd,
            "flaps": len(flaps)}
if __name__ == "__main__":
    print(json.dumps(analyze(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)))
