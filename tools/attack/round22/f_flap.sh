#!/bin/bash
# f_flap.sh [DEV] [SIG] [N] [UP] [DOWN]: N (100 B) spooled with the receiver away; then the receiver
# (reading 3000 msg/s) flaps: bound UP s, away DOWN s, for 12 s, then stays. SIG (none|TERM|KILL):
# zedge gets it 5 s into the flapping and is restarted. Loss allowed: per flap, what the
# connection had taken. Then the cursor must reach the end.
. $(dirname $0)/lib.sh
export DEV=${1:-forwarder}; SIG=${2:-none}; N=${3:-60000}; UP=${4:-1.5}; DOWN=${5:-0.7}
NAME=flap-$DEV; D=/tmp/att22-flap; rm -rf $D; rm -f $L/zedge.$NAME.log
KIND=xsub; SEND=pub; [ $DEV = streamer ] && { KIND=pull; SEND=push; }
zstart $D
$PEER $SEND $FRONT 0 $N 0 100 a
sleep 1.5
$PEER flap $KIND $CLOUD $L/$NAME.recv $UP $DOWN 12 6 ${RATE:-3000} &
CP=$!
if [ $SIG != none ]; then
  sleep 5; kill -$SIG $ZPID; wait $ZPID 2>/dev/null; echo "$SIG: $(dirinfo $D)"; zstart $D
fi
wait $CP
echo "recv: $($AN $L/$NAME.recv $N a)"
sleep 1.5
echo "end: $(spool_metrics)"; dirinfo $D
grep -E 'messages to send|not delivered' $L/zedge.$NAME.log | sed 's/^.*\(spool\|stopped\)/\1/' | cut -c1-160
zstop
