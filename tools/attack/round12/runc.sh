#!/bin/sh
# runc.sh KIND "BROKER OPTS" curve.py curve.py-args...   (CURVE both sides, $PORT/$PORT+1,
# 9930/9931 unless told; the pacing proxy on $PORT+52; the broker's key and log in
# /tmp/$TAG-srv and /tmp/$TAG-${LOGNAME:-last}.log, TAG zedge-attack9 unless told)
KIND=$1; OPTS=$2; SCRIPT=$3; shift 3
D=$(cd "$(dirname "$0")" && pwd); Z=${ZEDGE_BIN:-$D/../../../target/release/zedge}
P=${PORT:-9930}; T=${TAG:-zedge-attack9}
K=/tmp/$T-srv; [ -e ${K}_secret ] || $Z keygen $K >/dev/null
LOG=/tmp/$T-${LOGNAME:-last}.log
$Z $KIND ${VV:--v} --frontend tcp://127.0.0.1:$P --backend tcp://127.0.0.1:$((P + 1)) --curve-secret ${K}_secret $OPTS >$LOG 2>&1 &
BP=$!; sleep 0.5
timeout ${TMO:-70} python3 $D/$SCRIPT $P $((P + 1)) $K "$@"
grep VmHWM /proc/$BP/status; awk "{print \"broker-cpu-s:\", (\$14+\$15)/100}" /proc/$BP/stat
kill -INT $BP; sleep 0.5; kill $BP 2>/dev/null; wait $BP 2>/dev/null
grep -c "lane\|stalled" $LOG | sed 's/^/lane-or-stalled-lines: /'
grep -i "panic\|memory_max" $LOG | tail -2
tail -2 $LOG
