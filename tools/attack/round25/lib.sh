# source me. Common settings for round 25 (a lane per uplink, 898f5cc).
Z=${Z:-/work/att25-target/release/zedge}
R=/work/main/tools/attack/round25
FRONT=tcp://127.0.0.1:7700
LOCAL=tcp://127.0.0.1:7701
A=tcp://127.0.0.1:7702
B=tcp://127.0.0.1:7705
METRICS=127.0.0.1:7703
CTL=tcp://127.0.0.1:7704
PEER="python3 $R/peer.py"
# The counter of rounds 20-23, unchanged.
AN="python3 /work/main/tools/attack/round23/analyze.py"
L=$R/logs
mkdir -p $L
metric() { curl -s http://$METRICS/metrics | grep -E "^$1" ; }
spool_metrics() { curl -s http://$METRICS/metrics | grep -E '^zedge_spool' | tr '\n' ' '; echo; }
rss() { grep -E 'VmRSS|VmHWM' /proc/$1/status | tr -s ' \n' ' '; echo; }
cpu() { ps -o %cpu=,time= -p $1; }
# zstart SPOOLDIR [extra args...]: forwarder with uplinks A and B (unless UPS is set); sets ZPID
zstart() {
  local dir=$1; shift
  local ups=${UPS:-">$A >$B"}
  local bk=""
  for u in $ups; do bk="$bk --backend $u"; done
  $Z forwarder --frontend $FRONT --backend $LOCAL $bk --spool $dir \
     --metrics $METRICS --control $CTL -v "$@" >>$L/zedge.$NAME.log 2>&1 &
  ZPID=$!
  sleep 0.5
}
zstop() { kill -TERM $ZPID 2>/dev/null; wait $ZPID 2>/dev/null; }
