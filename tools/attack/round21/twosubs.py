"""Two libzmq SUBs of sensor/2 behind one zedge forwarder; one leaves. Does the other keep its readings?"""
import sys; from lib import *
port = int(sys.argv[1]) if len(sys.argv) > 1 else 7795; bport = port + 1
n = Node(port, "twosubs"); fw = forwarder(port, bport, "twosubs")
ctx = zmq.Context.instance()
def mk():
    s = ctx.socket(zmq.SUB); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.SUBSCRIBE, b"sensor/2"); s.connect(f"tcp://127.0.0.1:{bport}"); return s
def count(s, secs):
    k = 0; end = time.time() + secs
    while time.time() < end:
        if s.poll(100): s.recv(); k += 1
    return k
try:
    a = mk(); b = mk()
    t = time.time()
    while not a.poll(100) and time.time() - t < 30: pass
    print("A and B: A got %d, B got %d in 3 s" % (count(a, 3), count(b, 0.1)))
    b.close(); time.sleep(0.5)
    print("after B closed: A got %d in 5 s" % count(a, 5), n.last())
    a.close()
finally:
    fw.terminate(); fw.wait(); n.stop()
