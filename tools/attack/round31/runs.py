#!/usr/bin/env python3
"""runs.py FILE: the ids in the order received, as contiguous ascending runs (start-end xcount), with '#' marks."""
import sys
runs = []
for line in open(sys.argv[1]):
    if line.startswith("#"): runs.append(line.strip()); continue
    i = int(line.split()[1])
    if runs and isinstance(runs[-1], list) and i == runs[-1][1] + 1: runs[-1][1] = i; runs[-1][2] += 1
    else: runs.append([i, i, 1])
for r in runs: print(r if isinstance(r, str) else "%d-%d x%d" % tuple(r))
