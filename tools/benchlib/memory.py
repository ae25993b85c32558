"""The memory cases: idle RSS, one 64 MiB message through each device, idle peers."""

import time

from .common import HOST, ZLOAD, ZPEERS, log
from .procs import Broker, Proc, ep, kv, status_kib

BIG = 64 << 20           # the single large message of the memory case
PEERS = 10000            # idle peers of the peers case


def mem_idle(brokers):
    out = {}
    for dev in ("streamer", "queue", "forwarder"):
        for name in brokers:
            b = Broker(name, dev)
            time.sleep(0.5)
            out[(name, dev)] = {"rss": status_kib(b.pid, "VmRSS"),
                                "hwm": status_kib(b.pid, "VmHWM"), "start_ms": b.start_ms}
            b.kill()
            log(f"  idle {dev:9} {name:6}: RSS {out[(name, dev)]['rss'] / 1024:.1f} MiB, "
                f"listening after {b.start_ms:.1f} ms")
    return out


def mem_big(brokers):
    out = {}
    for dev in ("streamer", "queue", "forwarder"):
        for name in brokers:
            # 64 MiB of body plus the REQ/ROUTER envelope frames is a few bytes over zedge's
            # default 64M message limit (it refuses the worker's reply), so the limit is raised
            # to 65M here; the others have no limit.
            extra = ["--max-msg-size", "65M"] if name == "zedge" else []
            b = Broker(name, dev, extra=extra)
            t = Proc([ZLOAD, "big", dev, ep(b.fe), ep(b.be), str(BIG)], "load", stdin=True)
            r = {"ok": False}
            try:
                if t.expect("READY", 30) is None:
                    r["why"] = "no warm-up message"
                else:
                    time.sleep(0.2)
                    r["before"] = status_kib(b.pid, "VmRSS")
                    r["hwm_before"] = status_kib(b.pid, "VmHWM")
                    t.send("go\n")
                    done = t.expect("DONE", 60)
                    r["hwm"] = status_kib(b.pid, "VmHWM") if b.proc.alive() else None
                    r["after"] = status_kib(b.pid, "VmRSS") if b.proc.alive() else None
                    if done is None:
                        r["why"] = "not delivered" + ("" if b.proc.alive() else
                                                      " (broker exited)")
                    else:
                        d = kv(done)
                        r["ok"] = d.get("ok") == "1"
                        r["secs"] = float(d.get("secs", 0))
                        if not r["ok"]:
                            r["why"] = "corrupted"
                    if r.get("hwm") is not None:
                        r["growth"] = max(0, r["hwm"] - r["before"])
            finally:
                t.kill()
                b.kill()
            out[(name, dev)] = r
            g = f"{r['growth'] / 1024:.1f} MiB" if "growth" in r else "?"
            log(f"  64 MiB {dev:9} {name:6}: {'ok' if r['ok'] else 'FAILED ' + r.get('why', '')}"
                f", RSS growth {g}")
    return out


PEER_SIDE = {"streamer": ("fe", "PUSH"), "queue": ("fe", "REQ"), "forwarder": ("be", "SUB")}


def mem_peers(brokers):
    out = {}
    for dev in ("streamer", "queue", "forwarder"):
        side, stype = PEER_SIDE[dev]
        for name in brokers:
            # All from 127.0.0.1 and connecting at once: the admission caps (per address, and
            # connections in their handshake) are raised with the peer cap.
            cap = str(PEERS + 16)
            extra = (["--max-peers", cap, "--max-peers-per-address", cap,
                      "--max-handshaking", cap] if name == "zedge" else [])
            b = Broker(name, dev, extra=extra)
            time.sleep(0.2)
            r = {"idle": status_kib(b.pid, "VmRSS"), "ok": False}
            t = Proc([ZPEERS, HOST, str(b.fe if side == "fe" else b.be), str(PEERS), stype],
                     "load", stdin=True)
            try:
                ready = t.expect("READY", 150)
                if ready is None:
                    r["why"] = "no READY"
                else:
                    d = kv(ready)
                    time.sleep(0.3)
                    r.update(rss=status_kib(b.pid, "VmRSS"), hwm=status_kib(b.pid, "VmHWM"),
                             connected=int(d["ok"]), failed=int(d["failed"]),
                             closed=int(d["closed"]), secs=float(d["secs"]))
                    r["ok"] = r["connected"] == PEERS and r["closed"] == 0
                    if not r["ok"]:
                        r["why"] = f"{r['connected']} handshakes, {r['closed']} closed"
                    t.send("bye\n")
                    bye = t.expect("BYE", 10)
                    if bye and int(kv(bye)["closed"]):
                        r["closed_later"] = int(kv(bye)["closed"])
            finally:
                t.kill()
                b.kill()
            out[(name, dev)] = r
            log(f"  {PEERS} peers {dev:9} {name:6}: "
                f"{'ok' if r['ok'] else 'FAILED ' + r.get('why', '')}, "
                f"RSS {r.get('rss', 0) / 1024:.1f} MiB")
    return out
