#!/bin/bash
# j_lockflap.sh [HOLD UP DOWN HWM N BLATE]: target 1. A fresh spool locked by another process for HOLD (20) s.
# zedge starts on it (uplinks A, B; local SUB). A is up from the start (zedge connects it at the 5 s hold),
# leaves UP (9) s after its bind for DOWN (3) s, then comes back steady. B is away until BLATE (HOLD+3) s.
# A PUB sends 0..N (22000) x 100 B at 1000/s from the start. --queue-hwm HWM (8M: the sink can hold it all).
# Expect: every uplink gets every id once (A: any order once across its connections), or the loss counted.
. $(dirname $0)/lib.sh
HOLD=${1:-20}; UP=${2:-9}; DOWN=${3:-3}; HWM=${4:-8M}; N=${5:-22000}; BLATE=${6:-$((HOLD + 3))}
NAME=jlf; D=$T-jlf; rm -rf $D; mkdir -p $D; rm -f $L/zedge.$NAME.log $L/jlf.*
( flock $D/lock sleep $HOLD ) & FP=$!; sleep 0.2
$PEER flap $A $L/jlf.A $UP $DOWN $((UP + 1)) 6 '*' > /dev/null & AP=$!
zstart $D --queue-hwm $HWM $EXTRA
$PEER sub $LOCAL $L/jlf.local 6 120 '*' > /dev/null & SP=$!
$PEER pub $FRONT 0 $N 1000 100 a > $L/jlf.pub.json &
PP=$!
( sleep $BLATE; exec $PEER cloud $B $L/jlf.B 5 90 '*' > /dev/null ) & BP=$!
for i in $(seq 4 4 $((${HOLD%.*} + 8))); do sleep 4; echo "  t=$i A $(grep -vc '^#' $L/jlf.A) local $(grep -vc '^#' $L/jlf.local) | $(short_spool | cut -c1-120)"; done
wait $FP $PP $AP $BP $SP
for w in A B local; do echo "$w: $($CAN $L/jlf.$w 0-$N)"; done
echo "drops: $(drops)"
echo "spool: $(short_spool)"
grep -E 'held while|could not be opened|connecting once|spool .*open|gone|closing' $L/zedge.$NAME.log | cut -c12-220 | head -14
warns
kill -0 $ZPID && echo "zedge alive" || echo "ZEDGE DEAD"
zstop
grep -E 'stopped after|dropped' $L/zedge.$NAME.log | tail -3 | cut -c25-300
