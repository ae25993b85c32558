#!/bin/sh
# fade.sh SECS PERIOD FADE: every PERIOD s, the veth link to the victim drops to 64kbit for FADE s (a radio fade)
end=$(( $(date +%s) + $1 ))
while [ $(date +%s) -lt $end ]; do
  sleep $2; tc qdisc change dev v18a root tbf rate 64kbit burst 256kb latency 2000ms; sleep $3
  tc qdisc change dev v18a root tbf rate 200mbit burst 256kb latency 2000ms
done
