"""Each scenario: fresh node, hostile action, then a libzmq SUB (direct) must get sensor/2.
usage: python3 scen.py NAME [port] [recovery: zmq|fwd]"""
import sys, random, json; from lib import *

def hs_sub(s, topics=(b"sensor/2",)):
    handshake(s, 0.2)
    for t in topics: s.sendall(sub(t))

def left_midcommand(port):      # ready, then announces a 255-byte command, sends 3 bytes, leaves
    s = raw(port); hs_sub(s); time.sleep(0.3); s.sendall(b"\x04\xffabc"); time.sleep(0.2); s.close()
def left_midcommand_long(port): # long command header announcing 256
    s = raw(port); hs_sub(s); time.sleep(0.3); s.sendall(b"\x06" + struct.pack(">Q", 256) + b"\x09SUB"); time.sleep(0.2); s.close()
def left_midframe(port):        # data frame of 255 announced, 1 byte sent
    s = raw(port); hs_sub(s); time.sleep(0.3); s.sendall(b"\x00\xffx"); time.sleep(0.2); s.close()
def left_midframe_long(port):   # long data frame 2^40 announced
    s = raw(port); hs_sub(s); time.sleep(0.3); s.sendall(b"\x02" + struct.pack(">Q", 1 << 40) + b"x"); time.sleep(0.2); s.close()
def left_midframe_256(port):
    s = raw(port); hs_sub(s); time.sleep(0.3); s.sendall(b"\x02" + struct.pack(">Q", 256) + b"x"); time.sleep(0.2); s.close()
def left_more(port):            # multipart: first frame MORE, never the last
    s = raw(port); hs_sub(s); time.sleep(0.3); s.sendall(frame(b"a", True) * 50); time.sleep(0.2); s.close()
def left_ready_clean(port):     # control: ready + sub, leaves cleanly at frame boundary
    s = raw(port); hs_sub(s); time.sleep(0.3); s.close()
def left_sub_all(port):         # subscribed to everything, left at boundary
    s = raw(port); hs_sub(s, (b"",)); time.sleep(0.3); s.close()
def left_greeting_half(port):   # greeting halfway
    s = raw(port); s.sendall(greeting()[:30]); time.sleep(0.2); s.close()
def left_sig_only(port):
    s = raw(port); s.sendall(SIG); time.sleep(0.2); s.close()
def left_ready_half(port):      # greeting done, READY announced 255 body, partial
    s = raw(port); s.sendall(greeting()); s.sendall(b"\x04\xff\x05READY"); time.sleep(0.2); s.close()
def left_ready_full_buffer(port):  # greeting + long READY of 256 body, only 250 sent
    s = raw(port); s.sendall(greeting()); s.sendall(b"\x06" + struct.pack(">Q", 256) + b"\x05READY" + b"\0"*244); time.sleep(0.2); s.close()
def garbage(port):
    s = raw(port); random.seed(1); s.sendall(bytes(random.getrandbits(8) for _ in range(200000))); time.sleep(0.5); s.close()
def garbage_ff(port):           # many FF with 7F at offset 9 and wrong version
    s = raw(port); s.sendall((b"\xff" + b"\0"*8 + b"\x7f\x02") * 5000); time.sleep(0.5); s.close()
def sig_fuzz(port):             # valid signature + random rest, many times
    s = raw(port); random.seed(2)
    for i in range(300):
        s.sendall(SIG + bytes([3]) + bytes(random.getrandbits(8) for _ in range(random.randint(0, 120))))
    time.sleep(0.5); s.close()
def left_midcommand_small(port):  # 10-byte command announced, nothing of it sent
    s = raw(port); hs_sub(s); time.sleep(0.3); s.sendall(b"\x04\x0a"); time.sleep(0.2); s.close()
def left_midcommand_64(port):
    s = raw(port); hs_sub(s); time.sleep(0.3); s.sendall(b"\x04\x40"); time.sleep(0.2); s.close()
def no_control(port):
    pass

S = {k: v for k, v in globals().items() if callable(v) and k not in ("hs_sub",) and v.__module__ == __name__}
if __name__ == "__main__":
    name = sys.argv[1]; port = int(sys.argv[2]) if len(sys.argv) > 2 else 7710; how = sys.argv[3] if len(sys.argv) > 3 else "zmq"
    n = Node(port, f"{name}.{how}")
    try:
        t = time.time(); S[name](port); ht = time.time() - t
        if how == "zmq":
            first, got = zsub_recovery(port, limit=float(os.environ.get("LIMIT", 30)))
        else:
            first, got = fwd_recovery(port, port + 1, f"{name}", limit=float(os.environ.get("LIMIT", 40)))
        time.sleep(0.2)
        print(json.dumps(dict(scen=name, how=how, hostile_s=round(ht, 2), first=None if first is None else round(first, 2),
            got=[g.decode(errors="replace") for g in got[:2]], n=len(got), node=n.summary())))
    finally:
        n.stop()
