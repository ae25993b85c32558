#!/bin/bash
# twice.sh [N R1]: item 5, one endpoint given twice (>A >A >B): one lane for both connections. A reads
# R1/s (0 = a normal cloud) and leaves at 3 s, back at 5 s as a normal cloud; B away until the end; N
# (20000) × 100 B at 3000/s. Copies each id reached A (expected: 2, one per connection), order.
. $(dirname $0)/lib.sh
N=${1:-20000}; R1=${2:-0}
NAME=twice; D=/tmp/att29-tw; rm -rf $D; rm -f $L/zedge.$NAME.log $L/tw.*
if [ $R1 = 0 ]; then $PEER cloud $A $L/tw.A1 30 3 '*' > /dev/null & P1=$!; else $PEER pacecloud $A $L/tw.A1 $R1 3 5 '*' > /dev/null & P1=$!; fi
sleep 0.2
UPS=">$A >$A >$B" zstart $D --queue-hwm 64K
$PEER pub $FRONT 0 $N 3000 100 a > /dev/null & PP=$!
wait $P1; sleep 2
$PEER cloud $A $L/tw.A2 3 60 '*' > /dev/null & P1=$!
wait $PP; sleep 1
$PEER cloud $B $L/tw.B 3 60 '*' > /dev/null
wait $P1
echo "end: $(short_spool)"
zstop
grep -E "7942" $L/zedge.$NAME.log | grep -E "connected|disconnected" | cut -c25-200 | head -8
python3 - $L $N <<'PY'
import sys, collections
L, n = sys.argv[1], int(sys.argv[2])
def ids(f): return [int(l.split()[1]) for l in open(f) if not l.startswith("#") and l.split()[0] != "?"]
for f in ["A1", "A2", "B"]:
    g = ids(f"{L}/tw.{f}"); c = collections.Counter(g)
    print(f"  {f}: n={len(g)} uniq={len(c)} copies {dict(collections.Counter(c.values()))} rewinds(>2 back) {sum(1 for a,b in zip(g,g[1:]) if b < a - 2)}")
a = collections.Counter(ids(f"{L}/tw.A1") + ids(f"{L}/tw.A2"))
print(f"  A both: ids never {n - len(a)}; copies {dict(collections.Counter(a.values()))}")
PY
