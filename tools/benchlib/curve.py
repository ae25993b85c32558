"""The CURVE cases (issue 13): the streamer at 256 B and 64 KiB with CURVE on both sides,
zedge against libzmq's zmq_proxy with CURVE on both sides (zmq.rs has no CURVE); CURVE
handshakes per second through each; and the broker's memory with 10,000 idle CURVE peers.

Keys: one server pair from `zedge keygen`, which zedge reads as a certificate and zmq_proxy as
ZMQ_PROXY_CURVE_SECRET; the load generators are CURVE clients of it (ZLOAD_CURVE_SERVER,
bench/zcommon.h), each process with one client pair."""

import os
import statistics
import subprocess
import time

from .cases import Case, run_once
from .common import LOGS, ZCURVE, ZEDGE, ZLOAD, log
from .procs import Broker, Proc, ep, kv, proc_cpu, status_kib

BROKERS = ["zedge-curve", "libzmq-curve"]
LABEL = {"zedge-curve": "zedge", "libzmq-curve": "libzmq zmq_proxy"}
SIZES = [256, 65536]
PEERS = 10000            # idle CURVE peers of the memory case
BATCH = 100              # handshakes under way at once
# libzmq holds two descriptors a socket (the connection and its mailbox): the peers are made
# by two processes, so that neither needs more than the usual hard limit of 20,000.
SPLIT = 2


def keys():
    """(certificate path, Z85 public, Z85 secret) of the server pair, made once per run."""
    base = os.path.join(LOGS, "curve-server")
    for f in (base, base + "_secret"):
        if os.path.exists(f):
            os.remove(f)
    subprocess.run([ZEDGE, "keygen", base], check=True, stdout=subprocess.DEVNULL)

    def key(path, name):
        with open(path) as f:
            for line in f:
                if line.strip().startswith(name):
                    return line.split('"')[1]
        raise RuntimeError(f"no {name} in {path}")
    return base + "_secret", key(base, "public-key"), key(base + "_secret", "secret-key")


def cases(public):
    env = ["env", f"ZLOAD_CURVE_SERVER={public}"]
    out = []
    for size in SIZES:
        out.append(Case(
            f"curve-streamer-{size}", f"streamer {size} B, CURVE both sides", "streamer", size,
            "msg/s",
            lambda e, w, s, size=size: env + [ZLOAD, "pull", e, str(size), str(w), str(s)],
            [lambda e, size=size: env + [ZLOAD, "push", e, str(size)]], "consumer"))
    return out


def broker(name, device, k, extra=()):
    secret_file, _, secret = k
    if name == "zedge-curve":
        return Broker("zedge", device, extra=["--curve-secret", secret_file, *extra])
    return Broker("libzmq", device, env={"ZMQ_PROXY_CURVE_SECRET": secret})


