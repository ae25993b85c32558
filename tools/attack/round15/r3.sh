#!/bin/sh
# r3.sh NAME KIND "BROKER OPTS" "ATTACK CMD" FLOW-ARGS...: as r2.sh, but the attack is any command
# (run from this directory, with $FE $BE $KF $SECS set), started 3 s before the flow (FLOWFIRST=S:
# the flow first, the attack S s later). Broker PORT/PORT+1 (9970/9971); log /tmp/TAG-NAME.log
# (attack15), outputs results/NAME.out (flow) and results/NAME.att (attack) under DIR (this
# script's directory; the attack runs there too); FLOWPY: another flow script.
N=$1; K=$2; O=$3; ATT=$4; shift 4
D=$(cd "$(dirname "$0")" && pwd); DIR=${DIR:-$D}; R=$DIR/results; mkdir -p $R; cd $DIR
Z=${ZEDGE_BIN:-$D/../../../target/release/zedge}
TAG=${TAG:-attack15}; P=${PORT:-9970}; FE=$P; BE=$((P + 1)); FLOWPY=${FLOWPY:-$D/../round9/curve.py}
KF=/tmp/$TAG-srv; [ -e ${KF}_secret ] || $Z keygen $KF >/dev/null
LOG=/tmp/$TAG-$N.log
$Z $K -v --frontend tcp://127.0.0.1:$FE --backend tcp://127.0.0.1:$BE --curve-secret ${KF}_secret $O >$LOG 2>&1 &
BP=$!; sleep 0.5
SECS=$(echo "$@" | sed -n 's/.*--secs \([0-9.]*\).*/\1/p'); SECS=${SECS:-15}
export FE BE KF SECS=$((${ATTSECS:-${SECS%.*}} + 4))
if [ -n "$FLOWFIRST" ]; then
timeout 60 python3 $FLOWPY $FE $BE $KF --kind $K "$@" > $R/$N.out 2>&1 &
FP=$!; sleep $FLOWFIRST
timeout 60 sh -c "$ATT" > $R/$N.att 2>&1 &
AP=$!; wait $FP
else
timeout 60 sh -c "$ATT" > $R/$N.att 2>&1 &
AP=$!; sleep 3
timeout 60 python3 $FLOWPY $FE $BE $KF --kind $K "$@" > $R/$N.out 2>&1
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
