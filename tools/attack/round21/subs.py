"""Subscription edge cases over a raw ZMTP 3.1 peer: what the node publishes back."""
import sys, json, collections; from lib import *
port = int(sys.argv[1]) if len(sys.argv) > 1 else 7760
n = Node(port, "subs")
res = {}
def topics_seen(data):
    fr, _ = parse_frames(data)
    c = collections.Counter()
    for fl, b in fr:
        if fl & 4: c["CMD:" + b[1:1 + b[0]].decode(errors="replace")] += 1
        else: c[b.split(b" ")[0].decode(errors="replace")] += 1
    return dict(c), fr
def session():
    s = raw(port); r = handshake(s, 0.3); return s, r[64:]
def run(label, msgs, wait=1.0, proto31=True):
    s, rest = session()
    for m in msgs: s.sendall(m)
    d = recv_for(s, wait)
    c, fr = topics_seen(rest + d)
    stk = [b.split(b"stack=")[-1] for fl, b in fr if not fl & 4]
    res[label] = dict(seen=c, last=n.last(), stack=stk[-1].decode() if stk else None, alive=n.alive())
    print(label, json.dumps(res[label])); s.close(); time.sleep(0.3)
try:
    if os.environ.get("PART") != "2":
        run("sub_empty", [sub(b"")])
        run("sub_32_matching", [sub(b"sensor/2 ")+b"", sub(b"sensor/1".ljust(32, b"x"))])
        run("sub_32exact_kept_not_refused", [sub(b"y" * 32), sub(b"sensor/3")])
        run("sub_33", [sub(b"s" * 33), sub(b"sensor/3")])
        run("sub_5000", [sub(b"s" * 5000), sub(b"sensor/3")])
        run("sub_9_distinct", [sub(b"x%d" % i) for i in range(8)] + [sub(b"sensor/1")])
        run("sub_twice_cancel_once", [sub(b"sensor/1"), sub(b"sensor/1"), cancel(b"sensor/1")])
        run("cancel_unknown", [cancel(b"nothing"), sub(b"sensor/2")])
        run("sub_cancel_flood", [sub(b"sensor/%d" % (i % 9)) + cancel(b"sensor/%d" % (i % 9)) for i in range(3000)] + [sub(b"sensor/1")], wait=3)
        # ZMTP 3.0-style subscription messages (data frames 0x01 + topic / 0x00 + topic)
    run("v30_sub_msg", [frame(b"\x01sensor/2")])
    run("v30_sub_then_cancel", [frame(b"\x01sensor/2"), frame(b"\x00sensor/2")])
    run("v30_sub_multipart", [frame(b"\x01sensor/1", True) + frame(b"\x01sensor/3")])
    run("v30_sub_long_more", [frame(b"\x01sensor/1" + b"y" * 200, True) + frame(b"z")])
    run("data_frame_to_pub", [frame(b"hello world") for _ in range(500)] + [sub(b"sensor/2")])
    run("data_256", [frame(b"q" * 256), sub(b"sensor/2")])
    run("data_257", [frame(b"q" * 257), sub(b"sensor/2")])
    run("data_big", [frame(b"q" * 70000), sub(b"sensor/2")], wait=2)
    run("cmd_256", [cmd(b"\x05HELLO" + b"h" * 250), sub(b"sensor/2")])
    run("cmd_257", [cmd(b"\x05HELLO" + b"h" * 251), sub(b"sensor/2")])
    run("cmd_5000", [cmd(b"\x05HELLO" + b"h" * 5000), sub(b"sensor/2")])
    run("unknown_cmd", [cmd(b"\x03FOO"), sub(b"sensor/2")])
    run("ping_ctx16", [cmd(b"\x04PING\x00\x0a" + b"c" * 16) for _ in range(50)] + [sub(b"sensor/2")])
    run("ping_ctx240", [cmd(b"\x04PING\x00\x0a" + b"c" * 240) for _ in range(50)] + [sub(b"sensor/2")])
    run("ping_ttl_max", [cmd(b"\x04PING\xff\xff"), sub(b"sensor/2")])
    run("ping_short", [cmd(b"\x04PING\x00"), sub(b"sensor/2")])
    run("second_ready", [ready(), sub(b"sensor/2")])
    run("error_cmd", [cmd(b"\x05ERROR\x03bye"), sub(b"sensor/2")])
    run("sub_100000", [sub(b"s" * 100000), sub(b"sensor/3")], wait=15)
    print("final", n.summary())
finally:
    json.dump(res, open(os.path.join(HERE, "logs", "subs.json"), "w"), indent=1)
    n.stop()
