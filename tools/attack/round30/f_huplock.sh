#!/bin/bash
# f_huplock.sh [HUP_AT FREE_AT N]: target 5. `zedge run --config` forwarder (>A >B, spool, queue_hwm 8M) on a
# spool another process has locked. A a normal cloud, B away, a local SUB; PUB 0..N (30000) x 100 B at
# 1000/s. At HUP_AT (9) s the config's spool_max changes and SIGHUP (the device restarts, still locked);
# the lock goes at FREE_AT (18) s; B comes at FREE_AT+2. Expect: every id A/B did not get is counted.
. $(dirname $0)/lib.sh
HAT=${1:-9}; FAT=${2:-18}; N=${3:-30000}
NAME=fhl; D=$T-fhl; CF=$T-fhl.toml; rm -rf $D; mkdir -p $D; rm -f $L/zedge.$NAME.log $L/fhl.*
conf() { cat > $CF <<EOT
[log]
level = "info"
[metrics]
listen = "$METRICS"
[[device]]
name = "tel"
kind = "forwarder"
frontend = "$FRONT"
backend = ["$LOCAL", ">$A", ">$B"]
spool = "$D"
queue_hwm = "8M"
$1
EOT
}
conf ""
flock -o $D/lock sleep 300 & FP=$!; sleep 0.2
$PEER cloud $A $L/fhl.A 8 120 '*' > /dev/null & AP=$!
$Z run --config $CF -v >> $L/zedge.$NAME.log 2>&1 & ZPID=$!; sleep 0.5
$PEER sub $LOCAL $L/fhl.local 8 120 '*' > /dev/null & SP=$!
$PEER pub $FRONT 0 $N 1000 100 a > $L/fhl.pub.json & PP=$!
sleep $HAT
echo "at HUP: A $(grep -vc '^#' $L/fhl.A) | $(short_spool | cut -c1-150) | drops $(drops)"
conf 'spool_max = "64M"'; kill -HUP $ZPID
sleep $((FAT - HAT))
echo "at unlock: A $(grep -vc '^#' $L/fhl.A) | $(short_spool | cut -c1-150) | drops $(drops)"
kill $FP; wait $FP 2>/dev/null
sleep 2
$PEER cloud $B $L/fhl.B 6 120 '*' > /dev/null & BP=$!
wait $PP $AP $BP $SP
echo "pub: $(cat $L/fhl.pub.json)"
for w in A B local; do echo "$w: $($CAN $L/fhl.$w 0-$N)"; done
echo "drops: $(drops)"
echo "spool: $(short_spool)"
grep -E 'held while|could not|spool .*open|restart|lost|queued live|not delivered|stopped' $L/zedge.$NAME.log | cut -c12-240 | head -14
zstop
grep -E 'stopped after' $L/zedge.$NAME.log | tail -2 | cut -c25-300
rm -f $CF
