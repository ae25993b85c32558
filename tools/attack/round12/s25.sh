#!/bin/sh
# s25.sh PREFIX: round 12's attacks at 80M (F1, F1b, F1c, F2, F1q; round 11 F1 paced; the forwarder
# with slow readers), one run each, on the repo's target/release/zedge (or ZEDGE_BIN).
cd "$(dirname "$0")"
A="--rotate --single --fproof 1 --fburst 0.2 --frate 22000 --fdur 200000:1.1 --att-gap 0.3"
P=$1
./r.sh ${P}_pay12 streamer "--memory-max 80M" --secs 15 --pace 200 --n 12 --big 330000 $A
./r.sh ${P}_payp streamer "--memory-max 80M" --secs 15 --pace 200 --n 24 --big 330000,100000 $A
./r.sh ${P}_payrc streamer "--memory-max 80M" --secs 15 --pace 200 --n 24 --big 330000,100000 $A --flow-reconnect 4
./r.sh ${P}_stagp streamer "--memory-max 80M" --secs 15 --pace 200 --n 24 --big 330000,100000 $A --honest 4,0.7
./r.sh ${P}_qpay12 queue "--memory-max 80M" --kind queue --secs 15 --pace 200 --n 12 --big 330000 $A
./r.sh ${P}_f1p streamer "--memory-max 80M" --secs 15 --pace 200 --n 16 --rotate --single --big 100000 --fproof 1 --fburst 0.2 --frate 22000
./r.sh ${P}_fw forwarder "--memory-max 84M" --kind forwarder --secs 15 --pace 200 --n 16 --rotate --single --big 100000 --fproof 1 --fburst 0.2 --frate 22000 --slow-readers 8
