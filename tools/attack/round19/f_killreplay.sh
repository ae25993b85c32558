#!/bin/bash
# N messages spooled during an outage; the cloud comes back; SIGKILL once KILLAT messages were sent from the spool;
# zedge restarted on the same spool. Counts duplicates (claim: at most one --spool-fsync of
# sends) and losses.
# usage: f_killreplay.sh [N] [KILLAT] [FSYNC] [extra zedge args]
. $(dirname $0)/lib.sh
N=${1:-1000000}; KILLAT=${2:-300000}; FSYNC=${3:-1s}; shift 3; EXTRA="$@"
W=/tmp/round19/killreplay; mkdir -p $W; rm -rf $W/*
$Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $W/sp --spool-fsync $FSYNC --metrics $METRICS -v $EXTRA 2>$W/zedge.log &
ZP=$!; sleep 0.5
$PEER push $FRONT 0 $N 0 100
sleep 2
spool_metrics | grep -E 'spool_messages\{'
$PEER cloud $CLOUDEP $W/got.txt 5 90 > $W/cloud.out &
CP=$!
# KILLAT: kill once the spool has sent this many
while :; do S=$(spool_metrics | grep 'event="sent"' | awk '{print $2}'); [ "${S:-0}" -ge $KILLAT ] && break; sleep 0.02; done
spool_metrics | grep -E 'event="sent"|syncs'
kill -9 $ZP; wait $ZP 2>/dev/null
echo "killed at $(wc -l < $W/got.txt) received"; cat $W/sp/cursor; echo; ls -l $W/sp | head
sleep 1
$Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $W/sp --spool-fsync $FSYNC --metrics $METRICS -v $EXTRA 2>$W/zedge2.log &
ZP=$!
wait $CP
python3 $R/analyze.py $W/got.txt $N
python3 - $W/got.txt <<'PY'
import sys
ids=[int(l) for l in open(sys.argv[1]) if not l.startswith('#')]
seen=set(); firstdup=None
for k,i in enumerate(ids):
    if i in seen and firstdup is None: firstdup=(k,i)
    seen.add(i)
print("first duplicate (position, id):", firstdup)
PY
spool_metrics | grep -E 'spool_messages\{|event="sent"'
grep -iE 'spool' $W/zedge2.log | head -5
kill $ZP; wait $ZP
