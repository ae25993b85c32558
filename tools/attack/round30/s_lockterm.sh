#!/bin/bash
# s_lockterm.sh [TS R1 UP N]: targets 1 and 4. A streamer (backend >W1, spool, queue_hwm 8M) on a spool locked
# for good; W1 (st.py hpull R1 (600)/s, least buffers) up UP (9) s then gone; PUSH 0..N (20000) x 100 B at
# 1000/s. SIGTERM at TS (12) s, still locked; the lock goes; restart; W1 back flat out. Expect: every id W1
# did not get is counted, and the stop lines say so.
. $(dirname $0)/lib.sh
TS=${1:-12}; R1=${2:-600}; UP=${3:-9}; N=${4:-20000}
NAME=slt; D=$T-slt; rm -rf $D; mkdir -p $D; rm -f $L/zedge.$NAME.log $L/slt.*
zs() { $Z streamer --frontend $FRONT --backend ">$A" --spool $D --queue-hwm 8M --metrics $METRICS --control $CTL -v >> $L/zedge.$NAME.log 2>&1 & ZPID=$!; sleep 0.5; }
flock -o $D/lock sleep 300 & FP=$!; sleep 0.2
python3 $R/st.py hpull $A $L/slt.W1a $R1 $UP 1000 6 10 4096 > /dev/null & P1=$!
zs
python3 $R/st.py push $FRONT 0 $N 1000 100 > $L/slt.push.json & PP=$!
sleep $TS
echo "at TERM: W1 $(grep -vc '^#' $L/slt.W1a) | $(short_spool | cut -c1-150) | drops $(drops)"
kill -TERM $ZPID; wait $ZPID
grep -E 'stopped|not delivered|dropped|go to the spool|lost|could not' $L/zedge.$NAME.log | cut -c25-300
kill $P1 $FP; wait $P1 $FP 2>/dev/null
python3 $R/st.py pull $A $L/slt.W1b 0 0 0 0 5 10 4096 > /dev/null & P1=$!
zs
wait $PP $P1
cat $L/slt.W1a $L/slt.W1b > $L/slt.W1
echo "push: $(cat $L/slt.push.json)"
for w in W1a W1b W1; do echo "$w: $($CAN $L/slt.$w 0-$N | cut -c1-230)"; done
grep -E 'messages to send' $L/zedge.$NAME.log | cut -c25-200
zstop
grep -E 'stopped after' $L/zedge.$NAME.log | cut -c25-300
