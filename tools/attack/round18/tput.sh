#!/bin/sh
# tput.sh NAME "ZEDGE OPTS" SIZE [BLAST(1/0)] [CURVE(1/0)] [RATE]: streamer, producer on loopback, libzmq PULL worker in netns t18a
N=$1; O=$2; S=$3; B=${4:-1}; C=${5:-0}; R=${6:-0}; Z=${ZEDGE_BIN:-/work/att18-target/release/zedge}
KF=/tmp/attack18-srv; CO=""; PK=""
if [ "$C" = 1 ]; then CO="--curve-secret ${KF}_secret --curve-sides backend"; PK=$(sed -n 's/.*public-key = "\(.*\)".*/\1/p' $KF); fi
$Z streamer -v --frontend tcp://127.0.0.1:9970 --backend tcp://0.0.0.0:9971 $CO $O > logs/$N.zedge.log 2>&1 & ZP=$!
sleep 0.5; python3 sink.py 9979 25 & SP=$!; sleep 0.3
[ "$B" = 1 ] && ip netns exec t18a timeout 16 python3 blast.py 10.18.0.1 9979 14 &
ip netns exec t18a python3 pull.py 10.18.0.1:9971 12 $PK > logs/$N.pull 2>&1 &
PP=$!; sleep 0.5; python3 prod.py 9970 10 $S $R 2>/dev/null &
sleep 5; RTT=$(ss -tin '( sport = :9971 )' | grep -o " rtt:[0-9.]*" | head -1)
wait $PP; kill $SP 2>/dev/null; kill -INT $ZP; wait $ZP
echo "== $N: opts[$O] size $S blast $B curve $C rate $R |$RTT| $(cat logs/$N.pull)"
grep -i "closing:\|panic\|dropped" logs/$N.zedge.log | cut -c25-200 | head -4
