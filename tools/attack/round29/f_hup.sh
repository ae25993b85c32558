#!/bin/bash
# Round 27's f_hup.sh with this round's ports, binary and spool dirs (lib.sh here).
LIB=$(dirname $(realpath $0))/lib.sh exec $(dirname $0)/../round27/f_hup.sh "$@"
