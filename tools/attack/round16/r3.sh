#!/bin/sh
# round 15's r3.sh on this round's ports (9980/9981), log /tmp/attack16-NAME.log, results here.
D=$(cd "$(dirname "$0")" && pwd)
PORT=9980 TAG=attack16 DIR=$D exec "$D/../round15/r3.sh" "$@"
