#!/bin/bash
# f_flap.sh N RATE SIZE UP DOWN TOTAL [zedge args]: the cloud XSUB flaps (bound UP s, away DOWN s)
# for TOTAL s while a PUB sends N at RATE; then stays. Loss allowed only per flap (what the
# connection had taken); no duplicates, no reordering.
. $(dirname $0)/lib.sh
N=${1:-200000}; RATE=${2:-10000}; SIZE=${3:-100}; UP=${4:-0.7}; DOWN=${5:-0.5}; TOT=${6:-15}
shift 6
NAME=flap; D=/tmp/att20-flap; rm -rf $D; rm -f $L/zedge.$NAME.log
zstart $D "$@"
$PEER sub $LOCAL $L/flap.local 4 60 '*' > /dev/null &
SP=$!
$PEER flap $CLOUD $L/flap.cloud $UP $DOWN $TOT 4 '*' &
CP=$!
sleep 0.3
$PEER pub $FRONT 0 $N $RATE $SIZE ab
wait $CP; wait $SP
echo "cloud: $($AN $L/flap.cloud $N ab)"
echo "local: $($AN $L/flap.local $N ab)"
spool_metrics
metric 'zedge_messages_dropped_total' | grep -v ' 0$'
rss $ZPID
zstop
