#!/bin/bash
# b_term.sh [SIG HWM ARATE]: uplink A slow (pacecloud ARATE=1000/s, its lane spools), B away (its
# lane spools), a local SUB; a PUB sends 0..4499 at 1500/s; 1.8 s in, a raw PUB sends half of a
# 3 MB message and stalls (7 s); SIG (TERM) right after the PUB's last message (the large one
# half-way in the sink, about 1.2 s of small ones held back behind it); restart on the same spool;
# B comes up; a second PUB sends 4500..8999. A and B: every one of 0..8999 once, in order per
# connection.
. ${LIB:-$(dirname $0)/lib.sh}
SIG=${1:-TERM}; HWM=${2:-1M}; ARATE=${3:-1000}
NAME=bterm; D=$T-b; rm -rf $D; rm -f $L/zedge.$NAME.log $L/b.*
N=9000
$PEER pacecloud $A $L/b.A $ARATE 120 10 '*' > /dev/null & AP=$!
sleep 0.3
zstart $D --queue-hwm $HWM
$PEER sub $LOCAL $L/b.local1 3 10 '*' > /dev/null & SP=$!
sleep 0.3
$PEER pub $FRONT 0 4500 1500 100 a > $L/b.pub1.json & PP=$!
sleep 1.8
$RAWPUB $FPORT 3000000 10 3 s > $L/b.raw.json 2>&1 & RP=$!
wait $PP
sleep 0.1
echo "before $SIG: $(short_spool)"
cat $D/cursor | sed 's/^/  cursor: /'
kill -$SIG $ZPID; wait $ZPID 2>/dev/null
echo "after $SIG: cursor"; cat $D/cursor | sed 's/^/  cursor: /'; ls -la $D | grep seg | awk '{print "  seg", $5, $9}'
grep -E 'queued live|not delivered|stopped|held|spool' $L/zedge.$NAME.log | cut -c1-260
kill $RP 2>/dev/null; wait $RP 2>/dev/null; wait $SP
zstart $D --queue-hwm $HWM
$PEER cloud $B $L/b.B 8 120 '*' > /dev/null & BP=$!
$PEER sub $LOCAL $L/b.local2 8 60 '*' > /dev/null & SP=$!
sleep 0.5
$PEER pub $FRONT 4500 9000 1500 100 a > $L/b.pub2.json
wait $AP $BP $SP
cat $L/b.local1 $L/b.local2 > $L/b.local
for w in A B local; do
  grep -v '^B ' $L/b.$w > $L/b.$w.small
  echo "$w small: $($AN $L/b.$w.small $N)"
  echo "$w big: $(grep -c '^B ' $L/b.$w)"
done
grep -h '#odd' $L/b.A $L/b.B | head -3
echo "end: $(short_spool)"
metric 'zedge_messages_dropped_total' | grep -v ' 0$' | sed 's/device="[^"]*",//' | tr '\n' ' '; echo
kill -0 $ZPID && echo "zedge alive; $(rss $ZPID)" || echo "ZEDGE DEAD"
zstop
echo "log after restart:"; grep -E 'messages to send|queued live|lane|reader' $L/zedge.$NAME.log | cut -c1-240 | tail -5
echo "warnings:"; warns 10
