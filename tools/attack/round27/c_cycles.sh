#!/bin/bash
# c_cycles.sh [CYCLES SEED HWM SIZE]: A hovers at its mark (pacecloud 1500/s one second, 6000/s the
# next, least buffers), B a normal cloud, a local SUB. Each cycle: a PUB sends the next 15,000
# numbered SIZE (1000) B messages at 3000/s; at a random point 2-4.5 s in, the PUB is killed, then
# zedge gets SIGTERM, and restarts on the same spool. The last cycle runs to its end. What zedge took
# ("N messages in" at each stop) is the expected set; A and B must get each once.
. ${LIB:-$(dirname $0)/lib.sh}
CYC=${1:-4}; SEED=${2:-1}; HWM=${3:-256K}; SIZE=${4:-1000}
NAME=cyc; D=$T-c; rm -rf $D; rm -f $L/zedge.$NAME.log $L/c.*
RANDOM=$SEED
$PEER pacecloud $A $L/c.A 1500/6000 200 12 '*' > /dev/null & AP=$!
$PEER cloud $B $L/c.B 12 200 '*' > /dev/null & BP=$!
sleep 0.3
ranges=""
for k in $(seq 0 $CYC); do
  zstart $D --queue-hwm $HWM
  $PEER sub $LOCAL $L/c.local.$k 3 60 '*' > /dev/null & SP=$!
  sleep 0.3
  s=$((k * 15000)); e=$((s + 15000))
  $PEER pub $FRONT $s $e 3000 $SIZE a > /dev/null & PP=$!
  if [ $k -lt $CYC ]; then
    t=$(python3 -c "import random; random.seed($SEED*100+$k); print('%.2f' % random.uniform(2.5, 5.0))")
    sleep $t
    sp=$(curl -s -m 2 http://$METRICS/metrics | grep -E '^zedge_spool_spooling' | awk '{print $2}')
    kill -KILL $PP; wait $PP 2>/dev/null; sleep 0.05
    zstop
    n=$(grep 'zedge stopped after' $L/zedge.$NAME.log | tail -1 | sed -E 's/.*: ([0-9]+) messages in.*/\1/')
    echo "cycle $k: stop at $t s (spooling=$sp): zedge took $n ($s..$((s + n))); $(grep -E 'queued live|not delivered' $L/zedge.$NAME.log | tail -2 | cut -c25-200 | tr '\n' ' ')"
    ranges="$ranges$s-$((s + n)),"
    kill $SP 2>/dev/null; wait $SP 2>/dev/null
  else
    wait $PP; ranges="$ranges$s-$e,"
    echo "last cycle: all of $s..$e"
  fi
done
wait $AP $BP; wait $SP
echo "A: $(python3 $R/../round27/c_an.py $L/c.A $ranges)"
echo "B: $(python3 $R/../round27/c_an.py $L/c.B $ranges)"
echo "end: $(short_spool)"
metric 'zedge_messages_dropped_total' | grep -v ' 0$' | sed 's/device="[^"]*",//' | tr '\n' ' '; echo
kill -0 $ZPID && echo "zedge alive; $(rss $ZPID)" || echo "ZEDGE DEAD"
zstop
grep -E 'messages to send' $L/zedge.$NAME.log | cut -c25-200
echo "warnings:"; warns 10
