#!/usr/bin/env python3
"""spooldump.py DIR: each segment's blocks: offset, lane byte (top byte of the time field), messages,
first..last id (peer.py bodies: topic + %010d). Runs of consecutive ids shown per block."""
import sys, os, struct
d = sys.argv[1]
print("cursor:", open(os.path.join(d, "cursor")).read().strip().replace("\n", " | ") if os.path.exists(os.path.join(d, "cursor")) else None)
for f in sorted(os.listdir(d)):
    if not f.endswith(".seg"): continue
    b = open(os.path.join(d, f), "rb").read(); at = 0
    while at + 16 <= len(b):
        ln = struct.unpack("<I", b[at:at+4])[0]; tm = struct.unpack("<Q", b[at+8:at+16])[0]
        if ln == 0 or at + 16 + ln > len(b): print(f"  {f} @{at}: stop (len {ln})"); break
        p = b[at+16:at+16+ln]; i = 0; ids = []
        while i < len(p):
            fl = p[i]; 
            if fl & 2: n = struct.unpack(">Q", p[i+1:i+9])[0]; h = 9
            else: n = p[i+1]; h = 2
            body = p[i+h:i+h+n]; i += h + n
            if fl & 1: continue
            try: ids.append(int(body[1:11]))
            except ValueError: ids.append(-1)
        runs = []
        for x in ids:
            if runs and x == runs[-1][1] + 1: runs[-1][1] = x
            else: runs.append([x, x])
        print(f"  {f} @{at} len {ln} lanes {tm >> 56:#x} msgs {len(ids)} runs {runs[:6]}{' ...' if len(runs) > 6 else ''}")
        at += 16 + ln
