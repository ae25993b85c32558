#!/bin/bash
# e5_away_max.sh [N] [RATE] [SIZE] [MAX]: A away all along, B up, --spool-max MAX; N published.
# B: all; disk peak; drops counted and logged; CPU while idle with A still away; then A comes.
. $(dirname $0)/lib.sh
N=${1:-60000}; RATE=${2:-5000}; SIZE=${3:-100}; MAX=${4:-2M}
NAME=e5; D=/tmp/att25-e5; rm -rf $D; rm -f $L/zedge.$NAME.log
$PEER cloud $B $L/e5.B 5 60 '*' > /dev/null & BP=$!
zstart $D --spool-max $MAX
$PEER sub $LOCAL $L/e5.local 5 60 '*' > /dev/null & SP=$!
( peak=0; for i in $(seq 200); do s=$(du -sb $D 2>/dev/null | cut -f1); [ "${s:-0}" -gt $peak ] && peak=$s; echo $peak > $L/e5.peak; sleep 0.1; done ) & DP=$!
sleep 0.5
$PEER pub $FRONT 0 $N $RATE $SIZE a
wait $BP $SP
echo "B: $($AN $L/e5.B $N | cut -c1-160)"
echo "local: $($AN $L/e5.local $N | cut -c1-160)"
t0=$(awk '{print $14+$15}' /proc/$ZPID/stat); sleep 5; t1=$(awk '{print $14+$15}' /proc/$ZPID/stat)
echo "CPU idle 5 s with A away: $((t1-t0)) ticks"
kill $DP 2>/dev/null; echo "disk peak bytes: $(cat $L/e5.peak) (spool-max $MAX)"
spool_metrics | cut -c1-900
$PEER cloud $A $L/e5.A 3 30 '*' > /dev/null
echo "A (away, then back): $($AN $L/e5.A $N | cut -c1-200)"
python3 - $L/e5.A <<'PY'
import sys
ids=[int(l.split()[1]) for l in open(sys.argv[1]) if not l.startswith('#')]
print("A got ids %s..%s, contiguous tail: %s" % (min(ids) if ids else None, max(ids) if ids else None, ids==list(range(ids[0], ids[0]+len(ids))) if ids else None))
PY
grep -E 'WARN|ERROR' $L/zedge.$NAME.log | grep -v 'cannot connect' | cut -c25-260 | sort | uniq -c | head
rss $ZPID
zstop
