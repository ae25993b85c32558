#!/bin/bash
# ef_stop.sh [FREE_KB N SIG]: item 4: the spool on a 3 MiB tmpfs filled by something else (FREE_KB,
# 200, left); A a normal cloud, B away, a local SUB; N (20000) × 100 B at 4000/s; then SIG (TERM)
# zedge while the disk is still full; the filler goes; restart; B comes. Every one of the N that B
# did not get must be counted (dropped metrics, stop line) and logged.
if [ -z "$IN_NS" ]; then exec env IN_NS=1 timeout 170 unshare -m "$0" "$@"; fi
. $(dirname $0)/lib.sh
FREE=${1:-200}; N=${2:-20000}; SIG=${3:-TERM}
NAME=efstop; M=/tmp/att29-es; D=$M/spool; mkdir -p $M; rm -f $L/zedge.$NAME.log $L/es.*
mount -t tmpfs -o size=3m tmpfs $M || exit 1
mkdir -p $D
avail=$(df -k $M | tail -1 | awk '{print $4}')
dd if=/dev/zero of=$M/filler bs=1k count=$((avail - FREE)) 2>/dev/null
$PEER cloud $A $L/es.A 30 150 '*' > /dev/null & AP=$!
sleep 0.3
zstart $D
$PEER sub $LOCAL $L/es.local 30 150 '*' > /dev/null & SP=$!
sleep 0.3
$PEER pub $FRONT 0 $N 4000 100 a > $L/es.pub.json
sleep 1.2
echo "before $SIG: $(short_spool)"; df -k $M | tail -1
echo "drops: $(metric 'zedge_messages_dropped_total' | grep -v ' 0$' | sed 's/device="[^"]*",//' | tr '\n' ' ')"
kill -$SIG $ZPID; wait $ZPID 2>/dev/null
grep -E 'stopped|not delivered|dropped|go to the spool|lost' $L/zedge.$NAME.log | cut -c25-300
rm -f $M/filler; df -k $M | tail -1; ls -l $D | tail -n +2 | awk '{print "  ", $5, $9}'
$PEER cloud $B $L/es.B 4 60 '*' > /dev/null & BP=$!
sleep 0.2
zstart $D
wait $BP
echo "B (after restart): $($CAN $L/es.B 0-$N)"
echo "end: $(short_spool)"
kill $AP $SP 2>/dev/null; wait $AP $SP
echo "A: $($CAN $L/es.A 0-$N | cut -c1-150)"
zstop
grep -E 'messages to send|stopped after|dropped' $L/zedge.$NAME.log | tail -3 | cut -c25-300
umount $M
