#!/bin/bash
# s_bigdup.sh [N RATE]: F4 without any abort: s_abort.sh with pattern "c" (every 3 MB publication
# complete). Uplink B stays connected the whole run (one connection, see the log), its lane
# switches between spooling and live at --queue-hwm 256K; it gets runs of small messages twice
# and out of order.
cd $(dirname $0) && exec ./s_abort.sh ${1:-30000} ${2:-3000} c 3000000 "${@:3}"
