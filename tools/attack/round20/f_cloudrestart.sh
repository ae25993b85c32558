#!/bin/bash
# f_cloudrestart.sh CONSUMER_DELAY: the cloud is another zedge forwarder (frontend 7610, backend
# 7611) with one SUB consumer. The cloud is down while the edge spools 20000; the cloud comes
# back, its consumer CONSUMER_DELAY s after it (an app restarting, a slower reconnect backoff).
. $(dirname $0)/lib.sh
DELAY=${1:-2}; N=20000
CLOUD=tcp://127.0.0.1:7610
NAME=cloudrestart; D=/tmp/att20-cloudrestart; rm -rf $D; rm -f $L/zedge.$NAME.log $L/zedge.cloud.log
zstart $D
$PEER pub $FRONT 0 $N 20000 100 a
sleep 1
echo "spooled: $(metric 'zedge_spool_messages\{')"
$Z forwarder --frontend tcp://127.0.0.1:7610 --backend tcp://127.0.0.1:7611 -v > $L/zedge.cloud.log 2>&1 &
CZ=$!
sleep $DELAY
$PEER sub tcp://127.0.0.1:7611 $L/cloudrestart.consumer 3 10 '*' > /dev/null
echo "consumer: $($AN $L/cloudrestart.consumer $N a)"
echo "edge: $(metric 'zedge_spool_messages_total' | tr '\n' ' ')"
kill -TERM $CZ; wait $CZ
grep -h 'XSUB\|XPUB\|SUB conn' $L/zedge.$NAME.log $L/zedge.cloud.log | cut -c1-150
zstop
