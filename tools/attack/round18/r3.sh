#!/bin/sh
# round 15's r3.sh on ports 9970/9971, log /tmp/attack18-NAME.log, results in round18/results.
D=$(cd "$(dirname "$0")" && pwd)
PORT=9970 TAG=attack18 DIR=$D exec "$D/../round15/r3.sh" "$@"
