#!/bin/bash
# Control for f_stall.sh: no spool, the cloud (one worker) up, the same K stallers.
. $(dirname $0)/lib.sh
K=${1:-16}
W=/tmp/round19/stallc; mkdir -p $W; rm -rf $W/*
$Z streamer --frontend $FRONT --backend ">$CLOUDEP" -v 2>$W/zedge.log &
ZP=$!; sleep 0.5
$PEER cloud $CLOUDEP $W/got.txt 45 100 >/dev/null & CP=$!
sleep 1.5; N=10000
SNDBUF=4096 $PEER push $FRONT 0 $N 500 1000 10 > $W/push.out &
PP=$!; sleep 1
[ $K -gt 0 ] && python3 $R/hostile.py stall $FRONT $K 2097152 1258291 0.2 0 100 > $W/hostile.out &
HP=$!
wait $PP; cat $W/push.out; [ $K -gt 0 ] && { wait $HP; cat $W/hostile.out; }
wait $CP; python3 $R/analyze.py $W/got.txt $N
kill $ZP; wait $ZP
