# source me. Common settings for round 20 (forwarder spool).
Z=/work/att20/zedge
R=/work/main/tools/attack/round20
FRONT=tcp://127.0.0.1:7600
LOCAL=tcp://127.0.0.1:7601
CLOUD=tcp://127.0.0.1:7602
CLOUD2=tcp://127.0.0.1:7605
METRICS=127.0.0.1:7603
CTL=tcp://127.0.0.1:7604
PEER="python3 $R/peer.py"
AN="python3 $R/analyze.py"
L=$R/logs
mkdir -p $L
metric() { curl -s http://$METRICS/metrics | grep -E "^$1" ; }
spool_metrics() { curl -s http://$METRICS/metrics | grep -E '^zedge_spool' | tr '\n' ' '; echo; }
rss() { grep -E 'VmRSS|VmHWM' /proc/$1/status | tr -s ' \n' ' '; echo; }
cpu() { ps -o %cpu=,time= -p $1; }
# start zedge forwarder: zstart SPOOLDIR [extra args...]; sets ZPID
zstart() {
  local dir=$1; shift
  $Z forwarder --frontend $FRONT --backend $LOCAL --backend ">$CLOUD" --spool $dir \
     --metrics $METRICS --control $CTL -v "$@" >>$L/zedge.$NAME.log 2>&1 &
  ZPID=$!
  sleep 0.5
}
zstop() { kill -TERM $ZPID 2>/dev/null; wait $ZPID 2>/dev/null; }
