#!/bin/bash
# e6c_nine.sh [K]: K (9) uplinks on ports 7710.. ; all up but the last and the 8th (lane 7), away for
# the first 4 s of a 10 s flow (20,000 x 100 B at 2,000/s). Lane 7's uplink should get all; the
# 9th shares lane 0 (whose uplink stays up): what does it get? the others all.
# AWAY="7 8" (default): the uplinks (by index) away for the first 4 s.
. $(dirname $0)/lib.sh
K=${1:-9}; N=20000; AWAY=${AWAY:-"7 $((K-1))"}
NAME=e6c; D=/tmp/att25-e6c; rm -rf $D; rm -f $L/zedge.$NAME.log
U=""; for i in $(seq 0 $((K-1))); do U="$U >tcp://127.0.0.1:$((7710+i))"; done
pids=""
for i in $(seq 0 $((K-1))); do
  case " $AWAY " in *" $i "*) continue;; esac
  $PEER cloud tcp://127.0.0.1:$((7710+i)) $L/e6c.$i 4 40 '*' > /dev/null & pids="$pids $!"
done
UPS="$U" zstart $D
sleep 1
$PEER pub $FRONT 0 $N 2000 100 a > /dev/null & PP=$!
sleep 4
for i in $AWAY; do $PEER cloud tcp://127.0.0.1:$((7710+i)) $L/e6c.$i 4 40 '*' > /dev/null & pids="$pids $!"; done
wait $PP $pids
for i in $(seq 0 $((K-1))); do echo "uplink $i: $($AN $L/e6c.$i $N | cut -c1-150)"; done
spool_metrics | cut -c1-500
grep -E 'WARN|ERROR' $L/zedge.$NAME.log | grep -v 'cannot connect' | cut -c25-250 | sort | uniq -c
cat $D/cursor
rss $ZPID
zstop
