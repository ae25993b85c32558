#!/bin/bash
# N numbered messages spooled during an outage, then the cloud flaps (bound UP s, closed DOWN s)
# for TOTAL s during the replay, then stays. Counts lost / duplicated / reordered.
# usage: f_flap.sh [N] [SIZE] [UP] [DOWN] [TOTAL] [extra zedge args...]
. $(dirname $0)/lib.sh
N=${1:-200000}; SIZE=${2:-100}; UP=${3:-1}; DOWN=${4:-0.5}; TOTAL=${5:-20}; shift 5; EXTRA="$@"
W=/tmp/round19/flap; mkdir -p $W; rm -rf $W/*
$Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $W/sp --metrics $METRICS -v $EXTRA 2>$W/zedge.log &
ZP=$!; sleep 0.5
$PEER push $FRONT 0 $N 0 $SIZE ${SNDHWM:-1000} ${FRAMES:-1}
sleep 1.5
spool_metrics | grep -E 'spool_messages\{|spooling'
$PEER flap $CLOUDEP $W/got.txt $UP $DOWN $TOTAL 3
python3 $R/analyze.py $W/got.txt $N
spool_metrics | grep -E 'spool_messages\{|spooling|sent|dropped'
curl -s http://$METRICS/metrics | grep -E '^zedge_(messages|dropped|drops)' | grep -v ' 0$' | head -20
kill $ZP; wait $ZP
grep -ciE 'connected' $W/zedge.log
