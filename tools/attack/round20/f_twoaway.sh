#!/bin/bash
# f_twoaway.sh: two uplinks (two > endpoints), A away for ~5 s of a 10 s flow while B stays.
. $(dirname $0)/lib.sh
N=20000
NAME=twoaway; D=/tmp/att20-twoaway; rm -rf $D; rm -f $L/zedge.$NAME.log
$PEER cloud $CLOUD2 $L/twoaway.B 3 30 '*' > /dev/null &
BP=$!
$PEER cloud $CLOUD $L/twoaway.A1 100 3.5 '*' > /dev/null &
AP=$!
sleep 0.5
zstart $D --backend ">$CLOUD2"
$PEER pub $FRONT 0 $N 2000 100 a > /dev/null &
PP=$!
wait $AP
sleep 4
$PEER cloud $CLOUD $L/twoaway.A2 3 30 '*' > /dev/null
wait $PP $BP
cat $L/twoaway.A1 $L/twoaway.A2 > $L/twoaway.A
echo "A: $($AN $L/twoaway.A $N a)"
echo "B: $($AN $L/twoaway.B $N a)"
spool_metrics
zstop
