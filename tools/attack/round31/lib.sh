# source me. Round 31 (191da7a): round 30 lib.sh with ports 7980-7999, spool dirs /tmp/att31-*,
# and the peers/analyzers taken from this tree; Z defaults to its release binary.
Z=${Z:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/target/release/zedge}
K=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
R=$K/round31; R30=$K/round30
T=/tmp/att31
FRONT=tcp://127.0.0.1:7980
FPORT=7980
LOCAL=tcp://127.0.0.1:7981
A=tcp://127.0.0.1:7982
METRICS=127.0.0.1:7983
CTL=tcp://127.0.0.1:7984
B=tcp://127.0.0.1:7985
BPORT=7985
C=tcp://127.0.0.1:7986
U4=tcp://127.0.0.1:7987
ST="python3 $K/round30/st.py"
PEER="python3 $K/round25/peer.py"
RAWPUB="python3 $K/round26/rawpub.py"
RAWUP="python3 $K/round26/rawup.py"
FLAPAN="python3 $K/round25/flapan.py"
AN="python3 $K/round23/analyze.py"
L=$R/logs
mkdir -p $L
metric() { curl -s -m 3 http://$METRICS/metrics | grep -E "^$1" ; }
spool_metrics() { curl -s -m 3 http://$METRICS/metrics | grep -E '^zedge_spool' | sed 's/{device="[a-z0-9-]*"/{/' | tr '\n' ' '; echo; }
short_spool() { spool_metrics | grep -oE 'zedge_spool_(messages|spooling)\{[^ ]*\} [0-9.]+|event="(appended|sent|dropped|recovered|refused)"\} [0-9]+|what="[a-z]+"\} [0-9]+' | tr '\n' ' '; }
drops() { metric 'zedge_messages_dropped_total' | grep -v ' 0$' | sed -E 's/device="[^"]*",//; s/zedge_messages_dropped_total//' | tr '\n' ' '; }
rss() { grep -E 'VmRSS|VmHWM' /proc/$1/status | tr -s ' \n' ' '; echo; }
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
warns() { grep -E 'WARN|ERROR' $L/zedge.$NAME.log | sed -E 's/^[^ ]+ //; s/[0-9]+/N/g' | cut -c1-220 | sort | uniq -c | sort -rn | head -${1:-8}; }
R28=$K/round28
CAN="python3 $K/round27/c_an.py"
