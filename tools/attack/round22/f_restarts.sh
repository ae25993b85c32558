#!/bin/bash
# f_restarts.sh DEV SIG COUNT [RATE] [HWM] [N] [SIZE]: N messages (SIZE B) spooled with the receiver
# away; then a receiver (xsub cloud for DEV=forwarder, PULL worker for DEV=streamer) that reads RATE
# msg/s comes; during the replay zedge gets SIG (TERM|KILL|MIX) COUNT times at random moments
# (1-3.5 s apart) and is restarted on the same spool each time. Expect 0 lost; duplicates bounded.
. $(dirname $0)/lib.sh
export DEV=${1:-forwarder}; SIG=${2:-TERM}; CNT=${3:-5}; RATE=${4:-3000}; HWM=${5:-1M}; N=${6:-60000}; SIZE=${7:-100}
NAME=restarts-$DEV; D=/tmp/att22-restarts; rm -rf $D; rm -f $L/zedge.$NAME.log
KIND=xsub; SEND=pub; [ $DEV = streamer ] && { KIND=pull; SEND=push; }
zstart $D --queue-hwm $HWM
$PEER $SEND $FRONT 0 $N 0 $SIZE a
sleep 1.5   # a sync
echo "spooled: $(spool_metrics)"
$PEER recv $KIND $CLOUD $L/$NAME.recv $RATE 6 90 > /dev/null &
CP=$!
wait_sent 1 || echo "nothing sent?"
for k in $(seq $CNT); do
  sleep $(python3 -c "import random;print(round(random.uniform(1.0,3.5),2))")
  S=$SIG; [ $SIG = MIX ] && S=$([ $((k % 2)) = 0 ] && echo KILL || echo TERM)
  B=$(sent)
  T0=$(date +%s.%N); kill -$S $ZPID; wait $ZPID 2>/dev/null; T1=$(date +%s.%N)
  echo "#$k $S after sent=$B (this run) stopped in $(echo "$T1 - $T0" | bc | cut -c1-5) s; $(dirinfo $D)"
  zstart $D --queue-hwm $HWM
done
wait $CP
echo "recv: $($AN $L/$NAME.recv $N a)"
echo "end: $(spool_metrics)"
dirinfo $D
grep -E 'messages to send|not delivered' $L/zedge.$NAME.log | sed 's/^.*\(spool\|stopped\)/\1/' | cut -c1-160
zstop
