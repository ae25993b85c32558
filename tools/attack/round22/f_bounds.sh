#!/bin/bash
# f_bounds.sh [DEV] [MAX] [N] [PRATE] [CRATE] [HWM]: the receiver reads CRATE msg/s (100 B) from the
# start; a producer sends N at PRATE, faster, so the spool fills past --spool-max MAX and drops
# its oldest segments. Peak bytes in the spool dir (sampled every 50 ms) vs MAX; the dropped
# counter vs what the receiver really never got; then SIGTERM + restart: what is sent again.
. $(dirname $0)/lib.sh
export DEV=${1:-forwarder}; MAX=${2:-2M}; N=${3:-60000}; PR=${4:-6000}; CR=${5:-2000}; HWM=${6:-1M}
NAME=bounds-$DEV; D=/tmp/att22-bounds; rm -rf $D; rm -f $L/zedge.$NAME.log
KIND=xsub; SEND=pub; [ $DEV = streamer ] && { KIND=pull; SEND=push; }
$PEER recv $KIND $CLOUD $L/$NAME.recv $CR 6 90 > /dev/null &
CP=$!
sleep 0.5
zstart $D --spool-max $MAX --queue-hwm $HWM
( peak=0; while kill -0 $ZPID 2>/dev/null; do b=$(du -sb $D 2>/dev/null | cut -f1); [ "${b:-0}" -gt $peak ] && peak=$b && echo $peak > $L/$NAME.peak; sleep 0.05; done ) &
MP=$!
sleep 0.5
$PEER $SEND $FRONT 0 $N $PR 100 a
sleep 2
echo "after producer: $(spool_metrics)"; dirinfo $D
echo "peak dir bytes: $(cat $L/$NAME.peak) for --spool-max $MAX"
echo "cpu: $(cpu $ZPID)"
wait $CP
echo "recv: $($AN $L/$NAME.recv $N a)"
echo "end: $(spool_metrics)"; dirinfo $D
kill $MP 2>/dev/null
grep -E 'WARN|ERROR' $L/zedge.$NAME.log | cut -c1-200 | sort | uniq -c | head
zstop
