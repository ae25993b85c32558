#!/bin/bash
# s_lock.sh [HOLD UPS DOWNS N HWM]: targets 1 and 4. A streamer (backend >W1, spool) on a fresh spool locked
# by another process for HOLD (20) s. W1 (st.py hpull, flat out, least buffers) up/down per UPS/DOWNS
# ("9" "3": up 9 s, away 3 s, then steady). PUSH 0..N (22000) x 100 B at 1000/s from the start.
# WR: W1 reads WR/s (0 = flat out).
# Expect: every id reaches W1 once (order: documented once out of order), or the loss counted.
. $(dirname $0)/lib.sh
HOLD=${1:-20}; UPSL=${2:-9}; DOWNSL=${3:-3}; N=${4:-22000}; HWM=${5:-8M}
NAME=sl; D=$T-sl; rm -rf $D; mkdir -p $D; rm -f $L/zedge.$NAME.log $L/sl.*
flock -o $D/lock sleep $HOLD & FP=$!; sleep 0.2
python3 $R30/st.py hpull $A $L/sl.W1 ${WR:-0} $UPSL $DOWNSL 6 10 4096 > /dev/null & P1=$!
$Z streamer --frontend $FRONT --backend ">$A" --spool $D --queue-hwm $HWM --metrics $METRICS --control $CTL -v >> $L/zedge.$NAME.log 2>&1 & ZPID=$!
sleep 0.5
python3 $R30/st.py push $FRONT 0 $N 1000 100 > $L/sl.push.json & PP=$!
for i in $(seq 5 5 $((HOLD + 5))); do sleep 5; echo "  t=$i W1 $(grep -vc '^#' $L/sl.W1) | $(short_spool | cut -c1-120) | drops $(drops)"; done
wait $FP $PP $P1
echo "push: $(cat $L/sl.push.json)"
echo "W1: $($CAN $L/sl.W1 0-$N)"
echo "drops: $(drops)"; echo "spool: $(short_spool)"
grep -E 'held while|spool .*open|disconnected|recovered' $L/zedge.$NAME.log | cut -c12-230 | head -10
zstop
grep -E 'stopped after|dropped' $L/zedge.$NAME.log | tail -2 | cut -c25-300
