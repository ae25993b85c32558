#!/bin/sh
# r.sh NAME KIND "BROKER OPTS" curve.py-args... : round 11's r.sh with TAG attack12, results here.
D=$(cd "$(dirname "$0")" && pwd)
TAG=attack12 RESULTS=$D/results exec "$D/../round11/r.sh" "$@"
