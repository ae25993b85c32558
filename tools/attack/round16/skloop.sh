#!/bin/sh
# skloop.sh N: N snapshots of skmem.sh one second apart; prints each (time, line)
i=0; while [ $i -lt $1 ]; do echo "$(date +%T) $(./skmem.sh)"; sleep 1; i=$((i+1)); done
