#!/bin/bash
# k_term.sh [SIG TS N RATE HWM]: target 3. As k_multi.sh (uplinks from env UA UB UC UD, same defaults), on a spool
# locked for good; SIG (TERM) at TS (20) s, after the lanes went live more than once; then the lock goes and
# zedge restarts at once on the same spool (peers keep running). HUP: `zedge run --config`, spool_max changed
# (the device restarts, still locked), the lock goes 3 s later. PUB 0..N (50000) x 100 B at RATE (1000)/s.
# Expect: what an uplink did not get is counted (drops, stop lines), or its kernel buffers at a leave, or the restart gap.
. $(dirname $0)/lib.sh
SIG=${1:-TERM}; TS=${2:-20}; N=${3:-50000}; RATE=${4:-1000}; HWM=${5:-8M}
UA=${UA-"500 8,4 2,3"}; UB=${UB-"0 9.5,3.5 3,2"}; UC=${UC-}; UD=${UD-}
NAME=kt; D=$T-kt; CF=$T-kt.toml; rm -rf $D; mkdir -p $D; rm -f $L/zedge.$NAME.log $L/kt.*
flock -o $D/lock sleep 300 & FP=$!; sleep 0.2
UPS=""; PIDS=""; NAMES=""
for w in A B C D; do
  eval spec=\$U$w; [ -z "$spec" ] && continue
  case $w in A) ep=$A;; B) ep=$B;; C) ep=$C;; D) ep=$U4;; esac
  set -- $spec; ups=${2/_/}; downs=${3/_/}
  $ST pflap $ep $L/kt.$w $1 "$ups" "$downs" 10 > /dev/null & PIDS="$PIDS $!"; NAMES="$NAMES $w"; UPS="$UPS \">$ep\","
done
conf() { cat > $CF <<EOT
[metrics]
listen = "$METRICS"
[[device]]
name = "tel"
kind = "forwarder"
frontend = "$FRONT"
backend = ["$LOCAL", ${UPS%,}]
spool = "$D"
queue_hwm = "$HWM"
$1
EOT
}
zrun() { $Z run --config $CF -v >> $L/zedge.$NAME.log 2>&1 & ZPID=$!; sleep 0.3; }
conf ""; zrun
$PEER sub $LOCAL $L/kt.local 10 200 '*' > /dev/null & SP=$!
$PEER pub $FRONT 0 $N $RATE 100 a > $L/kt.pub.json & PP=$!
sleep $TS
echo "at $SIG: $(for w in $NAMES; do echo -n "$w $(grep -vc '^#' $L/kt.$w) "; done)| $(short_spool | cut -c1-140) | drops $(drops)"
if [ $SIG = TERM ]; then
  kill -TERM $ZPID; wait $ZPID
  echo "stop lines:"; grep -E 'stopped|not delivered|dropped|go to the spool|lost|could not|not begun' $L/zedge.$NAME.log | cut -c25-300
  kill $FP; wait $FP 2>/dev/null
  zrun
else
  conf 'spool_max = "64M"'; kill -HUP $ZPID; sleep 3
  echo "after HUP: $(short_spool | cut -c1-140) | drops $(drops)"
  kill $FP; wait $FP 2>/dev/null
fi
wait $PP; echo "pub: $(cat $L/kt.pub.json)"
wait $PIDS $SP
for w in $NAMES local; do echo "$w: $($CAN $L/kt.$w 0-$N)"; done
echo "drops (after restart): $(drops)"
echo "spool: $(short_spool)"
grep -E 'held while|spool .*open|queued live|restart|could not|not begun|stopped' $L/zedge.$NAME.log | cut -c12-240 | head -16
warns
zstop
grep -E 'stopped after|dropped' $L/zedge.$NAME.log | tail -2 | cut -c25-300
rm -f $CF
