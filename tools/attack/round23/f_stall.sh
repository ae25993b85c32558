#!/bin/bash
# f_stall.sh [DEV] [N] [SPOOLMAX]: two receivers, A (>CLOUD) connects and never reads, B (>CLOUD2)
# reads all. Phase 1: both away, N messages spooled; A comes, then B; the spool is replayed.
# Phase 2: B goes away, N more are spooled, B comes back. Then zedge gets SIGTERM and is
# restarted with A still stalled. Watch: B's loss and duplicates, the spool dir (segments,
# cursor), the spool metrics, CPU.
. $(dirname $0)/lib.sh
export DEV=${1:-streamer}; N=${2:-60000}; MAX=${3:-8M}; SIZE=${SIZE:-100}
NAME=stall-$DEV; D=/tmp/att23-stall; rm -rf $D; rm -f $L/zedge.$NAME.log
KIND=xsub; SEND=pub; [ $DEV = streamer ] && { KIND=pull; SEND=push; }
zstart $D --backend ">$CLOUD2" --spool-max $MAX
$PEER $SEND $FRONT 0 $N 0 $SIZE a
sleep 1.2
echo "1 spooled: $(spool_metrics)"; dirinfo $D
$PEER recv $KIND $CLOUD /dev/null -1 0 80 > /dev/null &
AP=$!
sleep 1
$PEER recv $KIND $CLOUD2 $L/$NAME.B1 0 3 30 > /dev/null &
BP=$!
wait $BP
echo "1 B: $($AN $L/$NAME.B1 $N a)"
echo "1 after replay: $(spool_metrics)"; dirinfo $D
echo "cpu $(cpu $ZPID)"; sleep 5; echo "cpu after 5 s idle: $(cpu $ZPID)"
# phase 2: B away
sleep 1
$PEER $SEND $FRONT $N $((2*N)) 0 $SIZE a
sleep 1.2
echo "2 spooled: $(spool_metrics)"; dirinfo $D
$PEER recv $KIND $CLOUD2 $L/$NAME.B2 0 3 30 > /dev/null &
BP=$!
wait $BP
echo "2 B: $(python3 $R/analyze.py $L/$NAME.B2 $((2*N)) a $N)"
echo "2 after replay: $(spool_metrics)"; dirinfo $D
$Z peers --control $CTL | grep -E '7732|7735'
# restart, A still stalled
zstop
dirinfo $D
grep -E 'not delivered' $L/zedge.$NAME.log | tail -1 | sed 's/^.*stopped/stopped/' | cut -c1-160
$PEER recv $KIND $CLOUD2 $L/$NAME.B3 0 3 20 > /dev/null &
BP=$!
sleep 0.5
zstart $D --backend ">$CLOUD2" --spool-max $MAX
grep 'messages to send' $L/zedge.$NAME.log | tail -1 | sed 's/^.*spool/spool/'
wait $BP
echo "3 B after restart got again: $(grep -vc '^#' $L/$NAME.B3) messages"
echo "3: $(spool_metrics)"; dirinfo $D
zstop
kill $AP 2>/dev/null; wait $AP 2>/dev/null
