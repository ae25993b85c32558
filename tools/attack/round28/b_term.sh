#!/bin/bash
# Round 27's b_term.sh with this round's ports, binary and spool dirs (lib.sh here).
LIB=$(dirname $(realpath $0))/lib.sh exec $(dirname $0)/../round27/b_term.sh "$@"
