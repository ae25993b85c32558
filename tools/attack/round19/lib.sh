# source me. Common settings for round 19.
Z=/tmp/round19/zedge
R=/work/main/tools/attack/round19
FRONT=tcp://127.0.0.1:9980
CLOUDEP=tcp://127.0.0.1:9981
METRICS=127.0.0.1:9982
CTL=tcp://127.0.0.1:9983
PEER="python3 $R/peer.py"
metric() { curl -s http://$METRICS/metrics | grep -E "^$1" ; }
spool_metrics() { curl -s http://$METRICS/metrics | grep -E '^zedge_spool' ; }
rss() { ps -o rss= -p $1 | awk '{print $1/1024 " MiB"}'; }
