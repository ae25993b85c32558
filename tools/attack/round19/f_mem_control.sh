#!/bin/bash
# Control for f_mem.sh: the same messages through a streamer WITHOUT a spool, the cloud up.
. $(dirname $0)/lib.sh
N=${1:-3}; SIZE=${2:-60000000}; MEMMAX=${3:-32M}
W=/tmp/round19/memc; mkdir -p $W; rm -rf $W/*
/usr/bin/time -f "peak RSS %M KiB" $Z streamer --frontend $FRONT --backend ">$CLOUDEP" --memory-max $MEMMAX -v 2>$W/zedge.log &
TP=$!; sleep 0.5; ZP=$(pgrep -P $TP zedge)
$PEER cloud $CLOUDEP $W/got.txt 3 30 >/dev/null & CP=$!
$PEER push $FRONT 0 $N 0 $SIZE 100
wait $CP; python3 $R/analyze.py $W/got.txt $N; echo "rss after $(rss $ZP)"
kill $ZP; wait $TP; grep "peak RSS" $W/zedge.log
