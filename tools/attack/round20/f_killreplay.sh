#!/bin/bash
# f_killreplay.sh SIG [RATE]: 100000 spooled; the cloud comes; replay at --spool-rate RATE; after 3 s
# zedge gets SIG (KILL or TERM); restarted; the cloud reads all along.
. $(dirname $0)/lib.sh
SIG=${1:-KILL}; RATE=${2:-1M}; N=100000
NAME=killreplay; D=/tmp/att20-killreplay; rm -rf $D; rm -f $L/zedge.$NAME.log
zstart $D --spool-rate $RATE
$PEER pub $FRONT 0 $N 50000 100 a
sleep 1.2
echo "spooled: $(metric 'zedge_spool_messages\{')"
if [ -n "$RAW" ]; then python3 $R/rawcloud.py 7602 $L/killreplay.cloud 4 50 & else $PEER cloud $CLOUD $L/killreplay.cloud ${IDLE:-4} 50 "*" > /dev/null & fi
CP=$!
for i in $(seq 100); do
  S=$(metric 'zedge_spool_messages_total' | grep sent | awk '{print $2}')
  [ "${S:-0}" -gt 20000 ] && break; sleep 0.2
done
echo "before $SIG: $(metric 'zedge_spool_messages_total' | grep sent)"
T0=$(date +%s.%N); kill -$SIG $ZPID; wait $ZPID; T1=$(date +%s.%N)
echo "stopped in $(echo "$T1 - $T0" | bc) s"
ls -la $D
zstart $D --spool-rate $RATE
wait $CP
echo "cloud: $($AN $L/killreplay.cloud $N a)"
spool_metrics
zstop
grep -E 'WARN|ERROR|messages to send' $L/zedge.$NAME.log | cut -c1-200
