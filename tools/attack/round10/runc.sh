#!/bin/sh
# runc.sh KIND "BROKER OPTS" curve.py curve.py-args...   (CURVE both sides, 9950/9951; the
# pacing proxy on 10002; the broker's log in /tmp/attack10-${LOGNAME:-last}.log)
KIND=$1; OPTS=$2; SCRIPT=$3; shift 3
D=$(cd "$(dirname "$0")" && pwd); Z=${ZEDGE_BIN:-$D/../../../target/release/zedge}
K=/tmp/attack10-srv; [ -e ${K}_secret ] || $Z keygen $K >/dev/null
LOG=/tmp/attack10-${LOGNAME:-last}.log
$Z $KIND ${VV:--v} --frontend tcp://127.0.0.1:9950 --backend tcp://127.0.0.1:9951 --curve-secret ${K}_secret $OPTS >$LOG 2>&1 &
BP=$!; sleep 0.5
timeout ${TMO:-70} python3 $D/$SCRIPT 9950 9951 $K "$@"
grep VmHWM /proc/$BP/status; awk "{print \"broker-cpu-s:\", (\$14+\$15)/100}" /proc/$BP/stat
kill -INT $BP; sleep 0.5; kill $BP 2>/dev/null; wait $BP 2>/dev/null
grep -c "lane\|stalled" $LOG | sed 's/^/lane-or-stalled-lines: /'
grep -i "panic\|memory_max" $LOG | tail -2
tail -2 $LOG
