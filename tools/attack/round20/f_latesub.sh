#!/bin/bash
# f_latesub.sh MODE DELAY: the cloud XSUB sends its subscriptions DELAY s after it is connected.
#  replay: cloud away while 20000 are spooled, then comes (late subscriptions during replay)
#  live:   cloud there from the start, spool empty, PUB sends 2000/s for 5 s
. $(dirname $0)/lib.sh
MODE=${1:-replay}; DELAY=${2:-1}
NAME=latesub; D=/tmp/att20-latesub; rm -rf $D; rm -f $L/zedge.$NAME.log
if [ $MODE = replay ]; then
  N=20000
  zstart $D
  $PEER pub $FRONT 0 $N 20000 100 a
  sleep 1.2
  $PEER cloud $CLOUD $L/latesub.cloud 3 8 '*' $DELAY
else
  N=10000
  $PEER cloud $CLOUD $L/latesub.cloud 3 8 '*' $DELAY &
  CP=$!
  zstart $D
  $PEER pub $FRONT 0 $N 2000 100 a
  wait $CP
fi
echo "cloud: $($AN $L/latesub.cloud $N a)"
spool_metrics
metric 'zedge_messages_dropped_total' | grep -v ' 0$'
zstop
