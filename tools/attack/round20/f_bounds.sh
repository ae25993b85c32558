#!/bin/bash
# f_bounds.sh N SIZE SPOOLMAX [MEMMAX]: uplink away; a PUB floods N of SIZE; disk use vs
# --spool-max, VmHWM vs --memory-max; then the cloud comes: what arrives is in order, once.
. $(dirname $0)/lib.sh
N=${1:-200000}; SIZE=${2:-100}; SMAX=${3:-4M}; MMAX=${4:-32M}
NAME=bounds; D=/tmp/att20-bounds; rm -rf $D; rm -f $L/zedge.$NAME.log
zstart $D --spool-max $SMAX --memory-max $MMAX
$PEER sub $LOCAL $L/bounds.local 3 60 '*' > /dev/null &
SP=$!
sleep 0.3
( while kill -0 $ZPID 2>/dev/null; do du -sb $D | awk '{print $1}'; sleep 0.1; done ) > $L/bounds.du &
DU=$!
$PEER pub $FRONT 0 $N ${RATE:-0} $SIZE a ${SNDHWM:-100}
sleep 1.5
kill $DU
echo "disk peak: $(sort -n $L/bounds.du | tail -1) bytes (spool-max $SMAX)"
rss $ZPID
spool_metrics
$PEER cloud $CLOUD $L/bounds.cloud 3 40 '*' > /dev/null
wait $SP
echo "cloud: $($AN $L/bounds.cloud $N a)"
echo "local: $($AN $L/bounds.local $N a)"
rss $ZPID
grep -E 'WARN|ERROR' $L/zedge.$NAME.log | grep -v 'cannot connect' | cut -c1-200 | head -5
zstop
