#!/bin/bash
# sm.sh [SPOOLMAX N RA]: item 5, a very small --spool-max with two lanes: A reads RA/s (2500, least
# buffers: its lane hovers and spools), B away, a local SUB; N (40000) × 100 B at 3000/s; then B comes.
# Every loss at A and B against the dropped counts and the warnings.
. $(dirname $0)/lib.sh
SM=${1:-1M}; N=${2:-40000}; RA=${3:-2500}
NAME=sm; D=/tmp/att29-sm; rm -rf $D; rm -f $L/zedge.$NAME.log $L/sm.*
$PEER pacecloud $A $L/sm.A $RA 60 5 '*' > /dev/null & AP=$!
sleep 0.3
zstart $D --queue-hwm 64K --spool-max $SM
$PEER sub $LOCAL $L/sm.local 5 90 '*' > /dev/null & SP=$!
sleep 0.3
$PEER pub $FRONT 0 $N 3000 100 a > /dev/null
echo "after pub: $(short_spool)"
wait $AP
$PEER cloud $B $L/sm.B 3 60 '*' > /dev/null
wait $SP
echo "A: $($CAN $L/sm.A 0-$N | cut -c1-250)"
echo "B: $($CAN $L/sm.B 0-$N | cut -c1-250)"
echo "local: $($CAN $L/sm.local 0-$N | cut -c1-120)"
echo "end: $(short_spool)"
metric 'zedge_messages_dropped_total' | grep -v ' 0$' | sed 's/device="[^"]*",//' | tr '\n' ' '; echo
zstop
grep -E 'WARN|ERROR' $L/zedge.$NAME.log | grep -v 'cannot connect' | cut -c25-300 | head -8
grep -E 'dropped' $L/zedge.$NAME.log | tail -2 | cut -c25-300
