#!/bin/sh
# runc.sh "BROKER OPTS" curve.py-args...   (streamer, CURVE both sides, 9830/9831)
OPTS=$1; shift
D=$(cd "$(dirname "$0")" && pwd); Z=${ZEDGE_BIN:-$D/../../../target/release/zedge}
K=/tmp/zedge-attack8-srv; [ -e ${K}_secret ] || $Z keygen $K >/dev/null
$Z streamer ${VV:--v} --frontend tcp://127.0.0.1:9830 --backend tcp://127.0.0.1:9831 --curve-secret ${K}_secret $OPTS >/tmp/zedge-attack8-brokerc.log 2>&1 &
BP=$!; sleep 0.5
timeout 90 python3 $D/../round9/curve.py 9830 9831 $K "$@"
kill -INT $BP; sleep 0.5; kill $BP 2>/dev/null; wait $BP 2>/dev/null
grep -c "lane\|stalled" /tmp/zedge-attack8-brokerc.log | sed 's/^/lane-or-stalled-lines: /'
tail -2 /tmp/zedge-attack8-brokerc.log
