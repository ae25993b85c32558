#!/bin/bash
# e6b_dupep_outage.sh [ZBIN]: as e6_dupep.sh (A given twice, B once), but B is away for the first
# ~4 s of a 10 s flow (20,000 x 100 B at 2,000/s): is B's outage spooled? local SUB, A as control.
. $(dirname $0)/lib.sh
Z=${1:-$Z}
NAME=e6b; D=/tmp/att25-e6b; rm -rf $D; rm -f $L/zedge.$NAME.log
$PEER cloud $A $L/e6b.A 4 40 '*' > /dev/null & AP=$!
UPS=">$A >$A >$B" zstart $D
$PEER sub $LOCAL $L/e6b.local 4 40 '*' > /dev/null & SP=$!
sleep 1
$PEER pub $FRONT 0 20000 2000 100 a > /dev/null & PP=$!
sleep 4
$PEER cloud $B $L/e6b.B 4 40 '*' > /dev/null & BP=$!
wait $PP $AP $BP $SP
echo "A (given twice): $($AN $L/e6b.A 20000 | cut -c1-150)"
echo "B (away 4 s): $($AN $L/e6b.B 20000 | cut -c1-150)"
echo "local: $($AN $L/e6b.local 20000 | cut -c1-150)"
spool_metrics | cut -c1-400
metric 'zedge_messages_dropped_total' | grep -v ' 0$'
grep -E 'WARN|ERROR' $L/zedge.$NAME.log | grep -v 'cannot connect' | cut -c25-250 | sort | uniq -c
zstop
