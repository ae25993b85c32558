#!/bin/bash
# e3_kill.sh SIG [N] [zedge args]: both uplinks away while N (100 B) are published and spooled;
# then A comes reading 3000/s and B 1000/s (two lanes at different positions); after 3 s of
# replay zedge gets SIG; the cursor file is shown; restarted on the same spool; the clouds read
# on. Each must get all N (duplicates allowed after KILL), in order within each connection.
. $(dirname $0)/lib.sh
SIG=${1:-TERM}; N=${2:-40000}; shift 2
NAME=e3kill; D=/tmp/att25-e3; rm -rf $D; rm -f $L/zedge.$NAME.log
zstart $D "$@"
$PEER pub $FRONT 0 $N 40000 100 a > /dev/null
sleep 1.5
echo "spooled: $(metric 'zedge_spool_messages\{')"
$PEER pacecloud $A $L/e3.A 3000 60 6 '*' > /dev/null &
AP=$!
$PEER pacecloud $B $L/e3.B 1000 90 6 '*' > /dev/null &
BP=$!
sleep 3.5
echo "before $SIG: $(metric 'zedge_spool_messages_total' | grep sent)"
cat $D/cursor; echo "--"
kill -$SIG $ZPID; wait $ZPID 2>/dev/null
echo "cursor after $SIG:"; cat $D/cursor; echo "--"
zstart $D "$@"
wait $AP $BP
echo "A: $($AN $L/e3.A $N)"
echo "B: $($AN $L/e3.B $N)"
grep -E 'messages to send|not delivered|reader|cursor|lane' $L/zedge.$NAME.log | cut -c1-220
zstop
echo "cursor at end:"; cat $D/cursor
