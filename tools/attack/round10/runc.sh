#!/bin/sh
# Round 9's runc.sh on ports 9950/9951 (proxy 10002), key and log in /tmp/attack10-*.
PORT=9950 TAG=attack10 exec "$(cd "$(dirname "$0")" && pwd)/../round9/runc.sh" "$@"
