#!/bin/bash
# e4b_unopenable.sh [OFFSET]: the e4 template spool (10,000 spooled for A and B; run e4_cursor.sh
# first) with A's cursor line pointing OFFSET bytes into the first block (not a block's start):
# does the spool open, do A, B and a local SUB get the 10,000 spooled and 5,000 new ones?
. $(dirname $0)/lib.sh
OFF=${1:-37}
T=/tmp/att25-e4-template; D=/tmp/att25-e4b; rm -rf $D; cp -a $T $D
printf "1 $OFF 0 tcp://127.0.0.1:7702\n1 0 0 tcp://127.0.0.1:7705\n" > $D/cursor
NAME=e4b; rm -f $L/zedge.$NAME.log
zstart $D
$PEER cloud $A $L/e4b.A 4 30 '*' > /dev/null & AP=$!
$PEER cloud $B $L/e4b.B 4 30 '*' > /dev/null & BP=$!
$PEER sub $LOCAL $L/e4b.local 4 30 '*' > /dev/null & SP=$!
sleep 1
$PEER pub $FRONT 10000 15000 2000 100 a
wait $AP $BP $SP
echo "A: $($AN $L/e4b.A 15000 | cut -c1-150)"
echo "B: $($AN $L/e4b.B 15000 | cut -c1-150)"
echo "local (new 5000): $($AN $L/e4b.local 15000 a 10000 | cut -c1-150)"
spool_metrics | cut -c1-400
metric 'zedge_messages_dropped_total' | grep -v ' 0$'
grep -E 'WARN|ERROR' $L/zedge.$NAME.log | grep -v 'cannot connect' | cut -c25-260 | sort | uniq -c
zstop
