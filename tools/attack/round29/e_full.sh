#!/bin/bash
# Round 28's e_full.sh with this round's ports, binary and spool dirs (lib.sh here).
SPOOLS=/tmp/att29 UB=7950 LIB=$(dirname $(realpath $0))/lib.sh exec $(dirname $0)/../round28/e_full.sh "$@"
