#!/bin/bash
# e_free.sh [FREE_KB N FREE_AT]: target 3. The spool on a 3 MiB tmpfs (private mount namespace) filled by
# something else to FREE_KB (200) KiB left; A a normal cloud, B away, a local SUB; PUB N (30000) x 100 B
# at 4000/s; the filler is removed FREE_AT (3) s in, while publishing; B comes after. Expect: B gets
# every one once, in order, but those counted (hwm) as dropped; metrics/logs say it.
if [ -z "$IN_NS" ]; then exec env IN_NS=1 timeout 170 unshare -m "$0" "$@"; fi
. $(dirname $0)/lib.sh
FREE=${1:-200}; N=${2:-30000}; FAT=${3:-3}
NAME=efree; M=$T-efree; D=$M/spool; mkdir -p $M; rm -f $L/zedge.$NAME.log $L/efr.*
mount -t tmpfs -o size=3m tmpfs $M || exit 1
mkdir -p $D
avail=$(df -k $M | tail -1 | awk '{print $4}')
dd if=/dev/zero of=$M/filler bs=1k count=$((avail - FREE)) 2>/dev/null
$PEER cloud $A $L/efr.A 30 150 '*' > /dev/null & AP=$!
sleep 0.3
zstart $D --spool-max 2M
$PEER sub $LOCAL $L/efr.local 30 150 '*' > /dev/null & SP=$!
sleep 0.3
$PEER pub $FRONT 0 $N 4000 100 a > $L/efr.pub.json & PP=$!
sleep $FAT
echo "before free: $(short_spool | cut -c1-200) drops: $(drops)"; df -k $M | tail -1
rm -f $M/filler
wait $PP; sleep 1.5
echo "after: $(short_spool | cut -c1-200) drops: $(drops)"; df -k $M | tail -1
$PEER cloud $B $L/efr.B 4 60 '*' > /dev/null
echo "B: $($CAN $L/efr.B 0-$N)"
echo "end: $(short_spool)"
echo "drops: $(drops)"
kill $AP $SP 2>/dev/null; wait $AP $SP
echo "A: $($CAN $L/efr.A 0-$N | cut -c1-150)"
echo "local: $($CAN $L/efr.local 0-$N | cut -c1-150)"
warns 6
zstop
grep -E 'stopped after|dropped' $L/zedge.$NAME.log | tail -2 | cut -c25-300
umount $M
