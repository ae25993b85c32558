# source me. Common settings for round 29 (455fb53). Round 28's lib.sh, ports 7940-7959, /tmp/att29-*.
Z=${Z:-/work/att29-target/release/zedge}
R=/work/main/tools/attack/round29
# Spool dirs and config files: $T-NAME (round 27's scripts, run through this lib, too).
T=/tmp/att29
FRONT=tcp://127.0.0.1:7940
FPORT=7940
LOCAL=tcp://127.0.0.1:7941
A=tcp://127.0.0.1:7942
METRICS=127.0.0.1:7943
CTL=tcp://127.0.0.1:7944
B=tcp://127.0.0.1:7945
BPORT=7945
C=tcp://127.0.0.1:7946
# The peers of round 25 (round 20 extended), unchanged; rawpub/rawup of round 26, unchanged.
PEER="python3 /work/main/tools/attack/round25/peer.py"
RAWPUB="python3 /work/main/tools/attack/round26/rawpub.py"
RAWUP="python3 /work/main/tools/attack/round26/rawup.py"
FLAPAN="python3 /work/main/tools/attack/round25/flapan.py"
# The counter of rounds 20-23, unchanged.
AN="python3 /work/main/tools/attack/round23/analyze.py"
L=$R/logs
mkdir -p $L
metric() { curl -s -m 3 http://$METRICS/metrics | grep -E "^$1" ; }
spool_metrics() { curl -s -m 3 http://$METRICS/metrics | grep -E '^zedge_spool' | sed 's/{device="[a-z0-9-]*"/{/' | tr '\n' ' '; echo; }
short_spool() { spool_metrics | grep -oE 'zedge_spool_(messages|spooling)\{[^ ]*\} [0-9.]+|event="(appended|sent|dropped|recovered|refused)"\} [0-9]+|what="[a-z]+"\} [0-9]+' | tr '\n' ' '; }
rss() { grep -E 'VmRSS|VmHWM' /proc/$1/status | tr -s ' \n' ' '; echo; }
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
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
warns() { grep -E 'WARN|ERROR' $L/zedge.$NAME.log | sed -E 's/^[^ ]+ //; s/[0-9]+/N/g' | cut -c1-220 | sort | uniq -c | sort -rn | head -${1:-8}; }
R28=/work/main/tools/attack/round28
CAN="python3 /work/main/tools/attack/round27/c_an.py"
