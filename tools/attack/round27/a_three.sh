#!/bin/bash
# a_three.sh [N RATE HWM PAT1 PAT2]: forwarder --queue-hwm HWM (256K) with uplinks A (flapping
# 0.5-2 s up/down for 16 s, then steady), B (steady), C (slow: 1,500/s, RCVHWM 10, RCVBUF 4K), a
# local SUB; a PUB sends N (30000) numbered 100 B at RATE (3000/s) while two raw PUBs publish
# 3 MB messages every 0.4 s, patterns PAT1 (ca) and PAT2 (s: stall 7 s half-way).
# "-" for a pattern: that raw PUB not run. FLAP=0: A is a steady cloud too.
# Checks: each uplink every small message once, in order; big ones whole or not at all.
. $(dirname $0)/lib.sh
N=${1:-30000}; RATE=${2:-3000}; HWM=${3:-256K}; P1=${4:-ca}; P2=${5:-s}
NAME=a3; D=/tmp/att27-a; rm -rf $D; rm -f $L/zedge.$NAME.log $L/a.*
$PEER cloud $B $L/a.B 8 120 '*' > /dev/null & BP=$!
if [ "${FLAP:-1}" = 0 ]; then $PEER cloud $A $L/a.A 8 120 '*' > /dev/null; echo "{}" > $L/a.A.json; else $PEER flapr $A $L/a.A 0.5 2 0.5 2 16 8 '*' ${SEED:-1} > $L/a.A.json; fi & AP=$!
$PEER pacecloud $C $L/a.C 1500 120 8 '*' > /dev/null & CP=$!
sleep 0.3
UPS=">$A >$B >$C" zstart $D --queue-hwm $HWM
$PEER sub $LOCAL $L/a.local 8 120 '*' > /dev/null & SP=$!
sleep 0.3
( for i in $(seq 60); do sleep 0.5; metric 'zedge_spool_spooling' | awk '{printf "%s", $2}'; done; echo ) > $L/a.spooling & MP=$!
RP1=""; RP2=""; echo "{}" > $L/a.raw1.json; echo "{}" > $L/a.raw2.json
[ "$P1" != - ] && { $RAWPUB $FPORT 3000000 0.4 $(( N / RATE )) $P1 > $L/a.raw1.json & RP1=$!; }
[ "$P2" != - ] && { $RAWPUB $FPORT 3000000 0.4 $(( N / RATE )) $P2 > $L/a.raw2.json & RP2=$!; }
$PEER pub $FRONT 0 $N $RATE 100 a > $L/a.pub.json
wait $RP1 $RP2 2>/dev/null; echo "pub: $(cat $L/a.pub.json) raw1: $(cat $L/a.raw1.json) raw2: $(cat $L/a.raw2.json)"
echo "mid: $(short_spool) $(rss $ZPID)"
wait $AP $BP $CP $SP; kill $MP 2>/dev/null
echo "spooling samples: $(cat $L/a.spooling)"
for w in A B C local; do
  grep -v '^B ' $L/a.$w > $L/a.$w.small
  echo "$w small: $($AN $L/a.$w.small $N)"
  echo "$w big: $(grep -c '^B ' $L/a.$w) whole, ids $(grep '^B ' $L/a.$w | awk '{print $2}' | sort -n | uniq -c | awk '{printf "%s%s ", $2, ($1>1?"x"$1:"")}' | cut -c1-300)"
done
grep -h '#odd' $L/a.A $L/a.B $L/a.C $L/a.local | head -3
echo "flaps: $(cat $L/a.A.json) $($FLAPAN $L/a.A.small $N 2>/dev/null)"
echo "end: $(short_spool)"
metric 'zedge_messages_dropped_total' | grep -v ' 0$' | sed 's/device="[^"]*",//' | tr '\n' ' '; echo
kill -0 $ZPID && echo "zedge alive; $(rss $ZPID)" || echo "ZEDGE DEAD"
zstop
echo "warnings:"; warns 10
