#!/bin/bash
# A slow worker (the cloud reads RATE messages/s) while producers send large messages faster:
# spooling starts with the uplink up, the spool passes --spool-max and its oldest segment is
# dropped while the source is part-way through feeding a message of it.
# usage: f_trimfed.sh [SPOOLMAX] [SIZE] [PRATE] [CRATE] [SECS]
. $(dirname $0)/lib.sh
MAX=${1:-2M}; SIZE=${2:-1500000}; PRATE=${3:-5}; CRATE=${4:-2}; SECS=${5:-20}
W=/tmp/round19/trimfed; mkdir -p $W; rm -rf $W/*
N=$(python3 -c "print(int($PRATE*$SECS))")
$Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $W/sp --spool-max $MAX --metrics $METRICS -v 2>$W/zedge.log &
ZP=$!; sleep 0.5
$PEER slow $CLOUDEP $W/got.txt $CRATE $((SECS+15)) 1 > $W/cloud.out &
CP=$!; sleep 0.5
$PEER push $FRONT 0 $N $PRATE $SIZE 2 > $W/push.out 2>&1
cat $W/push.out
spool_metrics | grep -E 'dropped|spool_messages\{|spooling|errors'
wait $CP; cat $W/cloud.out
python3 $R/analyze.py $W/got.txt $N
grep '#odd' $W/got.txt | head -5
spool_metrics | grep -E 'dropped|spool_messages\{|spooling|errors|too_large|sent'
grep -iE 'spool|refused|error' $W/zedge.log | head
kill $ZP; wait $ZP
