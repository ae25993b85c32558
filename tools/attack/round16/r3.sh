#!/bin/sh
# r3.sh NAME KIND "BROKER OPTS" "ATTACK CMD" FLOW-ARGS...: as r2.sh, but the attack is any command
# (run from this directory, with $FE $BE $KF $SECS set), started 3 s before the flow (FLOWFIRST=S:
# the flow first, the attack S s later). Broker 9980/9981; log /tmp/attack16-NAME.log, outputs
# results/NAME.out (flow) and results/NAME.att (attack).
N=$1; K=$2; O=$3; ATT=$4; shift 4
D=$(cd "$(dirname "$0")" && pwd); R=$D/results; mkdir -p $R; cd $D
Z=${ZEDGE_BIN:-/work/att16-target/release/zedge}
KF=/tmp/attack16-srv; [ -e ${KF}_secret ] || $Z keygen $KF >/dev/null
LOG=/tmp/attack16-$N.log
$Z $K -v --frontend tcp://127.0.0.1:9980 --backend tcp://127.0.0.1:9981 --curve-secret ${KF}_secret $O >$LOG 2>&1 &
BP=$!; sleep 0.5
SECS=$(echo "$@" | sed -n 's/.*--secs \([0-9.]*\).*/\1/p'); SECS=${SECS:-15}
export FE=9980 BE=9981 KF SECS=$((${ATTSECS:-${SECS%.*}} + 4))
if [ -n "$FLOWFIRST" ]; then
timeout 60 python3 ${FLOWPY:-$D/../round9/curve.py} 9980 9981 $KF --kind $K "$@" > $R/$N.out 2>&1 &
FP=$!; sleep $FLOWFIRST
timeout 60 sh -c "$ATT" > $R/$N.att 2>&1 &
AP=$!; wait $FP
else
timeout 60 sh -c "$ATT" > $R/$N.att 2>&1 &
AP=$!; sleep 3
timeout 60 python3 ${FLOWPY:-$D/../round9/curve.py} 9980 9981 $KF --kind $K "$@" > $R/$N.out 2>&1
fi
HWM=$(grep VmHWM /proc/$BP/status); CPU=$(awk '{print ($14+$15)/100}' /proc/$BP/stat)
wait $AP 2>/dev/null
kill -INT $BP; sleep 0.5; kill $BP 2>/dev/null; wait $BP 2>/dev/null
echo "== $N: $K $O | att: $ATT | flow: $*"
grep '^{' $R/$N.out | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print({k:d.get(k) for k in ['sent','normal_got','cum_per_5s','lat_p50','lat_p99','lat_max','max_gap_s']})"
grep '^{' $R/$N.att | tr -d '\n'; echo
echo "$HWM broker-cpu-s: $CPU closings: $(grep -c 'closing:' $LOG) beyond: $(grep -c 'memory beyond' $LOG) spent-lines: $(grep -c 'memory_max is spent' $LOG) panic: $(grep -ci panic $LOG)"
grep -o "closing:.*" $LOG | sed 's/moved.*//; s/[0-9]\{4,\} B/N B/' | sort | uniq -c | sort -rn | head -3
grep -o "dropped.*" $LOG | tail -2
