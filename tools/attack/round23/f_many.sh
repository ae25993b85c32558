#!/bin/bash
# f_many.sh [K] [BRATE] [N]: streamer, spool; N spooled with no worker; K workers that never
# read connect (ports 7740..), 8 s later (all stalled: nothing may be given back) a reader B
# (>CLOUD2, BRATE/s) connects. Watch: give-backs, B's count, time, CPU, cursor.
. $(dirname $0)/lib.sh
export DEV=streamer; K=${1:-10}; BRATE=${2:-2000}; N=${3:-60000}
NAME=many; D=/tmp/att23-many; rm -rf $D; rm -f $L/zedge.$NAME.log
BK=(); for k in $(seq 0 $((K-1))); do BK+=(--backend ">tcp://127.0.0.1:$((7740+k))"); done
zstart $D --backend ">$CLOUD2" "${BK[@]}"
$PEER push $FRONT 0 $N 0 100 a >/dev/null
sleep 1.2
$PEER stalled 7740 $K 70 >/dev/null &
SP=$!
sleep 9
echo "all stalled 9 s: $(spool_metrics | grep -oE 'event="(sent|recovered)"} [0-9]*' | tr '\n' ' ') $(dirinfo $D) warnings $(grep -cE 'took (none|less)' $L/zedge.$NAME.log) cpu $(cpu $ZPID)"
T0=$(date +%s.%N)
$PEER recv pull $CLOUD2 $L/$NAME.B $BRATE 4 60 > /dev/null
echo "B done at +$(echo "$(date +%s.%N) - $T0" | bc | cut -c1-5) s: $($AN $L/$NAME.B $N a)"
echo "after: $(spool_metrics | grep -oE 'event="(sent|recovered)"} [0-9]*' | tr '\n' ' ') $(dirinfo $D) warnings $(grep -cE 'took (none|less)' $L/zedge.$NAME.log) cpu $(cpu $ZPID)"
grep -E 'took (none|less)' $L/zedge.$NAME.log | sed 's/^.*backend/backend/' | cut -c1-100 | sort | uniq -c | head -12
$Z peers --control $CTL | grep -E 'backend' | head -12
zstop
grep -E 'not delivered' $L/zedge.$NAME.log | tail -1 | sed 's/^.*stopped/stopped/' | cut -c1-200
kill $SP; wait $SP 2>/dev/null
