#!/bin/bash
# SIGHUP reload of a streamer with a spool that holds messages: (a) spool_rate changed (the
# device is restarted), (b) the device renamed (old stopped, new started, same spool dir).
# Does the new device get its spool, and are the spooled messages all sent?
# usage: f_reload.sh rate|rename|none   (none: control)
. $(dirname $0)/lib.sh
C=${1:-rate}; W=/tmp/round19/reload; mkdir -p $W; rm -rf $W/*
conf() { cat > $W/z.toml <<T
[metrics]
listen = "$METRICS"
[[device]]
name = "$1"
kind = "streamer"
frontend = "$FRONT"
backend = ">$CLOUDEP"
spool = "$W/sp"
spool_rate = "$2"
T
}
conf jobs 0
$Z run --config $W/z.toml -v 2>$W/zedge.log &
ZP=$!; sleep 0.7
$PEER push $FRONT 0 20000 0 100 >/dev/null; sleep 1.5
spool_metrics | grep -E 'spool_messages\{'
case $C in rate) conf jobs 1M;; rename) conf jobs2 0;; *) conf jobs 0;; esac   # none: control, the file unchanged
kill -HUP $ZP; sleep 2
spool_metrics | grep -E 'spool_messages\{'
$PEER push $FRONT 20000 21000 0 100 >/dev/null; sleep 1
$PEER cloud $CLOUDEP $W/got.txt 3 30 >/dev/null
python3 $R/analyze.py $W/got.txt 21000
grep -iE 'spool|reload|restart' $W/zedge.log | head -12
kill $ZP; wait $ZP
