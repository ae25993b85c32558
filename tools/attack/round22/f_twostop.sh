#!/bin/bash
# f_twostop.sh [SLOW] [SIG] [N]: forwarder with two uplinks, >CLOUD (A) and >CLOUD2 (B). N (100 B) are
# spooled with both away; both come: SLOW=A: A reads 2000 msg/s (tiny buffers) and B as fast as
# it can; SLOW=B the other way round. 4 s into the replay zedge gets SIG (TERM) and is
# restarted. Both must get all N (duplicates allowed).
. $(dirname $0)/lib.sh
SLOW=${1:-A}; SIG=${2:-TERM}; N=${3:-60000}; export DEV=forwarder
NAME=twostop; D=/tmp/att22-twostop; rm -rf $D; rm -f $L/zedge.$NAME.log
RA=0; RB=0; [ $SLOW = A ] && RA=2000; [ $SLOW = B ] && RB=2000
zstart $D --backend ">$CLOUD2"
$PEER pub $FRONT 0 $N 0 100 a
sleep 1.5
$PEER recv xsub $CLOUD $L/$NAME.A $RA 6 90 > /dev/null &
AP=$!
$PEER recv xsub $CLOUD2 $L/$NAME.B $RB 6 90 > /dev/null &
BP=$!
wait_sent 1; sleep 4
$Z peers --control $CTL | grep -E '7702|7705'
echo "before $SIG: $(spool_metrics)"
kill -$SIG $ZPID; wait $ZPID 2>/dev/null; echo "$SIG: $(dirinfo $D)"
zstart $D --backend ">$CLOUD2"
wait $AP $BP
echo "A: $($AN $L/$NAME.A $N a)"
echo "B: $($AN $L/$NAME.B $N a)"
grep -E 'messages to send|not delivered' $L/zedge.$NAME.log | sed 's/^.*\(spool\|stopped\)/\1/' | cut -c1-200
zstop
