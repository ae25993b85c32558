#!/bin/bash
# f_trimstop.sh [DEV] [MAX] [HWM] [SIG] [N]: --spool-max MAX smaller than --queue-hwm HWM. The receiver
# is away while N (100 B) are spooled (more than MAX: the oldest are dropped, counted); it comes
# and reads 2000 msg/s; 3 s later zedge gets SIG and is restarted. Everything the spool had
# not dropped must arrive: lost = dropped counter (before the stop).
. $(dirname $0)/lib.sh
export DEV=${1:-forwarder}; MAX=${2:-2M}; HWM=${3:-8M}; SIG=${4:-TERM}; N=${5:-40000}
NAME=trimstop-$DEV; D=/tmp/att22-trimstop; rm -rf $D; rm -f $L/zedge.$NAME.log
KIND=xsub; SEND=pub; [ $DEV = streamer ] && { KIND=pull; SEND=push; }
zstart $D --spool-max $MAX --queue-hwm $HWM
$PEER $SEND $FRONT 0 $N 0 100 a
sleep 1.5
echo "spooled: $(spool_metrics)"; dirinfo $D
$PEER recv $KIND $CLOUD $L/$NAME.recv 2000 6 90 > /dev/null &
CP=$!
wait_sent 1; sleep 3
$PEER $SEND $FRONT $N $((N+20000)) 0 100 a   # more, while the uplink's queue holds the rest
sleep 1.2
echo "before $SIG: $(spool_metrics)"; dirinfo $D
kill -$SIG $ZPID; wait $ZPID 2>/dev/null; echo "$SIG: $(dirinfo $D)"
zstart $D --spool-max $MAX --queue-hwm $HWM
wait $CP
echo "recv: $($AN $L/$NAME.recv $((N+20000)) a)"
echo "end: $(spool_metrics)"; dirinfo $D
grep -E 'messages to send|not delivered|dropped' $L/zedge.$NAME.log | sed 's/^.*\(spool\|stopped\)/\1/' | cut -c1-200
zstop
