#!/bin/bash
# Disk full during an outage, then space freed, then the uplink back.
# usage: f_diskfull.sh [N] [SIZE]
. $(dirname $0)/lib.sh
N=${1:-40000}; SIZE=${2:-100}; FILL=${3:-6}   # FILL=0: control run, the disk never fills
W=/tmp/round19/diskfull; SM=/tmp/round19/small
mkdir -p $W $SM; umount $SM 2>/dev/null; mount -t tmpfs -o size=8m tmpfs $SM
[ $FILL -gt 0 ] && dd if=/dev/zero of=$SM/filler bs=1M count=$FILL 2>/dev/null
rm -f $W/*
$Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $SM/sp --metrics $METRICS -v 2>$W/zedge.log &
ZP=$!; sleep 0.5
$PEER push $FRONT 0 $N 0 $SIZE > $W/push.out 2>&1 &
PP=$!
sleep 6
echo "--- while full (df, metrics)"; df -k $SM | tail -1; ls -l $SM/sp; spool_metrics | grep -E 'messages |errors|appended|bytes ' 
rm -f $SM/filler; echo "--- filler removed"
sleep 4
wait $PP; cat $W/push.out
spool_metrics | grep -E 'spool_messages\{|errors|bytes '
$PEER cloud $CLOUDEP $W/got.txt 3 60 > $W/cloud.out &
CP=$!; wait $CP; cat $W/cloud.out
python3 $R/analyze.py $W/got.txt $N
spool_metrics | grep -E 'spool_messages\{|errors|spooling'
echo "--- after: 1000 new messages with the cloud up"
$PEER cloud $CLOUDEP $W/got2.txt 3 20 > /dev/null &
CP=$!; sleep 0.5; $PEER push $FRONT $N $((N+1000)) 0 $SIZE; wait $CP
python3 $R/analyze.py $W/got2.txt $((N+1000)) $N
spool_metrics | grep -E 'spool_messages\{|spooling'
echo "--- zedge log (spool lines)"; grep -i spool $W/zedge.log | head -20
kill $ZP; wait $ZP
ls -l $SM/sp
echo "--- restart: what recovery says"
$Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $SM/sp -v 2>$W/zedge2.log &
ZP=$!; sleep 1.5; kill $ZP; wait $ZP; grep -i spool $W/zedge2.log | head
umount $SM
