#!/bin/bash
# j_lockterm.sh [SIG TS LEAVE R1 HWM N]: targets 1 and 5. Fresh spool locked (for good, until the stop).
# zedge with uplinks A (pacecloud reading R1 (1500)/s, least buffers, leaves LEAVE (10) s in) and B (away),
# a local SUB. PUB 0..N (40000) x 100 B at 2000/s. SIG (TERM|HUP) at TS (14) s, lock still held.
# TERM: then the lock goes, zedge restarts, A and B come as normal clouds. HUP: the lock goes 3 s after.
# Expect: what A and B did not get is counted (drops / stop lines) and logged.
. $(dirname $0)/lib.sh
SIG=${1:-TERM}; TS=${2:-14}; LEAVE=${3:-10}; R1=${4:-1500}; HWM=${5:-8M}; N=${6:-40000}
NAME=jlt; D=$T-jlt; rm -rf $D; mkdir -p $D; rm -f $L/zedge.$NAME.log $L/jlt.*
flock -o $D/lock sleep 300 & FP=$!; sleep 0.2
$PEER pacecloud $A $L/jlt.A1 $R1 $LEAVE 30 '*' > /dev/null & AP=$!
zstart $D --queue-hwm $HWM
$PEER sub $LOCAL $L/jlt.local 8 200 '*' > /dev/null & SP=$!
$PEER pub $FRONT 0 $N 2000 100 a > $L/jlt.pub.json &
PP=$!
sleep $TS
echo "at $SIG: A1 $(grep -vc '^#' $L/jlt.A1) local $(grep -vc '^#' $L/jlt.local) | $(short_spool | cut -c1-150) | drops $(drops)"
wait $AP
if [ $SIG = TERM ]; then
  kill -TERM $ZPID; wait $ZPID
  echo "stop lines:"; grep -E 'stopped|not delivered|dropped|go to the spool|lost|could not' $L/zedge.$NAME.log | cut -c25-300
  kill $FP; wait $FP 2>/dev/null; sleep 0.2
  $PEER cloud $A $L/jlt.A2 4 60 '*' > /dev/null & AP=$!
  $PEER cloud $B $L/jlt.B 4 60 '*' > /dev/null & BP=$!
  zstart $D --queue-hwm $HWM
  wait $PP
else
  kill -HUP $ZPID; sleep 3; kill $FP; wait $FP 2>/dev/null
  $PEER cloud $A $L/jlt.A2 6 90 '*' > /dev/null & AP=$!
  $PEER cloud $B $L/jlt.B 6 90 '*' > /dev/null & BP=$!
  wait $PP
fi
wait $AP $BP $SP
cat $L/jlt.A1 $L/jlt.A2 > $L/jlt.A
echo "pub: $(cat $L/jlt.pub.json)"
for w in A1 A2 A B local; do echo "$w: $($CAN $L/jlt.$w 0-$N | cut -c1-260)"; done
echo "drops (after restart): $(drops)"
echo "spool: $(short_spool)"
grep -E 'held while|spool .*open|gone|closing|queued live' $L/zedge.$NAME.log | cut -c12-220 | head -10
warns
zstop
grep -E 'stopped after|dropped' $L/zedge.$NAME.log | tail -3 | cut -c25-300
