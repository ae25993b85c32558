#!/bin/sh
# skmem.sh: kernel socket memory of the broker's accepted sockets (local port 9980/9981):
# sum of wmem_queued (w) and rmem_alloc (r) over `ss -tmn`, in MB, and the largest w.
ss -tmn '( sport = :9980 or sport = :9981 )' | python3 -c '
import sys, re
t = sys.stdin.read(); ws = [int(x) for x in re.findall(r"skmem:\(r\d+,rb\d+,t\d+,tb\d+,f\d+,w(\d+)", t)]
rs = [int(x) for x in re.findall(r"skmem:\(r(\d+),", t)]
print("socks %d wmem_queued %.1f MB (max %.2f MB) rmem %.1f MB" % (len(ws), sum(ws)/1e6, max(ws or [0])/1e6, sum(rs)/1e6))'
