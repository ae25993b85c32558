#!/bin/bash
# s_stream.sh [SIG TS N RATE HWM W1 W2]: target 4. A streamer with a spool, backend >W1 and >W2 (PULL binds).
# W1 (st.py hpull): spec "RATE UPS DOWNS" (default "3000 3,3,3 2,1,2": up 3 s, down 2, ...), W2 spec (default
# "1000 - -": steady 1000/s from 6 s). PUSH 0..N (60000) x 100 B at RATE (4000)/s.
# SIG (NONE|TERM|KILL) at TS (9) s; then restart, W1 and W2 back steady. Union of every connection:
# lost, dups; per connection: backwards steps. Expect: nothing twice but documented stop dups, loss
# within what connections had taken (kernel buffers) at each leave.
. $(dirname $0)/lib.sh
SIG=${1:-NONE}; TS=${2:-9}; N=${3:-60000}; RATE=${4:-4000}; HWM=${5:-1M}
W1=${6:-"3000 3,3,3 2,1,2"}; W2=${7:-"1000 - -"}
NAME=st; D=$T-st; rm -rf $D; rm -f $L/zedge.$NAME.log $L/st.*
W1E=$A; W2E=$B
zs() { $Z streamer --frontend $FRONT --backend ">$W1E" --backend ">$W2E" --spool $D --queue-hwm $HWM \
   --metrics $METRICS --control $CTL -v "$@" >>$L/zedge.$NAME.log 2>&1 & ZPID=$!; sleep 0.5; }
set -- $W1; python3 $R/st.py hpull $W1E $L/st.W1 $1 "${2/-/}" "${3/-/}" 5 10 4096 > /dev/null & P1=$!
set -- $W2; ( sleep 6; exec python3 $R/st.py hpull $W2E $L/st.W2 $1 "${2/-/}" "${3/-/}" 5 10 4096 ) > /dev/null & P2=$!
zs
python3 $R/st.py push $FRONT 0 $N $RATE 100 > $L/st.push.json & PP=$!
if [ $SIG != NONE ]; then
  sleep $TS
  echo "at $SIG: W1 $(grep -vc '^#' $L/st.W1) W2 $(grep -vc '^#' $L/st.W2 2>/dev/null) | $(short_spool | cut -c1-170)"
  kill -$SIG $ZPID; wait $ZPID 2>/dev/null
  grep -E 'stopped|not delivered|dropped|go to the spool|lost|written' $L/zedge.$NAME.log | cut -c25-300
  sleep 1; kill $P1 $P2 2>/dev/null; wait $P1 $P2 2>/dev/null; sleep 0.3
  mv $L/st.W1 $L/st.W1a; mv $L/st.W2 $L/st.W2a 2>/dev/null
  python3 $R/st.py pull $W1E $L/st.W1 0 0 0 0 5 10 4096 > /dev/null & P1=$!
  python3 $R/st.py pull $W2E $L/st.W2 0 0 0 0 5 10 4096 > /dev/null & P2=$!
  zs
  grep 'messages to send' $L/zedge.$NAME.log | cut -c25-200
fi
wait $PP; echo "push: $(cat $L/st.push.json)"
wait $P1 $P2
python3 - $L $N <<'PY'
import sys, glob, os
L, n = sys.argv[1], int(sys.argv[2])
allids = []; 
for f in sorted(glob.glob(f"{L}/st.W*")):
    conns = [[]]
    for l in open(f):
        if l.startswith("#conn"):
            if conns[-1]: conns.append([])
            continue
        if l.startswith("#"): continue
        conns[-1].append(int(l.split()[1]))
    for k, c in enumerate(conns):
        back = [(a, b) for a, b in zip(c, c[1:]) if b <= a]
        print(f"  {os.path.basename(f)} conn{k}: n={len(c)} dups={len(c)-len(set(c))} back={len(back)} {back[:4]}")
        allids += c
s = set(allids); miss = sorted(set(range(n)) - s); runs = []
for m in miss:
    if runs and runs[-1][1] == m - 1: runs[-1][1] = m
    else: runs.append([m, m])
print(f"  union: got {len(allids)} unique {len(s)} dups {len(allids)-len(s)} lost {len(miss)} {runs[:8]}")
PY
echo "drops: $(drops)"
echo "spool: $(short_spool)"
warns 6
zstop
grep -E 'stopped after|recovered|given back|not delivered' $L/zedge.$NAME.log | cut -c25-240 | tail -8
