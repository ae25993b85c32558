#!/bin/bash
# t_soak.sh [N RATE SIZE]: zedge streamer --spool, backend bound (workers connect), a PUSH sends
# N (180000) x SIZE (100) at RATE (2000/s, 90 s). Workers: W1 reads 0-20 s and 36-100 s;
# W2 reads 300/s 5-20 s and 45-100 s; all workers away 20-36 s; W3 connects at 36 s, reads
# nothing for 24 s, then reads; W4 comes and goes (2 s on, 1 s off) 40-80 s.
# Checks: the union gets every message (losses only what a leaving W4's connection held),
# disk and VmHWM bounded, segments deleted as delivered.
. $(dirname $0)/lib.sh
N=${1:-180000}; RATE=${2:-2000}; SIZE=${3:-100}; shift $(( $# < 3 ? $# : 3 ))
NAME=soak; D=/tmp/att26-t; rm -rf $D; rm -f $L/zedge.$NAME.log $L/t.*
SF=tcp://127.0.0.1:7810; SB=tcp://127.0.0.1:7811; SO="python3 $R/soak.py"
$Z streamer --frontend $SF --backend $SB --spool $D --metrics $METRICS -v "$@" >>$L/zedge.$NAME.log 2>&1 & ZPID=$!
sleep 0.5
$SO pull $SB $L/t.W1 20 0 0 1000 > $L/t.W1a.json &
(sleep 5; $SO pull $SB $L/t.W2 15 300 0 10 > $L/t.W2a.json) &
$SO push $SF $N $RATE $SIZE > $L/t.push.json & PP=$!
T0=$(date +%s.%N)
(sleep 36; $SO pull $SB $L/t.W1 80 0 0 1000 > $L/t.W1b.json) &
(sleep 45; $SO pull $SB $L/t.W2 70 300 0 10 > $L/t.W2b.json) &
(sleep 36; $SO pull $SB $L/t.W3 80 0 24 10 > $L/t.W3.json) &
(sleep 40; for k in $(seq 13); do $SO pull $SB $L/t.W4 2 0 0 1000 >> $L/t.W4.json; sleep 1; done) &
for k in $(seq 24); do
  sleep 5
  printf "t=%3ds disk=%8s segs=%2s %s %s\n" $((k*5)) $(du -sb $D | cut -f1) $(ls $D | grep -c seg) \
    "$(spool_metrics | grep -oE 'zedge_spool_(messages|spooling)\{[^ ]*\} [0-9.]+|event="(appended|sent|dropped|recovered)"\} [0-9]+' | sed 's/zedge_spool_//; s/event=//' | tr '\n' ' ')" \
    "$(grep VmHWM /proc/$ZPID/status | tr -s ' ')"
done
wait $PP; echo "push: $(cat $L/t.push.json)"
wait
cat $L/t.W*.json | tr '\n' ' '; echo
cat $L/t.W1 $L/t.W2 $L/t.W3 $L/t.W4 > $L/t.all
echo "all: $($AN $L/t.all $N)"
for w in W1 W2 W3 W4; do echo "$w: $(grep -c . $L/t.$w) msgs, backwards $(awk '{if ($2<p) b++; p=$2} END {print b+0}' $L/t.$w)"; done
echo "end: disk=$(du -sb $D | cut -f1) $(ls $D | tr '\n' ' ') $(rss $ZPID)"
kill -TERM $ZPID; wait $ZPID
echo "warnings:"; warns 8
