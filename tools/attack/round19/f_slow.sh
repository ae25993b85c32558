#!/bin/bash
# A worker that reads slowly (CRATE msg/s) while producers send faster (PRATE msg/s each, P
# producers): spooling starts and stops with the uplink up. Order per producer and completeness.
# usage: f_slow.sh [N] [PRATE] [CRATE] [SIZE] [extra zedge args]
. $(dirname $0)/lib.sh
N=${1:-60000}; PRATE=${2:-6000}; CRATE=${3:-4000}; SIZE=${4:-100}; shift 4; EXTRA="$@"
W=/tmp/round19/slow; mkdir -p $W; rm -rf $W/*
$Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $W/sp --metrics $METRICS -v $EXTRA 2>$W/zedge.log &
ZP=$!; sleep 0.5
SECS=$(python3 -c "print(int($N/$CRATE)+8)")
$PEER slow $CLOUDEP $W/got.txt $CRATE $SECS 10 > $W/cloud.out &
CP=$!; sleep 1
( for k in 1 2 3 4 5; do sleep 2; spool_metrics | grep -E 'spool_spooling|spool_messages\{' | tr '\n' ' '; echo; done ) &
$PEER push $FRONT 0 $N $PRATE $SIZE
wait $CP
python3 $R/analyze.py $W/got.txt $N
spool_metrics | grep -E 'spool_messages\{|spooling|sent|appended|dropped'
curl -s http://$METRICS/metrics | grep -E 'started|spool_starts' | head
kill $ZP; wait $ZP
