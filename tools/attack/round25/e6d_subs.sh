#!/bin/bash
# e6d_subs.sh [SUBDELAY]: topics a,b alternate (20,000 x 100 B at 2,000/s). A subscribes "a" and
# stays; B subscribes "b", away the first 4 s; C (third uplink) subscribes everything but only
# SUBDELAY s after its handshake, away the first 4 s. Each: all of its topics, once, in order.
. $(dirname $0)/lib.sh
SD=${1:-2}; N=20000
C=tcp://127.0.0.1:7706
NAME=e6d; D=/tmp/att25-e6d; rm -rf $D; rm -f $L/zedge.$NAME.log
$PEER cloud $A $L/e6d.A 5 40 'a' > /dev/null & AP=$!
UPS=">$A >$B >$C" zstart $D
sleep 1
$PEER pub $FRONT 0 $N 2000 100 ab > /dev/null & PP=$!
sleep 4
$PEER cloud $B $L/e6d.B 5 40 'b' > /dev/null & BP=$!
$PEER cloud $C $L/e6d.C 5 40 '*' $SD > /dev/null & CP=$!
wait $PP $AP $BP $CP
echo "A (a): $(WANT=a $AN $L/e6d.A $N ab | cut -c1-200)"
echo "B (b, away 4 s): $(WANT=b $AN $L/e6d.B $N ab | cut -c1-200)"
echo "C (all, away 4 s, subscribes ${SD}s late): $($AN $L/e6d.C $N ab | cut -c1-200)"
grep '#' $L/e6d.C | head -3
spool_metrics | cut -c1-600
grep -E 'WARN|ERROR' $L/zedge.$NAME.log | grep -v 'cannot connect' | cut -c25-250 | sort | uniq -c
zstop
