#!/bin/bash
# t2.sh NAME APHASES N SIZE STOP AT [extra zedge args]: streamer with spool; N messages of SIZE
# spooled with no worker; worker A (>CLOUD, libzmq PULL, RCVHWM $AHWM default 1, phases) and
# reader B (>CLOUD2, reads fast) connect; STOP (none|TERM|KILL) AT s later, then restart on
# the same spool. Counts lost/dup over A+B. Samples zedge CPU/RSS.
. $(dirname $0)/lib.sh
export DEV=streamer
NAME=$1; APH=$2; N=$3; SIZE=$4; STOP=$5; AT=$6; shift 6
D=/tmp/att24-$NAME; rm -rf $D; rm -f $L/zedge.$NAME.log
if [ -n "$AEARLY" ]; then $PEER phases pull $CLOUD $L/$NAME.A ${AHWM:-1} "$APH" 6 > /dev/null & AP=$!; sleep 0.3; fi
zstart $D --backend ">$CLOUD2" "$@"
$PEER push $FRONT 0 $N 0 $SIZE a 1000 >/dev/null
sleep 2
echo "spooled: $(dirinfo $D) rss $(rss $ZPID)"
[ -z "$AEARLY" ] && { $PEER phases pull $CLOUD $L/$NAME.A ${AHWM:-1} "$APH" 6 > /dev/null & AP=$!; }
sleep ${BDELAY:-0}; $PEER recv pull $CLOUD2 $L/$NAME.B 0 ${BIDLE:-8} 120 > /dev/null &
BP=$!
( for i in $(seq 60); do sleep 1; echo "t=$i cursor '$(cat $D/cursor 2>/dev/null)' $(spool_metrics | grep -oE 'event="(sent|recovered)"} [0-9]*' | tr '\n' ' ') A $(grep -vc '^#' $L/$NAME.A) B $(grep -vc '^#' $L/$NAME.B) cpu $(ps -o %cpu= -p $(pgrep -n -f "spool $D") 2>/dev/null) rss $(grep VmRSS /proc/$(pgrep -n -f "spool $D")/status 2>/dev/null | awk '{print $2}')"; done > $L/$NAME.samples ) &
SP=$!
if [ $STOP != none ]; then
  sleep $AT
  echo "before stop: $(spool_metrics | grep -oE 'event="(sent|recovered)"} [0-9]*' | tr '\n' ' ') A $(grep -vc '^#' $L/$NAME.A) B $(grep -vc '^#' $L/$NAME.B) $(dirinfo $D) rss $(rss $ZPID)"
  kill -$STOP $ZPID; wait $ZPID 2>/dev/null
  grep -E 'not delivered' $L/zedge.$NAME.log | tail -1 | sed 's/^.*stopped/stopped/' | cut -c1-200
  echo "after stop: $(dirinfo $D)"
  sleep 0.3
  zstart $D --backend ">$CLOUD2" "$@"
  grep 'messages to send' $L/zedge.$NAME.log | tail -1 | sed 's/^.*spool/spool/'
fi
wait $BP; wait $AP
kill $SP 2>/dev/null
echo "metrics: $(spool_metrics | grep -oE 'event="(sent|recovered|dropped)"} [0-9]*' | tr '\n' ' ')"
echo "$(dirinfo $D) cpu $(cpu $ZPID) $(rss $ZPID)"
grep -cE 'took (none|less) of its queue' $L/zedge.$NAME.log | sed 's/^/give-back warnings: /'
grep -E 'took (none|less) of its queue|Stalled|stalled|closed|WARN' $L/zedge.$NAME.log | sed 's/^[^ ]* //' | cut -c1-230 | head -6
zstop
grep -E 'not delivered' $L/zedge.$NAME.log | tail -1 | sed 's/^.*stopped/stopped/' | cut -c1-200
cat $L/$NAME.B $L/$NAME.A | grep -v '^#' > $L/$NAME.all
echo "A: $(grep -vc '^#' $L/$NAME.A) B: $(grep -vc '^#' $L/$NAME.B)"; grep '#' $L/$NAME.A | tr '\n' ' '; echo
echo "A+B: $($AN $L/$NAME.all $N a)"
