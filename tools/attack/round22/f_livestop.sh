#!/bin/bash
# f_livestop.sh [DEV] [HWM] [SIG] [N]: no outage. The receiver is connected and reads 2000 msg/s; a
# producer sends N (100 B) in a burst, which the receiver's queue (--queue-hwm HWM) takes live,
# the rest (past HWM) going to the spool. 1.5 s later zedge gets SIG (TERM) and is restarted
# on the same spool. Lost: the live messages the receiver's queue held at the stop.
. $(dirname $0)/lib.sh
export DEV=${1:-forwarder}; HWM=${2:-1M}; SIG=${3:-TERM}; N=${4:-20000}
NAME=livestop-$DEV; D=/tmp/att22-livestop; rm -rf $D; rm -f $L/zedge.$NAME.log
KIND=xsub; SEND=pub; [ $DEV = streamer ] && { KIND=pull; SEND=push; }
$PEER recv $KIND $CLOUD $L/$NAME.recv 2000 6 90 > /dev/null &
CP=$!
sleep 0.5
zstart $D --queue-hwm $HWM
sleep 1.5
$PEER $SEND $FRONT 0 $N 0 100 a
sleep 1.5
echo "before $SIG: $(spool_metrics)"; dirinfo $D
kill -$SIG $ZPID; wait $ZPID 2>/dev/null; echo "$SIG: $(dirinfo $D)"
zstart $D --queue-hwm $HWM
wait $CP
echo "recv: $($AN $L/$NAME.recv $N a)"
echo "end: $(spool_metrics)"
grep -E 'messages to send|not delivered' $L/zedge.$NAME.log | sed 's/^.*\(spool\|stopped\)/\1/' | cut -c1-200
zstop
