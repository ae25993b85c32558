#!/bin/bash
# f_gather.sh [DEV] [SIG] [WAIT] [PRATE] [CRATE] [N]: the gathered-tail path. The receiver is there
# from the start and reads CRATE msg/s (tiny buffers); zedge has --queue-hwm 32K and
# --kernel-send-max 4K so the receiver's queue is at its mark often and spooling stays on;
# a producer sends N (100 B) at PRATE. WAIT s after the producer is done, zedge gets SIG and
# is restarted. Every message was taken in before the signal: expect 0 lost at TERM, and at
# KILL at most what came in the last spool_fsync (1 s) before it.
. $(dirname $0)/lib.sh
export DEV=${1:-forwarder}; SIG=${2:-TERM}; W=${3:-0.3}; PR=${4:-2500}; CR=${5:-2000}; N=${6:-20000}
NAME=gather-$DEV; D=/tmp/att22-gather; rm -rf $D; rm -f $L/zedge.$NAME.log
KIND=xsub; SEND=pub; [ $DEV = streamer ] && { KIND=pull; SEND=push; }
ARGS="--queue-hwm 32K --kernel-send-max 4K $EXTRA"
$PEER recv $KIND $CLOUD $L/$NAME.recv $CR 5 90 > /dev/null &
CP=$!
sleep 0.5
zstart $D $ARGS
sleep 1
$PEER $SEND $FRONT 0 $N $PR 100 a
sleep $W
echo "before $SIG: $(spool_metrics)"; dirinfo $D
kill -$SIG $ZPID; wait $ZPID 2>/dev/null
echo "$SIG: $(dirinfo $D)"
zstart $D $ARGS
wait $CP
echo "recv: $($AN $L/$NAME.recv $N a)"
echo "end: $(spool_metrics)"; dirinfo $D
grep -E 'messages to send|not delivered' $L/zedge.$NAME.log | sed 's/^.*\(spool\|stopped\)/\1/' | cut -c1-160
zstop
