#!/usr/bin/env python3
"""analyze.py OUTFILE N [TOPICS] [FIRST]: ids FIRST..N-1 whose topic (TOPICS[i % len]) is one
of WANT (env WANT, default all) expected; prints lost, duplicated, out of order, odd."""
import sys, json, os
def analyze(path, n, topics="a", first=0, want=None):
    got = []; odd = 0; flaps = []; wrong_topic = 0
    for line in open(path):
        if line.startswith("#flap"): flaps.append(int(line.split()[-1])); continue
        if line.startswith("#"): continue
        t, i = line.split()
        i = int(i)
        if i < 0: odd += 1; continue
        if t != topics[i % len(topics)]: odd += 1; continue
        if want and t not in want: wrong_topic += 1
        got.append(i)
    seen = set(); dups = 0
    for i in got:
        if i in seen: dups += 1
        seen.add(i)
    exp = set(i for i in range(first, n) if not want or topics[i % len(topics)] in want)
    missing = sorted(exp - seen)
    extra = sorted(seen - exp)
    back = sum(1 for a, b in zip(got, got[1:]) if b < a)
    runs = []
    for m in missing:
        if runs and runs[-1][1] >= m - len(topics): runs[-1][1] = m
        else: runs.append([m, m])
    return {"expected": len(exp), "received": len(got), "unique": len(seen), "duplicates": dups,
            "lost": len(missing), "lost_runs": len(runs), "first_lost": runs[:5],
            "unexpected": len(extra), "wrong_topic": wrong_topic, "backwards_steps": back,
            "odd": odd, "flaps": len(flaps)}
if __name__ == "__main__":
    a = sys.argv
    print(json.dumps(analyze(a[1], int(a[2]), a[3] if len(a) > 3 else "a",
                             int(a[4]) if len(a) > 4 else 0, os.environ.get("WANT"))))
