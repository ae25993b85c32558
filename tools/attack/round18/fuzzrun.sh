#!/bin/sh
# fuzzrun.sh KIND FEPORT_TYPE BEPORT_TYPE: runs every fuzz case against a NULL broker; prints alive / VmHWM
K=$1; FT=$2; BT=$3; Z=${ZEDGE_BIN:-/work/att18-target/release/zedge}
$Z $K -v --frontend tcp://127.0.0.1:9970 --backend tcp://127.0.0.1:9971 --memory-max 32M > logs/fuzz-$K.log 2>&1 & ZP=$!; sleep 0.5
for c in manyempty reserved hugelen maxlen cmdmid longshort bigcmd subcmd pingflood; do
  echo "fe $(timeout 20 python3 fuzz.py 9970 $FT $c)"; echo "be $(timeout 20 python3 fuzz.py 9971 $BT $c)"
done
timeout 20 python3 fuzz.py 9970 $FT halfgreet
echo "alive: $(kill -0 $ZP && echo yes) $(grep VmHWM /proc/$ZP/status)"
kill -INT $ZP; wait $ZP; echo "exit $?"; grep -ci panic logs/fuzz-$K.log
