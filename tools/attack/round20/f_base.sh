#!/bin/bash
# f_base.sh N RATE SIZE: cloud away while PUB sends N; local SUB live; cloud comes; checks all, idle CPU.
. $(dirname $0)/lib.sh
N=${1:-50000}; RATE=${2:-20000}; SIZE=${3:-100}
NAME=base; D=/tmp/att20-base; rm -rf $D; rm -f $L/zedge.$NAME.log
zstart $D
$PEER sub $LOCAL $L/base.local 3 60 '*' > $L/base.local.json &
SP=$!
sleep 0.3
$PEER pub $FRONT 0 $N $RATE $SIZE ab
sleep 1
echo "spooled: $(spool_metrics)"
echo "cpu idle, uplink away (3s): before $(cpu $ZPID)"; sleep 3; echo "after $(cpu $ZPID)"
$PEER cloud $CLOUD $L/base.cloud 3 40 '*' &
CP=$!
wait $CP
echo "after replay: $(spool_metrics)"
echo "cpu idle, uplink present (3s): before $(cpu $ZPID)"; sleep 3; echo "after $(cpu $ZPID)"
wait $SP
echo "cloud: $($AN $L/base.cloud $N ab)"
echo "local: $($AN $L/base.local $N ab)"
rss $ZPID
zstop
