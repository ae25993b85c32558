#!/bin/sh
# r.sh NAME KIND "BROKER OPTS" curve.py-args...  : runc.sh, output in /tmp/attack10-NAME.out, log /tmp/attack10-NAME.log
N=$1; shift; K=$1; O=$2; shift 2
D=$(cd "$(dirname "$0")" && pwd)
$D/runc.sh $K "$O" ../round9/curve.py "$@" > /tmp/attack10-$N.out 2>&1
cp /tmp/attack10-${LOGNAME:-last}.log /tmp/attack10-$N.log
echo "== $N: $K $O $*"; grep '^{' /tmp/attack10-$N.out | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print({k:d[k] for k in ['sent','normal_got','cum_per_5s','lat_p99','lat_max','max_gap_s','att_conns','att_bytes']})"
grep "VmHWM\|cpu" /tmp/attack10-$N.out | tr '\n' ' '; echo
echo "closings: $(grep -c 'closing:' /tmp/attack10-$N.log) beyond: $(grep -c 'memory beyond' /tmp/attack10-$N.log) spent-lines: $(grep -c 'memory_max is spent' /tmp/attack10-$N.log) panic: $(grep -ci panic /tmp/attack10-$N.log)"
pgrep -af "zedge.*995" || true
