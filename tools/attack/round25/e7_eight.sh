#!/bin/bash
# e7_eight.sh [N] [RATE] [SIZE]: 8 uplinks (ports 7710-7717), the 8th subscribes and never reads
# (deaf); N at RATE of SIZE. zedge CPU and VmHWM; the 7 others all, once, in order.
. $(dirname $0)/lib.sh
N=${1:-75000}; RATE=${2:-5000}; SIZE=${3:-200}
NAME=e7; D=/tmp/att25-e7; rm -rf $D; rm -f $L/zedge.$NAME.log
U=""; for i in $(seq 0 7); do U="$U >tcp://127.0.0.1:$((7710+i))"; done
pids=""
for i in $(seq 0 6); do $PEER cloud tcp://127.0.0.1:$((7710+i)) $L/e7.$i 5 60 '*' > /dev/null & pids="$pids $!"; done
$PEER deaf tcp://127.0.0.1:7717 40 '*' & DP=$!
UPS="$U" zstart $D
sleep 1
t0=$(awk '{print $14+$15}' /proc/$ZPID/stat); s0=$(date +%s.%N)
$PEER pub $FRONT 0 $N $RATE $SIZE a
t1=$(awk '{print $14+$15}' /proc/$ZPID/stat); s1=$(date +%s.%N)
echo "zedge CPU during the flow: $(python3 -c "print('%.0f%% of a core' % (($t1-$t0)/100/($s1-$s0)*100))")"
wait $pids
for i in $(seq 0 6); do echo "uplink $i: $($AN $L/e7.$i $N | cut -c1-130)"; done
t2=$(awk '{print $14+$15}' /proc/$ZPID/stat); sleep 5; t3=$(awk '{print $14+$15}' /proc/$ZPID/stat)
echo "zedge CPU idle 5 s (deaf one still there): $((t3-t2)) ticks"
rss $ZPID; du -sb $D
spool_metrics | cut -c1-500
$Z peers --control $CTL 2>/dev/null | head -12
kill $DP 2>/dev/null; wait $DP 2>/dev/null
zstop
