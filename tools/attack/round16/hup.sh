#!/bin/sh
# round 16: SIGHUP reloads with curve_allow changes during a flow.
# hup.sh NAME MODE "EXTRA TOML" PERIOD NATT ATTKIND -- FLOW-ARGS
# MODE toggle: every PERIOD s the allow list alternates between {flow} and {flow + NATT attackers}
# (attackers taken off are closed); MODE same: SIGHUP every PERIOD s, list unchanged (control);
# MODE none: no SIGHUP. Attackers: hold.py-style never-reading CURVE SUBs of 'n' (ATTKIND sub) using
# fixed keys from the list (trickle off), reconnecting when closed (libzmq default).
N=$1; MODE=$2; EXTRA=$3; PER=$4; NATT=$5; AK=$6; shift 7
D=$(cd "$(dirname "$0")" && pwd); R=$D/results; mkdir -p $R; cd $D
Z=${ZEDGE_BIN:-/work/att16-target/release/zedge}
KF=/tmp/attack16-srv; W=/tmp/attack16-hup-$N; mkdir -p $W
python3 - $W $NATT <<'PY'
import zmq, sys, json
w, n = sys.argv[1], int(sys.argv[2])
fp, fs = zmq.curve_keypair(); att = [zmq.curve_keypair() for _ in range(n)]
json.dump({"flow": [fp.decode(), fs.decode()], "att": [[a.decode(), b.decode()] for a, b in att]}, open(w + "/keys.json", "w"))
open(w + "/allow_flow", "w").write(fp.decode() + "\n")
open(w + "/allow_all", "w").write(fp.decode() + "\n" + "".join(a.decode() + "\n" for a, _ in att))
PY
cp $W/allow_all $W/allow
cat > $W/z.toml <<EOT
$EXTRA
[[device]]
name = "fwd"
kind = "forwarder"
frontend = ["tcp://127.0.0.1:9980"]
backend = ["tcp://127.0.0.1:9981"]
curve_secret = "${KF}_secret"
curve_allow = "$W/allow"
EOT
LOG=/tmp/attack16-$N.log
$Z run -v --config $W/z.toml >$LOG 2>&1 &
BP=$!; sleep 0.7
FLOWPUB=$(python3 -c "import json;print(json.load(open('$W/keys.json'))['flow'][0])")
FLOWSEC=$(python3 -c "import json;print(json.load(open('$W/keys.json'))['flow'][1])")
python3 - $W $NATT > $R/$N.att 2>&1 <<'PY' &
import zmq, sys, json, time
w, n = sys.argv[1], int(sys.argv[2]); k = json.load(open(w + "/keys.json"))
srv = open("/tmp/attack16-srv").read().split('public-key = "')[1].split('"')[0].encode()
ctx = zmq.Context(); ctx.MAX_SOCKETS = 4000; ss = []
for p, s in k["att"]:
    x = ctx.socket(zmq.SUB); x.curve_publickey = p.encode(); x.curve_secretkey = s.encode(); x.curve_serverkey = srv
    x.setsockopt(zmq.RCVHWM, 1); x.setsockopt(zmq.RCVBUF, 4096); x.setsockopt(zmq.LINGER, 0)
    x.setsockopt(zmq.RECONNECT_IVL, 200); x.setsockopt(zmq.SUBSCRIBE, b"n"); x.connect("tcp://127.0.0.1:9981"); ss.append(x)
time.sleep(26); print(json.dumps({"att": n}))
PY
AP=$!
( sleep 2; i=0; while kill -0 $BP 2>/dev/null; do
  if [ $MODE = toggle ]; then if [ $((i % 2)) = 0 ]; then cp $W/allow_flow $W/allow.new; else cp $W/allow_all $W/allow.new; fi; mv $W/allow.new $W/allow; fi
  [ $MODE != none ] && kill -HUP $BP; i=$((i+1)); sleep $PER; done ) &
HP=$!
sleep 3
FLOWPUB=$FLOWPUB FLOWSEC=$FLOWSEC timeout 60 python3 $D/curvek.py 9980 9981 $KF "$@" > $R/$N.out 2>&1
HWM=$(grep VmHWM /proc/$BP/status); CPU=$(awk '{print ($14+$15)/100}' /proc/$BP/stat)
kill $HP 2>/dev/null
kill -INT $BP; sleep 0.5; kill $BP 2>/dev/null; wait $BP 2>/dev/null; kill $AP 2>/dev/null
echo "== $N: hup $MODE every $PER s, $NATT attackers | flow: $*"
grep '^{' $R/$N.out | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print({k:d.get(k) for k in ['sent','normal_got','cum_per_5s','lat_p50','lat_p99','lat_max','max_gap_s']})"
echo "$HWM broker-cpu-s: $CPU reloads: $(grep -ci 'reload' $LOG) no-longer-allowed: $(grep -c 'no longer allowed' $LOG) denied-lines: $(grep -c 'not allowed' $LOG) panic: $(grep -ci panic $LOG)"
grep -o "dropped.*" $LOG | tail -2
