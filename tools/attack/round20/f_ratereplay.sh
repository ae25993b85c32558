#!/bin/bash
# f_ratereplay.sh N RATE [SIZE] [zedge args]: N spooled, then a cloud comes and the spool replays at
# --spool-rate RATE; looks for stalls (gaps) and loss.
. $(dirname $0)/lib.sh
N=${1:-100000}; RATE=${2:-1M}; SIZE=${3:-100}; shift 3
NAME=ratereplay; D=/tmp/att20-ratereplay; rm -rf $D; rm -f $L/zedge.$NAME.log
zstart $D --spool-rate $RATE "$@"
$PEER pub $FRONT 0 $N 50000 $SIZE a
sleep 1.2
if [ -n "$RAW" ]; then python3 $R/rawcloud.py 7602 $L/ratereplay.cloud 4 50; else $PEER cloud $CLOUD $L/ratereplay.cloud 4 50 '*' > /dev/null; fi
echo "cloud: $($AN $L/ratereplay.cloud $N a)"
grep '#' $L/ratereplay.cloud | head
spool_metrics
zstop
