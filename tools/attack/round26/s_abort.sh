#!/bin/bash
# s_abort.sh [N RATE PATTERN BIGSIZE]: forwarder --queue-hwm 256K with uplinks A (flapping: up/down
# 0.5-2 s at random for 16 s, then steady) and B (steady), a local SUB; a PUB sends N (48000)
# numbered 100 B messages at RATE (3000/s) while rawpub.py publishes BIGSIZE (3 MB) messages
# every 0.4 s, PATTERN (ca: complete, abort (RST half-way); s: stall 7 s half-way).
# Checks: the small flow exactly once, in order, at A, B, local; big ones whole or not at all.
. $(dirname $0)/lib.sh
N=${1:-48000}; RATE=${2:-3000}; PAT=${3:-ca}; BIG=${4:-3000000}; shift $(( $# < 4 ? $# : 4 ))
NAME=abort; D=/tmp/att26-s; rm -rf $D; rm -f $L/zedge.$NAME.log $L/s.*
$PEER cloud $B $L/s.B 6 90 '*' > /dev/null & BP=$!
$PEER flapr $A $L/s.A 0.5 2 0.5 2 16 6 '*' ${SEED:-1} > $L/s.A.json & AP=$!
sleep 0.3
zstart $D --queue-hwm 256K "$@"
$PEER sub $LOCAL $L/s.local 6 90 '*' > /dev/null & SP=$!
sleep 0.3
python3 $R/rawpub.py 7800 $BIG 0.4 $(( N / RATE )) $PAT > $L/s.raw.json & RP=$!
$PEER pub $FRONT 0 $N $RATE 100 a > $L/s.pub.json
wait $RP; echo "pub: $(cat $L/s.pub.json) raw: $(cat $L/s.raw.json)"
echo "mid: $(spool_metrics | grep -oE 'zedge_spool_(messages|spooling)\{[^ ]*\} [0-9.]+|event="(appended|sent|dropped|recovered|refused)"\} [0-9]+' | tr '\n' ' ') $(rss $ZPID)"
wait $AP $BP $SP
for w in A B local; do
  grep -v '^B ' $L/s.$w > $L/s.$w.small
  echo "$w small: $($AN $L/s.$w.small $N)"
  echo "$w big: $(grep -c '^B ' $L/s.$w) whole, ids $(grep '^B ' $L/s.$w | awk '{print $2}' | sort -n | uniq -c | awk '{printf "%s%s ", $2, ($1>1?"x"$1:"")}' | cut -c1-300)"
done
grep -h '#odd' $L/s.A $L/s.B $L/s.local | head -3
echo "flaps: $(cat $L/s.A.json) $(python3 /work/main/tools/attack/round25/flapan.py $L/s.A.small $N 2>/dev/null)"
echo "end: $(spool_metrics | grep -oE 'zedge_spool_(messages|spooling)\{[^ ]*\} [0-9.]+|event="(appended|sent|dropped|recovered|refused)"\} [0-9]+' | tr '\n' ' ')"
metric 'zedge_messages_dropped_total' | grep -v ' 0$' | sed 's/device="[^"]*",//' | tr '\n' ' '; echo
kill -0 $ZPID && echo "zedge alive; $(rss $ZPID)" || echo "ZEDGE DEAD"
zstop
echo "warnings:"; warns 8
