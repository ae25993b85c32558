#!/bin/bash
# Round 28's d_eight.sh with this round's ports, binary and spool dirs (lib.sh here).
SPOOLS=/tmp/att29 UB=7950 LIB=$(dirname $(realpath $0))/lib.sh exec $(dirname $0)/../round28/d_eight.sh "$@"
