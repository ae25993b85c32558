#!/bin/bash
# f_big.sh [DEV] [SIZE] [N] [CRATE] [SIG] [WAIT] [zedge args...]: N messages of SIZE bytes spooled with
# the receiver away; it comes and reads CRATE msg/s; WAIT s into the replay zedge gets SIG and
# is restarted. Expect 0 lost. RSS and the spool dir are shown.
. $(dirname $0)/lib.sh
export DEV=${1:-streamer}; SIZE=${2:-5000000}; N=${3:-30}; CR=${4:-2}; SIG=${5:-TERM}; W=${6:-4}
shift 6; ARGS="$*"
NAME=big-$DEV; D=/tmp/att22-big; rm -rf $D; rm -f $L/zedge.$NAME.log
KIND=xsub; SEND=pub; [ $DEV = streamer ] && { KIND=pull; SEND=push; }
zstart $D $ARGS
$PEER $SEND $FRONT 0 $N 20 $SIZE a 100
sleep 2
echo "spooled: $(spool_metrics)"; dirinfo $D
$PEER recv $KIND $CLOUD $L/$NAME.recv $CR 8 120 ${RCVHWM:-1} > /dev/null &
CP=$!
wait_sent 1; sleep $W
echo "before $SIG: $(spool_metrics)"; rss $ZPID
kill -$SIG $ZPID; wait $ZPID 2>/dev/null; echo "$SIG: $(dirinfo $D)"
zstart $D $ARGS
wait $CP
echo "recv: $($AN $L/$NAME.recv $N a)"
echo "end: $(spool_metrics)"; dirinfo $D; rss $ZPID
grep -E 'messages to send|not delivered|WARN|ERROR' $L/zedge.$NAME.log | grep -v 'cannot connect' | sed 's/^.*\(spool\|stopped\)/\1/' | cut -c1-200
zstop
