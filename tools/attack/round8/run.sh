#!/bin/sh
# run.sh KIND "BROKER OPTS" -- workers.py args...  (ports 9810/9811)
KIND=$1; OPTS=$2; shift 2
D=$(cd "$(dirname "$0")" && pwd); Z=${ZEDGE_BIN:-$D/../../../target/release/zedge}
LOG=/tmp/zedge-attack8-broker.log
$Z $KIND -v --frontend tcp://127.0.0.1:9810 --backend tcp://127.0.0.1:9811 $OPTS >$LOG 2>&1 &
BP=$!
sleep 0.5
timeout 90 python3 $D/workers.py $KIND 9810 9811 "$@"
kill -INT $BP; sleep 0.5; kill $BP 2>/dev/null; wait $BP 2>/dev/null
grep -c "read too little" $LOG | sed 's/^/deaf-closes-logged: /'
tail -3 $LOG
