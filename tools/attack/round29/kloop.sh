#!/bin/bash
# kloop.sh [CYC DELTA SIG R1]: item 3 in a loop: each cycle zedge starts on the same spool, a PUB sends
# the next 6000 × 100 B at 3000/s, U1 (A) reads R1/s (2500, least buffers) from 0.3 s for 1.5 s and
# leaves, and DELTA (0.1) s later zedge gets SIG (TERM). U2 (B) is away until the last cycle; U0 (C)
# a normal cloud each cycle. Last: U1, U2 normal clouds, 3000 more. Each connection of U1: dups, rewinds.
. $(dirname $0)/lib.sh
CYC=${1:-6}; DELTA=${2:-0.1}; SIG=${3:-TERM}; R1=${4:-2500}
NAME=kloop; D=/tmp/att29-kloop; rm -rf $D; rm -f $L/zedge.$NAME.log $L/kq.*
for k in $(seq 0 $((CYC - 1))); do
  $PEER cloud $C $L/kq.U0.$k 3 20 '*' > /dev/null & P0=$!
  sleep 0.2
  UPS=">$A >$B >$C" zstart $D --queue-hwm 64K
  $PEER pub $FRONT $((k * 6000)) $((k * 6000 + 6000)) 3000 100 a > /dev/null & PP=$!
  sleep 0.8
  $PEER pacecloud $A $L/kq.U1.$k $R1 1.5 5 '*' > /dev/null
  sleep $DELTA
  kill -$SIG $ZPID; wait $ZPID 2>/dev/null
  kill $PP $P0 2>/dev/null; wait $PP $P0 2>/dev/null
done
$PEER cloud $A $L/kq.U1.$CYC 3 60 '*' > /dev/null & P1=$!
$PEER cloud $B $L/kq.U2 3 60 '*' > /dev/null & P2=$!
sleep 0.2
UPS=">$A >$B >$C" zstart $D --queue-hwm 64K
sleep 0.5
$PEER pub $FRONT $((CYC * 6000)) $((CYC * 6000 + 3000)) 3000 100 a > /dev/null
wait $P1 $P2
zstop
grep -E 'messages to send' $L/zedge.$NAME.log | cut -c25-120 | tr '\n' ';'; echo
python3 - $L $CYC <<'PY'
import sys, glob
L, cyc = sys.argv[1], int(sys.argv[2])
def ids(f): return [int(l.split()[1]) for l in open(f) if not l.startswith("#") and l.split()[0] != "?"]
allu1 = []
for k in range(cyc + 1):
    g = ids(f"{L}/kq.U1.{k}"); allu1 += g
    back = [(a, b) for a, b in zip(g, g[1:]) if b <= a]
    print(f"  U1 conn {k}: n={len(g)} dups={len(g)-len(set(g))} back={len(back)} {back[:3]}")
u2 = ids(f"{L}/kq.U2"); ref = set(u2)
for k in range(cyc): ref |= set(ids(f"{L}/kq.U0.{k}"))
b2 = [(a, b) for a, b in zip(u2, u2[1:]) if b <= a]
print(f"  U2: n={len(u2)} dups={len(u2)-len(set(u2))} back={len(b2)}; ref {len(ref)}")
miss = sorted(ref - set(allu1)); print(f"  U1 lost vs ref: {len(miss)}; across connections dups {len(allu1)-len(set(allu1))}")
PY
