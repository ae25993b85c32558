#!/bin/bash
# e6_dupep.sh: the same > endpoint given twice (--backend '>A' --backend '>A') with --spool, beside
# uplink B; A and B clouds read; 10,000 (100 B) published at 2,000/s. Does the spool open?
. $(dirname $0)/lib.sh
NAME=e6dup; D=/tmp/att25-e6; rm -rf $D; rm -f $L/zedge.$NAME.log
$PEER cloud $A $L/e6.A 4 30 '*' > /dev/null & AP=$!
$PEER cloud $B $L/e6.B 4 30 '*' > /dev/null & BP=$!
UPS=">$A >$A >$B" zstart $D
sleep 1
$PEER pub $FRONT 0 10000 2000 100 a
wait $AP $BP
echo "A (two connections): $($AN $L/e6.A 10000 | cut -c1-150)"
echo "B: $($AN $L/e6.B 10000 | cut -c1-150)"
spool_metrics | cut -c1-300
grep -E 'WARN|ERROR' $L/zedge.$NAME.log | grep -v 'cannot connect' | cut -c25-300 | sort | uniq -c
ls $D
zstop
