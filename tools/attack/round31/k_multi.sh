#!/bin/bash
# k_multi.sh [HOLD N RATE HWM]: targets 1 and 4. A fresh spool locked by another process for HOLD (25) s.
# Up to four uplinks, each an st.py pflap (XSUB, least buffers) given by env "RATE UPS DOWNS":
#   UA (default "500 8,4 2,3": reads 500/s, up 8 s, away 2 s, up 4 s, away 3 s, then steady),
#   UB ("0 9.5,3.5 3,2"), UC ("" = not there), UD ("" = not there; e.g. "600 _ _" = steady, hovering).
# A local SUB. A PUB sends 0..N (60000) x 100 B at RATE (2000)/s. --queue-hwm HWM (8M).
# HOST="AT SIZE TOTAL HW TR": a raw PUB (round28/hostile.py, pattern t) from AT s, sending SIZE B publications
#   (ids 2000000+, topic B) half at once, HW s, then the rest over TR s, until TOTAL s.
# Expect: every uplink gets every id once (one step back after the live ones), or the loss counted.
. $(dirname $0)/lib.sh
HOLD=${1:-25}; N=${2:-60000}; RATE=${3:-2000}; HWM=${4:-8M}
UA=${UA-"500 8,4 2,3"}; UB=${UB-"0 9.5,3.5 3,2"}; UC=${UC-}; UD=${UD-}
NAME=km; D=$T-km; rm -rf $D; mkdir -p $D; rm -f $L/zedge.$NAME.log $L/km.*
( flock $D/lock sleep $HOLD ) & FP=$!; sleep 0.2
UPS=""; PIDS=""; NAMES=""
for w in A B C D; do
  eval spec=\$U$w; [ -z "$spec" ] && continue
  case $w in A) ep=$A;; B) ep=$B;; C) ep=$C;; D) ep=$U4;; esac
  set -- $spec; ups=${2/_/}; downs=${3/_/}
  $ST pflap $ep $L/km.$w $1 "$ups" "$downs" 8 > /dev/null & PIDS="$PIDS $!"; NAMES="$NAMES $w"; UPS="$UPS >$ep"
done
UPS="$UPS" zstart $D --queue-hwm $HWM $EXTRA
$PEER sub $LOCAL $L/km.local 8 200 '*' > /dev/null & SP=$!
$PEER pub $FRONT 0 $N $RATE 100 a > $L/km.pub.json & PP=$!
HP=
if [ -n "$HOST" ]; then set -- $HOST; ( sleep $1; exec python3 $R28/hostile.py $FPORT $2 $3 t $4 $5 ) > $L/km.host.json & HP=$!; fi
for i in $(seq 5 5 $((${HOLD%.*} + 10))); do sleep 5; echo "  t=$i $(for w in $NAMES; do echo -n "$w $(grep -vc '^#' $L/km.$w) "; done)| $(short_spool | cut -c1-140) | drops $(drops)"; done
wait $FP $PP
echo "pub: $(cat $L/km.pub.json)"
wait $PIDS $SP $HP
[ -n "$HP" ] && echo "host: $(cat $L/km.host.json)" && for w in $NAMES local; do echo "$w big: $(grep '^B ' $L/km.$w | awk '{print $2}' | tr '\n' ' ') | bad $(grep -c '^? ' $L/km.$w)"; done
for w in $NAMES local; do echo "$w: $($CAN $L/km.$w 0-$N)"; done
echo "drops: $(drops)"
echo "spool: $(short_spool)"
grep -E 'held while|could not be opened|spool .*open|gone|closing|disconnected' $L/zedge.$NAME.log | cut -c12-220 | head -20
warns
kill -0 $ZPID && echo "zedge alive" || echo "ZEDGE DEAD"
zstop
grep -E 'stopped after|dropped' $L/zedge.$NAME.log | tail -3 | cut -c25-300
