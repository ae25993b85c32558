#!/bin/bash
# Memory outside --memory-max: (1) RSS while N messages of SIZE bytes go to the spool during an
# outage; (2) peak RSS of a restart that reads the spool's 64 MiB segments (scan reads each
# segment whole), with --memory-max MEMMAX.
# usage: f_mem.sh [N] [SIZE] [MEMMAX] [FRAMES]
. $(dirname $0)/lib.sh
N=${1:-80000}; SIZE=${2:-1000}; MEMMAX=${3:-32M}; FRAMES=${4:-1}
W=/tmp/round19/mem; mkdir -p $W; rm -rf $W/*
/usr/bin/time -f "run 1 peak RSS %M KiB" $Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $W/sp --spool-max 1G --memory-max $MEMMAX --metrics $METRICS -v 2>$W/zedge.log &
TP=$!; sleep 0.5; ZP=$(pgrep -P $TP zedge)
echo "idle rss $(rss $ZP)"
$PEER push $FRONT 0 $N 0 $SIZE 100 $FRAMES
sleep 2; echo "after spooling rss $(rss $ZP)"; spool_metrics | grep -E 'spool_messages\{|spool_bytes\{'; ls -l $W/sp | head -5
kill $ZP; wait $TP; grep "peak RSS" $W/zedge.log
/usr/bin/time -f "restart peak RSS %M KiB" $Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $W/sp --spool-max 1G --memory-max $MEMMAX --metrics $METRICS -v 2>$W/zedge2.log &
TP=$!; sleep 3; ZP=$(pgrep -P $TP zedge); echo "restart rss now $(rss $ZP)"
kill $ZP; wait $TP; grep -E "peak RSS|messages to send" $W/zedge2.log
rm -rf $W/sp
