#!/bin/sh
# r.sh NAME KIND "BROKER OPTS" curve.py-args... : round11/runc.sh (ports 9970/9971, proxy 10022),
# output /tmp/attack12-NAME.out (copied to results/NAME.out), broker log /tmp/attack12-NAME.log
N=$1; shift; K=$1; O=$2; shift 2
D=$(cd "$(dirname "$0")" && pwd)
export PORT=9970 TAG=attack12 ZEDGE_BIN=${ZEDGE_BIN:-$D/../../../target/release/zedge}
$D/runc.sh $K "$O" curve.py "$@" > /tmp/attack12-$N.out 2>&1
cp /tmp/attack12-${LOGNAME:-last}.log /tmp/attack12-$N.log
mkdir -p $D/results; cp /tmp/attack12-$N.out $D/results/$N.out
echo "== $N: $K $O $*"; grep '^{' /tmp/attack12-$N.out | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print({k:d[k] for k in ['sent','normal_got','cum_per_5s','lat_p99','lat_max','max_gap_s','att_conns','att_bytes']})"
grep "VmHWM\|cpu" /tmp/attack12-$N.out | tr '\n' ' '; echo
echo "closings: $(grep -c 'closing:' /tmp/attack12-$N.log) beyond: $(grep -c 'memory beyond' /tmp/attack12-$N.log) spent-lines: $(grep -c 'memory_max is spent' /tmp/attack12-$N.log) panic: $(grep -ci panic /tmp/attack12-$N.log)"
pgrep -af "zedge.*99[789]" || true
