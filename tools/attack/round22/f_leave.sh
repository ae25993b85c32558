#!/bin/bash
# f_leave.sh [DEV] [AFTER] [N]: two receivers, A (>CLOUD) and B (>CLOUD2), each reading 2000 msg/s.
# N spooled with both away; both come; 3 s into the replay A exits after ALEAVE (7) s (its queue deep).
# AFTER: none | TERM | KILL: zedge gets that signal 0.3 s after A left and is restarted.
# Loss allowed: what A's connection had taken (kernel buffers + its pipe). Then: does the
# (NOLEAVE=1: A stays; the control for AFTER=TERM|KILL.)
# cursor reach the end (segments deleted) once B has it all?
. $(dirname $0)/lib.sh
export DEV=${1:-streamer}; AFTER=${2:-none}; N=${3:-60000}; RATE=${RATE:-2000}
NAME=leave-$DEV; D=/tmp/att22-leave; rm -rf $D; rm -f $L/zedge.$NAME.log
KIND=xsub; SEND=pub; [ $DEV = streamer ] && { KIND=pull; SEND=push; }
zstart $D --backend ">$CLOUD2" --spool-max 16M
$PEER $SEND $FRONT 0 $N 0 100 a
sleep 1.5
echo "spooled: $(spool_metrics)"; dirinfo $D
if [ -n "$NOLEAVE" ]; then $PEER recv $KIND $CLOUD $L/$NAME.A $RATE 6 90 > /dev/null &
else $PEER recv $KIND $CLOUD $L/$NAME.A $RATE 60 ${ALEAVE:-7} > /dev/null & fi
AP=$!
$PEER recv $KIND $CLOUD2 $L/$NAME.B $RATE 6 90 > /dev/null &
BP=$!
if [ -n "$NOLEAVE" ]; then sleep ${ALEAVE:-7}; else wait $AP; fi
echo "A left after ${ALEAVE:-7} s with $(grep -vc '^#' $L/$NAME.A) read"
sleep 0.3
echo "A gone: $(spool_metrics)"
if [ $AFTER != none ]; then
  kill -$AFTER $ZPID; wait $ZPID 2>/dev/null; echo "$AFTER: $(dirinfo $D)"
  zstart $D --backend ">$CLOUD2" --spool-max 16M
fi
wait $BP $AP
cat $L/$NAME.A $L/$NAME.B > $L/$NAME.AB
echo "A+B: $($AN $L/$NAME.AB $N a)"
echo "B: $($AN $L/$NAME.B $N a | cut -c1-150)"
sleep 1.5
echo "end: $(spool_metrics)"; dirinfo $D
grep -E 'messages to send|not delivered|moved|recover' $L/zedge.$NAME.log | sed 's/^.*\(spool\|stopped\|moved\)/\1/' | cut -c1-200
zstop
