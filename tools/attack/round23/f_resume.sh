#!/bin/bash
# f_resume.sh APHASES [BRATE] [N] [STOP] [STOP_AT] [extra zedge args...]: streamer with a spool.
# N messages spooled with no worker; then worker A (>CLOUD, phases "RATE:SECS,..." e.g.
# "-1:12,0:40" = stalled 12 s, then reads fast) and B (>CLOUD2, BRATE msgs/s) connect; the spool
# is replayed. STOP (none|TERM|KILL) STOP_AT s after the workers connect, then a restart on the
# same spool with B reading fast (A keeps its phases, over the same connection endpoint).
# Counts lost / duplicated over A+B together.
. $(dirname $0)/lib.sh
export DEV=streamer
APH=${1:--1:12,0:40}; BRATE=${2:-2000}; N=${3:-60000}; STOP=${4:-none}; AT=${5:-8}; shift $(( $# < 5 ? $# : 5 ))
NAME=${NAME:-resume}; D=/tmp/att23-$NAME; rm -rf $D; rm -f $L/zedge.$NAME.log $L/$NAME.B0
zstart $D --backend ">$CLOUD2" "$@"
$PEER push $FRONT 0 $N 0 100 a >/dev/null
sleep 1.2
echo "spooled: $(dirinfo $D)"
$PEER phases pull $CLOUD $L/$NAME.A 1000 "$APH" 4 > /dev/null &
AP=$!
$PEER recv pull $CLOUD2 $L/$NAME.B $BRATE ${BIDLE:-4} 90 > /dev/null &
BP=$!
T0=$(date +%s.%N)
if [ -n "$SAMPLE" ]; then
  ( for i in $(seq 40); do sleep 1; echo "t=$i cursor '$(cat $D/cursor 2>/dev/null)' $(spool_metrics | grep -oE 'event="(sent|recovered)"} [0-9]*' | tr '\n' ' ')"; done > $L/$NAME.samples ) &
  SP=$!
fi
if [ $STOP != none ]; then
  sleep $AT
  echo "before stop: $(spool_metrics | grep -o 'event="recovered"} [0-9]*') $(dirinfo $D)"
  kill -$STOP $ZPID; wait $ZPID 2>/dev/null
  grep -E 'not delivered' $L/zedge.$NAME.log | tail -1 | sed 's/^.*stopped/stopped/' | cut -c1-200
  echo "after stop: $(dirinfo $D)"
  sleep 0.3
  zstart $D --backend ">$CLOUD2" "$@"
  grep 'messages to send' $L/zedge.$NAME.log | tail -1 | sed 's/^.*spool/spool/'
fi
wait $BP
sleep 1
echo "B done at +$(echo "$(date +%s.%N) - $T0" | bc | cut -c1-5) s"
wait $AP
echo "metrics: $(spool_metrics | grep -oE 'event="(sent|recovered|dropped)"} [0-9]*' | tr '\n' ' ')"
echo "$(dirinfo $D)"
grep -cE 'took (none|less) of its queue' $L/zedge.$NAME.log | sed 's/^/give-back warnings: /'
grep -E 'took (none|less) of its queue' $L/zedge.$NAME.log | head -3 | sed 's/^.*backend/backend/' | cut -c1-120
echo "cpu $(cpu $ZPID)"
zstop
[ -n "$SP" ] && { kill $SP 2>/dev/null; grep -c . $L/$NAME.samples >/dev/null; }
cat $L/$NAME.B0 $L/$NAME.B $L/$NAME.A 2>/dev/null | grep -v '^#' > $L/$NAME.all
echo "A: $(grep -vc '^#' $L/$NAME.A) B: $(cat $L/$NAME.B0 $L/$NAME.B 2>/dev/null | grep -vc '^#')"
grep '#phase' $L/$NAME.A | tr '\n' ' '; echo
echo "A+B: $($AN $L/$NAME.all $N a)"
