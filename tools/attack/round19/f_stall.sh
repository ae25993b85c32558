#!/bin/bash
# During an outage (spool on), K hostile PUSH connections each send the head of a 2 MiB message
# and 1.2 MiB of it, then stall (or trickle a byte every TRICKLE s). A normal producer sends
# N messages at 500/s (SNDHWM 100): how long is its longest send(), its total time?
# usage: f_stall.sh [K] [TRICKLE] [extra zedge args]    K=0: control
. $(dirname $0)/lib.sh
K=${1:-4}; TRICKLE=${2:-0}; shift 2; EXTRA="$@"
W=/tmp/round19/stall; mkdir -p $W; rm -rf $W/*
$Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $W/sp --metrics $METRICS -v $EXTRA 2>$W/zedge.log &
ZP=$!; sleep 0.5
N=10000
SNDBUF=4096 $PEER push $FRONT 0 $N 500 1000 10 > $W/push.out &
PP=$!; sleep 1
[ $K -gt 0 ] && python3 $R/hostile.py stall $FRONT $K 2097152 1258291 0.2 $TRICKLE 100 > $W/hostile.out &
HP=$!
wait $PP; cat $W/push.out
[ $K -gt 0 ] && { wait $HP; cat $W/hostile.out; }
$PEER cloud $CLOUDEP $W/got.txt 3 30 >/dev/null
python3 $R/analyze.py $W/got.txt $N
grep -ciE 'progress|abort' $W/zedge.log; grep -iE 'progress|abort' $W/zedge.log | head -3
kill $ZP; wait $ZP
