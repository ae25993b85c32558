#!/bin/sh
# runp.sh KIND "BROKER OPTS" slowprod.py-args...  (9840/9841)
KIND=$1; OPTS=$2; shift 2
D=$(cd "$(dirname "$0")" && pwd); Z=${ZEDGE_BIN:-$D/../../../target/release/zedge}
$Z $KIND -v --frontend tcp://127.0.0.1:9840 --backend tcp://127.0.0.1:9841 $OPTS >/tmp/zedge-attack8-brokerp.log 2>&1 &
BP=$!; sleep 0.5
timeout 90 python3 $D/slowprod.py $KIND 9840 9841 "$@"
kill -INT $BP; sleep 0.5; kill $BP 2>/dev/null; wait $BP 2>/dev/null
tail -2 /tmp/zedge-attack8-brokerp.log
