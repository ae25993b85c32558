#!/bin/bash
# --spool-rate RATE: N messages of SIZE bytes spooled during an outage, then the cloud back:
# bytes a second actually sent from the spool over the first 10 s (wire bytes: SIZE+2 or +9).
# usage: f_rate.sh [RATE] [SIZE] [N]
. $(dirname $0)/lib.sh
RATE=${1:-100K}; SIZE=${2:-1000}; N=${3:-20000}
W=/tmp/round19/rate; mkdir -p $W; rm -rf $W/*
$Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $W/sp --spool-rate $RATE --metrics $METRICS -v 2>$W/zedge.log &
ZP=$!; sleep 0.5
$PEER push $FRONT 0 $N 0 $SIZE >/dev/null; sleep 3
$PEER cloud $CLOUDEP $W/got.txt 30 60 >/dev/null & CP=$!
while ! grep -q "PULL connected" $W/zedge.log; do sleep 0.05; done
T0=$(date +%s.%N); S0=$(metric 'zedge_spool_bytes_total.*"sent"' | awk '{print $2}')
for k in 1 2 3 4 5 6 7 8 9 10; do sleep 1; echo "t=${k}s spool sent msgs $(metric 'zedge_spool_messages_total.*"sent"' | awk '{print $2}') backend bytes out $(metric 'zedge_bytes_sent_total.*backend' | awk '{print $2}')"; done
curl -s http://$METRICS/metrics | grep spool_bytes_total
kill $CP; kill $ZP; wait $ZP
