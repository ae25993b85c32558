#!/bin/sh
# r.sh NAME KIND "BROKER OPTS" curve.py-args... : ../round9/runc.sh with ../round9/curve.py on
# ports 9970/9971 (proxy 10022); output /tmp/$TAG-NAME.out (copied to $RESULTS/NAME.out), broker
# log /tmp/$TAG-NAME.log; TAG attack11 and RESULTS this directory's results/ unless told.
N=$1; shift; K=$1; O=$2; shift 2
D=$(cd "$(dirname "$0")" && pwd)
T=${TAG:-attack11}; R=${RESULTS:-$D/results}
export PORT=9970 TAG=$T ZEDGE_BIN=${ZEDGE_BIN:-$D/../../../target/release/zedge}
$D/../round9/runc.sh $K "$O" curve.py "$@" > /tmp/$T-$N.out 2>&1
cp /tmp/$T-${LOGNAME:-last}.log /tmp/$T-$N.log
mkdir -p $R; cp /tmp/$T-$N.out $R/$N.out
echo "== $N: $K $O $*"; grep '^{' /tmp/$T-$N.out | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print({k:d.get(k) for k in ['sent','normal_got','cum_per_5s','lat_p99','lat_max','max_gap_s','att_conns','att_closed_by_broker','att_bytes','sr_got','w_got','w_n','w_last'] if k in d})"
grep "VmHWM\|cpu" /tmp/$T-$N.out | tr '\n' ' '; echo
echo "closings: $(grep -c 'closing:' /tmp/$T-$N.log) beyond: $(grep -c 'memory beyond' /tmp/$T-$N.log) spent-lines: $(grep -c 'memory_max is spent' /tmp/$T-$N.log) panic: $(grep -ci panic /tmp/$T-$N.log)"
grep -o "[0-9]* messages dropped for subscribers\|closing:.*" /tmp/$T-$N.log | sort | uniq -c | sort -rn | head -4
pgrep -af "zedge.*99[789]" || true
