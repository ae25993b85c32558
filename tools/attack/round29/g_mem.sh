#!/bin/bash
# g_mem.sh [MEMMAX HWM RATE SIZE N NHOST PAT TRICKLE]: item 1, the memory cost of the sink holding
# back behind a trickled large publication. Forwarder --memory-max MEMMAX (256M) --queue-hwm HWM (1M),
# uplinks A (lat cloud, all), B (away: its lane spools), C (peer.py cloud, subscribes "a" only: never
# gets the large ones, so its lane stays live); local SUBs: L1 (lat sub, all), L2 (peer.py sub "a").
# A libzmq PUB (lat.py) sends N × SIZE at RATE/s; 2.5 s in, NHOST hostile.py (3 MB, PAT, TRICKLE s).
# Samples RSS and queued bytes every 0.5 s. Then B comes and drains.
. $(dirname $0)/lib.sh
MM=${1:-256M}; HWM=${2:-1M}; RATE=${3:-3000}; SIZE=${4:-100}; N=${5:-60000}; NH=${6:-1}; PAT=${7:-t}; TR=${8:-18}
NAME=gmem; D=/tmp/att29-g; rm -rf $D; rm -f $L/zedge.$NAME.log $L/g.*
LAT="python3 $R28/lat.py"
$LAT cloud $A $L/g.A 30 200 > /dev/null & AP=$!
$PEER cloud $C $L/g.C 30 200 a > /dev/null & CP=$!
sleep 0.3
UPS=">$A >$B >$C" zstart $D --queue-hwm $HWM --memory-max $MM
$LAT sub $LOCAL $L/g.L1 30 200 > /dev/null & S1=$!
$PEER sub $LOCAL $L/g.L2 30 200 a > /dev/null & S2=$!
sleep 0.3
T=$(( N / RATE ))
$LAT pub $FRONT 0 $N $RATE $SIZE > $L/g.pub.json & PP=$!
sleep 2.5
HP=""
for k in $(seq $NH); do python3 $R28/hostile.py $FPORT 3000000 $((T - 3)) $PAT 1 $TR 0 > $L/g.host$k.json & HP="$HP $!"; sleep 0.3; done
( while kill -0 $PP 2>/dev/null; do sleep 0.5; echo "$(date +%s.%N | cut -c7-12) $(grep VmRSS /proc/$ZPID/status | tr -s ' ') queued $(metric zedge_queued_bytes | awk '{s+=$2} END {print s}') $(short_spool | cut -c1-120)"; done ) > $L/g.samples & MP=$!
wait $PP; echo "pub: $(cat $L/g.pub.json)"
wait $HP; for k in $(seq $NH); do echo "hostile$k: $(cut -c1-200 $L/g.host$k.json)"; done
kill $MP 2>/dev/null
echo "max sampled RSS: $(awk '{print $3}' $L/g.samples | sort -n | tail -1) kB; $(rss $ZPID)"
echo "mid: $(short_spool)"
wait $AP $CP $S1 $S2
echo "A: $(python3 $R28/latan.py $L/g.A $N)"
echo "C: $($CAN $L/g.C 0-$N)"
echo "L1: $(python3 $R28/latan.py $L/g.L1 $N)"
echo "L2: $($CAN $L/g.L2 0-$N)"
echo "A big: $(grep -c '^B' $L/g.A)  L1 big: $(grep -c '^B' $L/g.L1)"
$LAT cloud $B $L/g.B 5 90 > /dev/null
echo "B (after): $(python3 $R28/latan.py $L/g.B $N | sed 's/"lat.*//')  big $(grep -c '^B' $L/g.B)"
echo "end: $(short_spool)"
metric 'zedge_messages_dropped_total' | grep -v ' 0$' | sed 's/device="[^"]*",//' | tr '\n' ' '; echo
metric 'zedge_peers_closed_total' | grep -v ' 0$' | sed 's/device="[^"]*",//' | tr '\n' ' '; echo
kill -0 $ZPID && echo "zedge alive; $(rss $ZPID)" || echo "ZEDGE DEAD"
zstop
echo "warnings:"; warns 10
