#!/bin/bash
# f_hostileuplink.sh MODE: the uplink is a raw ZMTP peer (rawcloud.py MODE: garbage | subflood |
# deaf); a PUB sends 2000/s for 10 s with a local SUB; a second, normal cloud B on 7605.
# Checks: local SUB and B get everything, zedge's CPU, zedge alive.
. $(dirname $0)/lib.sh
MODE=${1:-subflood}; N=20000
NAME=hostile-$MODE; D=/tmp/att20-hostile; rm -rf $D; rm -f $L/zedge.$NAME.log
python3 $R/rawcloud.py 7602 $L/hostile.A 5 14 $MODE &
AP=$!
$PEER cloud $CLOUD2 $L/hostile.B 4 30 '*' > /dev/null &
BP=$!
sleep 1.5
zstart $D --backend ">$CLOUD2"
$PEER sub $LOCAL $L/hostile.local 3 30 '*' > /dev/null &
SP=$!
sleep 0.5
C0=$(cat /proc/$ZPID/stat | awk '{print $14+$15}')
$PEER pub $FRONT 0 $N 2000 100 a
C1=$(cat /proc/$ZPID/stat | awk '{print $14+$15}')
echo "zedge cpu during the 10 s flow: $(( (C1-C0) )) ticks (100/s)"
wait $SP $BP
echo "local: $($AN $L/hostile.local $N a)"
echo "B: $($AN $L/hostile.B $N a)"
wait $AP
sleep 2; C2=$(cat /proc/$ZPID/stat | awk '{print $14+$15}'); sleep 3; C3=$(cat /proc/$ZPID/stat | awk '{print $14+$15}')
echo "idle cpu after: $((C3-C2)) ticks in 3 s"
kill -0 $ZPID && echo "zedge alive" || echo "ZEDGE DEAD"
spool_metrics
rss $ZPID
grep -E 'WARN|ERROR' $L/zedge.$NAME.log | cut -c1-200 | sort | uniq -c | sort -rn | head -5
zstop
