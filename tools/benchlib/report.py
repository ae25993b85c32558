"""Medians over the runs, ratios to libzmq, the tables (plain text or Markdown), and the
machine the bench ran on."""

import os
import platform
import re
import statistics
import subprocess

from .common import ROOT
from .memory import PEERS

def fmt_rate(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def fmt_axis(v):
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{v / div:g}{suffix}"
    return f"{v:g}"


def fmt_num(x, d=1):
    return "-" if x is None else f"{x:.{d}f}"


def med3(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)


def aggregate(results, cases, brokers):
    agg = {}
    for c in cases:
        for b in brokers:
            runs = [r for r in results if r["case"] == c.key and r["broker"] == b]
            ok = [r for r in runs if r["ok"]]
            a = {"runs": len(runs), "ok": len(ok),
                 "whys": sorted({r.get("why", "?") for r in runs if not r["ok"]})}
            for k in ("rate", "mbps", "cpu_per_m", "cpu_pct", "p50", "p99", "gen_pct",
                      "other_pct", "sent_rate", "delivered_share"):
                a[k] = med3([r.get(k) for r in ok])
            a["rss"] = med3([r.get("rss_peak_kib") for r in runs])
            hot = max((r["gen_hot"] for r in ok if r.get("gen_hot")), key=lambda h: h[1],
                      default=("", 0.0))
            a["gen_hot"] = hot
            agg[(c.key, b)] = a
    return agg


def ratio(agg, case, broker, key, to="libzmq"):
    a, b = agg.get((case, broker)), agg.get((case, to))
    if not a or not b or a[key][0] is None or not b[key][0]:
        return None
    return a[key][0] / b[key][0]


def throughput_table(agg, cases, brokers, md):
    head = ["case", "broker", "rate (median)", "min - max", "MB/s", "x libzmq",
            "broker CPU s/M", "CPU x libzmq", "broker CPU %", "peak RSS MiB", "gen CPU %",
            "other CPU %"]
    rows = []
    for c in cases:
        for b in brokers:
            a = agg[(c.key, b)]
            r = a["rate"]
            if r[0] is None:
                rows.append([c.title, b, "FAILED", "; ".join(a["whys"])] + [""] * 8)
                continue
            x = ratio(agg, c.key, b, "rate")
            cx = ratio(agg, c.key, b, "cpu_per_m")
            rows.append([
                c.title, b, f"{fmt_rate(r[0])} {c.unit}", f"{fmt_rate(r[1])} - {fmt_rate(r[2])}",
                fmt_num(a["mbps"][0], 1), "-" if x is None else f"{x:.2f}x",
                fmt_num(a["cpu_per_m"][0], 3), "-" if cx is None else f"{cx:.2f}x",
                fmt_num(a["cpu_pct"][0], 0),
                "-" if a["rss"][0] is None else f"{a['rss'][2] / 1024:.1f}",
                fmt_num(a["gen_pct"][0], 0), fmt_num(a["other_pct"][0], 0)])
    return table(head, rows, md)


def forwarder_table(agg, cases, brokers, md):
    """What the publishers sent against what the subscribers got: a broker that takes more
    than the subscribers can read drops the rest (a forwarder does not make publishers wait)."""
    head = ["case", "broker", "published msg/s", "min - max", "x libzmq", "delivered msg/s",
            "delivered of due"]
    rows = []
    for c in cases:
        if not c.due:
            continue
        for b in brokers:
            a = agg[(c.key, b)]
            p = a["sent_rate"]
            if p[0] is None:
                continue
            x = ratio(agg, c.key, b, "sent_rate")
            share = a["delivered_share"][0]
            rows.append([c.title, b, fmt_rate(p[0]), f"{fmt_rate(p[1])} - {fmt_rate(p[2])}",
                         "-" if x is None else f"{x:.2f}x", fmt_rate(a["rate"][0]),
                         "-" if share is None else f"{share * 100:.0f} %"])
    return table(head, rows, md) if rows else ""


def latency_table(agg, brokers, md):
    head = ["broker", "p50 us", "p50 min - max", "p99 us", "p99 min - max", "p50 x libzmq",
            "p99 x libzmq", "round trips/s"]
    rows = []
    for b in brokers:
        a = agg[("queue-lat", b)]
        if a["p50"][0] is None:
            rows.append([b, "FAILED"] + [""] * 6)
            continue
        x50, x99 = ratio(agg, "queue-lat", b, "p50"), ratio(agg, "queue-lat", b, "p99")
        rows.append([b, fmt_num(a["p50"][0]), f"{fmt_num(a['p50'][1])} - {fmt_num(a['p50'][2])}",
                     fmt_num(a["p99"][0]), f"{fmt_num(a['p99'][1])} - {fmt_num(a['p99'][2])}",
                     "-" if x50 is None else f"{x50:.2f}x",
                     "-" if x99 is None else f"{x99:.2f}x", fmt_rate(a["rate"][0])])
    return table(head, rows, md)


def memory_table(idle, big, peers, brokers, md):
    head = ["device", "broker", "idle RSS MiB", "64 MiB message", "RSS growth MiB",
            f"{PEERS} idle peers", "RSS with peers MiB"]
    rows = []
    for dev in ("streamer", "queue", "forwarder"):
        for b in brokers:
            i, g, p = idle.get((b, dev)), big.get((b, dev)), peers.get((b, dev))
            rows.append([
                dev, b, "-" if not i else f"{i['rss'] / 1024:.2f}",
                "-" if not g else ("ok" if g["ok"] else "FAILED " + g.get("why", "")),
                "-" if not g or "growth" not in g else f"{g['growth'] / 1024:.1f}",
                "-" if not p else ("ok" if p["ok"] else "FAILED " + p.get("why", "")),
                "-" if not p or "rss" not in p else f"{p['rss'] / 1024:.1f}"])
    return table(head, rows, md)


def table(head, rows, md):
    if md:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
        return "\n".join(lines)
    w = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt = lambda r: "  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip()
    return "\n".join([fmt(head), fmt(["-" * x for x in w])] + [fmt(r) for r in rows])


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    libzmq = subprocess.run(["pkg-config", "--modversion", "libzmq"], capture_output=True,
                            text=True).stdout.strip() or "?"
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip() or "?"
    zeromq = "0.7"
    try:
        with open(os.path.join(ROOT, "bench", "zmqrs-proxy", "Cargo.lock")) as f:
            m = re.search(r'name = "zeromq"\nversion = "([^"]+)"', f.read())
            zeromq = m.group(1) if m else zeromq
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "libzmq": libzmq, "rustc": rustc, "git": git, "zeromq": zeromq,
            "mem": f"{mem / 1024:.0f} GiB", "load": os.getloadavg()}
