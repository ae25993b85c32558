#!/bin/bash
# e2_hover.sh N RATE SIZE ARATE [zedge args]: uplink A reads ARATE msgs/s (small buffers), about
# the publish RATE, so its queue hovers at --queue-hwm and its lane goes spooling/live again and
# again; B is a normal cloud; local SUB. All three: every message once, in order.
. $(dirname $0)/lib.sh
N=${1:-60000}; RATE=${2:-3000}; SIZE=${3:-1000}; ARATE=${4:-3000}
shift 4
NAME=e2hover; D=/tmp/att25-e2; rm -rf $D; rm -f $L/zedge.$NAME.log
if [ -n "$BPACE" ]; then $PEER pacecloud $B $L/e2.B $BPACE 150 8 "*" > /dev/null & else $PEER cloud $B $L/e2.B 8 150 "*" > /dev/null & fi
BP=$!
$PEER pacecloud $A $L/e2.A $ARATE 150 8 '*' > /dev/null &
AP=$!
sleep 0.3
zstart $D "$@"
$PEER sub $LOCAL $L/e2.local 8 150 '*' > /dev/null &
SP=$!
sleep 0.5
( for i in $(seq 40); do sleep 0.5; metric 'zedge_spool_spooling' | awk '{printf "%s", $2}'; done; echo ) > $L/e2.spooling &
MP=$!
$PEER pub $FRONT 0 $N $RATE $SIZE a
wait $AP $BP $SP; wait $MP
echo "spooling samples (0.5 s): $(cat $L/e2.spooling)"
echo "A(pace $ARATE): $($AN $L/e2.A $N)"
echo "B: $($AN $L/e2.B $N)"
echo "local: $($AN $L/e2.local $N)"
spool_metrics
metric 'zedge_messages_dropped_total' | grep -v ' 0$'
rss $ZPID; cpu $ZPID
zstop
grep -iE 'warn|error' $L/zedge.$NAME.log | grep -v 'cannot connect' | cut -c1-250 | head
