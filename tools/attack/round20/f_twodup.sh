#!/bin/bash
# f_twodup.sh [KILL_AFTER_S]: two uplinks A (slow) and B (fast), both subscribed to all. A leaves
# while zedge's queue for it holds unbegun messages. Does B get any twice?
. $(dirname $0)/lib.sh
K=${1:-3}; N=20000
NAME=twodup; D=/tmp/att20-twodup; rm -rf $D; rm -f $L/zedge.$NAME.log
$PEER slowcloud $CLOUD $L/twodup.A 500 $K '*' > /dev/null &
AP=$!
$PEER cloud $CLOUD2 $L/twodup.B 4 40 '*' > /dev/null &
BP=$!
sleep 0.5
zstart $D --backend ">$CLOUD2" --queue-hwm 8M --kernel-send-max 4K
sleep 1
$PEER pub $FRONT 0 $N 5000 100 a &
PP=$!
wait $AP
echo "A gone at ${K}s: $(spool_metrics)"
wait $PP; wait $BP
echo "B: $($AN $L/twodup.B $N a)"
echo "A: $($AN $L/twodup.A $N a)"
spool_metrics
zstop
