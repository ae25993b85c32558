#!/bin/bash
# r_reload.sh VARIANT: `zedge run --config` with a forwarder (local SUB on 7801, uplinks by `>`)
# and a spool; a PUB sends N=20000 x 100 B at 2000/s (10 s); a SIGHUP at 3 s with a changed file.
#  add     : file >A ; reload adds >B ; B's cloud comes up at 6 s (so it is away 3-6 s after being added)
#  remove  : file >A >B, B never up ; reload removes >B ; is B's lane still spooling, segments kept?
#  spooldir: file >A >B, B away until 6 s ; reload changes spool = DIR2 only
#  addspool: file >A >B without spool ; reload adds spool = DIR ; B away until 6 s
#  limits  : file >A >B, B away until 6 s ; reload changes spool_max (device restarts)
#  limits-slow: file >A >B, B reads 1500/s from the start (its lane spools and replays); reload changes spool_max
#  reorder : file >A >B, B away until 6 s ; reload lists >B >A
. $(dirname $0)/lib.sh
V=${1:-add}; N=${N:-20000}
NAME=reload-$V; D=/tmp/att26-r; D2=/tmp/att26-r2; CF=/tmp/att26-r.toml
rm -rf $D $D2; rm -f $L/zedge.$NAME.log $L/r.*
conf() { # conf "BACKENDS" [spool line] [extra]
cat > $CF <<EOT
[log]
level = "info"
[metrics]
listen = "$METRICS"
[[device]]
name = "tel"
kind = "forwarder"
frontend = "$FRONT"
backend = [$1]
$2
$3
EOT
}
BA="\"$LOCAL\", \">$A\""; BAB="\"$LOCAL\", \">$A\", \">$B\""; BBA="\"$LOCAL\", \">$B\", \">$A\""
SP="spool = \"$D\""
case $V in
  add)      conf "$BA" "$SP";;
  addspool) conf "$BAB" "";;
  *)        conf "$BAB" "$SP";;
esac
$PEER cloud $A $L/r.A 4 60 '*' > /dev/null & AP=$!
[ $V = limits-slow ] && { $PEER pacecloud $B $L/r.B 1500 60 4 '*' 10 65536 > /dev/null & BP=$!; }
sleep 0.3
$Z run --config $CF >>$L/zedge.$NAME.log 2>&1 & ZPID=$!
sleep 0.5
$PEER sub $LOCAL $L/r.local 4 60 '*' > /dev/null & SP2=$!
sleep 0.3
$PEER pub $FRONT 0 $N 2000 100 a > $L/r.pub.json & PP=$!
sleep 3.5   # pub sleeps 0.5 before it sends: the reload is about 3 s into the flow
case $V in
  add)      conf "$BAB" "$SP";;
  remove)   conf "$BA" "$SP";;
  spooldir) conf "$BAB" "spool = \"$D2\"";;
  addspool) conf "$BAB" "$SP";;
  limits*)  conf "$BAB" "$SP" 'spool_max = "64M"';;
  reorder)  conf "$BBA" "$SP";;
esac
echo "before HUP: $(spool_metrics)"
kill -HUP $ZPID
sleep 1
echo "after HUP:  $(spool_metrics)"
if [ $V != remove -a $V != limits-slow ]; then
  sleep 2
  $PEER cloud $B $L/r.B 4 60 '*' > /dev/null & BP=$!
fi
wait $PP; cat $L/r.pub.json
wait $AP $SP2 $BP
echo "A: $($AN $L/r.A $N)"
echo "local: $($AN $L/r.local $N)"
[ $V != remove ] && echo "B: $($AN $L/r.B $N)"
echo "end: $(spool_metrics)"
echo "disk: $(du -sb $D 2>/dev/null) $(du -sb $D2 2>/dev/null) ; cursor: $(cat $D/cursor 2>/dev/null | tr '\n' '|') $(cat $D2/cursor 2>/dev/null| tr '\n' '|')"
rss $ZPID
kill -TERM $ZPID; wait $ZPID
grep -E 'reload|SIGHUP|spool' $L/zedge.$NAME.log | sed -E 's/^[^ ]+ //' | cut -c1-260 | head -20
