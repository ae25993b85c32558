#!/bin/bash
# g_restart.sh [CYCLES]: A steady (whole run), B away; per cycle k: zedge starts on the same spool;
# a PUB sends 5000 ids (k*5000..) at 5000/s (B's lane spools); B comes and drains all (spool empties,
# every segment deleted, the cursor names a deleted segment); zedge is stopped right after (SIGTERM)
# and the cursor and segments listed. Every cycle's B must get exactly its 5000 (and nothing twice
# from earlier cycles); segment numbers must only grow.
. $(dirname $0)/lib.sh
CY=${1:-4}
NAME=restart; D=/tmp/att28-g; rm -rf $D; rm -f $L/zedge.$NAME.log $L/g.*
$PEER cloud $A $L/g.A 60 170 '*' > /dev/null & AP=$!
for k in $(seq 0 $((CY - 1))); do
  zstart $D
  $PEER pub $FRONT $((k * 5000)) $((k * 5000 + 5000)) 5000 100 a > /dev/null
  sleep 0.3; s1=$(short_spool)
  $PEER cloud $B $L/g.B$k 1.5 20 '*' > /dev/null
  echo "cycle $k B: $(python3 $R/../round27/c_an.py $L/g.B$k $((k * 5000))-$((k * 5000 + 5000)))"
  echo "   before B: $s1"
  echo "   after B: $(short_spool)"
  zstop
  echo "   cursor: $(tr '\n' '|' < $D/cursor)  segs: $(ls $D | grep seg | tr '\n' ' ')"
  grep 'messages to send' $L/zedge.$NAME.log | tail -1 | cut -c25-120 | sed 's/^/   start: /'
done
zstart $D; sleep 1; echo "final start: $(grep 'messages to send' $L/zedge.$NAME.log | tail -1 | cut -c25-120)"
$PEER cloud $B $L/g.Bz 2 6 '*' > /dev/null; echo "B at the end (expect 0): $(grep -vc '^#' $L/g.Bz)"
zstop
wait $AP; echo "A: $($AN $L/g.A $((CY * 5000)))"
echo "warnings:"; warns 6
