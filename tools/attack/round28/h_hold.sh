#!/bin/bash
# h_hold.sh [HWM NHOST PAT HALF_WAIT TRICKLE ROT N]: forwarder --queue-hwm HWM (256K) with uplinks A
# (steady) and B (away: its lane spools), a local SUB; a libzmq PUB (lat.py) sends N (60000) x 100 B
# at 3000/s, each with its send time; 2 s in, NHOST (1) hostile raw PUBs (hostile.py, 3 MB, PATTERN
# t|s, for the rest of the publication) hold the sink. Then B comes and drains.
# Measures: the normal PUB's end-to-end latency at A and local, losses; B after.
. ${LIB:-$(dirname $0)/lib.sh}; HERE=$(dirname $(realpath $0))
HWM=${1:-256K}; NH=${2:-1}; PAT=${3:-t}; HW=${4:-1}; TR=${5:-18}; ROT=${6:-0}; N=${7:-60000}
NAME=hold; D=${SPOOLS:-/tmp/att28}-h; rm -rf $D; rm -f $L/zedge.$NAME.log $L/h.*
LAT="python3 $HERE/lat.py"
$LAT cloud $A $L/h.A 30 150 > /dev/null & AP=$!
sleep 0.3
zstart $D --queue-hwm $HWM
$LAT sub $LOCAL $L/h.local 30 150 > /dev/null & SP=$!
sleep 0.3
T=$(( N / 3000 ))
$LAT pub $FRONT 0 $N 3000 100 > $L/h.pub.json & PP=$!
sleep 2.5
HP=""
for k in $(seq $NH); do python3 $HERE/hostile.py $FPORT 3000000 $((T - 3)) $PAT $HW $TR $ROT > $L/h.host$k.json & HP="$HP $!"; sleep 0.3; done
( for i in $(seq $((T * 2))); do sleep 0.5; echo "$(date +%s.%N | cut -c7-12) $(ticks $ZPID) $(short_spool)"; done ) > $L/h.samples & MP=$!
wait $PP; echo "pub: $(cat $L/h.pub.json)"
wait $HP; for k in $(seq $NH); do echo "hostile$k: $(cut -c1-300 $L/h.host$k.json)"; done
kill $MP 2>/dev/null
echo "mid: $(short_spool) $(rss $ZPID) cpu_ticks $(ticks $ZPID)"
wait $AP $SP
echo "A: $(python3 $HERE/latan.py $L/h.A $N)"
echo "local: $(python3 $HERE/latan.py $L/h.local $N)"
echo "A big: $(grep -c '^B' $L/h.A)  local big: $(grep -c '^B' $L/h.local)"
$LAT cloud $B $L/h.B 5 60 > /dev/null
echo "B (after): $(python3 $HERE/latan.py $L/h.B $N | sed 's/"lat.*//')  big $(grep -c '^B' $L/h.B)"
echo "end: $(short_spool)"
metric 'zedge_messages_dropped_total' | grep -v ' 0$' | sed 's/device="[^"]*",//' | tr '\n' ' '; echo
metric 'zedge_peers_closed_total|zedge_.*stalled' | grep -v ' 0$' | sed 's/device="[^"]*",//' | tr '\n' ' '; echo
kill -0 $ZPID && echo "zedge alive; $(rss $ZPID)" || echo "ZEDGE DEAD"
zstop
echo "warnings:"; warns 8
