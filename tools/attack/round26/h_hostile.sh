#!/bin/bash
# h_hostile.sh MODE [N RATE SIZE]: forwarder, uplinks >A (a libzmq XSUB cloud that reads) and >B
# (rawup.py MODE: a hostile uplink), a local SUB, a PUB sending N (30000) x SIZE (100) at RATE
# (3000/s). Then B is replaced by a normal cloud for 8 s: it gets what its lane spooled.
# Checks: A and local get all, in order, none late; zedge alive, CPU, VmHWM, disk; B's lane.
. $(dirname $0)/lib.sh
MODE=${1:-garbage}; N=${2:-30000}; RATE=${3:-3000}; SIZE=${4:-100}; shift $(( $# < 4 ? $# : 4 ))
NAME=hostile; D=/tmp/att26-h; rm -rf $D; rm -f $L/zedge.$NAME.log $L/h.*
DUR=$(( N / RATE + 2 ))
$PEER cloud $A $L/h.A 5 60 '*' > /dev/null & AP=$!
python3 $R/rawup.py $BPORT $L/h.Braw $DUR $MODE > $L/h.Braw.json & BRP=$!
sleep 0.3
zstart $D "$@"
$PEER sub $LOCAL $L/h.local 5 60 '*' > /dev/null & SP=$!
sleep 0.3
C0=$(ticks $ZPID)
$PEER pub $FRONT 0 $N $RATE $SIZE a > $L/h.pub.json
C1=$(ticks $ZPID)
echo "pub: $(cat $L/h.pub.json); zedge cpu during flow: $((C1-C0)) ticks"
echo "during: $(spool_metrics | grep -oE 'zedge_spool_(messages|spooling|errors_total)\{[^ ]*\} [0-9.]+|event="(appended|sent|dropped|recovered|refused)"\} [0-9]+' | tr '\n' ' ')"
echo "disk: $(du -sb $D | cut -f1); $(rss $ZPID)"
wait $BRP; echo "B raw: $(cat $L/h.Braw.json)"
C2=$(ticks $ZPID); sleep 2; C3=$(ticks $ZPID); echo "idle cpu 2 s after B gone: $((C3-C2)) ticks"
# B comes back as a normal cloud: its lane should replay what it missed
$PEER cloud $B $L/h.B 4 25 '*' > /dev/null & BP=$!
wait $AP $SP $BP
echo "A: $($AN $L/h.A $N)"
echo "local: $($AN $L/h.local $N)"
echo "B(normal, after): $($AN $L/h.B $N)"
grep '#gap' $L/h.A $L/h.local | sort -k3 -n -r | head -3
echo "end: $(spool_metrics | grep -oE 'zedge_spool_(messages|spooling)\{[^ ]*\} [0-9.]+|event="(appended|sent|dropped)"\} [0-9]+' | tr '\n' ' ')"
metric zedge_handshake_failures_total | grep -v ' 0$' | sed 's/device="[^"]*",//' | tr '\n' ' '; echo
metric 'zedge_messages_dropped_total' | grep -v ' 0$' | tr '\n' ' '; echo
kill -0 $ZPID && echo "zedge alive; $(rss $ZPID)" || echo "ZEDGE DEAD"
zstop
echo "warnings:"; warns 6
