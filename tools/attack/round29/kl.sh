#!/bin/bash
# kl.sh SIG DELTA [R1 LEAVE HWM FSYNC N1]: item 3, a lane's uplink that leaves with messages queued
# while another uplink is away, then a stop or crash DELTA s later. U1 (A) reads R1/s (2500) with
# least buffers and leaves LEAVE (2.5) s in; U2 (B) is away; U0 (C) a normal cloud. A PUB sends
# 0..N1 (9000) at 3000/s. SIG (TERM|KILL) zedge DELTA s after U1 left; restart; U1, U2, U0 come as
# normal clouds; N1..N1+3000 published. Per connection: dups, backwards; U1's losses against U2's set.
. $(dirname $0)/lib.sh
SIG=${1:-KILL}; DELTA=${2:-0.5}; R1=${3:-2500}; LEAVE=${4:-2.5}; HWM=${5:-64K}; FS=${6:-1s}; N1=${7:-9000}
NAME=kl; D=/tmp/att29-kl; rm -rf $D; rm -f $L/zedge.$NAME.log $L/kl.*
N2=$((N1 + 3000))
$PEER cloud $C $L/kl.U0a 10 60 '*' > /dev/null & P0=$!
sleep 0.2
UPS=">$A >$B >$C" zstart $D --queue-hwm $HWM --spool-fsync $FS
$PEER pub $FRONT 0 $N1 3000 100 a > /dev/null & PP=$!
sleep 0.5
$PEER pacecloud $A $L/kl.U1a $R1 $LEAVE 5 '*' > /dev/null & P1=$!
wait $P1
sleep $DELTA
echo "at $SIG: $(short_spool)"
echo "  lanes: $(curl -s -m 3 http://$METRICS/metrics | grep -E '^zedge_spool_lane_(messages|spooling)' | sed -E 's/.*uplink="tcp:..127.0.0.1:79([0-9]+)".*\} /u\1=/' | tr '\n' ' ')"
kill -$SIG $ZPID; wait $ZPID 2>/dev/null
kill $PP 2>/dev/null; wait $PP 2>/dev/null; kill $P0 2>/dev/null; wait $P0 2>/dev/null
n=$(grep 'zedge stopped after' $L/zedge.$NAME.log | tail -1 | sed -E 's/.*: ([0-9]+) messages in.*/\1/')
echo "took (stop line): ${n:-none}; cursor: $(tr '\n' '|' < $D/cursor)"
python3 $R/spooldump.py $D
grep -E 'queued live|recovered|given back|go to the spool|moved .* out' $L/zedge.$NAME.log | grep -E '7942|spool' | cut -c25-230
$PEER cloud $A $L/kl.U1b 3 40 '*' > /dev/null & P1=$!
$PEER cloud $B $L/kl.U2 3 40 '*' > /dev/null & P2=$!
$PEER cloud $C $L/kl.U0b 3 40 '*' > /dev/null & P0=$!
sleep 0.3
UPS=">$A >$B >$C" zstart $D --queue-hwm $HWM --spool-fsync $FS
grep -E 'messages to send' $L/zedge.$NAME.log | cut -c25-200
sleep 1
$PEER pub $FRONT $N1 $N2 3000 100 a > /dev/null
wait $P1 $P2 $P0
python3 - $L $N1 $N2 <<'PY'
import sys
L, n1, n2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def ids(f): return [int(l.split()[1]) for l in open(f"{L}/kl.{f}") if not l.startswith("#") and l.split()[0] != "?"]
def st(g):
    back = [(a, b) for a, b in zip(g, g[1:]) if b <= a]
    return f"n={len(g)} uniq={len(set(g))} dups={len(g)-len(set(g))} back={len(back)} {back[:4]}"
u1a, u1b, u2, u0a, u0b = ids("U1a"), ids("U1b"), ids("U2"), ids("U0a"), ids("U0b")
for k, g in [("U1a", u1a), ("U1b", u1b), ("U2", u2), ("U0a", u0a), ("U0b", u0b)]: print(f"  {k}: {st(g)}")
ref = set(u2) | set(u0a) | set(u0b)
both = set(u1a) | set(u1b)
miss = sorted(ref - both)
runs = []
for m in miss:
    if runs and runs[-1][1] == m - 1: runs[-1][1] = m
    else: runs.append([m, m])
print(f"  U1 lost vs (U2|U0): {len(miss)} {runs[:6]}; U1a last {u1a[-1] if u1a else None}; U1b first {u1b[:3]}")
print(f"  U1 across connections dups: {len(set(u1a) & set(u1b))}; U2 missing of phase1 (vs U0a): {len(set(u0a) - set(u2))}")
PY
kill -0 $ZPID && echo "zedge alive; $(rss $ZPID)" || echo "ZEDGE DEAD"
zstop
