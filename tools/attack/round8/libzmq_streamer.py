import sys, zmq
ctx = zmq.Context(); kind = sys.argv[1]
if kind == "streamer":
    f = ctx.socket(zmq.PULL); b = ctx.socket(zmq.PUSH)
else:
    f = ctx.socket(zmq.ROUTER); b = ctx.socket(zmq.DEALER)
f.bind("tcp://127.0.0.1:9820"); b.bind("tcp://127.0.0.1:9821")
zmq.proxy(f, b)
