#!/bin/bash
# e_disk.sh [SIZE_MB N]: the spool on a tmpfs of SIZE_MB (3) MiB (a private mount namespace:
# unshare -m). A a normal cloud, B away, a local SUB; a PUB sends N (40000) × 100 B at 4000/s:
# B's lane spools past what the tmpfs holds (ENOSPC mid-append). Then B comes and drains; then
# B away again while 10,000 more come (the disk has room again), B back.
# Then a stop, a restart on the same tmpfs, B once more (B3).
# zedge must stay up, say so, and B must lose no more than is counted.
if [ -z "$IN_NS" ]; then exec env IN_NS=1 timeout 170 unshare -m "$0" "$@"; fi
. $(dirname $0)/lib.sh
MB=${1:-3}; N=${2:-40000}; P2=${3:-20000}
NAME=disk; M=/tmp/att28-e; D=$M/spool; mkdir -p $M; rm -f $L/zedge.$NAME.log $L/e.*
mount -t tmpfs -o size=${MB}m tmpfs $M || exit 1
$PEER cloud $A $L/e.A 90 150 '*' > /dev/null & AP=$!
sleep 0.3
zstart $D
$PEER sub $LOCAL $L/e.local 90 150 '*' > /dev/null & SP=$!
sleep 0.3
$PEER pub $FRONT 0 $N 4000 100 a > $L/e.pub1.json
sleep 1.2
echo "phase 1 pub: $(cat $L/e.pub1.json)"
echo "after phase 1: $(short_spool)"; df -k $M | tail -1; ls -l $D | grep seg | awk '{print "  seg", $5, $9}'  sed "s/^/  cursor: /" $D/cursor;
metric 'zedge_messages_dropped_total' | grep -v ' 0$' | sed 's/device="[^"]*",//' | tr '\n' ' '; echo
$PEER cloud $B $L/e.B1 5 60 '*' > /dev/null
echo "B1: $($AN $L/e.B1 $N)"
echo "after B1: $(short_spool)"; df -k $M | tail -1; ls -l $D | grep seg | awk '{print "  seg", $5, $9}'  sed "s/^/  cursor: /" $D/cursor;
$PEER pub $FRONT $N $((N + P2)) 4000 100 a > $L/e.pub2.json
sleep 1.2
$PEER cloud $B $L/e.B2 12 20 '*' > /dev/null; echo "after B2: $(short_spool)"; df -k $M | tail -1; metric 'zedge_queued_bytes' | head -3
echo "B2: $(python3 $R/../round27/c_an.py $L/e.B2 $N-$((N + P2)))"
kill $AP $SP 2>/dev/null; wait $AP $SP
echo "A: $($AN $L/e.A $((N + P2)))"
echo "local: $($AN $L/e.local $((N + P2)))"
echo "end: $(short_spool)"
metric 'zedge_messages_dropped_total' | grep -v ' 0$' | sed 's/device="[^"]*",//' | tr '\n' ' '; echo
kill -0 $ZPID && echo "zedge alive; $(rss $ZPID)" || echo "ZEDGE DEAD"
zstop
echo "stop: $(grep -E 'stopped|not delivered|dropped .* while' $L/zedge.$NAME.log | tail -3 | cut -c25-200 | tr '\n' ' ')"
ls -l $D | grep seg | awk '{print "  seg", $5, $9}';  sed "s/^/  cursor: /" $D/cursor; df -k $M | tail -1
zstart $D
$PEER cloud $B $L/e.B3 6 30 '*' > /dev/null
echo "after restart, B3: $(python3 $R/../round27/c_an.py $L/e.B3 $N-$((N + P2)))"
echo "restart: $(grep -E 'messages to send' $L/zedge.$NAME.log | tail -1 | cut -c25-200)"
zstop
umount $M
echo "warnings:"; warns 12; echo "pub2: $(cat $L/e.pub2.json)"
grep -iE 'spool|disk|space|error' $L/zedge.$NAME.log | grep -v 'cannot connect' | cut -c25-260 | head -20
