#!/bin/bash
# t4.sh NAME MECHVER NBYTES EVERY SECS: streamer, spool; 60000 x 100 B spooled; raw drip worker
# (greets ZMTP 3.MECHVER, PINGs and reads NBYTES every EVERY s) on CLOUD and reader B (2000/s).
. $(dirname $0)/lib.sh
export DEV=streamer; NAME=$1; MV=$2; NB=$3; EV=$4; SECS=$5; N=60000
D=/tmp/att24-$NAME; rm -rf $D; rm -f $L/zedge.$NAME.log
$PEER drip 7762 $NB $EV $SECS $L/$NAME.A $MV > $L/$NAME.A.out &
AP=$!; sleep 0.3
zstart $D --backend ">$CLOUD2"
$PEER push $FRONT 0 $N 0 100 a >/dev/null
sleep 1.2
$PEER recv pull $CLOUD2 $L/$NAME.B 2000 6 $SECS > /dev/null &
BP=$!
for t in 10 20 30 40; do sleep 10; echo "t=$t cursor '$(cat $D/cursor)' $(spool_metrics | grep -oE 'event="(sent|recovered)"} [0-9]*' | tr '\n' ' ') A read $(tail -1 $L/$NAME.A | cut -d' ' -f2) B cpu $(cpu $ZPID) $(rss $ZPID)"; done
$Z peers --control $CTL | grep -E '7762|backend'
wait $BP
echo "B: $($AN $L/$NAME.B $N a)"
echo "warnings $(grep -cE 'took (none|less)' $L/zedge.$NAME.log); $(dirinfo $D); cpu $(cpu $ZPID)"
grep -E 'took (none|less)|7762' $L/zedge.$NAME.log | grep -v 'cannot connect' | sed 's/^[^ ]* //' | cut -c1-200 | tail -4
zstop
grep -E 'not delivered' $L/zedge.$NAME.log | tail -1 | sed 's/^.*stopped/stopped/' | cut -c1-200
kill $AP 2>/dev/null; wait $AP 2>/dev/null
