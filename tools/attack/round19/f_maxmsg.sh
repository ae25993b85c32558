#!/bin/bash
# Large multi-frame messages spooled, then zedge restarted with a lower --max-msg-size.
# usage: f_maxmsg.sh [SIZE] [FRAMES] [NEWMAX]
. $(dirname $0)/lib.sh
SIZE=${1:-4000000}; FRAMES=${2:-4}; NEWMAX=${3:-8M}; N=20
W=/tmp/round19/maxmsg; mkdir -p $W; rm -rf $W/*
$Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $W/sp -v 2>$W/zedge.log &
ZP=$!; sleep 0.5
# even ids: SIZE x FRAMES; odd ids: small
python3 - <<PY
import zmq, time
c = zmq.Context(); s = c.socket(zmq.PUSH); s.setsockopt(zmq.LINGER, 30000); s.connect("$FRONT")
for i in range($N):
    body = b"%010d" % i
    if i % 2 == 0:
        f = body + b"x" * ($SIZE - 20) + body
        s.send_multipart([f] * $FRAMES)
    else:
        s.send(body)
s.close(); c.term()
PY
sleep 2; kill $ZP; wait $ZP
$Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $W/sp --max-msg-size $NEWMAX --metrics $METRICS -v 2>$W/zedge2.log &
ZP=$!; sleep 0.5
$PEER cloud $CLOUDEP $W/got.txt 3 30 >/dev/null
python3 $R/analyze.py $W/got.txt $N
spool_metrics | grep -E 'too_large|sent"'
grep -iE 'spool|large' $W/zedge2.log | head -5
kill $ZP; wait $ZP