def handshakes(name, k):
    """PEERS CURVE handshakes through a streamer, BATCH at a time; then the broker's memory
    with them idle."""
    cap = str(PEERS + 64)
    # 10,000 peers' slots and connections take 205 MiB of memory_max; a CURVE device stores
    # messages whole, so its input buffer and the two messages it keeps follow max_msg_size:
    # 1 MiB (the handshakes send 8-byte messages) rather than the default 64 MiB. All come
    # from 127.0.0.1: max_peers_per_address is also the burst of handshake_rate_per_address,
    # so all are let in at once, as libzmq lets them.
    extra = ["--max-peers", cap, "--max-peers-per-address", cap, "--max-handshaking", cap,
             "--max-msg-size", "1M"]
    b = broker(name, "streamer", k, extra=extra if name == "zedge-curve" else ())
    r = {"ok": False}
    loads = []
    try:
        time.sleep(0.3)
        r["idle"] = status_kib(b.pid, "VmRSS")
        cpu0 = proc_cpu(b.pid)
        secs = 0.0
        for _ in range(SPLIT):
            t = Proc(["env", f"ZLOAD_CURVE_SERVER={k[1]}", ZCURVE, ep(b.fe), ep(b.be),
                      str(PEERS // SPLIT), str(BATCH)], "load", stdin=True)
            loads.append(t)
            hs = t.expect("HANDSHAKES", 300)
            if hs is None or not hs.startswith("HANDSHAKES"):
                r["why"] = "handshakes did not complete"
                return r
            secs += float(kv(hs)["secs"])
            if t.expect("READY", 10) is None:
                r["why"] = "no READY"
                return r
        cpu = proc_cpu(b.pid) - cpu0
        time.sleep(0.5)
        r.update(ok=True, rate=PEERS / secs, secs=secs, cpu_us=cpu / PEERS * 1e6,
                 rss=status_kib(b.pid, "VmRSS"))
        r["per_peer"] = (r["rss"] - r["idle"]) / PEERS
    finally:
        for t in loads:
            t.kill()
        b.kill()
    return r


def run_curve(opts):
    """Every CURVE case; returns (results by case and broker, handshake results by broker)."""
    k = keys()
    cs = cases(k[1])
    runs = {}
    for rep in range(opts.reps):
        for c in cs:
            order = BROKERS[rep % 2:] + BROKERS[:rep % 2]
            for name in order:
                # run_once starts brokers by name: a stand-in that starts ours with the keys.
                r = run_once(c, name, opts, start=lambda dev, n=name: broker(n, dev, k))
                runs.setdefault((c.key, name), []).append(r)
                if r["ok"]:
                    log(f"  rep {rep + 1}/{opts.reps} {c.key:20} {name:12} "
                        f"{r['rate']:>10.0f} msg/s cpu {r.get('cpu_per_m', 0):.3f} s/M")
                else:
                    log(f"  rep {rep + 1}/{opts.reps} {c.key:20} {name:12} FAILED: "
                        f"{r.get('why')}")
    hs = {}
    for name in BROKERS:
        hs[name] = handshakes(name, k)
        h = hs[name]
        if h["ok"]:
            log(f"  {PEERS} CURVE handshakes {name:12}: {h['rate']:.0f}/s, broker "
                f"{h['cpu_us']:.0f} us CPU each; idle RSS {h['rss'] / 1024:.1f} MiB "
                f"({h['per_peer']:.1f} KiB a peer)")
        else:
            log(f"  {PEERS} CURVE handshakes {name:12}: FAILED {h.get('why')}")
    return runs, hs


def median(runs, key, name, field):
    vals = [r[field] for r in runs.get((key, name), []) if r["ok"] and r.get(field) is not None]
    return statistics.median(vals) if vals else None


def table(runs, hs, md):
    """The CURVE results, as text or markdown."""
    rows = [("case", "zedge", "libzmq zmq_proxy", "ratio", "zedge CPU s/M", "libzmq CPU s/M",
             "CPU ratio")]
    for size in SIZES:
        key = f"curve-streamer-{size}"
        z, l = median(runs, key, "zedge-curve", "rate"), median(runs, key, "libzmq-curve", "rate")
        zc = median(runs, key, "zedge-curve", "cpu_per_m")
        lc = median(runs, key, "libzmq-curve", "cpu_per_m")
        f = lambda v, d=0: "-" if v is None else f"{v:,.{d}f}"
        ratio = f(z / l, 2) + "x" if z and l else "-"
        cratio = f(zc / lc, 2) + "x" if zc and lc else "-"
        rows.append((f"streamer {size} B, msg/s", f(z), f(l), ratio, f(zc, 3), f(lc, 3), cratio))
    z, l = hs.get("zedge-curve", {}), hs.get("libzmq-curve", {})
    g = lambda h, k, d=0: f"{h[k]:,.{d}f}" if h.get("ok") else "-"
    ratio = f"{z['rate'] / l['rate']:.2f}x" if z.get("ok") and l.get("ok") else "-"
    rows.append((f"{PEERS} handshakes, per s", g(z, "rate"), g(l, "rate"), ratio,
                 g(z, "cpu_us") + " us", g(l, "cpu_us") + " us", ""))
    rows.append((f"{PEERS} idle CURVE peers, RSS MiB", g({**z, "m": z.get("rss", 0) / 1024}, "m", 1)
                 if z.get("ok") else "-",
                 g({**l, "m": l.get("rss", 0) / 1024}, "m", 1) if l.get("ok") else "-", "",
                 g(z, "per_peer", 2) + " KiB/peer", g(l, "per_peer", 2) + " KiB/peer", ""))
    if md:
        out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return "\n".join(out)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def goals(runs, hs):
    """Issue 13's performance goals as PASS/FAIL lines."""
    out = []
    for size, want in ((256, 1.5), (65536, 1.0)):
        key = f"curve-streamer-{size}"
        z, l = median(runs, key, "zedge-curve", "rate"), median(runs, key, "libzmq-curve", "rate")
        if z and l:
            ok = z / l >= want
            out.append(f"CURVE streamer {size} B >= {want}x libzmq's rate: {z / l:.2f}x "
                       f"{'PASS' if ok else 'FAIL'}")
    zc = median(runs, "curve-streamer-256", "zedge-curve", "cpu_per_m")
    lc = median(runs, "curve-streamer-256", "libzmq-curve", "cpu_per_m")
    if zc and lc:
        out.append(f"CURVE streamer 256 B CPU per message <= 0.7x libzmq's: {zc / lc:.2f}x "
                   f"{'PASS' if zc / lc <= 0.7 else 'FAIL'}")
    z, l = hs.get("zedge-curve", {}), hs.get("libzmq-curve", {})
    if z.get("ok") and l.get("ok"):
        ok = z["rate"] >= l["rate"]
        out.append(f"CURVE handshakes per second >= libzmq's: {z['rate']:.0f} vs "
                   f"{l['rate']:.0f} ({z['rate'] / l['rate']:.2f}x) {'PASS' if ok else 'FAIL'}")
        out.append(f"NOTE: {PEERS} idle CURVE peers: zedge {z['per_peer']:.2f} KiB a peer, "
                   f"libzmq {l['per_peer']:.2f} KiB a peer")
    return out
