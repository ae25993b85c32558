#!/bin/sh
# r.sh NAME KIND "BROKER OPTS" curve.py-args... : round 11's r.sh with TAG attack13, results here.
D=$(cd "$(dirname "$0")" && pwd)
TAG=attack13 RESULTS=$D/results exec "$D/../round11/r.sh" "$@"
