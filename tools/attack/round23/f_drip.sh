#!/bin/bash
# f_drip.sh [NBYTES] [EVERY] [SECS]: streamer, spool; N=60000 spooled with no worker; a raw TCP
# "worker" A (>CLOUD, handshakes as PULL, sends its own PING and reads NBYTES every EVERY s) and
# a reader B (>CLOUD2, 2000/s) connect. Watch: give-backs, the cursor, B's count, the dir.
. $(dirname $0)/lib.sh
export DEV=streamer; NB=${1:-200}; EV=${2:-4}; SECS=${3:-60}; N=60000
NAME=drip; D=/tmp/att23-drip; rm -rf $D; rm -f $L/zedge.$NAME.log
zstart $D --backend ">$CLOUD2"
$PEER push $FRONT 0 $N 0 100 a >/dev/null
sleep 1.2
$PEER drip 7732 $NB $EV $SECS $L/$NAME.A > $L/$NAME.A.out &
AP=$!
$PEER recv pull $CLOUD2 $L/$NAME.B 2000 6 $SECS > /dev/null &
BP=$!
for t in 10 20 30 40 50; do sleep 10; echo "t=$t cursor '$(cat $D/cursor)' $(spool_metrics | grep -oE 'event="(sent|recovered)"} [0-9]*' | tr '\n' ' ') B $(grep -vc '^#' $L/$NAME.B) A read $(tail -1 $L/$NAME.A | cut -d' ' -f2) B"; done
wait $BP
echo "B: $($AN $L/$NAME.B $N a)"
echo "warnings $(grep -cE 'took (none|less)' $L/zedge.$NAME.log); $(dirinfo $D); cpu $(cpu $ZPID)"
$Z peers --control $CTL | grep -E '7732|7735'
grep -E '7732' $L/zedge.$NAME.log | grep -v 'cannot connect' | cut -c1-200 | tail -4
zstop
grep -E 'not delivered' $L/zedge.$NAME.log | tail -1 | sed 's/^.*stopped/stopped/' | cut -c1-200
kill $AP 2>/dev/null; wait $AP 2>/dev/null
