#!/bin/bash
# f_killslow.sh [HWM] [SIG]: 100000 spooled (100 B); a slow cloud (3000 msg/s) comes; after 4 s of
# replay zedge gets SIG (KILL); restarted on the same spool; the cloud reads all along.
# Synced publications must all arrive (docs/spool.md "What survives what").
. $(dirname $0)/lib.sh
HWM=${1:-8M}; SIG=${2:-KILL}; N=100000
NAME=killslow; D=/tmp/att20-killslow; rm -rf $D; rm -f $L/zedge.$NAME.log
zstart $D --queue-hwm $HWM
$PEER pub $FRONT 0 $N 50000 100 a
sleep 1.2
$PEER slowcloud $CLOUD $L/killslow.cloud 3000 45 '*' > /dev/null &
CP=$!
for i in $(seq 100); do
  S=$(metric 'zedge_spool_messages_total' | grep sent | awk '{print $2}')
  [ "${S:-0}" -gt 0 ] && break; sleep 0.2
done
sleep 4
$Z peers --control $CTL | grep 7602
echo "before $SIG: $(metric 'zedge_spool_messages_total' | grep sent)"
sleep 1.5   # a sync
kill -$SIG $ZPID; wait $ZPID 2>/dev/null
zstart $D --queue-hwm $HWM
wait $CP
echo "cloud: $($AN $L/killslow.cloud $N a)"
grep 'messages to send' $L/zedge.$NAME.log | cut -c1-200
zstop
