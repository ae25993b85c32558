#!/bin/bash
# f_deafuplink.sh [HWM]: two uplinks, A subscribes and never reads, B is a normal cloud; a PUB sends
# 2000/s of 100 B for 10 s. Does B (and the local SUB) get the flow?
. $(dirname $0)/lib.sh
N=20000; HWM=${1:-1M}
NAME=deaf; D=/tmp/att20-deaf; rm -rf $D; rm -f $L/zedge.$NAME.log
if [ -n "$SLOW" ]; then $PEER slowcloud $CLOUD $L/deaf.A $SLOW 30 "*" > /dev/null & else $PEER deaf $CLOUD 30 "*" & fi
AP=$!
$PEER cloud $CLOUD2 $L/deaf.B 5 25 '*' > /dev/null &
BP=$!
sleep 1.5
zstart $D --backend ">$CLOUD2" --queue-hwm $HWM
$PEER sub $LOCAL $L/deaf.local 3 25 '*' > /dev/null &
SP=$!
sleep 0.3
$PEER pub $FRONT 0 $N 2000 ${SIZE:-100} a
sleep 1
spool_metrics
echo "cpu: $(cpu $ZPID)"; sleep 3; echo "cpu: $(cpu $ZPID)"
wait $BP $SP
echo "B: $($AN $L/deaf.B $N a)"
echo "local: $($AN $L/deaf.local $N a)"
kill $AP; wait $AP
zstop
