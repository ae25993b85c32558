#!/bin/sh
# r.sh NAME KIND "BROKER OPTS" curve.py-args... : round 11's r.sh with TAG attack14, binary /work/attack14/target/release/zedge, results here.
D=$(cd "$(dirname "$0")" && pwd)
ZEDGE_BIN=${ZEDGE_BIN:-$D/../../../target/release/zedge} TAG=attack14 RESULTS=$D/results exec "$D/../round11/r.sh" "$@"
