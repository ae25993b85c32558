#!/bin/bash
# Round 27's c_cycles.sh with this round's ports, binary and spool dirs (lib.sh here).
LIB=$(dirname $(realpath $0))/lib.sh exec $(dirname $0)/../round27/c_cycles.sh "$@"
