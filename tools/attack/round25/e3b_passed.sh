#!/bin/bash
# e3b_passed.sh SIG [N] [zedge args]: A connected (fast), B away while N (100 B, 4000/s) are
# published (spooled for B, passed over by A's reader); then zedge gets SIG and restarts; B comes.
# A must not get again what it had live (after a clean stop); B must get all N.
. $(dirname $0)/lib.sh
SIG=${1:-TERM}; N=${2:-20000}; shift 2
NAME=e3b; D=/tmp/att25-e3b; rm -rf $D; rm -f $L/zedge.$NAME.log
$PEER cloud $A $L/e3b.A 8 60 '*' > /dev/null &
AP=$!
sleep 0.3
zstart $D "$@"
sleep 0.5
$PEER pub $FRONT 0 $N 4000 100 a > /dev/null
sleep 1.5
echo "cursor before $SIG:"; cat $D/cursor; echo "--"
kill -$SIG $ZPID; wait $ZPID 2>/dev/null
echo "cursor after $SIG:"; cat $D/cursor; echo "--"
zstart $D "$@"
sleep 1
$PEER cloud $B $L/e3b.B 4 40 '*' > /dev/null
wait $AP
echo "A: $($AN $L/e3b.A $N)"
echo "B: $($AN $L/e3b.B $N)"
grep -E 'messages to send|not delivered|reader|cursor|lane' $L/zedge.$NAME.log | cut -c1-220
zstop
echo "cursor at end:"; cat $D/cursor
