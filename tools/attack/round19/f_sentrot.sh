#!/bin/bash
# One byte flipped in a block that was ALREADY SENT (before the cursor) of the oldest segment:
# at restart the whole rest of that segment, unsent messages included, is dropped.
# usage: f_sentrot.sh [N] [SENDFIRST] [FLIP]   FLIP=0: control (no flip)
. $(dirname $0)/lib.sh
N=${1:-100000}; FIRST=${2:-50000}; FLIP=${3:-1}
W=/tmp/round19/sentrot; mkdir -p $W; rm -rf $W/*
$Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $W/sp --metrics $METRICS -v --spool-rate 200K 2>$W/zedge.log &
ZP=$!; sleep 0.5
$PEER push $FRONT 0 $N 0 100
sleep 1.5
# the cloud takes the first FIRST messages (the rate keeps the rest on disk), then zedge stops (cursor synced)
$PEER cloud $CLOUDEP $W/got1.txt 30 60 > /dev/null &
CP=$!
while :; do S=$(spool_metrics | grep 'event="sent"' | awk '{print $2}'); [ "${S:-0}" -ge $FIRST ] && break; sleep 0.05; done
kill $ZP; wait $ZP; kill $CP; wait $CP 2>/dev/null
echo "cursor: $(cat $W/sp/cursor)"; ls -l $W/sp
if [ $FLIP = 1 ]; then
  # flip one byte in the payload of the FIRST block (sent long ago)
  printf '\xff' | dd of=$W/sp/00000000000000000001.seg bs=1 seek=100 conv=notrunc 2>/dev/null
fi
$Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $W/sp --metrics $METRICS -v 2>$W/zedge2.log &
ZP=$!; sleep 1
grep -iE 'spool' $W/zedge2.log
$PEER cloud $CLOUDEP $W/got2.txt 3 30 > /dev/null
cat $W/got1.txt $W/got2.txt > $W/got.txt
python3 $R/analyze.py $W/got.txt $N
kill $ZP; wait $ZP
