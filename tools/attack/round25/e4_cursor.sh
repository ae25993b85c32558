#!/bin/bash
# e4_cursor.sh: a spool of N=10000 (100 B) for uplinks A and B (both away), then for each
# variant: a copy of it, the cursor file (or the > endpoints) changed, zedge started, the
# uplinks of that run connected: what each gets, warnings, alive?
. $(dirname $0)/lib.sh
N=10000
C=tcp://127.0.0.1:7706
NAME=e4; T=/tmp/att25-e4-template; rm -rf $T; rm -f $L/zedge.$NAME.log
zstart $T
$PEER pub $FRONT 0 $N 40000 100 a > /dev/null
sleep 1.5; zstop
echo "template cursor:"; cat $T/cursor; ls $T
run() {  # run LABEL UPLINKS(space sep, of A B C) CURSOR_CONTENT_CMD
  local label=$1 ups=$2 mk=$3
  local D=/tmp/att25-e4; rm -rf $D; cp -a $T $D
  eval "$mk"
  NAME=e4.$label; rm -f $L/zedge.$NAME.log
  local U=""; for u in $ups; do U="$U >${!u}"; done
  UPS="$U" zstart $D
  sleep 0.5
  local pids=""
  for u in $ups; do $PEER cloud ${!u} $L/e4.$label.$u 3 20 '*' > /dev/null & pids="$pids $!"; done
  wait $pids
  local alive=dead; kill -0 $ZPID 2>/dev/null && alive=alive
  echo "== $label ($ups) zedge $alive"
  for u in $ups; do echo "  $u: $($AN $L/e4.$label.$u $N | cut -c1-140)"; done
  grep -E 'WARN|ERROR|panic' $L/zedge.$NAME.log | grep -v 'cannot connect' | cut -c25-300 | sed 's/^/  /'
  zstop
  echo "  cursor after: $(tr '\n' '|' < $D/cursor | cat -v)"
}
run base "A B" ":"
run renameB "A C" ":"
run addC "A B C" ":"
run removeB "A" ":"
run oldformat "A B" 'echo "1 0 0" > $D/cursor'
run oldformat_end "A B" 'echo "1 99999999 0" > $D/cursor'
run extra_lines "A B" 'printf "garbage line\n\n1 0 0 tcp://x:1\n%s\n1 0 0 tcp://127.0.0.1:7705\n#c\n" "$(head -1 $T/cursor)" > $D/cursor'
run dup_names "A B" 'printf "1 0 0 tcp://127.0.0.1:7702\n1 0 0 tcp://127.0.0.1:7702\n1 0 0 tcp://127.0.0.1:7705\n" > $D/cursor'
run huge "A B" 'printf "18446744073709551615 18446744073709551615 18446744073709551615 tcp://127.0.0.1:7702\n1 0 99999999999 tcp://127.0.0.1:7705\n" > $D/cursor'
run misaligned "A B" 'printf "1 37 0 tcp://127.0.0.1:7702\n1 0 5 tcp://127.0.0.1:7705\n" > $D/cursor'
run oddchars "A B" 'printf "1 0 0 tcp://127.0.0.1:7702 extra words\n1 0 0 \xff\xfe\x01tcp\n" > $D/cursor'
run nonutf8 "A B" 'printf "1 0 0 tcp://127.0.0.1:7702\n1 0 0 tcp://127.0.0.1:7705 \xff\n" > $D/cursor'
run empty "A B" ': > $D/cursor'
run negative "A B" 'printf -- "-1 0 0 tcp://127.0.0.1:7702\n1 0 0 tcp://127.0.0.1:7705\n" > $D/cursor'
run dircursor "A B" 'rm -f $D/cursor; mkdir $D/cursor'
