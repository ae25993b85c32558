#!/bin/bash
# k_lock.sh [HOLD_S]: phase 0: zedge with A steady and B away; 0..2999 published (B's lane spools
# 3000); stop. Phase 1: another process holds the spool's lock (flock DIR/lock) for HOLD_S (12) s;
# zedge starts on it with A and B up and a local SUB; a PUB sends 3000..14999 at 1000/s from the
# start (to END, 15000). Expect: A and B connect after 5 s and get live traffic; once the lock goes, the spool
# opens, and B gets 0..2999. Order per connection and duplicates are reported.
. ${LIB:-$(dirname $0)/lib.sh}; HERE=$(dirname $(realpath $0))
HOLD=${1:-12}; END=${2:-15000}
NAME=lock; D=${SPOOLS:-/tmp/att28}-k; rm -rf $D; rm -f $L/zedge.$NAME.log $L/k.*
$PEER cloud $A $L/k.A0 3 20 '*' > /dev/null & AP=$!
zstart $D
$PEER pub $FRONT 0 3000 3000 100 a > /dev/null; sleep 0.3
echo "phase 0: $(short_spool)"; zstop; wait $AP
( flock $D/lock sleep $HOLD ) & FP=$!; sleep 0.2
t0=$(date +%s.%N)
$PEER cloud $A $L/k.A 4 90 '*' > /dev/null & AP=$!
$PEER cloud $B $L/k.B 4 90 '*' > /dev/null & BP=$!
zstart $D
$PEER sub $LOCAL $L/k.local 4 90 '*' > /dev/null & SP=$!
$PEER pub $FRONT 3000 $END 1000 100 a > $L/k.pub.json &
for i in $(seq $((HOLD + 4))); do sleep 1; echo "  t=$i A $(grep -vc '^#' $L/k.A) B $(grep -vc '^#' $L/k.B) local $(grep -vc '^#' $L/k.local) | $(short_spool | cut -c1-90)"; done
wait $FP
wait $AP $BP $SP
for w in A B local; do echo "$w: $(python3 $HERE/../round27/c_an.py $L/k.$w $([ $w = B ] && echo 0-$END || echo 3000-$END))"; done
python3 - $L/k.B <<'PY'
import sys
g=[int(l.split()[1]) for l in open(sys.argv[1]) if not l.startswith('#')]
runs=[]; 
for x in g:
    if runs and x==runs[-1][1]+1: runs[-1][1]=x
    else: runs.append([x,x])
print("B's order (runs):", runs[:8])
PY
grep -E 'spool|connecting once|connected' $L/zedge.$NAME.log | tail -n +3 | cut -c12-200 | head -12
echo "end: $(short_spool)"
kill -0 $ZPID && echo "zedge alive; $(rss $ZPID)" || echo "ZEDGE DEAD"
zstop
