"""Where the repository, the binaries and the logs are; the brokers compared; messages."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TB = os.path.join(ROOT, "target", "bench")
# BENCH_ZEDGE=PATH measures another zedge build (an A/B against an older commit, say).
ZEDGE = os.environ.get("BENCH_ZEDGE") or os.path.join(ROOT, "target", "release", "zedge")
ZMQ_PROXY = os.path.join(TB, "zmq_proxy")
ZMQRS = os.path.join(TB, "zmqrs", "release", "zmqrs-proxy")
ZLOAD = os.path.join(TB, "zload")
ZPEERS = os.path.join(TB, "zpeers")
ZSUBS = os.path.join(TB, "zsubs")
ZFLOW = os.path.join(TB, "zflow")
ZCURVE = os.path.join(TB, "zcurve")
LOGS = os.path.join(TB, "logs")
HOST = "127.0.0.1"

BROKERS = ["direct", "zedge", "libzmq", "zmqrs"]
LABEL = {"direct": "direct (no broker)", "zedge": "zedge", "libzmq": "libzmq zmq_proxy",
         "zmqrs": "zmq.rs 0.7"}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def die(msg):
    log("tools/bench: " + msg)
    sys.exit(1)
