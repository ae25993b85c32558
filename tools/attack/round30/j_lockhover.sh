#!/bin/bash
# j_lockhover.sh [HOLD R1 HWM N RATE SIZE]: target 1, a hovering uplink. Fresh spool locked for HOLD (30) s;
# zedge with the one uplink A (a pacecloud reading R1 (1000)/s, least buffers), a local SUB. A PUB sends
# 0..N (60000) x SIZE (200) B at RATE (2000)/s. --queue-hwm HWM (4M). A's queue fills past the hold,
# so its lane flips between spooling (sink) and live while the spool is locked.
# Expect: A gets every id once, or the loss is counted.
. $(dirname $0)/lib.sh
HOLD=${1:-30}; R1=${2:-1000}; HWM=${3:-4M}; N=${4:-60000}; RATE=${5:-2000}; SIZE=${6:-200}
NAME=jlh; D=$T-jlh; rm -rf $D; mkdir -p $D; rm -f $L/zedge.$NAME.log $L/jlh.*
( flock $D/lock sleep $HOLD ) & FP=$!; sleep 0.2
$PEER pacecloud $A $L/jlh.A $R1 200 8 '*' > /dev/null & AP=$!
UPS=">$A" zstart $D --queue-hwm $HWM
$PEER sub $LOCAL $L/jlh.local 8 200 '*' > /dev/null & SP=$!
$PEER pub $FRONT 0 $N $RATE $SIZE a > $L/jlh.pub.json &
PP=$!
for i in $(seq 5 5 $((HOLD + 10))); do sleep 5; echo "  t=$i A $(grep -vc '^#' $L/jlh.A) local $(grep -vc '^#' $L/jlh.local) | $(short_spool | cut -c1-150) | drops $(drops)"; done
wait $FP $PP $SP
echo "pub: $(cat $L/jlh.pub.json)"
wait $AP
for w in A local; do echo "$w: $($CAN $L/jlh.$w 0-$N)"; done
echo "drops: $(drops)"
echo "spool: $(short_spool)"
grep -E 'held while|spool .*open|gone|closing' $L/zedge.$NAME.log | cut -c12-220 | head -8
warns
kill -0 $ZPID && echo "zedge alive" || echo "ZEDGE DEAD"
zstop
grep -E 'stopped after|dropped' $L/zedge.$NAME.log | tail -3 | cut -c25-300
