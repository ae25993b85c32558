# source me. Common settings for round 23 (stalled worker gives back its queue).
Z=${Z:-/work/att23/zedge-final}
R=/work/main/tools/attack/round24
FRONT=tcp://127.0.0.1:7760
LOCAL=tcp://127.0.0.1:7761
CLOUD=tcp://127.0.0.1:7762
METRICS=127.0.0.1:7763
CTL=tcp://127.0.0.1:7764
CLOUD2=tcp://127.0.0.1:7765
# Round 23's peers and counter, unchanged.
PEER="python3 $R/../round23/peer.py"
AN="python3 $R/../round23/analyze.py"
L=$R/logs
mkdir -p $L
metric() { curl -s http://$METRICS/metrics | grep -E "^$1" ; }
spool_metrics() { curl -s http://$METRICS/metrics | grep -E '^zedge_spool' | grep -v 'seconds\b' | sed 's/zedge_spool_//' | tr '\n' ' '; echo; }
sent() { metric 'zedge_spool_messages_total' | grep '"sent"' | awk '{print $2}'; }
rss() { grep -E 'VmRSS|VmHWM' /proc/$1/status | tr -s ' \n' ' '; echo; }
cpu() { ps -o %cpu=,time= -p $1; }
dirinfo() { echo "dir $(du -sb $1 | cut -f1) B, $(ls $1 | grep -c seg) seg, cursor '$(cat $1/cursor 2>/dev/null)'"; }
# DEV=forwarder|streamer. zstart SPOOLDIR [extra args...]; sets ZPID
zstart() {
  local dir=$1; shift
  if [ "${DEV:-forwarder}" = forwarder ]; then
    $Z forwarder --frontend $FRONT --backend $LOCAL --backend ">$CLOUD" --spool $dir \
       --metrics $METRICS --control $CTL -v "$@" >>$L/zedge.$NAME.log 2>&1 &
  else
    $Z streamer --frontend $FRONT --backend ">$CLOUD" --spool $dir \
       --metrics $METRICS --control $CTL -v "$@" >>$L/zedge.$NAME.log 2>&1 &
  fi
  ZPID=$!
  sleep 0.5
}
zstop() { kill -TERM $ZPID 2>/dev/null; wait $ZPID 2>/dev/null; }
# wait until the spool has sent at least N
wait_sent() { for i in $(seq ${2:-150}); do S=$(sent); [ "${S:-0}" -ge $1 ] && return 0; sleep 0.2; done; return 1; }
