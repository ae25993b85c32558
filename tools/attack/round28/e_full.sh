#!/bin/bash
# e_full.sh [FREE_KB N]: round 27's G3, second half (session 42): the spool on a 3 MiB tmpfs that
# something else fills, leaving FREE_KB (200) KiB. A a normal cloud, B away, a local SUB; a PUB
# sends N (20000) × 100 B at 4000/s: B's lane spools into a disk that is full. Then B comes and
# takes what it can. Every one of the N that B did not get must be counted as dropped.
if [ -z "$IN_NS" ]; then exec env IN_NS=1 timeout 170 unshare -m "$0" "$@"; fi
. ${LIB:-$(dirname $0)/lib.sh}; HERE=$(dirname $(realpath $0))
FREE=${1:-200}; N=${2:-20000}
NAME=full; M=${SPOOLS:-/tmp/att28}-ef; D=$M/spool; mkdir -p $M; rm -f $L/zedge.$NAME.log $L/ef.*
mount -t tmpfs -o size=3m tmpfs $M || exit 1
mkdir -p $D
avail=$(df -k $M | tail -1 | awk '{print $4}')
dd if=/dev/zero of=$M/filler bs=1k count=$((avail - FREE)) 2>/dev/null
df -k $M | tail -1
$PEER cloud $A $L/ef.A 30 150 '*' > /dev/null & AP=$!
sleep 0.3
zstart $D
$PEER sub $LOCAL $L/ef.local 30 150 '*' > /dev/null & SP=$!
sleep 0.3
$PEER pub $FRONT 0 $N 4000 100 a > $L/ef.pub.json
sleep 1.2
echo "after pub: $(short_spool)"; df -k $M | tail -1
drops() { metric 'zedge_messages_dropped_total' | grep -v ' 0$' | sed 's/device="[^"]*",//' | tr '\n' ' '; echo; }
echo "drops: $(drops)"
$PEER cloud $B $L/ef.B 5 60 '*' > /dev/null
echo "B: $($AN $L/ef.B $N)"
echo "after B: $(short_spool)"; df -k $M | tail -1
echo "drops: $(drops)"
kill $AP $SP 2>/dev/null; wait $AP $SP
echo "A: $($AN $L/ef.A $N)"
echo "local: $($AN $L/ef.local $N)"
kill -0 $ZPID && echo "zedge alive; $(rss $ZPID)" || echo "ZEDGE DEAD"
zstop
grep -E 'stopped|not delivered|dropped|space|cannot' $L/zedge.$NAME.log | grep -v 'cannot connect' | cut -c25-260 | head -12
umount $M
