#!/bin/bash
# The disk is full during an outage and producers keep sending: the claim is that producers are
# held at the sink's high-water mark. Samples RSS and messages taken in from the producers.
# usage: f_diskfull_mem.sh [SECS] [FILL]   FILL=0: control (the disk has room)
. $(dirname $0)/lib.sh
SECS=${1:-40}; FILL=${2:-7}
W=/tmp/round19/dfmem; SM=/tmp/round19/small
mkdir -p $W $SM; rm -rf $W/*; umount $SM 2>/dev/null; mount -t tmpfs -o size=${TMPFS:-8m} tmpfs $SM
[ $FILL -gt 0 ] && dd if=/dev/zero of=$SM/filler bs=1M count=$FILL 2>/dev/null
$Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $SM/sp --memory-max 32M --metrics $METRICS -v 2>$W/zedge.log &
ZP=$!; sleep 0.5
$PEER push $FRONT 0 100000000 20000 1000 100 > $W/push.out &
PP=$!
for t in $(seq 5 5 $SECS); do sleep 5
  echo "t=${t}s rss $(rss $ZP) in=$(metric 'zedge_messages_received_total\{device="streamer",side="frontend"' | awk '{print $2}') appended=$(metric 'zedge_spool_messages_total.*appended' | awk '{print $2}') errors=$(metric 'zedge_spool_errors' | awk '{print $2}') disk=$(du -sk $SM | cut -f1)K"
done
kill $PP; wait $PP 2>/dev/null
kill $ZP; wait $ZP; grep -iE 'spool' $W/zedge.log | head -3
umount $SM
