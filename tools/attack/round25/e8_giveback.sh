#!/bin/bash
# e8_giveback.sh [HWM]: A reads 1,000/s (deep queue at --queue-hwm HWM), B fast; 30,000 x 100 B at
# 3,000/s; after 5 s A's peer closes (its queue is given back to its lane), back 1 s later as a
# fast reader. A: no dups, in order, losses only in flight; B: all.
. $(dirname $0)/lib.sh
HWM=${1:-4M}; N=30000
NAME=e8; D=/tmp/att25-e8; rm -rf $D; rm -f $L/zedge.$NAME.log
$PEER cloud $B $L/e8.B 5 60 '*' > /dev/null & BP=$!
$PEER pacecloud $A $L/e8.A1 1000 6 100 '*' > /dev/null & AP=$!
zstart $D --queue-hwm $HWM
sleep 0.5
$PEER pub $FRONT 0 $N 3000 100 a > /dev/null & PP=$!
wait $AP
echo "A's queue at close: $($Z peers --control $CTL 2>/dev/null | grep 7702)"
sleep 1
$PEER cloud $A $L/e8.A2 5 60 '*' > /dev/null
wait $PP $BP
(cat $L/e8.A1; echo "#flap 1 at 0"; cat $L/e8.A2) > $L/e8.A
echo "A: $(python3 $R/flapan.py $L/e8.A $N)"
echo "B: $($AN $L/e8.B $N | cut -c1-150)"
spool_metrics | cut -c1-900
grep -iE 'gave|given|recover|left' $L/zedge.$NAME.log | cut -c25-220 | head -5
zstop
