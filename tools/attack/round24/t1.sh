#!/bin/bash
# t1.sh queue|streamer NAME SECS RATE NCLIENTS NSTALLED NSLOW [STALL_HWM] [SIZE] -- [zedge args]
# (streamer: NCLIENTS ignored). No spool. Prints flow.py's JSON, zedge's CPU/RSS, drops.
. $(dirname $0)/lib.sh
DEVK=$1; NAME=$2; SECS=$3; RATE=$4; NC=$5; NST=$6; NSL=$7; HWM=${8:-1000}; SIZE=${9:-100}; shift 9; [ "$1" = "--" ] && shift
rm -f $L/zedge.$NAME.log
$Z $DEVK --frontend $FRONT --backend $LOCAL --metrics $METRICS --control $CTL -v "$@" >> $L/zedge.$NAME.log 2>&1 &
ZPID=$!; sleep 0.5
( for i in $(seq $((SECS+25))); do sleep 1; echo "t=$i $(cpu $ZPID) $(rss $ZPID)"; done > $L/$NAME.samples ) &
SP=$!
( sleep $((SECS-1)); $Z peers --control $CTL > $L/$NAME.peers 2>&1 ) &
if [ $DEVK = queue ]; then python3 $R/flow.py queue $FRONT $LOCAL $SECS $RATE $NC $NST $NSL $HWM $SIZE
else python3 $R/flow.py streamer $FRONT $LOCAL $SECS $RATE $NST $NSL $HWM $SIZE; fi
kill $SP 2>/dev/null
echo "zedge: cpu $(cpu $ZPID) $(rss $ZPID)  max-cpu-sample $(awk '{print $2}' $L/$NAME.samples | sort -n | tail -1)"
curl -s http://$METRICS/metrics | grep -E '^zedge_(dropped|drops|stalled|closed)' | grep -v ' 0$' | head -8
grep -ciE 'warn|error' $L/zedge.$NAME.log | sed 's/^/warn+error lines: /'
zstop
