#!/bin/bash
# f_bigstuck.sh BIG MEMMAX: uplink away; a PUB sends one BIG-byte publication then 1000 small ones;
# the cloud comes. Does the spool get past the big one (which the local SUB got live)?
. $(dirname $0)/lib.sh
BIG=${1:-20000000}; MMAX=${2:-32M}
NAME=bigstuck; D=/tmp/att20-bigstuck; rm -rf $D; rm -f $L/zedge.$NAME.log
zstart $D --memory-max $MMAX
$PEER sub $LOCAL $L/bigstuck.local 1000 60 '*' > /dev/null &
SP=$!
sleep 0.3
$PEER pub $FRONT 0 1 0 $BIG a > /dev/null
$PEER pub $FRONT 1 1001 1000 100 a > /dev/null
sleep 1.5
$PEER cloud $CLOUD $L/bigstuck.cloud 3 15 '*' > /dev/null &
CP=$!
sleep 5
C0=$(awk '{print $14+$15}' /proc/$ZPID/stat); sleep 5; C1=$(awk '{print $14+$15}' /proc/$ZPID/stat)
echo "zedge cpu while stuck: $((C1-C0)) ticks in 5 s"
$PEER pub $FRONT 1001 2001 1000 100 a > /dev/null &
PP=$!
sleep 0.1; echo "during the third batch:"; $Z peers --control $CTL
wait $PP
wait $CP; sleep 1; kill $SP; wait $SP
echo "cloud: $($AN $L/bigstuck.cloud 2001 a)"
echo "local: $($AN $L/bigstuck.local 2001 a)"
spool_metrics
rss $ZPID
grep -E 'WARN|ERROR' $L/zedge.$NAME.log | grep -v 'cannot connect' | cut -c1-300 | head -3
zstop
