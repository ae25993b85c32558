#!/bin/bash
# Hostile or corrupt spool directory contents at start. usage: f_baddir.sh CASE
#  symlink  a segment that is a symlink to another file: that file is truncated
#  midcursor  a cursor pointing inside a block
#  atcursor  a cursor whose offset points inside a message
#  maxseq   a segment numbered u64::MAX: the next one wraps to 0 (and sorts first at restart)
#  dirseg   a directory named like a segment
#  bigseg   a 600 MB segment of garbage: read whole at start (peak RSS)
. $(dirname $0)/lib.sh
C=$1; W=/tmp/round19/baddir; mkdir -p $W; rm -rf $W/*; SP=$W/sp; mkdir -p $SP
mk_spool() {  # N messages spooled by a real zedge, then stopped
  $Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $SP -v 2>$W/prep.log & local P=$!; sleep 0.5
  $PEER push $FRONT 0 $1 0 100 >/dev/null; sleep 1.5; kill $P; wait $P
}
run() {
  /usr/bin/time -f "peak RSS %M KiB, %e s" $Z streamer --frontend $FRONT --backend ">$CLOUDEP" --spool $SP --metrics $METRICS -v "$@" 2>$W/zedge.log &
  TP=$!; sleep ${WAIT:-2}; ZP=$(pgrep -P $TP zedge)
  echo "running: $([ -n "$ZP" ] && echo yes rss $(rss $ZP) || echo no)"
}
stop() { [ -n "$ZP" ] && kill $ZP; wait $TP; grep -vE "cannot connect" $W/zedge.log | head -8; grep "peak RSS" $W/zedge.log; }
case $C in
symlink)
  echo "precious data, not a spool" > $W/victim.txt; ls -l $W/victim.txt
  ln -s $W/victim.txt $SP/00000000000000000001.seg
  run; stop; ls -l $W/victim.txt ;;
midcursor)
  mk_spool 2000; cat $SP/cursor; echo; echo "1 7 0" > $SP/cursor
  run; $PEER cloud $CLOUDEP $W/got.txt 3 10 >/dev/null; python3 $R/analyze.py $W/got.txt 2000; stop ;;
atcursor)
  mk_spool 2000; echo "1 0 5" > $SP/cursor
  run; $PEER cloud $CLOUDEP $W/got.txt 3 10 >/dev/null; python3 $R/analyze.py $W/got.txt 2000
  echo "then 100 new messages with the cloud up:"; $PEER cloud $CLOUDEP $W/got2.txt 3 10 >/dev/null & CP=$!; sleep 0.3
  $PEER push $FRONT 2000 2100 0 100 >/dev/null; wait $CP; python3 $R/analyze.py $W/got2.txt 2100 2000; stop ;;
maxseq)
  mk_spool 1000; mv $SP/00000000000000000001.seg $SP/18446744073709551615.seg; echo "18446744073709551615 0 0" > $SP/cursor
  run --spool-max 2M; $PEER push $FRONT 1000 30000 0 100 >/dev/null; sleep 1.5; ls $SP; stop
  echo "restart:"; run; $PEER cloud $CLOUDEP $W/got.txt 3 20 >/dev/null; python3 $R/analyze.py $W/got.txt 30000; stop ;;
dirseg)
  mkdir $SP/00000000000000000003.seg; run; stop ;;
bigseg)
  head -c 600000000 /dev/urandom > $SP/00000000000000000001.seg
  WAIT=6 run --memory-max 32M; stop ;;
esac
