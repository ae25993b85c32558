#!/bin/bash
# f_hup.sh [VARIANT]: `zedge run --config` forwarder (>A >B, queue_hwm 1M, a spool); A a normal
# cloud, B reads 1,500/s (small buffers), a local SUB; a PUB sends 30,000 × 100 B at 3000/s. B's
# queue fills with live messages; the moment its lane begins to spool (zedge_spool_spooling 1,
# polled every 50 ms) a SIGHUP: VARIANT limits (spool_max changed: the device restarts) or same
# (the file unchanged). B must get every message A got, once; order kept per connection.
. ${LIB:-$(dirname $0)/lib.sh}
V=${1:-limits}; N=30000
NAME=hup-$V; D=$T-f; CF=$T-f.toml
rm -rf $D; rm -f $L/zedge.$NAME.log $L/f.*
conf() {
cat > $CF <<EOT
[log]
level = "info"
[metrics]
listen = "$METRICS"
[[device]]
name = "tel"
kind = "forwarder"
frontend = "$FRONT"
backend = ["$LOCAL", ">$A", ">$B"]
spool = "$D"
queue_hwm = "1M"
$1
EOT
}
conf ""
$PEER cloud $A $L/f.A 10 120 '*' > /dev/null & AP=$!
$PEER pacecloud $B $L/f.B 1500 120 10 '*' > /dev/null & BP=$!
sleep 0.3
$Z run --config $CF >>$L/zedge.$NAME.log 2>&1 & ZPID=$!
sleep 0.5
$PEER sub $LOCAL $L/f.local 10 120 '*' > /dev/null & SP=$!
sleep 0.3
$PEER pub $FRONT 0 $N 3000 100 a > $L/f.pub.json & PP=$!
t0=$(date +%s.%N)
for i in $(seq 300); do
  s=$(curl -s -m 1 http://$METRICS/metrics | grep -E '^zedge_spool_spooling' | awk '{print $2}')
  [ "$s" = 1 ] && break; sleep 0.05
done
echo "lane began at $(python3 -c "print('%.2f' % ($(date +%s.%N) - $t0))") s: $(short_spool)"
[ $V = limits ] && conf 'spool_max = "64M"'
kill -HUP $ZPID
sleep 1.5
echo "after HUP: $(short_spool)"
wait $PP; echo "pub: $(cat $L/f.pub.json)"
wait $AP $BP $SP
python3 - $L/f.A $L/f.B $L/f.local <<'PY'
import sys, json
def load(p): return [int(l.split()[1]) for l in open(p) if not l.startswith("#")]
a = load(sys.argv[1]); ref = set(a)
for name, p in (("A", sys.argv[1]), ("B", sys.argv[2]), ("local", sys.argv[3])):
    g = load(p); s = set(g); back = [(x, y) for x, y in zip(g, g[1:]) if y < x]
    miss = sorted(ref - s); runs = []
    for m in miss:
        if runs and runs[-1][1] == m - 1: runs[-1][1] = m
        else: runs.append([m, m])
    print(name, json.dumps({"received": len(g), "unique": len(s), "dups": len(g) - len(s), "missing_vs_A": len(miss),
        "runs": runs[:5], "not_in_A": len(s - ref), "backwards": len(back), "back_at": back[:4], "of_30000": 30000 - len(s)}))
PY
echo "end: $(short_spool)"
kill -0 $ZPID && echo "zedge alive; $(rss $ZPID)" || echo "ZEDGE DEAD"
kill -TERM $ZPID; wait $ZPID
grep -E 'reload|restart|queued live|not delivered|messages to send|in use' $L/zedge.$NAME.log | sed -E 's/^[^ ]+ //' | cut -c1-230 | head -14
echo "warnings:"; warns 8
