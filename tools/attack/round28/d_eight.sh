#!/bin/bash
# d_eight.sh [HWM SIZE STOP_AT]: 8 uplinks (ports 7930-7937, 8 lanes): u0,u1 normal clouds; u2 reads
# 1,500/s, u3 800/s, u7 1500/s and 6000/s by turns (least buffers); u4, u5 flap (0.5-2 s, seeds 1, 2,
# 12 s); u6 away until the restart. A PUB sends 0..14999 (SIZE=100 B) at 3000/s; at STOP_AT (3.5 s)
# the PUB is killed and zedge gets SIGTERM; restart on the same spool; u6 comes; a PUB sends
# 15000..29999. Each uplink: every id zedge took, once (a stop may send some twice: see docs).
. ${LIB:-$(dirname $0)/lib.sh}; HERE=$(dirname $(realpath $0))
HWM=${1:-256K}; SIZE=${2:-100}; AT=${3:-3.5}
NAME=eight; D=${SPOOLS:-/tmp/att28}-d; rm -rf $D; rm -f $L/zedge.$NAME.log $L/d.*
U=""; for i in $(seq 0 7); do U="$U >tcp://127.0.0.1:$((${UB:-7930}+i))"; done
ep() { echo tcp://127.0.0.1:$((${UB:-7930}+$1)); }
pids=""
$PEER cloud $(ep 0) $L/d.u0 10 150 '*' > /dev/null & pids="$pids $!"
$PEER cloud $(ep 1) $L/d.u1 10 150 '*' > /dev/null & pids="$pids $!"
$PEER pacecloud $(ep 2) $L/d.u2 1500 150 10 '*' > /dev/null & pids="$pids $!"
$PEER pacecloud $(ep 3) $L/d.u3 800 150 10 '*' > /dev/null & pids="$pids $!"
$PEER flapr $(ep 4) $L/d.u4 0.5 2 0.5 2 12 10 '*' 1 > /dev/null & pids="$pids $!"
$PEER flapr $(ep 5) $L/d.u5 0.5 2 0.5 2 12 10 '*' 2 > /dev/null & pids="$pids $!"
$PEER pacecloud $(ep 7) $L/d.u7 1500/6000 150 10 '*' > /dev/null & pids="$pids $!"
sleep 0.3
UPS="$U" zstart $D --queue-hwm $HWM
$PEER sub $LOCAL $L/d.local 10 150 '*' > /dev/null & SP=$!
sleep 0.3
$PEER pub $FRONT 0 15000 3000 $SIZE a > /dev/null & PP=$!
sleep $AT
echo "before stop: $(short_spool)"
echo "  lanes: $(curl -s -m 3 http://$METRICS/metrics | grep -E '^zedge_spool_lane_(messages|spooling)' | sed -E 's/.*uplink="tcp:..127.0.0.1:79([0-9]+)".*\} /u\1=/' | tr '\n' ' '; echo)"
kill -KILL $PP; wait $PP 2>/dev/null; sleep 0.05
zstop
n=$(grep 'zedge stopped after' $L/zedge.$NAME.log | tail -1 | sed -E 's/.*: ([0-9]+) messages in.*/\1/')
echo "stop: zedge took $n"
grep -E 'queued live|not delivered' $L/zedge.$NAME.log | cut -c25-220
echo "cursor:"; sed 's/^/  /' $D/cursor; ls -l $D | grep seg | awk '{print "  seg", $5, $9}'
python3 - $D <<'PY'
# block headers of the segments: 16 bytes (len u32? crc, time: top byte = lanes); print a summary
import sys, os, struct, collections
d = sys.argv[1]; c = collections.Counter()
for f in sorted(os.listdir(d)):
    if not f.endswith(".seg"): continue
    b = open(os.path.join(d, f), "rb").read(); at = 0
    while at + 16 <= len(b):
        h = b[at:at+16]
        # try both layouts: find a plausible length
        ln = struct.unpack("<I", h[0:4])[0]; tm = struct.unpack("<Q", h[8:16])[0]
        if ln == 0 or at + 16 + ln > len(b): break
        c[(f, tm >> 56)] += 1; at += 16 + ln
print("  blocks by (segment, lane byte):", dict(c))
PY
UPS="$U" zstart $D --queue-hwm $HWM
sleep 0.5; echo "after restart lanes: $(curl -s -m 3 http://$METRICS/metrics | grep -E '^zedge_spool_lane_(messages|spooling)' | sed -E 's/.*uplink="tcp:..127.0.0.1:79([0-9]+)".*\} /u\1=/' | tr '\n' ' '; echo)"
$PEER cloud $(ep 6) $L/d.u6 10 150 '*' > /dev/null & pids="$pids $!"
sleep 0.3
$PEER pub $FRONT 15000 30000 3000 $SIZE a > /dev/null
wait $pids; wait $SP
for i in $(seq 0 7); do echo "u$i: $(python3 $HERE/../round27/c_an.py $L/d.u$i 0-$n,15000-30000)"; done
echo "end: $(short_spool)"
kill -0 $ZPID && echo "zedge alive; $(rss $ZPID)" || echo "ZEDGE DEAD"
zstop
grep -E 'messages to send' $L/zedge.$NAME.log | cut -c25-200
echo "warnings:"; warns 10
