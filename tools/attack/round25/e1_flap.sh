#!/bin/bash
# e1_flap.sh N RATE SIZE TOTAL [zedge args]: uplink A flaps (up 0.5-2 s, down 0.5-2 s, random,
# for TOTAL s, then steady) while B stays connected and a local SUB listens; a PUB sends N
# numbered messages at RATE of SIZE bytes. A: no dups, no reordering, losses only in flight at
# a close; B and local: all, once, in order.
. $(dirname $0)/lib.sh
N=${1:-60000}; RATE=${2:-3000}; SIZE=${3:-100}; TOT=${4:-18}; SEED=${SEED:-1}
shift 4
NAME=e1flap; D=/tmp/att25-e1; rm -rf $D; rm -f $L/zedge.$NAME.log
$PEER cloud $B $L/e1.B 5 120 '*' > /dev/null &
BP=$!
$PEER flapr $A $L/e1.A 0.5 2 0.5 2 $TOT 5 '*' $SEED > $L/e1.A.json &
AP=$!
sleep 0.3
zstart $D "$@"
$PEER sub $LOCAL $L/e1.local 5 120 '*' > /dev/null &
SP=$!
sleep 0.5
$PEER pub $FRONT 0 $N $RATE $SIZE a
wait $AP $BP $SP
echo "A(flap): $(cat $L/e1.A.json) $(python3 $R/flapan.py $L/e1.A $N)"
echo "B: $($AN $L/e1.B $N)"
echo "local: $($AN $L/e1.local $N)"
spool_metrics
metric 'zedge_messages_dropped_total' | grep -v ' 0$'
rss $ZPID; cpu $ZPID
zstop
grep -ciE 'warn|error' $L/zedge.$NAME.log
