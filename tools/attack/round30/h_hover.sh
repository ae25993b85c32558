#!/bin/bash
# h_hover.sh [SIG DELTA R1 R2 HWM N]: target 2. Forwarder, uplinks U1 (A) and U2 (B) both hovering (st.py pflap
# reading R1 (2500) / R2 (2200) per s with least buffers) and leaving/returning: U1 up 2,2,2 s down 0.5,0.7;
# U2 up 2.5,1.8 down 0.4; U0 (C) a normal cloud. PUB 0..N (15000) x 100 B at 3000/s, --queue-hwm HWM (64K).
# SIG (TERM|KILL) DELTA (0.1) s after U1's third leave (6.3 s after its start), then restart, all three back
# steady; N..N+3000 published. Per connection: dups and backward steps. Expect: none (TERM). (A down list shorter than the up list: it leaves for good after its last up.) Env U1UPS/U1DOWNS/U2UPS/U2DOWNS override the lists ("" "": connected throughout).
. $(dirname $0)/lib.sh
SIG=${1:-TERM}; DELTA=${2:-0.1}; R1=${3:-2500}; R2=${4:-2200}; HWM=${5:-64K}; N=${6:-15000}
NAME=hh; D=$T-hh; rm -rf $D; rm -f $L/zedge.$NAME.log $L/hh.*
N2=$((N + 3000))
$PEER cloud $C $L/hh.U0a 10 60 '*' > /dev/null & P0=$!
python3 $R/st.py pflap $A $L/hh.U1a $R1 "${U1UPS-2,2,2}" "${U1DOWNS-0.5,0.7}" 60 > /dev/null & P1=$!
python3 $R/st.py pflap $B $L/hh.U2a $R2 "${U2UPS-2.5,1.8}" "${U2DOWNS-0.4}" 60 > /dev/null & P2=$!
sleep 0.2
UPS=">$A >$B >$C" zstart $D --queue-hwm $HWM
$PEER pub $FRONT 0 $N 3000 100 a > /dev/null & PP=$!
# U1's third leave: 2+0.5+2+0.7+2 = 7.2 s after its start (0.7 s before zedge)
sleep $(python3 -c "print(7.2 - 0.7 + $DELTA)")
echo "at $SIG: $(short_spool | cut -c1-160)"
echo "  lanes: $(curl -s -m 3 http://$METRICS/metrics | grep -E '^zedge_spool_lane_(messages|spooling)' | sed -E 's/.*uplink="tcp:..127.0.0.1:79([0-9]+)".*\} /u\1=/' | tr '\n' ' ')"
kill -$SIG $ZPID; wait $ZPID 2>/dev/null
kill $PP $P0 $P1 $P2 2>/dev/null; wait $PP $P0 $P1 $P2 2>/dev/null
grep -E 'queued live|go to the spool|not delivered|lost' $L/zedge.$NAME.log | cut -c25-230
python3 $K/round29/spooldump.py $D > $L/hh.dump; grep -c . $L/hh.dump
for u in U0 U1 U2; do $PEER cloud $( [ $u = U0 ] && echo $C || ([ $u = U1 ] && echo $A || echo $B)) $L/hh.${u}b 3 40 '*' > /dev/null & done
sleep 0.3
UPS=">$A >$B >$C" zstart $D --queue-hwm $HWM
grep -E 'messages to send' $L/zedge.$NAME.log | cut -c25-200
sleep 1
$PEER pub $FRONT $N $N2 3000 100 a > /dev/null
sleep 4.5
python3 - $L $N2 <<'PY'
import sys
L, n = sys.argv[1], int(sys.argv[2])
def conns(f):
    cs = [[]]
    for l in open(f"{L}/hh.{f}"):
        if l.startswith("#conn"):
            if cs[-1]: cs.append([])
            continue
        if l.startswith("#") or l.split()[0] == "?": continue
        cs[-1].append(int(l.split()[1]))
    return cs
ref = set()
for f in ["U0a", "U0b"]:
    for c in conns(f): ref |= set(c)
for u in ["U1", "U2", "U0"]:
    allc = []
    for f in [u + "a", u + "b"]:
        for k, c in enumerate(conns(f)):
            back = [(a, b) for a, b in zip(c, c[1:]) if b <= a]
            print(f"  {f} conn{k}: n={len(c)} dups={len(c)-len(set(c))} back={len(back)} {back[:3]}")
            allc += c
    miss = sorted(ref - set(allc))
    print(f"  {u}: total {len(allc)} unique {len(set(allc))} lost vs U0 {len(miss)} {miss[:3]}..{miss[-3:]}")
PY
zstop
